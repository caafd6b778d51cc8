"""Story state lives in the database: several instances polling the same PostgreSQL
database group articles into stories exactly as one instance would. Each story here is
carried by three outlets whose feeds are claimed by different instances in the same
cycle; every story must end up with ONE story key, so each channel gets one message."""

from __future__ import annotations

import asyncio
import contextlib
import random
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import open_core
from bot.settings import Settings, WatchConfig
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock

pytestmark = pytest.mark.postgres

OUTLETS = ("reuters", "scmp", "nikkei")
STORIES = 24
INSTANCES = 3


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(8))


async def test_three_instances_make_one_story_of_three_outlets(postgres_url: str) -> None:
    rng = random.Random(11)
    # Distinct made-up words per story: stories never merge with each other, while the
    # three outlets' copies of one story share a headline.
    headlines = [f"Tariff {' '.join(_word(rng) for _ in range(5))}" for _ in range(STORIES)]
    feed_paths = [f"/{outlet}-{k}.rss" for outlet in OUTLETS for k in range(STORIES)]
    now = datetime.now(UTC)
    async with FeedServer() as server:
        for path in feed_paths:
            server.set_feed(path, rss([], title=path))
        settings = Settings(
            database={"url": postgres_url},
            fetch={"allow_private_addresses": True},
            poll={"backfill": 0},
            health={"enabled": False},
            watches=[WatchConfig(query="tariff", channels=["console"])],
            feeds=[{"url": server.url(p)} for p in feed_paths],
        )
        async with contextlib.AsyncExitStack() as stack:
            cores = [
                await stack.enter_async_context(open_core(settings, instance_id=f"node-{n}"))
                for n in range(INSTANCES)
            ]
            for core in cores:
                core.poller.batch_size = 6  # small claims: the instances share every cycle
            await asyncio.gather(*(c.poll(due_only=False) for c in cores))  # seed silently
            # Each outlet's copy of a story sits in its own feed: whichever instance claims
            # a feed ingests that copy, concurrently with the others.
            for outlet in OUTLETS:
                for k, headline in enumerate(headlines):
                    item: dict[str, Any] = {
                        "title": headline,
                        "link": f"https://{outlet}.test/story-{k}",
                        "guid": f"{outlet}-{k}",
                        "pubDate": now,
                    }
                    server.set_feed(f"/{outlet}-{k}.rss", rss([item], title=outlet))
            # Publishers take a moment to answer and each instance has two fetch slots, so
            # claiming keeps pace with fetching and every instance gets feeds even on a loaded
            # machine (one instance must not claim the whole queue before the others start).
            server.delay = 0.05
            for core in cores:
                core.poller.in_flight = 2
            # Every feed due once, before the race: instances that each made them due would
            # hold row locks a concurrent claim (SKIP LOCKED) passes over, and stop early.
            await cores[0].store.make_all_due(datetime.now(UTC))
            reports = await asyncio.gather(*(c.poll() for c in cores))
            assert sum(r.fetched for r in reports) == len(feed_paths)
            assert sum(1 for r in reports if r.fetched) >= 2, "the work must be shared"
            async with cores[0].store.transaction() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT title, COUNT(DISTINCT story_key) FROM articles GROUP BY title")
                    )
                ).all()
                alerts = (
                    await conn.execute(
                        text("SELECT COUNT(*), COUNT(DISTINCT story_key) FROM alerts")
                    )
                ).one()
    keys_per_story = {title: n for title, n in rows if title in headlines}
    assert len(keys_per_story) == STORIES
    duplicated = {t: n for t, n in keys_per_story.items() if n != 1}
    assert duplicated == {}, f"{len(duplicated)} stories split across instances"
    assert tuple(alerts) == (STORIES, STORIES)


LEAD = "China expands rare earth export controls to five more elements"


async def test_an_instance_knows_a_lead_another_retitled_by_its_first_headline(
    postgres_url: str,
) -> None:
    """Another instance stored a lead and retitled it before this one looked: this one
    indexes it by the headline first seen, as the instance that stored it did, so an
    outlet carrying that headline joins the story wherever it is polled (indexed by the
    new headline, it made a second story and a second alert)."""
    clock = FakeClock()
    async with FeedServer() as server:
        for outlet in ("reuters", "scmp"):
            server.set_feed(f"/{outlet}.rss", rss([], title=outlet))
        settings = Settings(
            database={"url": postgres_url},
            fetch={"allow_private_addresses": True},
            health={"enabled": False},
            watches=[WatchConfig(query='"rare earth"', channels=["console"])],
            feeds=[{"url": server.url(f"/{outlet}.rss")} for outlet in ("reuters", "scmp")],
        )

        def story_item(outlet: str, title: str) -> dict[str, Any]:
            return {
                "title": title,
                "link": f"https://{outlet}.test/rare-earth-controls",
                "guid": f"{outlet}-1",
                "description": f"{title}. More to follow.",
                "pubDate": clock.now() - timedelta(minutes=5),
            }

        async with (
            open_core(settings, clock=clock, instance_id="node-a") as first,
            open_core(settings, clock=clock, instance_id="node-b") as second,
        ):
            for core in (first, second):  # seeding is silent; both indexes are loaded
                assert (await core.poll(due_only=False)).alert_ids == []
            clock.advance(minutes=10)
            server.set_feed("/reuters.rss", rss([story_item("reuters", LEAD)], title="reuters"))
            assert len((await first.poll(due_only=False)).alert_ids) == 1
            clock.advance(minutes=10)
            retitled = story_item("reuters", "China adds seven rare earths to its export controls")
            server.set_feed("/reuters.rss", rss([retitled], title="reuters"))
            assert (await first.poll(due_only=False)).alert_ids == []

            clock.advance(minutes=10)
            server.set_feed("/scmp.rss", rss([story_item("scmp", LEAD)], title="scmp"))
            assert (await second.poll(due_only=False)).alert_ids == []  # it grows the story
            lead = await second.store.article_by_url("https://reuters.test/rare-earth-controls")
            later = await second.store.article_by_url("https://scmp.test/rare-earth-controls")
            assert lead.title == retitled["title"]
            assert later.story_key == lead.story_key
