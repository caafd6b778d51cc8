"""Channel controls through the real sender and a real SQLite store: what a held alert
becomes when what held it ends, alerts released from waiting for outlets, an alert queued
while a summary is being posted, and held alerts outliving the article retention. The
notifier records what each send would post (the chat adapters have their own tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.core.controls import ChannelControls, Digest, WatchControls
from bot.core.delivery import Deliverer
from bot.core.models import Alert
from bot.core.notices import Notice
from bot.store import ingest
from bot.store.schema import alerts
from bot.store.store import Store
from tests.store.articles import add_article
from tests.support import FakeClock

DEST = "slack:C1"
START = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


@dataclass
class Recorder:
    """Each send as (alert ids, summary heading); ``during_send`` runs inside the next send,
    as a poll in the same event loop would while a send awaits the platform."""

    kinds: frozenset[str] = frozenset({"slack"})
    max_batch: int = 10
    sent: list[tuple[tuple[int, ...], str | None]] = field(default_factory=list)
    during_send: Callable[[], Awaitable[None]] | None = None

    async def send(
        self, destination: str, batch: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        if self.during_send is not None:
            hook, self.during_send = self.during_send, None
            await hook()
        self.sent.append((tuple(a.id for a in batch), batch[0].digest))
        return f"m{batch[0].id}"

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        return None


@dataclass
class Desk:
    store: Store
    clock: FakeClock
    notifier: Recorder
    deliverer: Deliverer
    watch: int

    async def queue(self, slug: str, *, source: str = "Reuters", story: str = "") -> int:
        """One new article (its own story unless ``story``) and its alert to the channel."""
        key, article_id = await self.article(slug, source=source, story=story)
        [alert_id] = await self.store.queue_alerts(
            [ingest.AlertRow(self.watch, DEST, key, article_id, ("lithium",))], self.clock.now()
        )
        return alert_id

    async def article(self, slug: str, *, source: str, story: str) -> tuple[str, int]:
        """One new article, of ``story`` or its own: (story key, article id)."""
        key, now = story or f"s-{slug}", self.clock.now()
        url = f"https://news.test/{slug}"
        return key, await add_article(self.store, url, key, now, source, seen=now)

    async def states(self) -> dict[int, str]:
        async with self.store.engine.connect() as conn:
            return {r.id: r.state for r in await conn.execute(select(alerts.c.id, alerts.c.state))}

    async def at(self, moment: datetime) -> list[tuple[tuple[int, ...], str | None]]:
        """Run one sender pass at ``moment``: what it posted."""
        self.clock.advance(seconds=(moment - self.clock.now()).total_seconds())
        before = len(self.notifier.sent)
        await self.deliverer.deliver_once()
        return self.notifier.sent[before:]


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'wirewatch.db'}")
    clock = FakeClock(START)
    notifier = Recorder()
    deliverer = Deliverer(store=store, notifiers={"slack": notifier}, clock=clock)
    watch = await store.add_watch(query="lithium", name=None, origin="chat", now=START)
    yield Desk(store, clock, notifier, deliverer, watch)
    await store.close()


def _hour(hour: int, minute: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def test_a_watch_snoozed_past_quiet_hours_keeps_its_alert_until_the_snooze_ends(
    desk: Desk,
) -> None:
    """Quiet hours end at 07:00, the watch's snooze at 12:00: the alert that came in at
    06:00 goes out in the 12:00 summary, not at 07:00."""
    quiet = ChannelControls(quiet_start=time(22), quiet_end=time(7))
    await desk.store.controls.set_channel(DEST, quiet, by=None, now=START)
    snooze = WatchControls(snoozed_until=_hour(12))
    await desk.store.controls.set_watch(desk.watch, DEST, snooze, now=START)
    alert = await desk.queue("a")
    assert await desk.at(_hour(6)) == []
    assert await desk.at(_hour(7, 5)) == []
    assert await desk.at(_hour(11, 59)) == []
    [(ids, heading)] = await desk.at(_hour(12, 1))
    assert alert in ids and heading is not None


async def test_a_story_that_reaches_its_outlets_during_quiet_hours_waits_for_their_end(
    desk: Desk,
) -> None:
    """The watch alerts once two outlets carry a story; the second comes at 23:10, inside
    quiet hours: the alert goes in the 07:00 summary, not at 23:10."""
    quiet = ChannelControls(quiet_start=time(22), quiet_end=time(7))
    await desk.store.controls.set_channel(DEST, quiet, by=None, now=START)
    await desk.store.controls.set_watch(desk.watch, DEST, WatchControls(min_outlets=2), now=START)
    desk.clock.advance(hours=17)  # 23:00
    alert = await desk.queue("a", story="s-rare")
    assert await desk.at(_hour(23)) == []
    desk.clock.advance(minutes=10)
    await desk.article("b", source="AP", story="s-rare")  # the same story: no alert of its own
    assert await desk.at(_hour(23, 10)) == []
    assert (await desk.states())[alert] == "held"
    [(ids, heading)] = await desk.at(_hour(7, 1, day=26))
    assert alert in ids and heading == "While quiet hours were on"


async def test_an_alert_queued_while_a_digest_is_posted_waits_for_the_next_digest(
    desk: Desk,
) -> None:
    """A daily-digest channel: a poll queues an alert while the 08:00 digest is being
    posted (the send awaits the platform, the poll runs in the same loop). It goes in the
    next day's digest, not on its own right after this one."""
    daily = ChannelControls(digest=Digest.DAILY, digest_at=time(8))
    await desk.store.controls.set_channel(DEST, daily, by=None, now=START)
    first = await desk.queue("a")
    assert await desk.at(_hour(7)) == []
    queued: list[int] = []

    async def poll_meanwhile() -> None:
        queued.append(await desk.queue("b"))

    desk.notifier.during_send = poll_meanwhile
    posted = await desk.at(_hour(8))
    assert posted == [((first,), "Daily digest")]
    assert await desk.at(_hour(8, 1)) == []
    assert (await desk.states())[queued[0]] == "held"
    assert await desk.at(_hour(8, 0, day=26)) == [((queued[0],), "Daily digest")]


async def test_a_held_alert_outlives_the_article_retention_of_a_long_snooze(
    desk: Desk,
) -> None:
    """A channel snoozed for 30 days: the hourly prune at day 15 (retention 14 days) keeps
    the held alert's article, and the alert is in the summary when the snooze ends."""
    snooze = ChannelControls(snoozed_until=START + timedelta(days=30))
    await desk.store.controls.set_channel(DEST, snooze, by=None, now=START)
    alert = await desk.queue("a")
    assert await desk.at(START) == []
    day15 = START + timedelta(days=15)
    await desk.store.prune(articles_before=day15 - timedelta(days=14), seen_before=START)
    assert (await desk.states())[alert] == "held"
    [(ids, heading)] = await desk.at(START + timedelta(days=30, minutes=1))
    assert ids == (alert,) and heading == "While this channel was snoozed"
