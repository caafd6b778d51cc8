"""P5: poll throughput of 1, 2 and 3 ``wirewatch run`` instances sharing one PostgreSQL.

Set-up, once: the feed farm (``bench/feedfarm.py``, its own process) serves ``--feeds``
realistic news feeds; a template PostgreSQL database gets the schema, the feeds, and a
first (silent) poll of every feed through the real pipeline, in-process.

Then for each instance count k (``--instances 1,2,3``):

1. a fresh farm process with the same start time (so the same content and versions as
   the seeded one) and a fresh database cloned from the template
   (``CREATE DATABASE … TEMPLATE``): every k starts from the identical state;
2. k ``wirewatch run`` processes (real processes, scheduler tick 0.1 s, health on their
   own ports) start and warm up (their first tick loads the story index);
3. a warm-up round (nothing changed, every feed answers 304) that is not counted, then
   per round (``--rounds``): ``--changed`` of the feeds get 1–3 new items (the same feeds
   for every k: the bump seed is the round number), then every feed is made due at once
   (``UPDATE feeds SET next_poll_at = now()``: a minute passing) and the clock runs until
   the database shows every feed polled and no lease held. feeds/s = feeds / that time;
   the best round counts.

The watches are the launch pack's plus ``--watches`` synthetic ones, delivering nowhere
(no destinations): matching runs, alerts are not queued, so no sender competes for the
cores. Prints the machine (cores, Python, PostgreSQL), per k the cycle time, feeds/s,
the ratio to one instance and each instance's share of the polls, and a RESULT line.
Figures only: nothing asserts a time.

Usage: ``.venv/bin/python bench/p5_instances.py [--feeds 2000] [--changed 0.1]
[--watches 200] [--instances 1,2,3] [--rounds 2]``. PostgreSQL comes from
``WIREWATCH_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
as for the tests; the databases it creates are dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
import tomllib
import urllib.request
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asyncpg  # noqa: E402
from feedfarm import FeedFarm, synthetic_watches  # noqa: E402

from bot.app import open_core  # noqa: E402
from bot.settings import Settings, WatchConfig  # noqa: E402

ADMIN = os.environ.get(
    "WIREWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def watch_queries(synthetic: int) -> list[str]:
    data = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    return [w["query"] for w in data.get("watches", [])] + synthetic_watches(synthetic)


def sqlalchemy_url(database: str) -> str:
    base = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


def dsn(database: str) -> str:
    return f"{ADMIN.rsplit('/', 1)[0]}/{database}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, *, database: str, port: int, queries: list[str]) -> Path:
    lines = [
        f"[database]\nurl = {json.dumps(sqlalchemy_url(database))}",
        "[fetch]\nallow_private_addresses = true",
        "[poll]\ntick_seconds = 0.1\ndefault_interval = 300",
        f'[health]\nenabled = true\nhost = "127.0.0.1"\nport = {port}',
        'log_level = "WARNING"',
    ]
    # Top-level keys must precede tables in TOML.
    lines.insert(0, lines.pop())
    lines += [f"[[watches]]\nquery = {json.dumps(q)}\nchannels = []" for q in queries]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def seed_template(template: str, urls: list[str], queries: list[str]) -> float:
    """Schema, feeds and the first silent poll through the real pipeline; returns seconds."""
    settings = Settings(
        database={"url": sqlalchemy_url(template)},
        fetch={"allow_private_addresses": True},
        poll={"default_interval": 300},
        health={"enabled": False},
        log_level="WARNING",
        watches=[WatchConfig(query=q, channels=[]) for q in queries],
    )
    async with open_core(settings, polls=True) as core:
        db = await asyncpg.connect(dsn(template))
        try:
            await db.execute(
                "INSERT INTO feeds (url, interval, source, added_by, active, seeded,"
                " consecutive_failures, failing_notified, items_seen, created_at, next_poll_at)"
                " SELECT u, 300, 'operator', 'bench', true, false, 0, false, 0, now(), now()"
                " FROM unnest($1::text[]) u",
                urls,
            )
        finally:
            await db.close()
        started = time.perf_counter()
        report = await core.poll(due_only=False)
        elapsed = time.perf_counter() - started
        if report.failed:
            raise SystemExit(f"seeding: {report.failed} feeds failed: {list(report.errors)[:3]}")
    return elapsed


async def point_feeds_at(database: str, old_ports: list[int], new_ports: list[int]) -> None:
    """A farm process binds new ports: move the cloned feeds' URLs over (feed i keeps
    port slot i % ports, so slot j's old port becomes slot j's new one)."""
    db = await asyncpg.connect(dsn(database))
    try:
        async with db.transaction():
            # Two steps, via placeholders: a new port may equal another slot's old one.
            for j, old in enumerate(old_ports):
                await db.execute(
                    "UPDATE feeds SET url = replace(url, $1, $2)",
                    f"//127.0.0.1:{old}/",
                    f"//farm-slot-{j}/",
                )
            for j, new in enumerate(new_ports):
                await db.execute(
                    "UPDATE feeds SET url = replace(url, $1, $2)",
                    f"//farm-slot-{j}/",
                    f"//127.0.0.1:{new}/",
                )
    finally:
        await db.close()


async def cycle_done(db: asyncpg.Connection, since: datetime) -> bool:
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE last_fetch_at < $1) AS pending,"
        " count(*) FILTER (WHERE lease_owner IS NOT NULL) AS leased FROM feeds WHERE active",
        since,
    )
    return bool(row["pending"] == 0 and row["leased"] == 0)


def scrape_polls(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        page = resp.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in page.splitlines()
        if line.startswith("wirewatch_polls_total{")
    )


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


async def run_instances(
    k: int,
    *,
    database: str,
    farm: FeedFarm,
    queries: list[str],
    rounds: int,
    changed: float,
    workdir: Path,
) -> tuple[float, list[float]]:
    """Best cycle seconds over ``rounds`` with k instances, and each instance's polls."""
    env = {k_: v for k_, v in os.environ.items() if not k_.startswith(("WIREWATCH_", "SLACK_"))}
    env.pop("DISCORD_TOKEN", None)
    env["PYTHONPATH"] = str(ROOT)
    procs: list[tuple[asyncio.subprocess.Process, int]] = []
    for n in range(k):
        port = free_port()
        cfg = write_config(
            workdir / f"p5-{k}-{n}.toml", database=database, port=port, queries=queries
        )
        log = (workdir / f"p5-{k}-{n}.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(cfg),
            "run",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        procs.append((proc, port))
    db = await asyncpg.connect(dsn(database))
    try:
        deadline = time.monotonic() + 120
        while not all(ready(port) for _, port in procs):
            for n, (proc, _) in enumerate(procs):
                if proc.returncode is not None:
                    log_tail = (workdir / f"p5-{k}-{n}.log").read_text(errors="replace")[-3000:]
                    raise SystemExit(f"instance {n} of {k} exited {proc.returncode}:\n{log_tail}")
            if time.monotonic() > deadline:
                raise SystemExit("instances did not become ready")
            await asyncio.sleep(0.2)
        await asyncio.sleep(3)  # first ticks: each poller loads its story index
        before = [scrape_polls(port) for _, port in procs]
        best = float("inf")
        for r in range(rounds + 1):
            if r:
                farm.bump(changed, seed=r)
            since = datetime.now(UTC)
            started = time.perf_counter()
            await db.execute("UPDATE feeds SET next_poll_at = now() WHERE active")
            while not await cycle_done(db, since):  # noqa: ASYNC110 - the DB is the clock
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            failing = await db.fetchval("SELECT count(*) FROM feeds WHERE last_error IS NOT NULL")
            if failing:
                raise SystemExit(f"k={k} round {r}: {failing} feeds failed; see {workdir}")
            if not r:
                print(f"  k={k} warm-up (all 304): {elapsed:.2f} s", flush=True)
                continue
            print(f"  k={k} round {r}: {elapsed:.2f} s (load {os.getloadavg()[0]:.1f})", flush=True)
            best = min(best, elapsed)
        polls = [scrape_polls(port) - b for (_, port), b in zip(procs, before, strict=True)]
        return best, polls
    finally:
        await db.close()
        for proc, _ in procs:
            with suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc, _ in procs:
            try:
                await asyncio.wait_for(proc.wait(), timeout=30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def main_async(args: argparse.Namespace) -> None:
    counts = [int(x) for x in args.instances.split(",")]
    queries = watch_queries(args.watches)
    tag = uuid.uuid4().hex[:8]
    template = f"wirewatch_p5_template_{tag}"
    admin = await asyncpg.connect(ADMIN)
    server_version = await admin.fetchval("SHOW server_version")
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"PostgreSQL {server_version}; {args.feeds} feeds, {args.changed:.0%} changed per "
        f"round, {len(queries)} watches, instances {counts}; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    created = [template]
    start = time.time()
    try:
        await admin.execute(f'CREATE DATABASE "{template}"')
        with FeedFarm(args.feeds, ports=args.ports, start=start) as farm:
            seconds = await seed_template(template, farm.urls(), queries)
            seeded_ports = list(farm.ports)
        print(
            f"seeding (first poll, in-process): {seconds:.1f} s, "
            f"{args.feeds / seconds:.0f} feeds/s",
            flush=True,
        )
        results: dict[int, tuple[float, list[float]]] = {}
        with tempfile.TemporaryDirectory(prefix="wirewatch-p5-") as tmp:
            for k in counts:
                database = f"wirewatch_p5_{k}_{tag}"
                await admin.execute(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
                created.append(database)
                with FeedFarm(args.feeds, ports=args.ports, start=start) as farm:
                    await point_feeds_at(database, seeded_ports, list(farm.ports))
                    results[k] = await run_instances(
                        k,
                        database=database,
                        farm=farm,
                        queries=queries,
                        rounds=args.rounds,
                        changed=args.changed,
                        workdir=Path(tmp),
                    )
    finally:
        for database in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()

    base = args.feeds / results[counts[0]][0]
    print(f"\nP5 on {os.cpu_count()} cores ({args.feeds} feeds, best of {args.rounds}):")
    pairs = []
    for k, (seconds, polls) in results.items():
        rate = args.feeds / seconds
        share = ", ".join(f"{p / max(1.0, sum(polls)):.0%}" for p in polls)
        print(
            f"  {k} instance{'s' if k > 1 else ' '}: cycle {seconds:.2f} s, {rate:,.0f} feeds/s, "
            f"x{rate / base:.2f} vs one instance; polls per instance: {share}"
        )
        pairs += [f"feeds_per_s_{k}={rate:.1f}", f"ratio_{k}={rate / base:.3f}"]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other work on the machine skews it)")
    print(f"RESULT cores={os.cpu_count()} " + " ".join(pairs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--feeds", type=int, default=2000)
    p.add_argument("--changed", type=float, default=0.1)
    p.add_argument("--watches", type=int, default=200, help="synthetic watches on top")
    p.add_argument("--instances", default="1,2,3")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--ports", type=int, default=8, help="farm listening ports (publishers)")
    args = p.parse_args()
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        os.environ.pop(var, None)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
