"""P7: `latest` (the newest articles kept) on a busy store, against sorting the whole window.

``latest`` without a query returns the newest ``--limit`` articles by publication time
among those first seen in the retention window (14 days). Sorting the whole window read
every article kept; ``Store.recent_articles`` now reads only those first seen since the
articles seen last were published, less the slack a date may run ahead of its arrival
(see its docstring). Both run here on one SQLite file built through the real store:

* ``--articles`` articles (default 300,000) from 2,000 feeds, arriving evenly over 13
  days, each published up to 90 minutes before it was first seen;
* then the same after a new feed's backlog (``--backlog`` items published days to weeks
  ago) arrives last, which pushes the bound back by days.

It prints the median of ``--repeat`` runs of each, in milliseconds, and the ratio of the
whole-window sort to the bounded read, measured in the same run; what the core's
``latest`` costs in all (it lists stories: it reads a few times ``--limit`` articles, then
the outlets of the stories it shows); then the same for the 50,001 ids a query (``latest
QUERY``, ``watch test``, ``trend``) reads newest first.

Usage: ``python bench/p7_latest.py [--articles 300000] [--limit 5]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.api import Caller  # noqa: E402
from bot.core.ports import SystemClock  # noqa: E402
from bot.core.service import Wirewatch  # noqa: E402
from bot.store.schema import articles  # noqa: E402
from bot.store.store import _ARTICLE_ROW, Store  # noqa: E402

WINDOW = timedelta(days=14)
SCAN = 50_001  # what `latest QUERY`, `watch test` and `trend` read (bot.core.service.SCAN_MAX + 1)
FEEDS = 2_000


def _rows(count: int, now: datetime, rng: random.Random, *, backlog: bool) -> list[tuple]:
    out = []
    for i in range(count):
        if backlog:
            seen = now - timedelta(minutes=1)
            published = now - timedelta(days=rng.uniform(2, 20))
        else:
            seen = now - timedelta(seconds=rng.uniform(0, 13 * 86_400))
            published = seen - timedelta(minutes=rng.uniform(0, 90))
        out.append(
            (
                f"https://news{i % 211}.example.com/{'b' if backlog else 'a'}/{i}",
                1 + i % FEEDS,
                f"Headline {i}",
                "A summary of the article. " * 8,
                "",
                "Outlet",
                published.replace(tzinfo=None).isoformat(" "),
                1,
                seen.replace(tzinfo=None).isoformat(" "),
                f"s-{i}-{backlog}",
            )
        )
    return out


async def _fill(store: Store, rows: list[tuple], *, feeds: bool) -> None:
    async with store.engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None
        if feeds:
            await raw.executemany(
                "INSERT INTO feeds (id, url, interval, source, active, seeded,"
                " consecutive_failures, failing_notified, created_at, items_seen)"
                " VALUES (?, ?, 600, 'config', 1, 1, 0, 0, '2026-01-01 00:00:00', 0)",
                [(f, f"https://feeds.example.com/{f}") for f in range(1, FEEDS + 1)],
            )
        await raw.executemany(
            "INSERT INTO articles (url, feed_id, title, summary, content, source, published,"
            " published_known, first_seen_at, story_key) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows,
        )


async def _median_ms(run: Callable[[], Awaitable[Any]], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _compare(store: Store, now: datetime, limit: int, repeat: int, label: str) -> None:
    since = now - WINDOW

    async def bounded() -> list[Any]:
        return await store.recent_articles(since=since, limit=limit)

    async def whole_window() -> list[Any]:
        query = store._recent(*_ARTICLE_ROW, since=since, visible_to=None).limit(limit)
        async with store.engine.connect() as conn:
            return list(await conn.execute(query))

    async def bounded_ids() -> list[int]:
        return await store.recent_article_ids(since=since, limit=SCAN)

    async def whole_window_ids() -> list[int]:
        query = store._recent(articles.c.id, since=since, visible_to=None).limit(SCAN)
        async with store.engine.connect() as conn:
            return [r[0] for r in await conn.execute(query)]

    # What a user's `latest` costs: the core reads a few times as many articles, to list
    # stories, and then the outlets of the stories it lists.
    core = Wirewatch(store=store, poller=None, fetcher=None, clock=SystemClock())  # type: ignore[arg-type]

    async def stories() -> Any:
        return await core.latest(Caller.console(), limit=limit)

    new, old = await bounded(), await whole_window()
    assert [r.id for r in new] == [r.id for r in old], "the bounded read must find the same"
    listed = [a.id for a in (await stories()).articles]
    assert listed == [r.id for r in new], "each article is its own story here"
    print(f"{label}, as stories through the core: {await _median_ms(stories, repeat):,.1f} ms")
    assert await bounded_ids() == await whole_window_ids(), "the bounded scan must too"
    for what, new_run, old_run in (
        (label, bounded, whole_window),
        (
            f"the {SCAN:,} ids a query reads{label[len(f'latest {limit}') :]}",
            bounded_ids,
            whole_window_ids,
        ),
    ):
        new_ms = await _median_ms(new_run, repeat)
        old_ms = await _median_ms(old_run, repeat)
        print(
            f"{what}: bounded {new_ms:,.1f} ms, whole-window sort {old_ms:,.1f} ms"
            f" (x{old_ms / new_ms:.1f})"
        )


async def main(args: argparse.Namespace) -> None:
    now = datetime.now(UTC)
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{Path(tmp) / 'p7.db'}")
        try:
            start = time.perf_counter()
            await _fill(store, _rows(args.articles, now, rng, backlog=False), feeds=True)
            print(
                f"store: {args.articles:,} articles from {FEEDS:,} feeds over 13 days,"
                f" written in {time.perf_counter() - start:.1f} s"
            )
            await _compare(store, now, args.limit, args.repeat, f"latest {args.limit}")
            await _fill(store, _rows(args.backlog, now, rng, backlog=True), feeds=False)
            await _compare(
                store,
                now,
                args.limit,
                args.repeat,
                f"latest {args.limit} after a new feed's {args.backlog:,}-item backlog",
            )
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--articles", type=int, default=300_000)
    parser.add_argument("--backlog", type=int, default=5_000)
    parser.add_argument("--limit", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    print(f"P7 latest; {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    asyncio.run(main(parser.parse_args()))
