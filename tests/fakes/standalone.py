"""Fake Slack + fake Discord + a feed server in one process, and the crash test that uses them.

``Platforms`` starts the three servers on 127.0.0.1 and gives the environment a real
``wirewatch run`` process needs to talk to them. Both fakes answer a message post late
(the message is recorded first, the HTTP answer follows 50-200 ms later), so a SIGKILL can
land after the platform accepted a message but before Wirewatch recorded it.

``run_crash_test`` drives the real process: it publishes matching items over time, kills
the process with SIGKILL at chosen moments (while a post is in flight, mid-fetch, right after
a fetch, or at a random time), restarts it, and finally checks that every published item
reached each channel exactly once. ``scripts/crash_test.py`` runs it with 50 kills;
``tests/delivery/test_crash_recovery.py`` with a few.

Run the servers alone (for trying the bot by hand)::

    python -m tests.fakes.standalone        # prints the environment to export
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from aiohttp import web

from tests.fakes.discord import CHANNEL_ID as DISCORD_CHANNEL_ID
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss

ROOT = Path(__file__).resolve().parents[2]
SLACK_CHANNEL = "C0ALERTS"
DESTINATIONS = (f"slack:{SLACK_CHANNEL}", f"discord:{DISCORD_CHANNEL_ID}")
ITEM_URL = re.compile(r"https://crash\.test/f\d+/\d+")

PostHook = Callable[[str], None]


@dataclass
class Stall:
    """A post taken, then answered ``seconds`` late."""

    seconds: float


@dataclass
class Hold:
    """A post taken, then answered only once the test releases it (a hung connection: no
    timeout of ours ends it within the test)."""

    held: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)


async def misbehave(request: web.Request, fault: str | Stall | Hold) -> None:
    """After a post was recorded: answer late (Stall, Hold) or never ("drop")."""
    if isinstance(fault, Stall):
        await asyncio.sleep(fault.seconds)
    elif isinstance(fault, Hold):
        fault.held.set()
        await fault.released.wait()
    else:  # the message is recorded; the answer never leaves
        assert request.transport is not None
        request.transport.close()


class LatentSlack(FakeSlack):
    """FakeSlack whose chat.postMessage records the message, then answers after a delay."""

    def __init__(
        self, *, post_delay: tuple[float, float] = (0.05, 0.2), seed: int = 0, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.post_delay = post_delay
        self.on_post: PostHook | None = None
        self._rng = random.Random(seed)

    async def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        answer = await super()._m_chat_postMessage(params)
        if self.on_post is not None:
            self.on_post("slack")
        await _sleep_between(self._rng, self.post_delay)
        return answer


class LatentDiscord(FakeDiscord):
    """FakeDiscord whose message creates are recorded first and answered after a delay."""

    def __init__(
        self, *, post_delay: tuple[float, float] = (0.05, 0.2), seed: int = 0, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.post_delay = post_delay
        self.on_post: PostHook | None = None
        self._rng = random.Random(seed)
        self.nonce_replays = 0  # creates answered with the message an earlier one made

    def message_count(self) -> int:
        return sum(len(m) for m in self.messages.values())

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        before = self.message_count()
        response = await super()._rest(request)
        if self.message_count() > before:  # a new message, not a nonce replay
            if self.on_post is not None:
                self.on_post("discord")
            await _sleep_between(self._rng, self.post_delay)
        elif (
            request.method == "POST"
            and request.path.endswith("/messages")
            and response.status == 200
            and "/channels/" in request.path
        ):
            self.nonce_replays += 1
        return response


async def _sleep_between(rng: random.Random, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if high > 0:
        await asyncio.sleep(rng.uniform(low, high))


class HookedFeedServer(FeedServer):
    """FeedServer that tells a hook about each request (before and after answering)."""

    def __init__(self) -> None:
        super().__init__()
        self.on_request: Callable[[str], None] | None = None
        self.on_response: Callable[[str], None] | None = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if self.on_request is not None:
            self.on_request(request.path)
        response = await super()._dispatch(request)
        if self.on_response is not None:
            self.on_response(request.path)
        return response


class Platforms:
    """Fake Slack (Socket Mode + Web API), fake Discord (REST + gateway), a feed server."""

    def __init__(self, *, post_delay: tuple[float, float] = (0.05, 0.2), seed: int = 0) -> None:
        self.slack = LatentSlack(post_delay=post_delay, seed=seed)
        self.discord = LatentDiscord(post_delay=post_delay, seed=seed + 1)
        self.feeds = HookedFeedServer()

    async def __aenter__(self) -> Platforms:
        await self.slack.start()
        await self.discord.__aenter__()
        await self.feeds.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.feeds.__aexit__(exc_type, exc, tb)
        await self.discord.__aexit__(exc_type, exc, tb)
        await self.slack.stop()

    def env(self) -> dict[str, str]:
        """Environment for a ``wirewatch`` process talking to these fakes (no proxies)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
        }
        env.update(
            PYTHONPATH=str(ROOT),
            SLACK_BOT_TOKEN=self.slack.bot_token,
            SLACK_APP_TOKEN=self.slack.app_token,
            WIREWATCH_SLACK_API_URL=self.slack.base_url,
            DISCORD_TOKEN=self.discord.token,
            WIREWATCH_DISCORD_API_URL=self.discord.api_url,
            WIREWATCH_DISCORD_GATEWAY_URL=self.discord.gateway_url,
        )
        return env

    def delivered(self) -> dict[str, Counter[str]]:
        """Per destination: how many messages carried each item URL."""
        out: dict[str, Counter[str]] = {d: Counter() for d in DESTINATIONS}
        for message in self.slack.messages.get(SLACK_CHANNEL, []):
            out[DESTINATIONS[0]].update(set(ITEM_URL.findall(json.dumps(message))))
        for message in self.discord.messages.get(DISCORD_CHANNEL_ID, []):
            out[DESTINATIONS[1]].update(set(ITEM_URL.findall(json.dumps(message))))
        return out


# --- the news wire: feeds that grow over time -------------------------------------------

_SYLLABLES = ("ba", "ko", "ri", "ze", "tu", "ma", "ni", "vo", "la", "pe", "su", "di", "go", "ra")


def _words() -> Iterator[str]:
    """Made-up words, each used once: no two headlines look like the same story."""
    for length in itertools.count(3):  # never runs out, however long the run
        for parts in itertools.product(_SYLLABLES, repeat=length):
            yield "".join(parts)


class NewsWire:
    """Feeds on the feed server; every item matches the ``"rare earth"`` watch, a third of
    them also the ``magnets`` watch (two alerts per story and channel, sent as one)."""

    def __init__(self, server: FeedServer, rng: random.Random) -> None:
        self.server = server
        self.rng = rng
        self.items: dict[str, list[dict[str, Any]]] = {}
        self._words = _words()
        self._serial = itertools.count(1)
        self.frozen = False

    def add_feed(self, items: int) -> str:
        path = f"/f{len(self.items) + 1}.rss"
        self.items[path] = []
        for _ in range(items):
            self._add_item(path)
        self._render(path)
        return self.server.url(path)

    def publish(self) -> None:
        """One new item in a random feed (nothing once frozen)."""
        if self.frozen or not self.items:
            return
        path = self.rng.choice(list(self.items))
        self._add_item(path)
        self._render(path)

    def _add_item(self, path: str) -> None:
        n = next(self._serial)
        words = [next(self._words) for _ in range(4)]
        lead = [next(self._words) for _ in range(4)]
        if n % 3 == 0:
            lead.insert(2, "magnets")
        self.items[path].append(
            {
                "title": f"Rare earth {' '.join(words)}",
                "link": f"https://crash.test/{path.strip('/').removesuffix('.rss')}/{n}",
                "guid": f"crash-{n}",
                # Nothing in common but "rare earth" (and "magnets" in the lead): items that
                # shared a lead template ("Item 3 about rare earth supply.") or "magnets" in
                # the headline were, by the story rules, sometimes one story told twice in a
                # young index, and a story alerts once: the test counted its second item lost.
                "description": f"{' '.join(lead).capitalize()}.",
                "pubDate": datetime.now(UTC),
            }
        )

    def _render(self, path: str) -> None:
        self.server.set_feed(path, rss(list(reversed(self.items[path])), title=path))

    def urls(self) -> list[str]:
        return [self.server.url(p) for p in self.items]

    def expected(self) -> set[str]:
        return {str(item["link"]) for items in self.items.values() for item in items}


# --- the crash test ---------------------------------------------------------------------


@dataclass
class CrashResult:
    kills: int
    expected: int  # (item, channel) pairs that must be delivered
    delivered: int  # pairs delivered at least once
    lost: int  # pairs never delivered
    duplicated: int  # extra copies beyond the first
    unexpected: int  # URLs the fakes received that no feed published
    messages: dict[str, int]  # alert messages per destination
    outbox: dict[str, int]  # alert states in the database at the end
    resend_checks: dict[str, int] = field(default_factory=dict)
    kill_modes: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.problems)

    def summary(self) -> str:
        modes = ", ".join(f"{k} {v}" for k, v in sorted(self.kill_modes.items()))
        lines = [
            f"kills: {self.kills} ({modes})",
            f"expected: {self.expected}",
            f"delivered: {self.delivered}",
            f"lost: {self.lost}",
            f"duplicated: {self.duplicated}",
            f"unexpected: {self.unexpected}",
            "messages: " + ", ".join(f"{d} {n}" for d, n in self.messages.items()),
            "outbox at the end: " + ", ".join(f"{s} {n}" for s, n in sorted(self.outbox.items())),
            "resend checks: " + ", ".join(f"{k} {v}" for k, v in self.resend_checks.items()),
            f"elapsed: {self.elapsed:.1f} s",
        ]
        lines += [f"problem: {p}" for p in self.problems]
        return "\n".join(lines)


def write_config(path: Path, db: Path, feed_urls: list[str]) -> None:
    channels = ", ".join(f'"{d}"' for d in DESTINATIONS)
    feeds = "".join(f'[[feeds]]\nurl = "{u}"\ninterval = 60\n' for u in feed_urls)
    path.write_text(
        f'log_level = "INFO"\nlog_format = "text"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{db}"\n'
        "[fetch]\nallow_private_addresses = true\ntimeout_seconds = 5\n"
        # backfill: a feed's first poll alerts on all its items, so every item is expected.
        "[poll]\ntick_seconds = 0.2\ndefault_interval = 60\nbackfill = 1000\n"
        "[health]\nenabled = false\n"
        f'[[watches]]\nname = "rare earth"\nquery = \'"rare earth"\'\nchannels = [{channels}]\n'
        f'[[watches]]\nname = "magnets"\nquery = "magnets"\nchannels = [{channels}]\n' + feeds
    )


class CrashTest:
    """Kill ``wirewatch run`` ``kills`` times, then check exactly-once delivery."""

    MODES = ("post", "fetch", "after-fetch", "timer")

    def __init__(
        self,
        workdir: Path,
        *,
        kills: int,
        seed: int = 1,
        log: Callable[[str], None] = lambda _line: None,
        life_seconds: tuple[float, float] = (2.5, 6.5),
        publish_every: float = 0.35,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.kills = kills
        self.rng = random.Random(seed)
        self.seed = seed
        self.log = log
        self.life_seconds = life_seconds
        self.publish_every = publish_every
        self.config = workdir / "crash.toml"
        self.db = workdir / "crash.db"
        self._proc: asyncio.subprocess.Process | None = None
        self._killed = asyncio.Event()
        self._trigger: Callable[[str], bool] | None = None
        self.kill_modes: Counter[str] = Counter()
        self.problems: list[str] = []
        self._lives = itertools.count(1)
        self._logs: dict[int, Path] = {}  # pid -> log of the latest process with that pid
        self._log_paths: list[Path] = []  # every life's log, in order

    # -- process handling ------------------------------------------------------------

    async def _start(self, platforms: Platforms, *args: str) -> asyncio.subprocess.Process:
        life = next(self._lives)
        path = self.workdir / f"life-{life:03d}.log"
        logfile = _open_log(path)
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self.config),
                *(args or ("run",)),
                cwd=ROOT,
                stdout=logfile,
                stderr=logfile,
                env=platforms.env(),
            )
        finally:
            logfile.close()
        self._logs[proc.pid] = path
        self._log_paths.append(path)
        return proc

    def _kill_now(self, why: str) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None or self._killed.is_set():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        self.kill_modes[why] += 1
        self._killed.set()

    def _hook(self, event: str) -> None:
        trigger = self._trigger
        if trigger is not None and trigger(event):
            self._trigger = None
            self._kill_now(event.partition(":")[0])

    def _arm(self, mode: str) -> None:
        """Choose when this life ends: on the n-th event of a kind, or by the timer."""
        if mode == "timer":
            self._trigger = None
            return
        kind = {"post": "post", "fetch": "fetch", "after-fetch": "after-fetch"}[mode]
        remaining = [self.rng.randint(1, 3 if mode == "post" else 2)]

        def trigger(event: str) -> bool:
            if event.partition(":")[0] != kind:
                return False
            remaining[0] -= 1
            return remaining[0] <= 0

        self._trigger = trigger

    async def _one_life(self, platforms: Platforms, mode: str) -> None:
        self._killed.clear()
        self._arm(mode)
        self._proc = await self._start(platforms)
        low, high = self.life_seconds
        timer = self.rng.uniform(low, high) if mode == "timer" else high + 0.5
        ended = asyncio.ensure_future(self._proc.wait())
        killed = asyncio.ensure_future(self._killed.wait())
        await asyncio.wait({ended, killed}, timeout=timer, return_when=asyncio.FIRST_COMPLETED)
        killed.cancel()
        if not self._killed.is_set():
            self._trigger = None
            if self._proc.returncode is not None:
                code, log = self._proc.returncode, self._log_paths[-1].name
                self.problems.append(f"the process exited by itself ({code}), see {log}")
            else:
                self._kill_now("timer" if mode == "timer" else f"timer ({mode} never came)")
        await ended
        self._proc = None

    # -- the run --------------------------------------------------------------------

    async def run(self) -> CrashResult:
        started = time.monotonic()
        async with Platforms(seed=self.seed) as platforms:
            wire = NewsWire(platforms.feeds, self.rng)
            platforms.slack.on_post = lambda _: self._hook("post")
            platforms.discord.on_post = lambda _: self._hook("post")
            platforms.feeds.on_request = lambda _: self._hook("fetch")

            def after_fetch(_path: str) -> None:
                # A moment later: the process parses and commits while it dies.
                loop = asyncio.get_running_loop()
                loop.call_later(self.rng.uniform(0.0, 0.08), self._hook, "after-fetch")

            platforms.feeds.on_response = after_fetch
            for _ in range(4):
                wire.add_feed(self.rng.randint(1, 3))
            publisher = asyncio.create_task(self._publish(wire))
            try:
                for i in range(self.kills):
                    # A new feed each life, so each start fetches something at once; now and
                    # then a big one, whose first poll is a burst (condensed messages).
                    wire.add_feed(self.rng.randint(6, 9) if i % 4 == 3 else 1)
                    write_config(self.config, self.db, wire.urls())
                    mode = self.rng.choice(self.MODES)
                    await self._one_life(platforms, mode)
                    self.log(f"kill {i + 1}/{self.kills}: {mode}; {len(wire.expected())} items")
                problems = self.problems + await self._finish(platforms, wire)
            finally:
                publisher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await publisher
                if self._proc is not None and self._proc.returncode is None:
                    self._proc.kill()
                    await self._proc.wait()
            return self._result(platforms, wire, problems, time.monotonic() - started)

    async def _wait_running(self, proc: asyncio.subprocess.Process, within: float = 30) -> None:
        log = self._log_of(proc)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and proc.returncode is None:
            if b"Wirewatch is running" in log.read_bytes():
                return
            await asyncio.sleep(0.05)

    def _log_of(self, proc: asyncio.subprocess.Process) -> Path:
        return self._logs[proc.pid]

    async def _publish(self, wire: NewsWire) -> None:
        while True:
            await asyncio.sleep(self.rng.uniform(0.5, 1.5) * self.publish_every)
            wire.publish()

    async def _finish(self, platforms: Platforms, wire: NewsWire) -> list[str]:
        """Stop publishing, collect every item, deliver, and stop cleanly."""
        problems: list[str] = []
        self._trigger = None
        first_clean = len(self._log_paths)
        if leased_feeds(self.db):
            # The last kill came mid-poll: one clean life frees the dead instance's feed
            # leases (a restart does that on SQLite; `poll` alone would skip those feeds).
            proc = self._proc = await self._start(platforms)
            await self._wait_running(proc)
            await asyncio.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            if await _wait_exit(proc, 30) != 0:
                problems.append(f"run did not stop cleanly on SIGTERM (exit {proc.returncode})")
        wire.frozen = True
        # Every feed once more, so every published item is in the database...
        poll = self._proc = await self._start(platforms, "poll", "--once")
        if await _wait_exit(poll, 60) != 0:
            problems.append(f"`wirewatch poll` failed (exit {poll.returncode})")
        # ...and a last run delivers what is left.
        proc = self._proc = await self._start(platforms)
        expected = wire.expected()
        progress, last_change = -1, time.monotonic()
        # The backlog goes out at the platforms' pace; give up only when nothing moves.
        while time.monotonic() - last_change < 20:
            got = platforms.delivered()
            if all(expected <= set(c) for c in got.values()):
                break
            done = sum(len(c) for c in got.values())
            if done != progress:
                progress, last_change = done, time.monotonic()
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # time enough for a duplicate to show up
        proc.send_signal(signal.SIGTERM)
        if await _wait_exit(proc, 30) != 0:
            problems.append(f"the last run did not stop cleanly (exit {proc.returncode})")
        self._proc = None
        for path in self._log_paths[first_clean:]:  # the clean lives: nothing may go wrong
            if b"Traceback" in path.read_bytes():
                problems.append(f"a traceback in {path.name}")
        return problems

    def _result(
        self, platforms: Platforms, wire: NewsWire, problems: list[str], elapsed: float
    ) -> CrashResult:
        expected = wire.expected()
        got = platforms.delivered()
        delivered = lost = duplicated = unexpected = 0
        for counts in got.values():
            delivered += sum(1 for url in expected if counts[url] >= 1)
            lost += sum(1 for url in expected if counts[url] == 0)
            duplicated += sum(n - 1 for url, n in counts.items() if n > 1)
            unexpected += sum(1 for url in counts if url not in expected)
        messages = {
            DESTINATIONS[0]: len(platforms.slack.messages.get(SLACK_CHANNEL, [])),
            DESTINATIONS[1]: len(platforms.discord.messages.get(DISCORD_CHANNEL_ID, [])),
        }
        return CrashResult(
            kills=sum(self.kill_modes.values()),
            expected=len(expected) * len(DESTINATIONS),
            delivered=delivered,
            lost=lost,
            duplicated=duplicated,
            unexpected=unexpected,
            messages=messages,
            outbox=outbox_states(self.db),
            resend_checks={
                "slack history lookups": len(platforms.slack.calls_to("conversations.history")),
                "discord nonce replays": platforms.discord.nonce_replays,
            },
            kill_modes=self.kill_modes,
            elapsed=elapsed,
            problems=problems,
        )


def _open_log(path: Path) -> BinaryIO:
    # The child gets its own copy of the descriptor; the caller closes this one.
    return path.open("wb")


async def _wait_exit(proc: asyncio.subprocess.Process, within: float) -> int | None:
    try:
        return await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None


def outbox_states(db: Path) -> dict[str, int]:
    """Alert rows per state (pending / sent / dead), read after the processes ended."""
    if not db.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT state, count(*) FROM alerts GROUP BY state").fetchall()
    return {str(state): int(n) for state, n in rows}


def leased_feeds(db: Path) -> int:
    """Feeds still leased (by a killed instance) in the database."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT count(*) FROM feeds WHERE lease_owner IS NOT NULL").fetchone()
    return int(row[0])


async def run_crash_test(
    workdir: Path, *, kills: int, seed: int = 1, log: Callable[[str], None] = lambda _l: None
) -> CrashResult:
    """Run the crash test in ``workdir`` (database, config and one log per process life)."""
    return await CrashTest(workdir, kills=kills, seed=seed, log=log).run()


async def _serve_forever() -> None:
    async with Platforms(post_delay=(0.0, 0.0)) as platforms:
        keep = {"PYTHONPATH", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN"}
        for key, value in platforms.env().items():
            if key.startswith("WIREWATCH_") or key in keep - {"PYTHONPATH"}:
                print(f"export {key}={value}")
        print(f"# feed server: {platforms.feeds.base_url} (empty)", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever())
