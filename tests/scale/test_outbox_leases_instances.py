"""Outbox leases with several instances on one PostgreSQL database: a send or an edit that
takes longer than the lease (a platform's rate-limit wait, a slow answer) keeps its alerts
or message leased while it runs, so another instance does not claim them and post them
again (or edit the message again, or reply in its thread twice)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.app import Core, open_core
from bot.core.models import Alert
from bot.core.notices import ChannelRecovered, Notice
from bot.settings import Settings, WatchConfig
from bot.store import ingest
from bot.store.schema import posts
from tests.store.articles import add_article

pytestmark = pytest.mark.postgres

CHANNEL = "slack:C1"
LEASE = timedelta(seconds=1)  # renewed every third: slack for a loaded machine


@dataclass
class SlowChannel:
    """One channel as every instance reaches it. A post takes ``post_seconds``; a resend
    (``maybe_sent``) finds a message that already carries its first alert, as Slack's
    metadata lookup does, but only once that message has landed."""

    kinds: frozenset[str] = frozenset({"slack"})
    max_batch: int = 10
    post_seconds: float = 0.0
    messages: list[tuple[int, ...]] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    notices: list[str | None] = field(default_factory=list)
    busy: asyncio.Event = field(default_factory=asyncio.Event)  # set by the first call

    async def send(
        self, destination: str, batch: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        first = batch[0].id
        if maybe_sent:
            for ids in self.messages:
                if first in ids:
                    return f"m{first}"
        self.busy.set()
        await asyncio.sleep(self.post_seconds)
        self.messages.append(tuple(a.id for a in batch))
        return f"m{first}"

    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        self.busy.set()
        await asyncio.sleep(self.post_seconds)
        self.edits.append(message_id)

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        self.busy.set()
        await asyncio.sleep(self.post_seconds)
        assert isinstance(notice, ChannelRecovered)
        self.notices.append(notice.reason)


@contextlib.asynccontextmanager
async def two_instances(
    postgres_url: str, channel: SlowChannel, *, watching: bool = True
) -> AsyncIterator[list[Core]]:
    """Two cores on one database, both reaching ``channel``, on the short lease; with
    ``watching``, one watch of "lithium" posting there."""
    watches = [WatchConfig(query="lithium", channels=[CHANNEL])] if watching else []
    settings = Settings(database={"url": postgres_url}, health={"enabled": False}, watches=watches)
    async with contextlib.AsyncExitStack() as stack:
        cores = [
            await stack.enter_async_context(open_core(settings, instance_id=f"node-{n}"))
            for n in range(2)
        ]
        for core in cores:
            core.add_notifier(channel)
            core.deliverer.lease = LEASE
        yield cores


async def queued_alert(core: Core) -> int:
    """One alert of the "lithium" watch, queued for the channel."""
    store = core.store
    [watch] = await store.watch_rows()
    now = core.clock.now()
    article = await add_article(store, "https://news.test/1", "s-1", now, seen=now)
    [alert] = await store.queue_alerts(
        [ingest.AlertRow(watch.id, CHANNEL, "s-1", article, ("lithium",))], now
    )
    return alert


async def while_running(task: asyncio.Task[Any], other: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``other`` (the second instance's pass) every third of the lease until ``task``
    (the first instance's, already busy on the platform) is done; its result."""
    while not task.done():
        await other()
        await asyncio.sleep(LEASE.total_seconds() / 3)
    return await task


async def test_a_send_outlasting_its_lease_is_not_posted_again_by_another_instance(
    postgres_url: str,
) -> None:
    # A short lease on the real clock: the send below outlasts it several times over.
    channel = SlowChannel(post_seconds=LEASE.total_seconds() * 3)
    async with two_instances(postgres_url, channel) as cores:
        alert = await queued_alert(cores[0])
        sending = asyncio.create_task(cores[0].deliverer.deliver_once())
        await channel.busy.wait()  # the first instance claimed the alert and is posting it
        # The other instance's sender passes while the first send is on its way.
        assert (await while_running(sending, cores[1].deliverer.deliver_once)).sent == 1
        await cores[1].deliverer.deliver_once()
    assert channel.messages == [(alert,)], "the alert was posted twice"


async def test_an_edit_outlasting_its_lease_is_not_made_again_by_another_instance(
    postgres_url: str,
) -> None:
    channel = SlowChannel(post_seconds=LEASE.total_seconds() * 3)
    async with two_instances(postgres_url, channel) as cores:
        store = cores[0].store
        alert = await queued_alert(cores[0])
        await store.mark_sent([alert], message_id="m1", now=cores[0].clock.now())
        async with store.transaction() as conn:  # its story grew: the message is due an edit
            await conn.execute(update(posts).values(revision=posts.c.revision + 1))
        editing = asyncio.create_task(cores[0].deliverer.deliver_once())
        await channel.busy.wait()  # the first instance claimed the message and is editing it
        assert (await while_running(editing, cores[1].deliverer.deliver_once)).edited == 1
        await cores[1].deliverer.deliver_once()
    assert channel.edits == ["m1"], "the message was edited twice for one growth"


async def test_notices_outlasting_their_lease_are_not_posted_again_by_another_instance(
    postgres_url: str,
) -> None:
    # Each notice alone is quicker than the lease; the instance's claim of all three is not.
    channel = SlowChannel(post_seconds=LEASE.total_seconds() * 0.8)
    async with two_instances(postgres_url, channel, watching=False) as cores:
        reasons = ["first", "second", "third"]
        await cores[0].store.queue_notices(
            [(CHANNEL, ChannelRecovered(since=None, reason=r)) for r in reasons],
            cores[0].clock.now(),
        )
        posting = asyncio.create_task(cores[0].deliverer.deliver_notices())
        await channel.busy.wait()  # the first instance claimed them all
        await while_running(posting, cores[1].deliverer.deliver_notices)
        await cores[1].deliverer.deliver_notices()
    assert sorted(channel.notices) == sorted(reasons), "a notice was posted twice"
