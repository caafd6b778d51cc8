"""P4: peak RSS of the real ``wirewatch run`` with 10k feeds, 10k watches and 1M seen keys.

Set-up, all in a temp dir: a feed farm (``bench/feedfarm.py``, its own process) serving
``--feeds`` realistic news feeds; a generated TOML config with those feeds, ``--watches``
generated queries (words, phrases, AND/OR/NOT, ``-``, fields), ``[poll] default_interval =
60``, ``[delivery] default_destinations = []`` (console; stdout goes to /dev/null) and a
free health port. ``wirewatch migrate`` creates the SQLite file; then the feeds' rows and
``--seen`` history seen-item keys (items long gone, 18-character keys like the real ones)
are written with stdlib sqlite3 in one transaction.

By default (``--seed run``) ``run`` itself makes every feed's first poll (a fresh install:
every feed 200, all parsed, the story index filling up). ``--seed direct`` writes what
those first polls record (validators, seen keys, articles) beforehand, so ``run`` starts
as an install that has been running does.

Then ``wirewatch run`` starts as a subprocess and RSS (``psutil``) is sampled every
``--sample`` seconds. Progress comes from ``/metrics`` (``wirewatch_polls_total``). After
the first cycle ``--changed`` of the feeds get new items (with ``--seed direct`` also
before the start); the run lasts until every feed has been polled ``--cycles`` times. Then
SIGTERM, and the exit code says whether it stopped cleanly.

Prints peak RSS (MB = 10^6 bytes, and MiB) overall and per phase, the target (<= 200 MB),
the time each phase took, and the exit code. Figures only: nothing here asserts.

Usage: ``.venv/bin/python bench/p4_memory.py [--feeds 10000] [--watches 10000]
[--seen 1000000]``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from feedfarm import FeedFarm, synthetic_watches  # noqa: E402 - after the path tweak

TARGET_MB = 200
VENV_BIN = ROOT / ".venv" / "bin"


def wirewatch_command() -> list[str]:
    """``python -m bot`` run from this checkout (the console script's entry point): the
    installed ``wirewatch`` script imports whichever checkout the venv was installed from
    (an editable install elsewhere, a shared venv), not necessarily the code at hand."""
    python = VENV_BIN / "python"
    return [str(python if python.exists() else sys.executable), "-m", "bot"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def toml_str(value: str) -> str:
    # A JSON string literal is a valid TOML basic string (same escapes for what we emit).
    return json.dumps(value, ensure_ascii=False)


def write_config(path: Path, *, db: Path, port: int, urls: list[str], queries: list[str]) -> None:
    lines = [
        "[database]",
        f"url = {toml_str(f'sqlite+aiosqlite:///{db}')}",
        "[fetch]",
        "allow_private_addresses = true",
        "[poll]",
        "default_interval = 60",
        "[delivery]",
        "default_destinations = []",
        "[health]",
        "enabled = true",
        'host = "127.0.0.1"',
        f"port = {port}",
    ]
    for url in urls:
        lines += ["[[feeds]]", f"url = {toml_str(url)}"]
    for q in queries:
        lines += ["[[watches]]", f"query = {toml_str(q)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def sqlite_time(dt: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format (naive UTC).
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def prepopulate(db: Path, urls: list[str], seen: int, interval: int) -> float:
    """Feeds rows (as the config sync would make them) and ``seen`` history keys."""
    started = time.perf_counter()
    now = sqlite_time(datetime.now(UTC))
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        with conn:
            conn.executemany(
                "INSERT INTO feeds (url, interval, source, active, seeded, consecutive_failures,"
                " failing_notified, items_seen, created_at, next_poll_at)"
                " VALUES (?, ?, 'config', 1, 0, 0, 0, 0, ?, ?)",
                ((url, interval, now, now) for url in urls),
            )
            ids = [r[0] for r in conn.execute("SELECT id FROM feeds ORDER BY id")]
            if not seen:
                return time.perf_counter() - started
            rng = random.Random(4)
            prefixes = ("g:", "u:", "t:")

            def keys() -> object:
                for n in range(seen):
                    raw = rng.getrandbits(96).to_bytes(12, "big")
                    key = prefixes[n % 3] + base64.urlsafe_b64encode(raw).decode("ascii")
                    yield (ids[n % len(ids)], key, now)

            conn.executemany(
                "INSERT INTO seen_items (feed_id, key, seen_at) VALUES (?, ?, ?)", keys()
            )
    finally:
        conn.close()
    return time.perf_counter() - started


def seed_directly(db: Path) -> dict[str, int]:
    """Record every feed's current items as a first poll would (see p1_poll_cycle)."""
    import asyncio

    from p1_poll_cycle import seed_directly as seed

    from bot.core.fetch import Fetcher, FetchLimits
    from bot.store.store import Store

    async def go() -> dict[str, int]:
        store = await Store.open(f"sqlite+aiosqlite:///{db}", migrate=False)
        try:
            async with Fetcher(
                user_agent="wirewatch-bench", allow_private=True, limits=FetchLimits()
            ) as fetcher:
                return await seed(store, fetcher)
        finally:
            await store.close()

    return asyncio.run(go())


def count_rows(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        n: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return n
    finally:
        conn.close()


def polls_total(port: int) -> int | None:
    """Sum of wirewatch_polls_total over outcomes, or None while /metrics is not up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("wirewatch_polls_total"):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


class RssSampler(threading.Thread):
    """Samples a process's RSS (and its children's, if any) until stopped."""

    def __init__(self, pid: int, every: float) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process(pid)
        self.every = every
        self.peak = 0
        self.phase_peak: dict[str, int] = {}
        self.phase = "startup"
        self.last = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                rss = self.proc.memory_info().rss
                for child in self.proc.children(recursive=True):
                    rss += child.memory_info().rss
            except psutil.Error:
                break
            self.last = rss
            self.peak = max(self.peak, rss)
            self.phase_peak[self.phase] = max(self.phase_peak.get(self.phase, 0), rss)
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def mb(n: int) -> str:
    return f"{n / 1e6:.0f} MB ({n / 2**20:.0f} MiB)"


def run(args: argparse.Namespace) -> int:
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, load average {load_average()}"
    )
    print(f"P4 memory: {args.feeds} feeds, {args.watches} watches, {args.seen:,} seen keys")
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="wirewatch-p4-") as tmp,
        FeedFarm(args.feeds, ports=args.ports) as farm,
    ):
        print(f"feed farm ready in {time.perf_counter() - t0:.1f} s (pid {farm.pid})")
        tmpdir = Path(tmp)
        db, cfg, log_path = tmpdir / "p4.db", tmpdir / "p4.toml", tmpdir / "run.log"
        port = free_port()
        write_config(
            cfg, db=db, port=port, urls=farm.urls(), queries=synthetic_watches(args.watches)
        )
        env = {**os.environ, "WIREWATCH_LOG_FORMAT": "text"}
        command = wirewatch_command()
        print(f"wirewatch: {' '.join(command)}")
        subprocess.run(
            [*command, "--config", str(cfg), "migrate"],
            check=True,
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
        took = prepopulate(db, farm.urls(), args.seen, 60)
        print(
            f"database: migrated; {args.feeds} feeds and {args.seen:,} history seen keys "
            f"written in {took:.1f} s"
        )
        if args.seed == "direct":
            t0 = time.perf_counter()
            seeded = seed_directly(db)
            print(
                f"seeded directly (first poll's records of every feed): {seeded['articles']:,} "
                f"articles, {seeded['keys']:,} seen keys in {time.perf_counter() - t0:.1f} s"
            )
            result = farm.bump(args.changed, seed=101)
            print(f"bumped {result['bumped']} feeds before the start")
        print(
            f"database: {count_rows(db, 'seen_items'):,} seen keys, "
            f"{count_rows(db, 'articles'):,} articles, {db.stat().st_size / 1e6:.0f} MB"
        )

        with open(log_path, "wb") as log_file:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [*command, "--config", str(cfg), "run"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
            sampler = RssSampler(proc.pid, args.sample)
            sampler.start()
            phases: list[tuple[str, float]] = []
            outcome = "ok"
            first_cycle = (
                "cycle 1 (seeding every feed)" if args.seed == "run" else "cycle 1 (every feed due)"
            )
            try:
                target = args.feeds * args.cycles
                bumped = False
                while True:
                    if proc.poll() is not None:
                        outcome = f"wirewatch exited early with code {proc.returncode}"
                        break
                    if time.perf_counter() - started > args.timeout:
                        outcome = f"timed out after {args.timeout:.0f} s"
                        break
                    polls = polls_total(port)
                    if polls is None:
                        time.sleep(0.5)
                        continue
                    if sampler.phase == "startup":
                        phases.append(("startup (config sync, matcher build)", time.perf_counter()))
                        sampler.phase = first_cycle
                    if not bumped and polls >= args.feeds:
                        phases.append((first_cycle, time.perf_counter()))
                        result = farm.bump(args.changed, seed=1)
                        print(
                            f"cycle 1 done; bumped {result['bumped']} feeds "
                            f"({result['new_items']} new items)"
                        )
                        sampler.phase = "later cycles"
                        bumped = True
                    if polls >= target:
                        phases.append((f"cycles 2..{args.cycles}", time.perf_counter()))
                        break
                    time.sleep(1.0)
            finally:
                rss_before_stop = sampler.last
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
                    outcome += "; did not stop within 60 s of SIGTERM (killed)"
                sampler.stop()

        previous = started
        for name, at in phases:
            print(f"  {name}: {at - previous:.1f} s")
            previous = at
        for phase, peak in sampler.phase_peak.items():
            print(f"  peak RSS during {phase}: {mb(peak)}")
        print(f"RSS at the end: {mb(rss_before_stop)}")
        stats = farm.stats()
        print(f"farm served: {stats['200']} x 200, {stats['304']} x 304, {stats['404']} x 404")
        log_tail = log_path.read_text(errors="replace").splitlines()
        cycles = [line for line in log_tail if "poll cycle:" in line]
        for line in cycles[-4:]:
            print(f"  log: {line[-160:]}")
        print(
            f"run: {outcome}; exit code after SIGTERM: {code} "
            f"({'clean' if code == 0 else 'NOT clean'})"
        )
        if code != 0 or outcome != "ok":
            print("last log lines:")
            for line in log_tail[-15:]:
                print(f"  {line[:300]}")
        peak = sampler.peak
        print(
            f"RESULT peak_rss_mb={peak / 1e6:.0f} peak_rss_mib={peak / 2**20:.0f} "
            f"target_mb={TARGET_MB} exit_code={code}"
        )
        print(f"target: <= {TARGET_MB} MB ({'met' if peak / 1e6 <= TARGET_MB else 'MISSED'})")
        print(f"load average at the end: {load_average()}")
        return 0 if outcome == "ok" and code == 0 else 1


def load_average() -> str:
    """The 1-minute load average: on a shared box, what the figures were measured under."""
    return f"{os.getloadavg()[0]:.1f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="P4: peak RSS of `wirewatch run`")
    p.add_argument("--feeds", type=int, default=10_000)
    p.add_argument("--watches", type=int, default=10_000)
    p.add_argument("--seen", type=int, default=1_000_000, help="pre-populated seen keys")
    p.add_argument("--changed", type=float, default=0.1, help="fraction bumped after cycle 1")
    p.add_argument("--cycles", type=int, default=2, help="polls per feed before stopping")
    p.add_argument("--ports", type=int, default=8, help="farm ports (stand-in hosts)")
    p.add_argument(
        "--seed",
        choices=("run", "direct"),
        default="run",
        help="first poll of every feed by `run` itself (a fresh install, default), or its "
        "records written beforehand (an install that has been running)",
    )
    p.add_argument("--sample", type=float, default=0.2, help="RSS sampling period, s")
    p.add_argument("--timeout", type=float, default=3600, help="give up after this many s")
    args = p.parse_args(argv)
    sys.exit(run(args))


if __name__ == "__main__":
    main()
