"""`latest QUERY`, `watch test` and `backfill` read the retention window newest first, a
page at a time (``SCAN_PAGE``), until they have found enough or read ``SCAN_MAX``
articles: a match older than one page is found, and a query nothing matches stops at the
bound. The pages are made tiny here so a few articles stand for a busy install's day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.app import Core
from bot.core import service
from bot.core.api import Caller
from bot.core.models import Article
from bot.store import ingest
from bot.store.schema import feeds
from tests.support import FakeClock, core_for, make_settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
A = Caller("slack:CA", "slack:T1", "slack:UA", can_manage=True)
FILLER = [(f"Port fees rise at dock {i}", i) for i in range(1, 31)]  # 30 newer articles


@pytest.fixture
async def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Core]:
    monkeypatch.setattr(service, "SCAN_PAGE", 4)
    monkeypatch.setattr(service, "SCAN_MAX", 40)
    settings = make_settings(
        tmp_path,
        feeds=["https://news.example/rss"],
        watches=[{"query": '"rare earth"', "name": "rare earth"}],
    )
    async with core_for(settings, clock=FakeClock(NOW)) as opened:
        yield opened


async def store_headlines(core: Core, headlines: list[tuple[str, int]]) -> None:
    """Articles of the config feed with these titles, published that many minutes ago,
    each its own story."""

    def write(conn: Connection) -> None:
        feed_id = conn.execute(select(feeds.c.id)).scalar_one()
        rows = [
            (
                Article(
                    url=f"https://news.test/{i}",
                    title=title,
                    summary=title,
                    content="",
                    source="Wire",
                    published=NOW - timedelta(minutes=minutes),
                    published_known=True,
                    identity_keys=(f"u:{i}",),
                ),
                f"s-{i}",
                None,
                feed_id,
            )
            for i, (title, minutes) in enumerate(headlines)
        ]
        ingest.insert_articles(conn, rows, now=NOW)

    await core.store.run_write(write)


async def test_latest_and_watch_test_find_a_match_pages_back(core: Core) -> None:
    await store_headlines(core, [*FILLER, ("Rare earth quotas widened", 100)])
    found = await core.api.latest(Caller.console(), '"rare earth"', limit=5)
    assert [a.title for a in found] == ["Rare earth quotas widened"]
    tested = await core.api.test_query(A, '"rare earth"')
    assert [a.title for a in tested] == ["Rare earth quotas widened"]


async def test_a_query_nothing_matches_stops_at_the_bound(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_headlines(core, [*FILLER, ("Rare earth quotas widened", 100)])
    monkeypatch.setattr(service, "SCAN_MAX", 20)  # the match is the 31st newest
    assert await core.api.latest(Caller.console(), '"rare earth"', limit=5) == []


async def test_backfill_reads_back_until_it_has_enough_new_stories(core: Core) -> None:
    stories = [(f"Rare earth story {k}", 10 * k + 5) for k in range(1, 5)]  # 15..45 min
    await store_headlines(core, [*FILLER, *stories])
    await core.api.subscribe(A)
    first = await core.api.backfill(A, 2)
    # The two newest matching stories, oldest first, though several pages back.
    assert [a.title for a in first.queued] == ["Rare earth story 2", "Rare earth story 1"]
    second = await core.api.backfill(A, 2)
    assert [a.title for a in second.queued] == ["Rare earth story 4", "Rare earth story 3"]
    assert second.already_here == 2
