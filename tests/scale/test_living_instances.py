"""Living messages with several instances on one database: a story's message shows every
outlet that carried it and its newest headline, even an outlet or a headline another
instance (or a poll in the same loop) stored while this one was posting the story (its
message did not exist yet, so there was nothing to mark for an edit)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import open_core
from bot.core.models import Alert
from bot.core.notices import Notice
from bot.settings import Settings, WatchConfig
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock

CHANNEL = "slack:C1"
HEADLINE = "Tariff talks collapse in Geneva as delegates walk out"
RETITLED = "Tariff talks in Geneva resume after delegates return overnight"


@dataclass
class Channel:
    """A channel whose posts and edits are recorded (outlets per message); a post waits
    for ``release`` once ``hold`` is set, as a slow platform call would."""

    kinds: frozenset[str] = frozenset({"slack"})
    max_batch: int = 10
    messages: dict[str, tuple[str, ...]] = field(default_factory=dict)
    headlines: dict[str, str] = field(default_factory=dict)
    hold: bool = False
    posting: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(
        self, destination: str, batch: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        if self.hold:
            self.posting.set()
            await self.release.wait()
        message_id = f"m{batch[0].id}"
        self.messages[message_id] = _outlets(batch[0])
        self.headlines[message_id] = batch[0].title
        return message_id

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        self.messages[message_id] = _outlets(alerts[0])
        self.headlines[message_id] = alerts[0].title

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        return None


def _outlets(alert: Alert) -> tuple[str, ...]:
    return tuple(sorted({alert.source, *alert.also_reported_by}))


def _item(outlet: str, title: str = HEADLINE) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://{outlet}.test/geneva",
        "guid": f"{outlet}-geneva",
        "pubDate": datetime.now(UTC),
    }


@pytest.mark.postgres
async def test_an_outlet_stored_elsewhere_while_its_story_is_posted_is_edited_in(
    postgres_url: str,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    channels = [Channel(), Channel()]
    async with FeedServer() as server:
        for outlet in ("reuters", "apnews"):
            server.set_feed(f"/{outlet}.rss", rss([], title=outlet))
        settings = Settings(
            database={"url": postgres_url},
            fetch={"allow_private_addresses": True},
            poll={"backfill": 0},
            health={"enabled": False},
            watches=[WatchConfig(query="tariff", channels=[CHANNEL])],
            feeds=[{"url": server.url(f"/{o}.rss"), "name": o} for o in ("reuters", "apnews")],
        )
        async with contextlib.AsyncExitStack() as stack:
            posting, polling = [
                await stack.enter_async_context(
                    open_core(settings, clock=clock, instance_id=f"node-{n}")
                )
                for n in range(2)
            ]
            for core, channel in zip((posting, polling), channels, strict=True):
                core.add_notifier(channel)
            await posting.poll(due_only=False)  # seeds both feeds silently
            server.set_feed("/reuters.rss", rss([_item("reuters")], title="reuters"))
            assert len((await posting.poll(due_only=False)).alert_ids) == 1

            # The story's post is on its way (claimed, the platform not yet answered)
            # when the other instance stores a second outlet's copy of it.
            channels[0].hold = True
            sending = asyncio.create_task(posting.deliverer.deliver_once())
            await asyncio.wait_for(channels[0].posting.wait(), 10)
            server.set_feed("/apnews.rss", rss([_item("apnews")], title="apnews"))
            report = await polling.poll(due_only=False)
            assert report.new_articles == 1 and not report.alert_ids  # one story: no alert
            channels[0].release.set()
            await sending

            for _ in range(3):
                clock.advance(minutes=1)
                for core in (posting, polling):
                    await core.deliverer.deliver_once()
    messages = {**channels[0].messages, **channels[1].messages}
    assert len(messages) == 1, "one story, one message"
    [outlets] = messages.values()
    assert outlets == ("apnews", "reuters"), "the message never showed the second outlet"


async def test_a_headline_changed_while_its_story_is_posted_is_edited_in(store_url: str) -> None:
    """The feed retitles the item while its message is on its way: once posted, the
    message is edited to the new headline. On SQLite the one instance polls in the same
    loop as it posts; on PostgreSQL another instance polls."""
    clock = FakeClock(datetime.now(UTC))
    on_postgres = store_url.startswith("postgresql")
    channels = [Channel(), Channel()]
    async with FeedServer() as server:
        server.set_feed("/reuters.rss", rss([], title="reuters"))
        settings = Settings(
            database={"url": store_url},
            fetch={"allow_private_addresses": True},
            poll={"backfill": 0},
            health={"enabled": False},
            watches=[WatchConfig(query="tariff", channels=[CHANNEL])],
            feeds=[{"url": server.url("/reuters.rss"), "name": "reuters"}],
        )
        async with contextlib.AsyncExitStack() as stack:
            cores = [
                await stack.enter_async_context(
                    open_core(settings, clock=clock, instance_id=f"node-{n}")
                )
                for n in range(2 if on_postgres else 1)
            ]
            for core, channel in zip(cores, channels, strict=False):
                core.add_notifier(channel)
            posting, polling = cores[0], cores[-1]
            await posting.poll(due_only=False)  # seeds the feed silently
            server.set_feed("/reuters.rss", rss([_item("reuters")], title="reuters"))
            assert len((await posting.poll(due_only=False)).alert_ids) == 1

            # The story's post is on its way (claimed, the platform not yet answered)
            # when the feed's next poll finds the item retitled.
            channels[0].hold = True
            sending = asyncio.create_task(posting.deliverer.deliver_once())
            await asyncio.wait_for(channels[0].posting.wait(), 10)
            retitled = _item("reuters", RETITLED)
            server.set_feed("/reuters.rss", rss([retitled], title="reuters"))
            report = await polling.poll(due_only=False)
            assert report.new_articles == 0 and not report.alert_ids  # the same item
            channels[0].release.set()
            await sending

            for _ in range(3):
                clock.advance(minutes=1)
                for core in cores:
                    await core.deliverer.deliver_once()
    headlines = {**channels[0].headlines, **channels[1].headlines}
    assert len(headlines) == 1, "one story, one message"
    assert list(headlines.values()) == [RETITLED], "the message kept the old headline"
