"""P1: one full poll cycle of the real pipeline over 10,000 feeds, against its raw ceiling.

Set-up: a feed farm (``bench/feedfarm.py``, its own process) serves ``--feeds`` realistic
news feeds on 127.0.0.1; a fresh SQLite file in a temp dir; the launch pack's 8 watches
from ``config/default.toml`` (without their Google News feeds: no internet here) plus
``--watches`` synthetic ones; the feeds inserted in one executemany.

1. Cycle 1 seeds: every feed answers 200 and its first poll records items silently.
2. ``--changed`` of the feeds get 1–3 new items; cycle 2 is the measured one:
   ``core.poll(due_only=False)`` — claim, conditional GET, parse, articles, dedup, stories,
   match, alerts into the outbox, fetch state, all as ``wirewatch poll --once`` does it.
3. Another ``--changed`` of the feeds get new items; the raw ceiling is the same fetches
   (conditional GET with the stored validators, through the same ``Fetcher`` with the same
   concurrency) plus ``parse_feed`` of the changed bodies, and nothing else.
4. With ``--rounds`` above 1, an untimed catch-up cycle takes in the bodies the ceilings
   saw first (the ceilings never write to the store), then the next round starts at 2.

Prints the machine (cores, Python), each cycle's time and counts, feeds/s, and the
pipeline/ceiling ratio, against the targets (>= 2,000 feeds/s, >= 70 % of the ceiling;
the seeding cycle, a first poll of new feeds as after an OPML import: >= 400 feeds/s).
Figures only: nothing here asserts a time.

Usage: ``.venv/bin/python bench/p1_poll_cycle.py [--feeds 10000] [--changed 0.1]
[--watches 1000] [--profile]``. ``--profile`` runs cycle 2 under cProfile and prints the
top functions.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import platform
import pstats
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from feedfarm import FeedFarm, synthetic_watches  # noqa: E402 - after the path tweak
from p6_stories import farm_articles  # noqa: E402
from sqlalchemy import bindparam, insert, select, update  # noqa: E402
from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: E402

from bot.allocator import use_one_malloc_arena  # noqa: E402
from bot.app import Core, open_core  # noqa: E402
from bot.core.articles import (  # noqa: E402
    article_from_entry,
    entry_identity_keys,
    raw_entry_key,
)
from bot.core.decide import HELD_FIRST_POLL, headline_note  # noqa: E402
from bot.core.errors import FeedError  # noqa: E402
from bot.core.fetch import Fetcher, FetchRequest  # noqa: E402
from bot.core.parsing import parse_feed  # noqa: E402
from bot.core.prepare import PrepareJob  # noqa: E402
from bot.core.stories import story_features, story_key_for_url  # noqa: E402
from bot.settings import Settings, WatchConfig  # noqa: E402
from bot.spawning import lean_worker_start  # noqa: E402
from bot.store.schema import articles as articles_table  # noqa: E402
from bot.store.schema import feeds as feeds_table  # noqa: E402
from bot.store.schema import seen_items as seen_table  # noqa: E402
from bot.store.store import Store  # noqa: E402

TARGET_FEEDS_PER_S = 2000  # issue 11
TARGET_RATIO = 0.70
TARGET_FIRST_POLL = 400  # feeds/s of a first poll of new feeds (an OPML import)


def launch_pack_watches() -> list[WatchConfig]:
    """The 8 watches of config/default.toml, without their Google News feeds."""
    data = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    return [WatchConfig(**{**w, "google_news": False}) for w in data.get("watches", [])]


def build_settings(db: Path, watches: int, workers: int) -> Settings:
    pack = launch_pack_watches()
    extra = [WatchConfig(query=q) for q in synthetic_watches(watches)]
    return Settings(
        database={"url": f"sqlite+aiosqlite:///{db}"},
        fetch={"allow_private_addresses": True},
        health={"enabled": False},
        log_level="WARNING",
        poll={"workers": workers},
        watches=[*pack, *extra],
        feeds=[],
    )


async def insert_feeds(core: Core, urls: list[str], interval: int) -> None:
    """All feeds in one executemany (sync_config's one-transaction-per-feed is for configs)."""
    now = datetime.now(UTC)
    rows = [
        {
            "url": url,
            "name": None,
            "interval": interval,
            "source": "operator",
            "added_by": "bench",
            "active": True,
            "seeded": False,
            "consecutive_failures": 0,
            "failing_notified": False,
            "items_seen": 0,
            "created_at": now,
            "next_poll_at": now,
        }
        for url in urls
    ]
    async with core.store.transaction() as conn:
        await conn.execute(insert(feeds_table), rows)


async def seed_directly(
    store: Store, fetcher: Fetcher, *, next_poll_at: datetime | None = None
) -> dict[str, int]:
    """Write what a first (silent) poll of every feed records, without the poll cycle.

    Same fetch, parse and article cleaning as the poller; then the feeds' validators and
    ``seeded``, every item's raw key (with its headline note) and identity keys, and the
    articles (each its own story, held as
    "first poll") go in with bulk inserts. The real first poll inserts articles one by one
    and clusters each headline; this writes the same state with bulk inserts, for a
    store in a known state without the first cycle's costs (``--seed direct``).
    """
    now = datetime.now(UTC)
    next_poll_at = next_poll_at or now
    async with store.transaction() as conn:
        feed_rows = (
            await conn.execute(
                select(feeds_table.c.id, feeds_table.c.url).where(feeds_table.c.active.is_(True))
            )
        ).all()
    counts = {"feeds": 0, "articles": 0, "keys": 0, "failed": 0}
    pending: list[tuple[int, Any, dict[str, str | None], list[Any]]] = []

    async def one(feed_id: int, url: str) -> None:
        try:
            result = await fetcher.fetch(FetchRequest(url=url))
            assert result.body is not None
            parsed = parse_feed(result.body, url=result.final_url, content_type=result.content_type)
        except FeedError:
            counts["failed"] += 1
            return
        # As the first poll records them: each entry's cheap raw key with its headline's
        # note (what lets later polls skip known entries without computing their identity),
        # then the identity keys.
        keys: dict[str, str | None] = {}
        for e in parsed.entries:
            keys.setdefault(raw_entry_key(e, feed_url=url), headline_note(e.title or ""))
        for e in parsed.entries:
            for k in entry_identity_keys(e, feed_url=url):
                keys.setdefault(k, None)
        arts = [
            a
            for a in (
                article_from_entry(e, feed_url=url, feed_title=parsed.title, seen_at=now)
                for e in parsed.entries
            )
            if a is not None and a.url
        ]
        pending.append((feed_id, result, keys, arts))

    async def flush() -> None:
        seen_rows: list[dict[str, Any]] = []
        article_rows: list[dict[str, Any]] = []
        feed_updates: list[dict[str, Any]] = []
        for feed_id, result, keys, arts in pending:
            seen_rows += [
                {"feed_id": feed_id, "key": k, "seen_at": now, "note": note}
                for k, note in keys.items()
            ]
            article_rows += [
                {
                    "url": a.url,
                    "feed_id": feed_id,
                    "title": a.title,
                    "summary": a.summary,
                    "content": a.content,
                    "source": a.source,
                    "published": a.published,
                    "published_known": a.published_known,
                    "first_seen_at": now,
                    "story_key": story_key_for_url(a.url),
                    "image_url": a.image_url,
                    "guid": a.guid,
                    "held_reason": HELD_FIRST_POLL,
                }
                for a in arts
            ]
            feed_updates.append(
                {
                    "b_id": feed_id,
                    "etag": result.etag,
                    "last_modified": result.last_modified,
                    "body_hash": result.body_hash,
                    "seeded": True,
                    "last_fetch_at": now,
                    "last_success_at": now,
                    "last_status": result.status,
                    "next_poll_at": next_poll_at,
                    "items_seen": len(arts),
                }
            )
        counts["feeds"] += len(pending)
        counts["articles"] += len(article_rows)
        counts["keys"] += len(seen_rows)
        pending.clear()
        async with store.transaction() as conn:
            if seen_rows:
                await conn.execute(sqlite_insert(seen_table).on_conflict_do_nothing(), seen_rows)
            if article_rows:
                await conn.execute(
                    sqlite_insert(articles_table).on_conflict_do_nothing(), article_rows
                )
            if feed_updates:
                stmt = (
                    update(feeds_table)
                    .where(feeds_table.c.id == bindparam("b_id"))
                    .values({k: bindparam(k) for k in feed_updates[0] if k != "b_id"})
                )
                await conn.execute(stmt, feed_updates)

    for start in range(0, len(feed_rows), 500):
        await asyncio.gather(*(one(r.id, r.url) for r in feed_rows[start : start + 500]))
        await flush()
    return counts


def profile_writer(store: Store) -> cProfile.Profile:
    """Profile what the store's writer thread runs (SQLite: ``run_write`` work goes to a
    worker thread, which the event loop's profiler never sees: there it is time spent
    waiting in ``epoll``). Returns the profiler; it runs only inside a writer call."""
    profiler = cProfile.Profile()
    original = store.run_write

    async def run_write(work: Any) -> Any:
        def profiled(conn: Any) -> Any:
            profiler.enable()
            try:
                return work(conn)
            finally:
                profiler.disable()

        return await original(profiled)

    store.run_write = run_write  # type: ignore[method-assign]
    return profiler


def print_profile(title: str, profiler: cProfile.Profile, top: int) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    print(f"==== {title} ====")
    print(out.getvalue())


def describe(report: Any) -> str:
    return (
        f"{report.fetched} changed, {report.not_modified} not modified, {report.failed} failed, "
        f"{report.new_articles} new articles, {len(report.alert_ids)} alerts"
    )


async def raw_ceiling(
    core: Core, validators: dict[int, tuple[Any, ...]], *, in_workers: bool = False
) -> dict[str, float]:
    """The same conditional GETs and parses as a cycle, nothing else: parsed in the event
    loop (the target's ceiling), or with ``in_workers`` in the poller's worker processes
    as the pipeline parses a big cycle (printed beside it, so the pipeline's gain from
    parsing elsewhere is not mistaken for less work).

    The validators sent are the store's, overridden by ``validators`` (feed id -> etag,
    last modified, body hash), where the new ones go afterwards: the store is left as the
    pipeline left it, so the pipeline's next (catch-up) cycle takes in the bodies a
    ceiling saw first, as a running bot would.
    """
    async with core.store.transaction() as conn:
        rows = (
            await conn.execute(
                select(
                    feeds_table.c.id,
                    feeds_table.c.url,
                    feeds_table.c.etag,
                    feeds_table.c.last_modified,
                    feeds_table.c.body_hash,
                ).where(feeds_table.c.active.is_(True))
            )
        ).all()
    counts = {"changed": 0, "not_modified": 0, "failed": 0, "entries": 0}
    fetcher = core.fetcher

    async def one(
        feed_id: int, url: str, etag: str | None, lm: str | None, body_hash: str | None
    ) -> None:
        etag, lm, body_hash = validators.get(feed_id, (etag, lm, body_hash))
        try:
            result = await fetcher.fetch(
                FetchRequest(url=url, etag=etag, last_modified=lm, previous_body_hash=body_hash)
            )
            if result.not_modified or result.body is None:
                counts["not_modified"] += 1
                return
            if in_workers:
                prepared = await core.poller.prepare_pool.prepare(
                    PrepareJob(
                        body=result.body,
                        url=result.final_url,
                        content_type=result.content_type,
                        feed_url=url,
                        feed_name=None,
                        fetched_at=datetime.now(UTC),
                        clean=False,
                    )
                )
                entries = len(prepared.entries)
            else:
                parsed = parse_feed(
                    result.body, url=result.final_url, content_type=result.content_type
                )
                entries = len(parsed.entries)
            counts["changed"] += 1
            counts["entries"] += entries
            validators[feed_id] = (result.etag, result.last_modified, result.body_hash)
        except FeedError:
            counts["failed"] += 1

    gc.collect()
    started = time.perf_counter()
    await asyncio.gather(*(one(*r) for r in rows))
    elapsed = time.perf_counter() - started
    return {**counts, "elapsed": elapsed, "feeds": len(rows)}


def hold_stories(core: Core, count: int, *, offset: int) -> None:
    """Fill the poller's story index as a bot that has been running holds it: ``count``
    farm headlines (items the farm does not serve, in the same vocabulary), clustered as
    the poller clusters them, all seen in the last hour (untimed)."""
    index = core.poller.stories
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for n, (title, summary) in enumerate(farm_articles(count, offset=offset)):
        features = story_features(title, summary)
        seen_at = now - timedelta(seconds=3600 * (count - n) / count)
        index.add(index.find(features, seen_at) or f"held-{n}", features, seen_at)
    print(
        f"story index: {len(index):,} headlines held before the first poll, as in a running "
        f"bot ({time.perf_counter() - t0:.1f} s, untimed)"
    )


async def make_all_due(core: Core) -> None:
    """Every feed due now (untimed). ``poll(due_only=False)`` alone polls only the due feeds
    when some are due already (its force mode starts only when none is), so a measured
    cycle could silently cover a handful of feeds."""
    async with core.store.transaction() as conn:
        await conn.execute(update(feeds_table).values(next_poll_at=datetime.now(UTC)))


async def timed_cycle(core: Core, profiler: cProfile.Profile | None = None) -> tuple[Any, float]:
    await make_all_due(core)
    gc.collect()
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    report = await core.poll(due_only=False)
    if profiler:
        profiler.disable()
    return report, time.perf_counter() - t0


async def bench(args: argparse.Namespace, farm: FeedFarm, db: Path) -> None:
    settings = build_settings(db, args.watches, args.workers)
    if args.one_arena:
        # Before open_core starts the database threads, as `wirewatch run` does.
        print(f"one malloc arena: {'set' if use_one_malloc_arena() else 'not available'}")
    t0 = time.perf_counter()
    async with open_core(settings, polls=True) as core:
        t_sync = time.perf_counter() - t0
        t0 = time.perf_counter()
        await insert_feeds(core, farm.urls(), settings.poll.default_interval)
        t_insert = time.perf_counter() - t0
        print(
            f"setup: {len(settings.watches)} watches synced in {t_sync:.1f} s, "
            f"{farm.feeds} feeds inserted in {t_insert:.2f} s"
        )

        if args.held_stories:
            hold_stories(core, args.held_stories, offset=farm.feeds * 50)
        seed_profiler = cProfile.Profile() if args.profile_seed else None
        seed_writer = profile_writer(core.store) if args.profile_seed else None
        gc.collect()
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        others0 = others_cpu(core, farm)
        if args.seed == "pipeline":
            if seed_profiler:
                seed_profiler.enable()
            seed = await core.poll(due_only=False)
            if seed_profiler:
                seed_profiler.disable()
            t_seed = time.perf_counter() - t0
            cpu_seed = time.process_time() - cpu0
            print(
                f"cycle 1 (seeding through the pipeline, all 200, silent): {t_seed:.2f} s, "
                f"{seed.feeds / t_seed:,.0f} feeds/s (this process's CPU {cpu_seed:.2f} s, "
                f"{cpu_delta(others0, others_cpu(core, farm))}); {describe(seed)}"
            )
            rss = workers_rss_mb(core)
            if rss:
                print(f"parsing workers' RSS after the first poll: {', '.join(rss)} MB")
            print(
                f"first-poll target: >= {TARGET_FIRST_POLL:,} feeds/s "
                f"({'met' if seed.feeds / t_seed >= TARGET_FIRST_POLL else 'MISSED'})"
            )
        else:
            seeded = await seed_directly(core.store, core.fetcher)
            t_seed = time.perf_counter() - t0
            print(
                f"cycle 1 (seeding written directly, all 200): {t_seed:.2f} s, "
                f"{seeded['feeds'] / t_seed:,.0f} feeds/s; {seeded['articles']} articles, "
                f"{seeded['keys']} seen keys, {seeded['failed']} failed"
            )
        if seed_profiler and seed_writer:
            print_profile("seeding cycle: event loop", seed_profiler, args.profile_top)
            print_profile("seeding cycle: store writer thread", seed_writer, args.profile_top)
            return
        if args.seed_only:
            return
        # A warm-up cycle with nothing changed: the poller loads its story index and the
        # connection pool fills, as in a process that has been running for a while.
        cpu0 = time.process_time()
        warm, t_warm = await timed_cycle(core)
        print(
            f"warm-up cycle (nothing changed): {t_warm:.2f} s, "
            f"{warm.feeds / t_warm:,.0f} feeds/s (this process's CPU "
            f"{time.process_time() - cpu0:.2f} s); {describe(warm)}"
        )

        results: list[tuple[float, float, float]] = []
        ceiling_validators: dict[int, tuple[Any, ...]] = {}
        pooled_rates: list[float] = []
        profiler = cProfile.Profile() if args.profile else None
        writer = profile_writer(core.store) if args.profile else None
        for r in range(1, args.rounds + 1):
            bumped = await asyncio.to_thread(farm.bump, args.changed, seed=2 * r - 1)
            print(
                f"round {r}: bumped {bumped['bumped']} feeds with {bumped['new_items']} new items"
            )
            cpu0 = time.process_time()
            others0 = others_cpu(core, farm)
            report, t_cycle = await timed_cycle(core, profiler)
            cpu_cycle = time.process_time() - cpu0
            others = cpu_delta(others0, others_cpu(core, farm))
            pipeline_rate = report.feeds / t_cycle
            print(
                f"round {r}: measured pipeline cycle: {t_cycle:.2f} s for {report.feeds} feeds = "
                f"{pipeline_rate:,.0f} feeds/s (this process's CPU {cpu_cycle:.2f} s, {others}); "
                f"{describe(report)}"
            )
            await asyncio.to_thread(farm.bump, args.changed, seed=2 * r)
            cpu0 = time.process_time()
            ceiling = await raw_ceiling(core, ceiling_validators)
            cpu_ceiling = time.process_time() - cpu0
            ceiling_rate = ceiling["feeds"] / ceiling["elapsed"]
            print(
                f"round {r}: raw ceiling (fetch + parse only): {ceiling['elapsed']:.2f} s for "
                f"{ceiling['feeds']:.0f} feeds = {ceiling_rate:,.0f} feeds/s "
                f"(CPU {cpu_ceiling:.2f} s); "
                f"{ceiling['changed']:.0f} changed, {ceiling['not_modified']:.0f} not modified, "
                f"{ceiling['failed']:.0f} failed"
            )
            if core.poller.prepare_pool.workers:
                await asyncio.to_thread(farm.bump, args.changed, seed=1000 + r)
                pooled = await raw_ceiling(core, ceiling_validators, in_workers=True)
                pooled_rate = pooled["feeds"] / pooled["elapsed"]
                pooled_rates.append(pooled_rate)
                print(
                    f"round {r}: raw ceiling, parsed in the worker processes as the pipeline "
                    f"parses: {pooled['elapsed']:.2f} s = {pooled_rate:,.0f} feeds/s "
                    f"(pipeline: {pipeline_rate / pooled_rate:.0%} of it)"
                )
            results.append((pipeline_rate, t_cycle, ceiling_rate))
            if r < args.rounds:
                # Untimed: the pipeline takes in what the ceilings' bumps added, as a running
                # bot sees every body, so the next measured cycle sees only its own bump.
                await make_all_due(core)
                caught = await core.poll(due_only=False)
                ceiling_validators.clear()
                print(f"round {r}: catch-up cycle (untimed): {describe(caught)}")

        # Best of the rounds on both sides: this box is shared, slow rounds measure neighbours.
        pipeline_rate, t_cycle, _ = max(results)
        ceiling_rate = max(c for _, _, c in results)
        ratio = pipeline_rate / ceiling_rate
        print(
            f"RESULT feeds_per_s={pipeline_rate:.0f} cycle_s={t_cycle:.2f} "
            f"ceiling_feeds_per_s={ceiling_rate:.0f} ratio={ratio:.2f}"
        )
        print(
            f"targets: >= {TARGET_FEEDS_PER_S:,} feeds/s "
            f"({'met' if pipeline_rate >= TARGET_FEEDS_PER_S else 'MISSED'}), "
            f">= {TARGET_RATIO:.0%} of the ceiling "
            f"({'met' if ratio >= TARGET_RATIO else 'MISSED'}: {ratio:.0%})"
        )
        if pooled_rates:
            print(
                f"against the ceiling parsed in {core.poller.prepare_pool.workers} worker "
                f"process(es) as the pipeline parses: {pipeline_rate / max(pooled_rates):.0%}"
            )
        print(f"load average at the end: {load_average()}")
        if profiler and writer:
            print_profile("measured cycles: event loop", profiler, args.profile_top)
            print_profile("measured cycles: store writer thread", writer, args.profile_top)


def process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of another process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers_rss_mb(core: Core) -> list[str]:
    """Each parsing worker's resident memory (Linux /proc; empty elsewhere)."""
    executor = core.poller.prepare_pool._executor
    out = []
    for pid in getattr(executor, "_processes", None) or {}:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for row in status.splitlines():
            if row.startswith("VmRSS:"):
                out.append(f"{int(row.split()[1]) / 1024:.0f}")
    return out


def others_cpu(core: Core, farm: FeedFarm) -> dict[str, float]:
    """CPU so far of the farm and of the poller's parsing workers: on two cores they
    share the machine with the pipeline, so their cost is part of every figure."""
    executor = core.poller.prepare_pool._executor
    workers = getattr(executor, "_processes", None) or {}
    return {"farm": process_cpu(farm.pid), "workers": sum(process_cpu(p) for p in workers)}


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> str:
    return ", ".join(f"{k} {after[k] - before[k]:.2f} s" for k in before)


def load_average() -> str:
    """The 1-minute load average: on a shared box, what the figures were measured under."""
    return f"{os.getloadavg()[0]:.1f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="P1: poll-cycle throughput against its ceiling")
    p.add_argument("--feeds", type=int, default=10_000)
    p.add_argument("--changed", type=float, default=0.1, help="fraction with new items")
    p.add_argument("--watches", type=int, default=1000, help="synthetic watches (plus 8)")
    p.add_argument("--ports", type=int, default=8, help="farm ports (stand-in hosts)")
    p.add_argument(
        "--seed",
        choices=("pipeline", "direct"),
        default="pipeline",
        help="cycle 1 through the real poll cycle (default), or its records written "
        "directly with bulk inserts",
    )
    p.add_argument("--rounds", type=int, default=1, help="bump/cycle/bump/ceiling rounds")
    p.add_argument(
        "--workers", type=int, default=1, help="[poll] workers: parsing processes (0: in the loop)"
    )
    p.add_argument("--profile", action="store_true", help="cProfile the measured cycle")
    p.add_argument("--seed-only", action="store_true", help="stop after the seeding cycle")
    p.add_argument(
        "--one-arena",
        action="store_true",
        help="one glibc malloc arena for all threads, as `wirewatch run` sets it",
    )
    p.add_argument(
        "--held-stories",
        type=int,
        default=0,
        help="headlines in the story index before the first poll (a running bot's window)",
    )
    p.add_argument(
        "--profile-seed",
        action="store_true",
        help="cProfile the seeding cycle (with --seed pipeline) and stop there",
    )
    p.add_argument("--profile-top", type=int, default=30)
    p.add_argument(
        "--workers-import-main",
        action="store_true",
        help="let the parsing workers re-run this script (the whole app) as they start, as "
        "the `wirewatch` console script's did before bot.spawning",
    )
    args = p.parse_args(argv)

    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, load average {load_average()}"
    )
    print(
        f"P1 poll cycle: {args.feeds} feeds, {args.changed:.0%} changed, "
        f"{args.watches} + 8 watches, {args.workers} parsing worker process(es)"
    )
    if not args.workers_import_main:
        lean_worker_start()  # as the `wirewatch` console script does
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="wirewatch-p1-") as tmp,
        FeedFarm(args.feeds, ports=args.ports) as farm,
    ):
        print(
            f"feed farm: {args.feeds} feeds on {len(farm.ports)} ports, ready in "
            f"{time.perf_counter() - t0:.1f} s (pid {farm.pid})"
        )
        asyncio.run(bench(args, farm, Path(tmp) / "p1.db"))
        stats = farm.stats()
        print(f"farm served: {stats['200']} x 200, {stats['304']} x 304, {stats['404']} x 404")


if __name__ == "__main__":
    main()
