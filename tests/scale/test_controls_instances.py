"""Channel controls with several instances on one PostgreSQL database: every instance's
sender gates the same channels in each of its passes, so a summary that comes due is
reached by all of them at once. It must go out once, and no instance's pass may fail
over it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

import pytest

from bot.app import open_core
from bot.core.controls import ChannelControls, Digest
from bot.core.models import Alert
from bot.core.notices import Notice
from bot.settings import Settings, WatchConfig
from bot.store import ingest
from tests.store.articles import add_article
from tests.support import FakeClock

pytestmark = pytest.mark.postgres

CHANNEL = "slack:C1"
START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
DAYS = 6


@dataclass
class Channel:
    """What one instance posted: (alert ids, summary heading) per message."""

    kinds: frozenset[str] = frozenset({"slack"})
    max_batch: int = 10
    posted: list[tuple[tuple[int, ...], str | None]] = field(default_factory=list)

    async def send(
        self, destination: str, batch: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        self.posted.append((tuple(a.id for a in batch), batch[0].digest))
        return f"m{batch[0].id}"

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        return None


async def test_a_daily_digest_due_on_two_instances_goes_out_once_and_fails_neither(
    postgres_url: str,
) -> None:
    settings = Settings(
        database={"url": postgres_url},
        health={"enabled": False},
        watches=[WatchConfig(query="lithium", channels=[CHANNEL])],
    )
    clock = FakeClock(START)
    channels = [Channel(), Channel()]
    async with contextlib.AsyncExitStack() as stack:
        cores = [
            await stack.enter_async_context(
                open_core(settings, clock=clock, instance_id=f"node-{n}")
            )
            for n in range(2)
        ]
        for core, channel in zip(cores, channels, strict=True):
            core.add_notifier(channel)
        store = cores[0].store
        [watch] = await store.watch_rows()
        daily = ChannelControls(digest=Digest.DAILY, digest_at=time(8))
        await store.controls.set_channel(CHANNEL, daily, by=None, now=START)
        for day in range(DAYS):
            queued: list[int] = []
            for k in range(3):
                key = f"s-{day}-{k}"
                url = f"https://news.test/{day}/{k}"
                article = await add_article(store, url, key, clock.now(), seen=clock.now())
                queued += await store.queue_alerts(
                    [ingest.AlertRow(watch.id, CHANNEL, key, article, ("lithium",))], clock.now()
                )
            # Both senders hold the alerts for the digest, then both find it due at 08:01.
            await asyncio.gather(*(c.deliverer.deliver_once() for c in cores))
            clock.advance(hours=2, minutes=1)
            passes = await asyncio.gather(
                *(c.deliverer.deliver_once() for c in cores), return_exceptions=True
            )
            failed = [p for p in passes if isinstance(p, BaseException)]
            assert failed == [], f"day {day}: a sender's pass failed: {failed!r}"
            posted = [m for ch in channels for m in ch.posted]
            assert [h for _, h in posted] == ["Daily digest"] * (day + 1)
            assert len(posted[-1][0]) == len(queued)  # the day's alerts, in one digest
            clock.advance(hours=21, minutes=59)
