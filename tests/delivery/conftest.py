"""The in-process rig for delivery tests: a real core on temp SQLite, the real Slack and
Discord notifiers against fake Slack and fake Discord (with faults: dropped connections,
stalls, 429s, 5xx), and a feed server to publish items into.

Two clocks, neither of them real: ``FakeClock`` drives the core (backoff, next attempt),
``FakeTime`` drives the notifiers' pacers and stamps what the fakes record, so the pace of
posts can be asserted without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import warnings
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

with warnings.catch_warnings():  # discord.py imports the deprecated stdlib audioop
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.discord.notifier import ChannelPacer, DiscordNotifier
from bot.adapters.slack.notifier import UPDATE_EVENT_TYPE, SlackNotifier
from bot.adapters.slack.render import EVENT_TYPE
from bot.app import Core
from bot.settings import Settings
from bot.store.schema import alerts, articles
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.slack import BOT_TOKEN, FakeSlack

# The faults live beside the fakes, not here: pytest imports this file as ``conftest`` and
# a test's ``from tests.delivery.conftest import ...`` as a second module, whose classes
# would fail the isinstance checks made here.
from tests.fakes.standalone import ITEM_URL, Hold, LatentDiscord, LatentSlack, Stall, misbehave
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

SLACK = "slack:C1"
# Slack metadata of the messages that carry alerts (a notice carries its own kind).
ALERT_EVENTS = {EVENT_TYPE, UPDATE_EVENT_TYPE}
DISCORD = f"discord:{CHANNEL_ID}"


class FakeTime:
    """Monotonic time that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class FaultySlack(LatentSlack):
    """Fake Slack that can also accept a post and then drop the connection or stall."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(post_delay=(0.0, 0.0), **kw)
        self.post_faults: list[str | Stall | Hold] = []  # "drop", Stall or Hold, next posts
        self.post_times: list[float] = []  # clock() of each message actually posted
        self.on_post = lambda _platform: self.post_times.append(self.clock())

    async def _api(self, request: web.Request) -> web.StreamResponse:
        response = await super()._api(request)
        if request.match_info["method"] == "chat.postMessage" and self.post_faults:
            fault = self.post_faults.pop(0)
            await misbehave(request, fault)
        return response


class FaultyDiscord(LatentDiscord):
    """Fake Discord stamping each created message with ``clock()``; it can also accept a
    message and then drop the connection or stall."""

    def __init__(self, clock: Any, **kw: Any) -> None:
        super().__init__(post_delay=(0.0, 0.0), **kw)
        self.clock = clock
        self.post_times: list[float] = []
        self.post_faults: list[str | Stall | Hold] = []

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        before = self.message_count()
        response = await super()._rest(request)
        if self.message_count() > before:
            self.post_times.append(self.clock())
            if self.post_faults:
                await misbehave(request, self.post_faults.pop(0))
        return response


def _words() -> Iterator[str]:
    """Made-up headline words, each used once: no two items look like the same story."""
    for a, b, c in itertools.product("bdfgklmnprstvz", "aeiou", "bdfgklmnprstvz"):
        yield f"{a}{b}{c}x"


@dataclass
class Rig:
    core: Core
    clock: FakeClock
    time: FakeTime
    slack: FaultySlack
    discord: FaultyDiscord
    feeds: FeedServer
    discord_client: discord.Client
    items: list[dict[str, Any]] = field(default_factory=list)
    words: Iterator[str] = field(default_factory=_words)

    @property
    def feed_url(self) -> str:
        return self.feeds.url("/news.rss")

    def publish(self, n: int) -> list[str]:
        """Add ``n`` matching items (distinct stories) to the feed; return their URLs."""
        urls = []
        for _ in range(n):
            k = len(self.items) + 1
            words = " ".join(next(self.words) for _ in range(4))
            url = f"https://crash.test/f1/{k}"
            self.items.append(
                {
                    "title": f"Rare earth {words}",
                    "link": url,
                    "guid": f"item-{k}",
                    "pubDate": self.clock.now() - timedelta(minutes=1),
                }
            )
            urls.append(url)
        self.feeds.set_feed("/news.rss", rss(list(reversed(self.items))))
        return urls

    async def poll(self) -> list[int]:
        report = await self.core.poll(due_only=False)
        # In `run` the sender posts queued notices as soon as the poll wakes it.
        await self.core.deliverer.deliver_notices()
        return report.alert_ids

    def new_notifiers(self) -> None:
        """Fresh notifiers, as after a restart (nothing remembered in memory)."""
        client = AsyncWebClient(
            token=BOT_TOKEN, base_url=self.slack.base_url, retry_handlers=[], timeout=1
        )
        self.core.add_notifier(
            SlackNotifier(client, monotonic=self.time.monotonic, sleep=self.time.sleep)
        )
        pacer = ChannelPacer(5, 5.0, clock=self.time.monotonic, sleep=self.time.sleep)
        self.core.add_notifier(DiscordNotifier(self.discord_client, pacer=pacer))

    async def deliver_all(self, *, rounds: int = 60, step: float = 30.0) -> int:
        """Delivery passes, moving the core's clock on between them, until the outbox is
        empty; returns the passes it took."""
        for n in range(1, rounds + 1):
            await self.core.deliverer.deliver_once()
            depth, _, _ = await self.core.store.outbox_stats()
            if depth == 0:
                return n
            self.clock.advance(seconds=step)
        raise AssertionError(f"outbox not empty after {rounds} passes")

    async def crash_mid_send(self, destination: str, *, reached_platform: bool = True) -> None:
        """What a process killed during a send leaves behind: the batch claimed and marked
        "maybe sent"; the post accepted by the platform (or not); nothing recorded after."""
        store = self.core.store
        notifier = self.core.deliverer.notifier_for(destination)
        assert notifier is not None
        claimed, maybe_sent = await store.claim_outbox(
            destination=destination,
            owner="dead-instance",
            now=self.clock.now(),
            lease=timedelta(minutes=2),
            batch=notifier.max_batch,
            burst_threshold=self.core.deliverer.burst_threshold,
        )
        assert claimed, f"nothing to send to {destination}"
        await store.mark_attempt([a.id for a in claimed], "dead-instance")
        if reached_platform:
            await notifier.send(destination, claimed, maybe_sent=maybe_sent)

    async def restart(self) -> None:
        await self.core.store.release_all_leases()
        self.new_notifiers()

    def posted(self, destination: str) -> list[list[str]]:
        """Item URLs of each alert message in the channel, oldest message first."""
        if destination == SLACK:
            messages: Sequence[dict[str, Any]] = self.slack.messages.get("C1", [])
        else:
            messages = self.discord.messages.get(CHANNEL_ID, [])
        out = []
        for m in messages:
            urls = list(dict.fromkeys(ITEM_URL.findall(json.dumps(m))))
            if urls:
                out.append(urls)
        return out

    def notices(self, destination: str) -> list[str]:
        """Texts of the messages that carry no alert (operational notices)."""
        if destination == SLACK:
            return [
                str(m.get("text", ""))
                for m in self.slack.messages.get("C1", [])
                if (m.get("metadata") or {}).get("event_type") not in ALERT_EVENTS
            ]
        return [
            str(m.get("content", ""))
            for m in self.discord.messages.get(CHANNEL_ID, [])
            if not m.get("embeds")
        ]

    async def queued_order(self, destination: str) -> list[str]:
        """Item URLs of the destination's alerts in outbox order (the order they must go)."""
        async with self.core.store.engine.connect() as conn:
            rows = await conn.execute(
                select(articles.c.url)
                .select_from(alerts.join(articles, articles.c.id == alerts.c.article_id))
                .where(alerts.c.destination == destination)
                .order_by(alerts.c.id)
            )
            return [r[0] for r in rows]

    async def assert_exactly_once_in_order(self, urls: Sequence[str]) -> None:
        """Every URL in both channels exactly once, in outbox order."""
        for dest in (SLACK, DISCORD):
            flat = [u for message in self.posted(dest) for u in message]
            order = await self.queued_order(dest)
            assert sorted(order) == sorted(urls), f"{dest}: queued {order}, published {urls}"
            assert flat == order, f"{dest}: got {flat}, expected {order}"


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    time = FakeTime()
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    async with (
        FaultySlack(clock=time.monotonic) as slack,
        FaultyDiscord(time.monotonic) as fake_discord,
        FeedServer() as feeds,
    ):
        feeds.set_feed("/news.rss", rss([]))
        settings = make_settings(
            tmp_path,
            feeds=[feeds.url("/news.rss")],
            watches=[{"query": '"rare earth"', "name": "rare earth", "channels": [SLACK, DISCORD]}],
            poll={"failing_after": 2},
        )
        async with core_for(settings, clock=clock) as core:
            adapter = DiscordAdapter(core=core.api, settings=fake_discord.settings(), gateway=False)
            await adapter.start()
            rig = Rig(core, clock, time, slack, fake_discord, feeds, adapter.client)
            rig.new_notifiers()
            await rig.poll()  # the first poll of the empty feed seeds it
            try:
                yield rig
            finally:
                await adapter.stop()


@contextlib.asynccontextmanager
async def story_site(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    destination: str,
    outlets: Sequence[str],
    **sections: Any,
) -> AsyncIterator[tuple[FakeTime, FakeClock, FakeSlack, FakeDiscord, FeedServer, Settings]]:
    """Fake Slack and fake Discord, a feed server with each outlet's (empty) feed, and the
    settings of a core reading them with one "rare earth" watch posting to ``destination``."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    time, clock = FakeTime(), FakeClock()
    async with (
        FakeSlack(clock=time.monotonic) as slack,
        FakeDiscord() as fake_discord,
        FeedServer() as feeds,
    ):
        for outlet in outlets:
            feeds.set_feed(f"/{outlet}.rss", rss([], title=outlet.upper()))
        settings = make_settings(
            tmp_path,
            feeds=[feeds.url(f"/{o}.rss") for o in outlets],
            watches=[{"query": '"rare earth"', "channels": [destination]}],
            **sections,
        )
        yield time, clock, slack, fake_discord, feeds, settings


@contextlib.asynccontextmanager
async def chat_notifiers(
    core: Core, slack: FakeSlack, fake_discord: FakeDiscord, time: FakeTime
) -> AsyncIterator[None]:
    """Fresh real Slack and Discord notifiers on ``core`` (nothing remembered from a run
    before), against the fakes, paced by ``time``."""
    adapter = DiscordAdapter(core=core.api, settings=fake_discord.settings(), gateway=False)
    await adapter.start()
    try:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url, retry_handlers=[])
        core.add_notifier(SlackNotifier(client, monotonic=time.monotonic, sleep=time.sleep))
        pacer = ChannelPacer(5, 5.0, clock=time.monotonic, sleep=time.sleep)
        core.add_notifier(DiscordNotifier(adapter.client, pacer=pacer))
        yield
    finally:
        await adapter.stop()
