"""`latest QUERY`, `watch test` and `backfill` read the retention window newest first, a
page at a time (``SCAN_PAGE``), until they have found enough or read ``SCAN_MAX``
articles: a match older than one page is found, and a query nothing matches stops at the
bound. `trend` reads its days the same way, and says which days it counted only in part.
The pages are made tiny here so a few articles stand for a busy install's day."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import Core
from bot.core import service
from bot.core.api import Caller
from bot.core.trend import PNG_MAGIC, render_trend_png
from tests.support import FakeClock, core_for, make_settings, rare_earth_core, stored_headlines

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
A = Caller("slack:CA", "slack:T1", "slack:UA", can_manage=True)
FILLER = [(f"Port fees rise at dock {i}", i) for i in range(1, 31)]  # 30 newer articles


@pytest.fixture
async def core(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Core]:
    monkeypatch.setattr(service, "SCAN_PAGE", 4)
    monkeypatch.setattr(service, "SCAN_MAX", 40)
    async with rare_earth_core(tmp_path, NOW, feed="https://news.example/rss") as opened:
        yield opened


async def store_headlines(
    core: Core, headlines: list[tuple[str, int]], *, seen: datetime = NOW
) -> None:
    """Headlines published that many minutes before this module's NOW."""
    await stored_headlines(core, headlines, now=NOW, seen=seen)


async def test_a_search_cut_in_a_new_feeds_undated_backlog_tells_the_dated_ones_read(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ten dated articles, then a new feed's undated backlog read a minute later: listed
    # after them, so a search cut among the backlog read every dated article, and says how
    # far back those go (the backlog's time is only when it was read).
    docks = [(f"Port fees rise at dock {i}", i) for i in range(1, 11)]
    await store_headlines(core, docks, seen=NOW - timedelta(minutes=1))
    archive = [(f"Archive piece {i}", 0) for i in range(20)]
    await stored_headlines(core, archive, now=NOW, seen=NOW, undated_backlog=True)
    monkeypatch.setattr(service, "SCAN_MAX", 15)
    found = await core.api.latest(Caller.console(), "lithium", limit=5)
    assert (found.articles, found.read) == ((), 15)
    assert found.searched_back_to == NOW - timedelta(minutes=10)
    listed = await core.api.latest(Caller.console(), limit=12)
    assert [a.title for a in listed.articles][9:] == [
        "Port fees rise at dock 10",
        "Archive piece 0",
        "Archive piece 1",
    ]


async def test_a_search_cut_in_undated_backlog_alone_still_says_it_was_cut(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = [(f"Archive piece {i}", 0) for i in range(20)]
    read = NOW - timedelta(minutes=3)
    await stored_headlines(core, archive, now=NOW, seen=read, undated_backlog=True)
    monkeypatch.setattr(service, "SCAN_MAX", 15)
    found = await core.api.latest(Caller.console(), "lithium", limit=5)
    assert (found.articles, found.read, found.searched_back_to) == ((), 15, read)


async def test_latest_and_watch_test_find_a_match_pages_back(core: Core) -> None:
    await store_headlines(core, [*FILLER, ("Rare earth quotas widened", 100)])
    found = await core.api.latest(Caller.console(), '"rare earth"', limit=5)
    assert [a.title for a in found.articles] == ["Rare earth quotas widened"]
    assert found.searched_back_to is None  # the whole window was read
    tested = await core.api.test_query(A, '"rare earth"')
    assert [a.title for a in tested.articles] == ["Rare earth quotas widened"]


async def test_a_query_nothing_matches_stops_at_the_bound(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_headlines(core, [*FILLER, ("Rare earth quotas widened", 100)])
    monkeypatch.setattr(service, "SCAN_MAX", 20)  # the match is the 31st newest
    found = await core.api.latest(Caller.console(), '"rare earth"', limit=5)
    assert found.articles == ()
    # It says how far back it read (the 20 newest, published 1 to 20 minutes ago), so "no
    # match" does not read as "none kept".
    assert found.read == 20
    assert found.searched_back_to == NOW - timedelta(minutes=20)


async def test_fewer_matches_than_asked_say_where_the_search_stopped(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_headlines(
        core, [("Rare earth talks resume", 0), *FILLER, ("Rare earth quotas widened", 100)]
    )
    monkeypatch.setattr(service, "SCAN_MAX", 20)
    tested = await core.api.test_query(A, '"rare earth"', limit=5)
    assert [a.title for a in tested.articles] == ["Rare earth talks resume"]
    assert tested.read == 20 and tested.searched_back_to == NOW - timedelta(minutes=19)
    # A window that ends exactly at the bound was read whole: nothing is left unsearched.
    monkeypatch.setattr(service, "SCAN_MAX", 32)
    whole = await core.api.test_query(A, '"rare earth"', limit=5)
    assert len(whole.articles) == 2 and whole.searched_back_to is None


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


DAY = 24 * 60  # minutes


async def test_a_trend_cut_by_its_bound_says_from_which_day_it_counted_in_full(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "TREND_MAX_ARTICLES", 6)
    # One "rare earth" story a day for ten days, and a quiet headline beside each.
    await store_headlines(
        core,
        [(f"Rare earth story {d}", d * DAY + 30) for d in range(10)]
        + [(f"Port fees {d}", d * DAY + 60) for d in range(10)],
    )
    data = await core.api.trend(A, "rare earth", 7)
    assert not data.read_all
    # The six newest are read, back to day 2: that day may hold more, so day 1 is the first
    # counted in full.
    assert data.counted_from == (NOW - timedelta(days=1)).date()
    assert data.stories_per_day[-3:] == (1, 1, 1)
    png = render_trend_png(data)
    assert png.startswith(PNG_MAGIC)


async def test_a_trend_says_the_days_before_the_stored_history_are_partial(
    core: Core,
) -> None:
    # Everything was first seen today (a new install): earlier days are backlog only.
    await store_headlines(core, [(f"Rare earth story {d}", d * DAY + 30) for d in range(3)])
    data = await core.api.trend(A, "rare earth", 7)
    assert data.read_all and data.counted_from == NOW.date()
    assert data.total == 3


async def test_a_trend_within_the_stored_history_is_counted_in_full(core: Core) -> None:
    await store_headlines(core, [("Old quiet headline", 20 * DAY)], seen=NOW - timedelta(days=20))
    await store_headlines(core, [(f"Rare earth story {d}", d * DAY + 30) for d in range(3)])
    data = await core.api.trend(A, "rare earth", 7)
    assert data.counted_from is None and data.read_all and data.total == 3


async def test_a_trend_leaves_out_a_new_feeds_undated_backlog(core: Core) -> None:
    # A feed added today carries an undated rare-earth piece: its day is unknown (it was
    # in the feed before, from any time), so it is no story of today's.
    await store_headlines(core, [("Old quiet headline", 20 * DAY)], seen=NOW - timedelta(days=20))
    await store_headlines(core, [(f"Rare earth story {d}", d * DAY + 30) for d in range(3)])
    archive = [("Rare earth archive piece", 0)]
    read = NOW - timedelta(minutes=1)
    await stored_headlines(core, archive, now=NOW, seen=read, undated_backlog=True)
    stored = (await core.api.latest(A, "archive")).articles
    assert [a.title for a in stored] == ["Rare earth archive piece"]
    data = await core.api.trend(A, "rare earth", 7)
    assert data.stories_per_day[-3:] == (1, 1, 1) and data.total == 3


async def test_latest_looks_back_as_far_as_articles_are_kept(tmp_path: Path) -> None:
    for days_kept, found in ((14, []), (30, ["Rare earth quotas widened"])):
        (tmp_path / str(days_kept)).mkdir()
        settings = make_settings(
            tmp_path / str(days_kept),
            feeds=["https://news.example/rss"],
            database={"retention_days": days_kept},
        )
        async with core_for(settings, clock=FakeClock(NOW)) as opened:
            await store_headlines(
                opened, [("Rare earth quotas widened", 20 * DAY)], seen=NOW - timedelta(days=20)
            )
            got = await opened.api.latest(Caller.console(), '"rare earth"')
            assert [a.title for a in got.articles] == found, days_kept
