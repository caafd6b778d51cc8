"""Several ``wirewatch run`` processes on one PostgreSQL, as an operator scales out.

Real processes (``python -m bot --config X run``), each with its own health port, share a
fresh PostgreSQL database. Feeds come from a lean in-test feed server (pre-rendered small
RSS bodies, ETag/304, a request counter per feed); alerts go to the fake Slack (Socket
Mode + Web API) and the fake Discord (gateway + REST) from ``tests/fakes``, through the
real slack-bolt and discord.py clients in every process.

Two seams stand in for the passing of time, both through the database the test owns:

* Feeds poll at most every 60 s (the minimum interval), far too long for a test. Between
  cycles the test makes every feed due at once (``UPDATE feeds SET next_poll_at = now()``),
  exactly what the clock would do a minute later; the instances find the due feeds on
  their own scheduler tick, as in production.
* A killed instance's leases expire after five minutes (feeds) and two (alerts). After the
  SIGKILL the test moves those leases' expiry into the past, which is what waiting would
  do; the survivors then take the work over through the normal claim path (and count a
  lease takeover).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import socket
import string
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from tests.fakes.discord import TOKEN as DISCORD_TOKEN
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[2]

FEEDS = 2000
NEW_CYCLES = 3  # cycles with new items, after the seeding cycle
NEW_PER_CYCLE = 48
# Each topic is one config watch with its own Slack and Discord channel: the notifiers pace
# themselves to about one message per second per channel (the platforms' limits), so the
# alerts are spread over channels as a newsroom's watches would be.
TOPICS = ("zephyr", "quokka", "marzipan", "obsidian", "tundra", "walrus", "saffron", "gondola")
DISCORD_CHANNEL_BASE = 1300000000000000100

pytestmark = pytest.mark.postgres


def slack_channel(topic: str) -> str:
    return f"C0{topic.upper()}"


def discord_channel(topic: str) -> int:
    return DISCORD_CHANNEL_BASE + TOPICS.index(topic)


# ---- the feed server --------------------------------------------------------------------


@dataclass
class Item:
    title: str
    link: str
    published: datetime


def _nonsense(rng: random.Random) -> str:
    # Made-up words: no two headlines share enough words to fall into one story.
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(7))


class LeanFeeds:
    """``FEEDS`` small RSS feeds from memory: a body and an ETag per version, 304 when the
    client's ``If-None-Match`` matches, and a request count per feed (reset per cycle)."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.rng = random.Random(6)
        now = datetime.now(UTC)
        self.items: list[list[Item]] = [
            [
                Item(
                    f"Seed {_nonsense(self.rng)} {_nonsense(self.rng)} {k}",
                    f"https://news.test/seed/{i}-{k}.html",
                    now - timedelta(hours=k + 1),
                )
                for k in range(2)
            ]
            for i in range(count)
        ]
        self.version = [0] * count
        self.bodies = [self._render(i) for i in range(count)]
        self.hits = [0] * count
        self.delay = 0.0
        self.port = 0
        self._runner: web.AppRunner | None = None

    def _render(self, i: int) -> bytes:
        items = "".join(
            f"<item><title>{escape(it.title)}</title><link>{escape(it.link)}</link>"
            f"<guid>{escape(it.link)}</guid>"
            f"<pubDate>{format_datetime(it.published, usegmt=True)}</pubDate></item>"
            for it in self.items[i][:5]
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Lean feed {i}</title><link>https://news.test/{i}</link>"
            f"<description>feed {i}</description>{items}</channel></rss>"
        ).encode()

    def add_item(self, i: int, cycle: int, topic: str) -> str:
        """Put one new item on top of feed ``i``; returns the path that identifies it."""
        path = f"/item-{i}-{cycle}.html"
        words = " ".join(_nonsense(self.rng) for _ in range(4))
        self.items[i].insert(
            0,
            Item(
                f"{topic.capitalize()} {words}",
                f"https://news.test/{topic}{path}",
                datetime.now(UTC),
            ),
        )
        self.version[i] += 1
        self.bodies[i] = self._render(i)
        return path

    def url(self, i: int) -> str:
        return f"http://127.0.0.1:{self.port}/f/{i}.xml"

    def reset_hits(self) -> None:
        self.hits = [0] * self.count

    async def _feed(self, request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        self.hits[i] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        etag = f'"v{i}-{self.version[i]}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=self.bodies[i],
            headers={"ETag": etag, "Content-Type": "application/rss+xml; charset=utf-8"},
        )

    async def __aenter__(self) -> LeanFeeds:
        app = web.Application()
        app.router.add_get("/f/{i:\\d+}.xml", self._feed)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        assert site._server is not None
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


# ---- the instances ----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    proc: asyncio.subprocess.Process
    port: int
    log: Path
    name: str
    samples: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def write_config(
    path: Path,
    *,
    database_url: str,
    health_port: int,
    topics: tuple[str, ...] = TOPICS,
    extra: str = "",
) -> tuple[Path, int]:
    lines = [
        f'[database]\nurl = "{database_url}"',
        "[fetch]\nallow_private_addresses = true\nper_host = 50\ntimeout_seconds = 10",
        "[poll]\ntick_seconds = 0.3\ndefault_interval = 60",
        "[delivery]\nburst_threshold = 5",
        f'[health]\nenabled = true\nhost = "127.0.0.1"\nport = {health_port}',
        extra,
    ]
    for topic in topics:
        lines.append(
            f'[[watches]]\nquery = "{topic}"\nname = "{topic}"\n'
            f'channels = ["slack:{slack_channel(topic)}", "discord:{discord_channel(topic)}"]'
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, health_port


async def migrate(cfg: Path, env: dict[str, str]) -> None:
    """``wirewatch migrate``, as the compose file's one-shot service runs it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(cfg),
        "migrate",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode()[-2000:]


async def insert_feeds(db: asyncpg.Connection, urls: list[str]) -> None:
    """Feeds as the operator adds them at the CLI (``source='operator'``), in one
    statement: 2,000 ``[[feeds]]`` in the config would be synced one upsert at a time by
    every starting instance."""
    await db.execute(
        "INSERT INTO feeds (url, interval, source, active, seeded, consecutive_failures,"
        " failing_notified, items_seen, created_at, next_poll_at)"
        " SELECT u, 60, 'operator', true, false, 0, false, 0, now(), now()"
        " FROM unnest($1::text[]) u",
        urls,
    )


def instance_env(slack: FakeSlack | None, discord: FakeDiscord | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        and not k.startswith(("SLACK_", "DISCORD_", "WIREWATCH_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env["WIREWATCH_LOG_FORMAT"] = "json"
    if slack is not None:
        env.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_APP_TOKEN=APP_TOKEN,
            WIREWATCH_SLACK_API_URL=slack.base_url,
        )
    if discord is not None:
        env.update(
            DISCORD_TOKEN=DISCORD_TOKEN,
            WIREWATCH_DISCORD_API_URL=discord.api_url,
            WIREWATCH_DISCORD_GATEWAY_URL=discord.gateway_url,
        )
    return env


async def start_instance(
    cfg: Path, port: int, log: Path, env: dict[str, str], name: str
) -> Instance:
    with log.open("wb") as sink:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(cfg),
            "run",
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
            env=env,
        )
    return Instance(proc, port, log, name)


async def stop_instances(instances: list[Instance]) -> None:
    for inst in instances:
        if inst.proc.returncode is None:
            inst.proc.send_signal(signal.SIGTERM)
    for inst in instances:
        try:
            await asyncio.wait_for(inst.proc.wait(), timeout=20)
        except TimeoutError:
            inst.proc.kill()
            await inst.proc.wait()


async def http_get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as s, s.get(url) as resp:
        return resp.status, await resp.text()


def metric(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets) in a Prometheus text page."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float, what: str, every: float = 0.1
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out after {within:.0f} s waiting for {what}")


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def owner_pattern(inst: Instance) -> str:
    # Lease owners are "<host>-<pid>-<random>" (bot.app.instance_name).
    return f"%-{inst.pid}-%"


async def cycle_done(db: asyncpg.Connection, since: datetime) -> bool:
    row = await db.fetchrow(
        "SELECT count(*) FILTER (WHERE last_fetch_at IS NULL OR last_fetch_at < $1) AS pending,"
        " count(*) FILTER (WHERE lease_owner IS NOT NULL) AS leased FROM feeds WHERE active",
        since,
    )
    return bool(row["pending"] == 0 and row["leased"] == 0)


async def mid_cycle(db: asyncpg.Connection, inst: Instance, feeds: LeanFeeds) -> bool:
    """The instance holds feed leases while the cycle's fetches are under way."""
    held = await db.fetchval(
        "SELECT count(*) FROM feeds WHERE lease_owner LIKE $1", owner_pattern(inst)
    )
    return bool(held) and sum(feeds.hits) > 200


def alerted_paths(messages: Iterator[Any]) -> dict[str, int]:
    """How many messages mention each item path (a condensed message may hold several)."""
    counts: dict[str, int] = {}
    for message in messages:
        for path in set(re.findall(r"/item-\d+-\d+\.html", json.dumps(message))):
            counts[path] = counts.get(path, 0) + 1
    return counts


async def polls_by(instances: list[Instance], dead: Instance | None) -> list[float]:
    """Each live instance's polls so far, from its /metrics."""
    pages = [(await http_get(f"{i.base}/metrics"))[1] for i in instances if i is not dead]
    return [metric(page, "wirewatch_polls_total") for page in pages]


def gateway_leaders(instances: list[Instance]) -> list[Instance]:
    return [i for i in instances if "discord gateway leadership acquired" in i.log_text()]


# ---- the tests ----------------------------------------------------------------------------


@pytest.mark.slow
async def test_three_instances_alert_every_item_once_through_a_kill(
    postgres_url: str, tmp_path: Path
) -> None:
    """Three processes, 2,000 feeds, new items over three cycles, the gateway leader killed
    mid-cycle: every item reaches each Slack and Discord channel in exactly one message,
    every feed is fetched in every cycle (exactly once where nobody died), the survivors
    share the work and take the dead one's leases over, and a survivor takes the gateway."""
    started = time.monotonic()
    async with LeanFeeds(FEEDS) as feeds, FakeSlack() as slack, FakeDiscord() as discord:
        env = instance_env(slack, discord)
        configs = [
            write_config(
                tmp_path / f"wirewatch-{n}.toml", database_url=postgres_url, health_port=free_port()
            )
            for n in range(3)
        ]
        await migrate(configs[0][0], env)
        db = await asyncpg.connect(pg_dsn(postgres_url))
        instances: list[Instance] = []
        try:
            await insert_feeds(db, [feeds.url(i) for i in range(FEEDS)])
            for n, (cfg, port) in enumerate(configs):
                instances.append(
                    await start_instance(cfg, port, tmp_path / f"wirewatch-{n}.log", env, f"w{n}")
                )

            async def all_ready() -> bool:
                for inst in instances:
                    if inst.proc.returncode is not None:
                        raise AssertionError(f"{inst.name} exited:\n{inst.log_text()[-3000:]}")
                    try:
                        status, _ = await http_get(f"{inst.base}/readyz")
                    except (aiohttp.ClientError, TimeoutError):
                        return False
                    if status != 200:
                        return False
                return True

            await wait_until(all_ready, within=30, what="three ready instances")
            ready_at = time.monotonic() - started
            seed_since = datetime.now(UTC) - timedelta(minutes=5)
            await wait_until(
                partial(cycle_done, db, seed_since), within=30, what="the seeding cycle"
            )
            seeded_at = time.monotonic() - started
            assert await db.fetchval("SELECT count(*) FROM feeds WHERE active") == FEEDS
            assert await db.fetchval("SELECT count(*) FROM watches") == len(TOPICS)

            expected: dict[str, str] = {}  # item path -> topic
            rng = random.Random(11)
            victim: Instance | None = None
            per_cycle_hits: list[list[int]] = []
            polls_before: list[float] = []
            for cycle in range(1, NEW_CYCLES + 1):
                for k, i in enumerate(rng.sample(range(FEEDS), NEW_PER_CYCLE)):
                    topic = TOPICS[k % len(TOPICS)]
                    expected[feeds.add_item(i, cycle, topic)] = topic
                feeds.reset_hits()
                kill_cycle = cycle == 2
                # Fetches take a little while, as on the internet: cycles span several ticks.
                feeds.delay = 0.02
                if cycle == NEW_CYCLES:
                    polls_before = await polls_by(instances, victim)
                since = datetime.now(UTC)
                await db.execute("UPDATE feeds SET next_poll_at = now() WHERE active")
                if kill_cycle:
                    leaders = gateway_leaders(instances)
                    assert len(leaders) == 1, "exactly one instance holds the Discord gateway"
                    victim = leaders[0]

                    await wait_until(
                        partial(mid_cycle, db, victim, feeds),
                        within=20,
                        what="the victim mid-cycle",
                    )
                    victim.proc.send_signal(signal.SIGKILL)
                    await victim.proc.wait()
                    # Five minutes pass for the dead instance's leases (see the module doc).
                    expired = {
                        table: await db.execute(
                            f"UPDATE {table} SET lease_until = now() - interval '1 second' "
                            "WHERE lease_owner LIKE $1",
                            owner_pattern(victim),
                        )
                        for table in ("feeds", "alerts")
                    }
                    assert expired["feeds"] != "UPDATE 0", "it died holding feed leases"

                await wait_until(partial(cycle_done, db, since), within=30, what=f"cycle {cycle}")
                per_cycle_hits.append(list(feeds.hits))
            cycles_at = time.monotonic() - started
            polls_after = await polls_by(instances, victim)

            survivors = [i for i in instances if i is not victim]
            expected_alerts = len(expected) * 2

            async def outbox_drained() -> bool:
                row = await db.fetchrow(
                    "SELECT count(*) AS total, count(*) FILTER (WHERE state = 'sent') AS sent "
                    "FROM alerts"
                )
                return bool(row["total"] == expected_alerts and row["sent"] == expected_alerts)

            await wait_until(outbox_drained, within=40, what="every alert delivered")
            drained_at = time.monotonic() - started

            # Every item in exactly one message in its topic's Slack and Discord channel.
            slack_seen = alerted_paths(
                m for t in TOPICS for m in slack.messages.get(slack_channel(t), [])
            )
            discord_seen = alerted_paths(
                m for t in TOPICS for m in discord.messages.get(discord_channel(t), [])
            )
            for seen in (slack_seen, discord_seen):
                if seen != dict.fromkeys(expected, 1):
                    odd = sorted(p for p in expected if seen.get(p) != 1)[:5]
                    rows = await db.fetch(
                        "SELECT a.id, a.destination, a.state, a.message_id, a.story_key, r.url"
                        " FROM alerts a JOIN articles r ON r.id = a.article_id"
                        " WHERE r.url LIKE ANY($1::text[])",
                        [f"%{p}" for p in odd],
                    )
                    raise AssertionError(
                        f"not exactly once: {[(p, seen.get(p)) for p in odd]}"
                        f"\n{[dict(r) for r in rows]}"
                    )
            for topic in TOPICS:
                mine = {p for p, t in expected.items() if t == topic}
                in_slack = alerted_paths(iter(slack.messages.get(slack_channel(topic), [])))
                in_discord = alerted_paths(iter(discord.messages.get(discord_channel(topic), [])))
                assert set(in_slack) == mine and set(in_discord) == mine

            # Every feed fetched in every cycle; exactly once where no instance died.
            for cycle, hits in enumerate(per_cycle_hits, start=1):
                assert min(hits) >= 1, f"cycle {cycle}: a feed was not polled"
                if cycle != 2:
                    twice = [feeds.url(i) for i, n in enumerate(hits) if n > 1]
                    rows = await db.fetch(
                        "SELECT url, last_error, consecutive_failures, last_status, next_poll_at"
                        " FROM feeds WHERE url = ANY($1::text[])",
                        twice[:5],
                    )
                    # A batch that could not be recorded releases its feeds to be polled
                    # again (at least once, by design): say so if that is what happened.
                    trouble = [
                        line
                        for inst in instances
                        for line in inst.log_text().splitlines()
                        if "could not record" in line or "Traceback" in line
                    ]
                    assert not twice, (
                        f"cycle {cycle}: polled twice: {len(twice)} {rows}; logs: {trouble[:5]}"
                    )

            # The survivors share the work and one of them took the dead one's leases over.
            polls = [
                after - before for after, before in zip(polls_after, polls_before, strict=True)
            ]
            assert len(polls) == 2 and all(p > 0 for p in polls), polls
            assert sum(polls) == FEEDS, "the last cycle polled each feed once, between them"
            pages = [(await http_get(f"{i.base}/metrics"))[1] for i in survivors]
            assert sum(metric(p, "wirewatch_lease_takeovers_total") for p in pages) >= 1
            assert all(metric(p, "wirewatch_outbox_depth") == 0 for p in pages)

            # The gateway moved to a survivor; at most one connection is open.
            await wait_until(
                lambda: _async_true(len(gateway_leaders(survivors)) == 1),
                within=15,
                what="a survivor taking the Discord gateway",
            )
            assert len(discord._sockets) <= 1
        finally:
            await db.close()
            await stop_instances(instances)
        for inst in survivors:
            assert inst.proc.returncode == 0, inst.log_text()[-3000:]
        timings = (
            f"ready {ready_at:.1f} s, seeded {seeded_at:.1f} s, cycles {cycles_at:.1f} s, "
            f"drained {drained_at:.1f} s, polls per survivor in the last cycle {polls}"
        )
        print(timings)


async def _async_true(value: bool) -> bool:
    return value


@pytest.mark.slow
async def test_one_gateway_across_instances_and_a_follower_takes_over_from_a_dead_leader(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two processes with a Discord token on one PostgreSQL: one holds the gateway, the other
    is ready over REST only; SIGKILL the leader and the follower connects the gateway within
    a few seconds. Never more than one gateway session is open."""
    async with FakeDiscord() as discord:
        env = instance_env(None, discord)
        configs = [
            write_config(
                tmp_path / f"gw-{n}.toml",
                database_url=postgres_url,
                health_port=free_port(),
                topics=TOPICS[:1],
            )
            for n in range(2)
        ]
        await migrate(configs[0][0], env)
        instances = [
            await start_instance(cfg, port, tmp_path / f"gw-{n}.log", env, f"gw{n}")
            for n, (cfg, port) in enumerate(configs)
        ]
        most_open = 0

        async def both_ready() -> bool:
            nonlocal most_open
            most_open = max(most_open, len(discord._sockets))
            for inst in instances:
                assert inst.proc.returncode is None, inst.log_text()[-3000:]
                try:
                    status, _ = await http_get(f"{inst.base}/readyz")
                except (aiohttp.ClientError, TimeoutError):
                    return False
                if status != 200:
                    return False
            return True

        try:
            await wait_until(both_ready, within=30, what="two ready instances")
            leaders = gateway_leaders(instances)
            assert len(leaders) == 1
            (leader,) = leaders
            (follower,) = [i for i in instances if i is not leader]
            assert "gateway held by another instance: REST only" in follower.log_text()
            assert len(discord.identify_payloads) == 1

            leader.proc.send_signal(signal.SIGKILL)
            await leader.proc.wait()

            async def follower_leads() -> bool:
                nonlocal most_open
                most_open = max(most_open, len(discord._sockets))
                return bool(gateway_leaders([follower])) and len(discord._sockets) == 1

            await wait_until(follower_leads, within=20, what="the follower taking the gateway")
            assert len(discord.identify_payloads) == 2
            status, _ = await http_get(f"{follower.base}/readyz")
            assert status == 200
            assert most_open == 1
        finally:
            await stop_instances(instances)
        assert follower.proc.returncode == 0, follower.log_text()[-3000:]


# ---- the leader election, in-process (fast) ----------------------------------------------


class RecordingAdapter:
    """A chat adapter that records how it was built and whether it runs (gateway or not)."""

    name = "discord"

    def __init__(self, gateway: bool, log: list[str]) -> None:
        self.gateway = gateway
        self.log = log
        self.running = False
        self.sent: list[str] = []
        outer = self

        class Notifier:
            kinds = frozenset({"discord"})
            max_batch = 10

            async def send(self, destination: str, alerts: Any, *, maybe_sent: bool = False) -> str:
                outer.sent.append(destination)
                return "m1"

            async def send_notice(self, destination: str, notice: Any, **_: Any) -> None:
                outer.sent.append(destination)

        self._notifier = Notifier()

    @property
    def ready(self) -> bool:
        return self.running

    def notifiers(self) -> list[Any]:
        return [self._notifier]

    async def start(self) -> None:
        self.running = True
        self.log.append("gateway" if self.gateway else "rest")

    async def stop(self) -> None:
        if self.running:
            self.log.append("stop " + ("gateway" if self.gateway else "rest"))
        self.running = False


async def test_advisory_lease_is_exclusive_and_freed_when_its_session_dies(
    postgres_url: str,
) -> None:
    """Two engines (two instances) on one database: only one holds the lease; when the
    holder's PostgreSQL session is terminated, the holder sees it lost and the other wins."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.leader import AdvisoryLease

    one, two = create_async_engine(postgres_url), create_async_engine(postgres_url)
    a, b = AdvisoryLease(one, 77), AdvisoryLease(two, 77)
    try:
        assert await a.try_acquire()
        assert not await b.try_acquire()
        assert await a.still_held()
        db = await asyncpg.connect(pg_dsn(postgres_url))
        try:
            killed = await db.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND objid = 77"
            )
        finally:
            await db.close()
        assert killed == 1
        assert not await a.still_held()
        assert await b.try_acquire()
        await b.release()
        assert await a.try_acquire()
    finally:
        await a.release()
        await b.release()
        await one.dispose()
        await two.dispose()


async def test_leader_elected_adapter_swaps_to_the_gateway_when_the_leader_leaves(
    postgres_url: str,
) -> None:
    """The first adapter starts with the gateway, the second REST-only; both deliver
    through their stable notifier. When the leader stops, the follower starts a gateway
    client on its next beat and then stops its REST-only one."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.leader import AdvisoryLease, LeaderElectedAdapter

    engines = [create_async_engine(postgres_url) for _ in range(2)]
    logs: list[list[str]] = [[], []]
    adapters = [
        LeaderElectedAdapter(
            make=partial(RecordingAdapter, log=logs[n]),
            lease=AdvisoryLease(engines[n], 78),
            retry_seconds=0.05,
        )
        for n in range(2)
    ]
    try:
        for adapter in adapters:
            await adapter.start()
        leader, follower = adapters
        assert (leader.leader, follower.leader) == (True, False)
        assert logs == [["gateway"], ["rest"]]
        assert leader.ready and follower.ready
        for adapter in adapters:
            (notifier,) = adapter.notifiers()
            assert await notifier.send("discord:1", []) == "m1"

        await leader.stop()

        async def follower_leads() -> bool:
            return follower.leader

        await wait_until(follower_leads, within=5, what="the follower taking over")
        assert logs[1] == ["rest", "gateway", "stop rest"]
        (notifier,) = follower.notifiers()
        await notifier.send("discord:2", [])
        assert follower.current.sent == ["discord:2"]  # type: ignore[attr-defined]
    finally:
        for adapter in adapters:
            await adapter.stop()
        for engine in engines:
            await engine.dispose()


# ---- a crash between posting and recording, then a bigger batch -----------------------------


async def test_resend_after_a_crash_never_marks_unposted_alerts_sent(
    postgres_url: str, tmp_path: Path
) -> None:
    """Instance X leases one alert, posts it to Slack and dies before recording it; nine
    more alerts for the channel arrive (a burst, condensed). The survivor resends exactly
    X's batch (found in the channel's history, not posted again), then the nine: every
    alert is in exactly one Slack message."""
    from slack_sdk.web.async_client import AsyncWebClient
    from sqlalchemy import text

    from bot.adapters.slack.notifier import SlackNotifier
    from bot.app import open_core
    from bot.settings import Settings, WatchConfig
    from tests.feedserver import FeedServer, rss

    channel = "C0ZEPHYR"
    now = datetime.now(UTC)
    items: list[dict[str, Any]] = []

    def add_items(n: int) -> None:
        rng = random.Random(len(items))
        for _ in range(n):
            k = len(items)
            words = " ".join(_nonsense(rng) for _ in range(4))
            items.insert(
                0,
                {
                    "title": f"Zephyr {words}",
                    "link": f"https://news.test/item-{k}-0.html",
                    "pubDate": now,
                },
            )

    async with FeedServer() as server, FakeSlack() as slack:
        settings = Settings(
            database={"url": postgres_url},
            fetch={"allow_private_addresses": True},
            poll={"backfill": 0},
            health={"enabled": False},
            delivery={"burst_threshold": 5},
            watches=[WatchConfig(query="zephyr", channels=[f"slack:{channel}"])],
            feeds=[{"url": server.url("/z.rss")}],
        )
        server.set_feed(
            "/z.rss", rss([{"title": "Seed", "link": "https://news.test/s", "pubDate": now}])
        )
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url, retry_handlers=[])
        notifier = SlackNotifier(client, pace_seconds=0)
        async with open_core(settings) as core:
            core.add_notifier(notifier)
            await core.poll(due_only=False)  # seeds silently
            add_items(1)
            server.set_feed("/z.rss", rss(items))
            first = await core.poll(due_only=False)
            assert len(first.alert_ids) == 1

            # Instance X: lease, mark the attempt, post... and die before mark_sent.
            claimed, _ = await core.store.claim_outbox(
                destination=f"slack:{channel}",
                owner="x-host-1-dead",
                now=datetime.now(UTC),
                lease=timedelta(minutes=2),
                batch=10,
                burst_threshold=5,
            )
            assert [a.id for a in claimed] == first.alert_ids
            await core.store.mark_attempt([a.id for a in claimed], "x-host-1-dead")
            await notifier.send(f"slack:{channel}", claimed)

            add_items(9)
            server.set_feed("/z.rss", rss(items))
            burst = await core.poll(due_only=False)
            assert len(burst.alert_ids) == 9
            async with core.store.transaction() as conn:
                await conn.execute(
                    text(
                        "UPDATE alerts SET lease_until = now() - interval '1 second'"
                        " WHERE lease_owner = 'x-host-1-dead'"
                    )
                )
            await core.deliverer.deliver_once()
            depth, _, _ = await core.store.outbox_stats()

    assert depth == 0
    posted = alerted_paths(iter(slack.messages[channel]))
    assert posted == {f"/item-{k}-0.html": 1 for k in range(10)}, posted
