"""A message the platform refuses (a 400 about its content) fails that message, never the
channel: it is dead-lettered with the platform's reason; a refused batch is resent one
alert at a time so only the alert at fault is dead-lettered."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.core.api import Caller
from bot.core.errors import RejectedMessageError
from bot.core.models import Alert
from bot.core.notices import Notice, notice_fallback
from tests.core.test_delivery import _queue, _setup
from tests.feedserver import FeedServer
from tests.support import FakeClock, core_for

DEST = "discord:42"
REASON = "Discord refused this message (HTTP 400): Invalid Form Body"


class RefusingNotifier:
    """Refuses every message that carries one of ``bad`` alert ids, as a platform refuses
    a malformed embed; records the messages that went out."""

    kinds = frozenset({"discord"})
    max_batch = 10

    def __init__(self) -> None:
        self.bad: set[int] = set()
        self.attempts: list[tuple[int, ...]] = []
        self.sent: list[tuple[int, ...]] = []
        self.notices: list[str] = []

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        ids = tuple(a.id for a in alerts)
        self.attempts.append(ids)
        if self.bad & set(ids):
            raise RejectedMessageError(REASON)
        self.sent.append(ids)
        return f"m{ids[0]}"

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        text = notice_fallback(notice)
        if "refuse" in text:
            raise RejectedMessageError(REASON)
        self.notices.append(text)


async def test_one_refused_alert_in_a_burst_is_dead_lettered_and_the_rest_arrive(
    tmp_path: Path,
) -> None:
    """Eight queued alerts go as one batch; it is refused; they go one by one in order;
    the third is refused alone and dead-lettered with the reason; the channel stays ok."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 8, [DEST])
        async with core_for(settings, clock=clock) as core:
            notifier = RefusingNotifier()
            core.add_notifier(notifier)
            ids = sorted(await _queue(core, server, clock, 8))
            notifier.bad = {ids[2]}
            report = await core.deliverer.deliver_once()

            assert notifier.attempts[0] == tuple(ids)  # the burst, refused
            delivered = [i for message in notifier.sent for i in message]
            assert delivered == [i for i in ids if i != ids[2]]  # in order, all but one
            assert all(len(m) == 1 for m in notifier.sent[:2])  # one by one up to the bad one
            assert report.dead_lettered == 1
            status = await core.api.status(Caller.console())
            assert status.dead_letters == 1
            (dead,) = await core.store.dead_letters()
            assert (dead.id, dead.last_error) == (ids[2], REASON)
            assert status.outbox_depth == 0
            assert all(d.state.value == "ok" for d in status.destinations)  # never "failing"


async def test_a_single_refused_alert_does_not_hold_up_the_next(tmp_path: Path) -> None:
    """Alerts sent one at a time: the refused one is dead-lettered, the next goes out in the
    same pass, and nothing is retried later."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 2, [DEST])
        async with core_for(settings, clock=clock) as core:
            notifier = RefusingNotifier()
            core.add_notifier(notifier)
            first, second = sorted(await _queue(core, server, clock, 2))
            notifier.bad = {first}
            await core.deliverer.deliver_once()
            assert notifier.sent == [(second,)]
            clock.advance(hours=1)
            await core.deliverer.deliver_once()
            assert notifier.attempts == [(first,), (second,)]
            depth, _, dead = await core.store.outbox_stats()
            assert (depth, dead) == (0, 1)


async def test_a_refused_notice_is_given_up_not_retried(tmp_path: Path) -> None:
    """A notice the platform refuses as such is not queued again and again."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 0, [DEST])
        async with core_for(settings, clock=clock) as core:
            notifier = RefusingNotifier()
            core.add_notifier(notifier)
            await core.store.queue_notices(
                [(DEST, "please refuse me"), (DEST, "fine")], clock.now()
            )
            assert await core.deliverer.deliver_notices() == 1
            clock.advance(hours=1)
            assert await core.deliverer.deliver_notices() == 0
            assert notifier.notices == ["fine"]
