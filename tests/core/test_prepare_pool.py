"""Feeds parsed (and first polls cleaned) in worker processes give exactly what the event
loop gives, and a worker that dies never costs a feed."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.core.articles import article_from_entry, entry_identity, raw_entry_key
from bot.core.decide import headline_note
from bot.core.errors import ParseError
from bot.core.parsing import parse_feed
from bot.core.prepare import PrepareJob, PreparePool, prepare_body
from bot.core.stories import story_features
from bot.store.schema import articles
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
SEEN_AT = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ODD_FEEDS = [
    "double-escaped-titles.rss",
    "full-text-in-description.rss",
    "google-news-search.rss",
    "json-feed-1.1-escaped-slashes.json",
    "markup-as-text-in-titles.atom",
    "relative-links-two-digit-year.rss",
    "rss-1.0-rdf.rdf",
]


def _job(name: str, *, clean: bool) -> PrepareJob:
    url = f"https://publisher.example/{name}"
    return PrepareJob(
        body=(FEEDS / name).read_bytes(),
        url=url,
        content_type=None,
        feed_url=url,
        feed_name=None,
        fetched_at=SEEN_AT,
        clean=clean,
    )


@pytest.mark.parametrize("name", ODD_FEEDS)
def test_a_first_polls_cleaning_is_what_the_loop_would_do(name: str) -> None:
    job = _job(name, clean=True)
    prepared = prepare_body(job)
    parsed = parse_feed(job.body, url=job.url, content_type=None)
    assert prepared.title == parsed.title
    assert prepared.entries == []  # the raw entries stay in the worker
    assert prepared.cleaned is not None
    assert [c.raw_key for c in prepared.cleaned] == [
        raw_entry_key(e, feed_url=job.feed_url) for e in parsed.entries
    ]
    for entry, cleaned in zip(parsed.entries, prepared.cleaned, strict=True):
        identity = entry_identity(entry, feed_url=job.feed_url)
        assert cleaned.keys == (identity.keys if identity is not None else ())
        assert cleaned.note == headline_note(entry.title or "")
        assert cleaned.article == article_from_entry(
            entry, feed_url=job.feed_url, feed_title=parsed.title, seen_at=SEEN_AT
        )
    # A known feed's entries are cleaned later, and only the unseen ones.
    known = prepare_body(_job(name, clean=False))
    assert known.cleaned is None
    assert [e for e, _ in known.entries] == list(parsed.entries)
    assert known.notes == [headline_note(e.title or "") for e in parsed.entries]


def test_a_first_poll_works_out_story_features_for_its_newest_articles_when_asked() -> None:
    """While the story index holds something, a first poll's newest items are looked up
    in it: their features are worked out where they are cleaned, the others' never."""
    items = [
        {
            "title": f"Tariff talks round {n} end without a deal",
            "link": f"https://publisher.example/{n}",
            "description": f"Negotiators met for the {n}th time.",
            "pubDate": SEEN_AT - timedelta(hours=(n * 7) % 5, minutes=n),
        }
        for n in range(6)
    ]
    job = PrepareJob(
        rss(items).encode(), "https://publisher.example/rss", None,
        "https://publisher.example/rss", None, SEEN_AT, True, features_for=3,
    )  # fmt: skip
    cleaned = prepare_body(job).cleaned
    assert cleaned is not None
    newest = sorted(cleaned, key=lambda c: c.article.published if c.article else SEEN_AT)[-3:]
    for c in cleaned:
        assert c.article is not None
        if c in newest:
            assert c.features == story_features(c.article.title, c.article.summary)
        else:
            assert c.features is None
    assert prepare_body(replace(job, features_for=0)).cleaned == [
        c._replace(features=None) for c in cleaned
    ]


async def test_a_worker_process_gives_what_the_loop_gives_and_survives_a_dead_worker() -> None:
    pool = PreparePool(1, idle=3600, rest=0.2)
    try:
        job = _job("full-text-in-description.rss", clean=True)
        in_worker = await pool.prepare(job)
        assert pool.running
        assert in_worker == prepare_body(job)

        # A body that is not a feed fails as it would in the loop.
        bad = PrepareJob(
            b"<html><body>not a feed</body></html>", "https://x.example/", "text/html",
            "https://x.example/", None, SEEN_AT, True,
        )  # fmt: skip
        with pytest.raises(ParseError):
            await pool.prepare(bad)

        # The worker is killed (out of memory, an operator's kill): bodies are parsed in
        # the loop for a rest, then a fresh worker takes over.
        executor: Any = pool._executor
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        assert await pool.prepare(job) == in_worker
        assert not pool.running
        assert await pool.prepare(job) == in_worker
        assert not pool.running, "resting: no new worker per feed"
        await asyncio.sleep(0.25)
        assert await pool.prepare(job) == in_worker
        assert pool.running

        # Unused for its idle time, the worker stops.
        pool.stop_if_idle(pool._last_used + pool.idle - 1)
        assert pool.running
        pool.stop_if_idle(pool._last_used + pool.idle + 1)
        assert not pool.running
    finally:
        pool.close()


async def test_a_cycle_in_worker_processes_stores_and_alerts_as_one_in_the_loop(
    tmp_path: Path,
) -> None:
    """The same feeds, polled twice (a first poll cleaned in the worker, then new items
    of known feeds): the same articles, stories and alerts with and without workers."""
    clock = FakeClock()

    def items(feed: int, count: int, minutes_ago: int) -> list[dict[str, Any]]:
        return [
            {
                "title": f"Rare earth export curbs widen, report {feed}-{n}",
                "link": f"https://outlet{feed}.test/story-{n}?utm_source=rss",
                "guid": f"outlet{feed}-{n}",
                "description": f"<p>China&rsquo;s <b>rare earth</b> rules, item {n}.</p>",
                "pubDate": clock.now() - timedelta(minutes=minutes_ago + n),
            }
            for n in range(count)
        ]

    async def run(workers: int, home: Path) -> tuple[list[Any], list[str]]:
        async with FeedServer() as server:
            paths = [f"/f{i}.rss" for i in range(4)]
            for i, path in enumerate(paths):
                server.set_feed(path, rss(items(i, 6, 60)))
            settings = make_settings(
                home,
                feeds=[server.url(p) for p in paths],
                watches=[{"query": '"rare earth"', "name": "rare earth"}],
                poll={"workers": workers},
            )
            titles: list[str] = []
            async with core_for(settings, clock=clock) as core:
                core.poller.pool_min_feeds = 0  # a test's few feeds, as a big install's
                first = await core.poll(due_only=False)
                assert first.alert_ids == [] and first.new_articles == 24
                assert core.poller.prepare_pool.running is (workers > 0)
                for i, path in enumerate(paths):
                    server.set_feed(path, rss([*items(i + 10, 1, 1), *items(i, 6, 60)]))
                second = await core.poll(due_only=False)
                alerts = await core.store.alerts_by_ids(second.alert_ids)
                titles = sorted(a.title for a in alerts)
                async with core.store.transaction() as conn:
                    rows = (
                        await conn.execute(
                            select(
                                articles.c.url,
                                articles.c.title,
                                articles.c.summary,
                                articles.c.content,
                                articles.c.source,
                                articles.c.published,
                                articles.c.held_reason,
                                articles.c.story_key,
                            ).order_by(articles.c.url)
                        )
                    ).all()
            return [tuple(r) for r in rows], titles

    in_loop = await run(0, tmp_path / "loop")
    in_workers = await run(1, tmp_path / "workers")
    # Four outlets' copies of one event: one story, one alert.
    assert len(in_loop[0]) == 28 and len(in_loop[1]) == 1
    assert in_workers == in_loop


async def test_a_big_cycle_starts_the_workers_as_it_claims_its_feeds(tmp_path: Path) -> None:
    """The workers start when a cycle big enough for them claims its feeds, even if no
    body comes back to parse (all 304s): the next changed body finds them ready."""
    clock = FakeClock()
    async with FeedServer() as server:
        server.set_feed("/f.rss", rss([{"title": "Rare earths", "link": "https://a.test/1"}]))
        settings = make_settings(tmp_path, feeds=[server.url("/f.rss")], poll={"workers": 1})
        async with core_for(settings, clock=clock) as core:
            pool = core.poller.prepare_pool
            await core.poll(due_only=False)  # below the pool's size: parsed in the loop
            assert not pool.running
            core.poller.pool_min_feeds = 1  # a test's one feed, as a big install's many
            report = await core.poll(due_only=False)
            assert report.not_modified == 1
            assert pool.running
