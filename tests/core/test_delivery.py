"""The sender against the real store: order, retries, failing destinations, dead letters,
bursts and unknown outcomes. The notifier here is a scripted implementation of the
Notifier port (the chat adapters have their own tests against fake Slack/Discord)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bot.core.api import Caller
from bot.core.errors import PermanentDeliveryError, RetryableDeliveryError
from bot.core.models import Alert
from bot.core.notices import Notice, notice_fallback
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings


class ScriptedNotifier:
    """Answers each send with the next scripted outcome (an exception or None = success)."""

    kinds = frozenset({"slack", "discord"})
    max_batch = 10

    def __init__(self) -> None:
        self.script: dict[str, list[Exception | None]] = {}
        self.sent: list[tuple[str, tuple[int, ...], bool]] = []
        self.attempts: list[tuple[str, tuple[int, ...], bool]] = []
        self.notices: list[tuple[str, str]] = []

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        ids = tuple(a.id for a in alerts)
        self.attempts.append((destination, ids, maybe_sent))
        queue = self.script.get(destination, [])
        outcome = queue.pop(0) if queue else None
        if outcome is not None:
            raise outcome
        self.sent.append((destination, ids, maybe_sent))
        return f"m{ids[0]}"

    async def send_notice(self, destination: str, notice: Notice, **_: object) -> None:
        self.notices.append((destination, notice_fallback(notice)))


# Distinct headline words so no two items look like the same story.
WORDS = [
    "magnets",
    "ports",
    "lithium",
    "yuan",
    "soybeans",
    "tariffs",
    "Boeing",
    "Nvidia",
    "Huawei",
    "shipping",
    "steel",
    "aluminium",
    "copper",
    "drones",
    "pharma",
    "textiles",
    "wheat",
    "canola",
    "cobalt",
    "gallium",
    "germanium",
    "antimony",
    "graphite",
]


def _items(clock: FakeClock, n: int, prefix: str = "rare earth") -> list[dict[str, object]]:
    return [
        {
            "title": f"{prefix}: {WORDS[i]} outlook {i}",
            "link": f"https://n.test/{prefix.replace(' ', '-')}-{i}",
            "guid": f"{prefix}-{i}",
            "pubDate": clock.now() - timedelta(minutes=60 - i),
        }
        for i in range(n)
    ]


async def _setup(
    tmp_path: Path, server: FeedServer, clock: FakeClock, n: int, dests: list[str], **kw: object
):  # type: ignore[no-untyped-def]
    settings = make_settings(
        tmp_path,
        feeds=[server.url("/r.rss")],
        watches=[{"query": '"rare earth"', "channels": dests}],
        **kw,
    )
    server.set_feed("/r.rss", rss([]))
    return settings


async def _queue(core, server: FeedServer, clock: FakeClock, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    await core.poll(due_only=False)  # seed (empty feed)
    server.set_feed("/r.rss", rss(_items(clock, n)))
    report = await core.poll(due_only=False)
    return report.alert_ids


async def test_alerts_go_out_in_order_and_once(tmp_path: Path) -> None:
    """Each alert is sent once, oldest first, and marked sent."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 3, ["slack:C1"])
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            core.add_notifier(notifier)
            ids = await _queue(core, server, clock, 3)
            await core.deliverer.deliver_once()
            await core.deliverer.deliver_once()
            assert [s[1] for s in notifier.sent] == [(i,) for i in sorted(ids)]
            depth, _, _ = await core.store.outbox_stats()
            assert depth == 0


async def test_rate_limit_is_honoured_then_delivery_completes(tmp_path: Path) -> None:
    """A 429 with Retry-After holds the channel at least that long; then all is sent in order."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 2, ["slack:C1"])
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            notifier.script["slack:C1"] = [RetryableDeliveryError("rate limited", retry_after=30)]
            core.add_notifier(notifier)
            ids = await _queue(core, server, clock, 2)
            await core.deliverer.deliver_once()
            assert notifier.sent == []
            clock.advance(seconds=20)
            await core.deliverer.deliver_once()
            assert notifier.sent == []  # still inside Retry-After
            clock.advance(seconds=11)
            await core.deliverer.deliver_once()
            assert [s[1] for s in notifier.sent] == [(i,) for i in sorted(ids)]


async def test_a_broken_channel_never_blocks_another_and_recovers(tmp_path: Path) -> None:
    """A permanent error marks one destination failing (status shows why) while the other
    receives everything; when access returns, the held alerts go out."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 2, ["slack:BROKEN", "discord:42"])
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            notifier.script["slack:BROKEN"] = [
                PermanentDeliveryError("the bot is not in this channel")
            ]
            core.add_notifier(notifier)
            await _queue(core, server, clock, 2)
            await core.deliverer.deliver_once()
            await core.deliverer.deliver_once()
            assert {s[0] for s in notifier.sent} == {"discord:42"}
            status = {
                d.destination: d for d in (await core.api.status(Caller.console())).destinations
            }
            assert status["slack:BROKEN"].state.value == "failing"
            assert status["slack:BROKEN"].last_error == "the bot is not in this channel"
            assert status["slack:BROKEN"].pending == 2
            clock.advance(minutes=10)
            await core.deliverer.deliver_once()
            await core.deliverer.deliver_once()
            assert sum(1 for s in notifier.sent if s[0] == "slack:BROKEN") == 2
            status = {
                d.destination: d for d in (await core.api.status(Caller.console())).destinations
            }
            assert status["slack:BROKEN"].state.value == "ok"
            told = [t for d, t in notifier.notices if d == "slack:BROKEN"]
            assert len(told) == 1 and "can post here again" in told[0]
            assert "the bot is not in this channel" in told[0]


async def test_undeliverable_alerts_become_dead_letters_not_silence(tmp_path: Path) -> None:
    """After the dead-letter age an alert leaves the queue and `status` counts it."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 1, ["slack:GONE"])
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            notifier.script["slack:GONE"] = [PermanentDeliveryError("channel not found")] * 100
            core.add_notifier(notifier)
            await _queue(core, server, clock, 1)
            await core.deliverer.deliver_once()
            clock.advance(hours=7)
            report = await core.deliverer.deliver_once()
            assert report.dead_lettered == 1
            status = await core.api.status(Caller.console())
            assert (status.outbox_depth, status.dead_letters) == (0, 1)


async def test_an_attempt_with_unknown_outcome_is_resent_as_maybe_sent(tmp_path: Path) -> None:
    """A timeout after the request left means 'maybe sent': the retry says so, so the
    notifier can check the platform instead of posting twice."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 1, ["discord:42"])
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            notifier.script["discord:42"] = [TimeoutError()]
            core.add_notifier(notifier)
            [alert_id] = await _queue(core, server, clock, 1)
            await core.deliverer.deliver_once()
            clock.advance(minutes=10)
            await core.deliverer.deliver_once()
            assert notifier.attempts == [
                ("discord:42", (alert_id,), False),
                ("discord:42", (alert_id,), True),
            ]


async def test_a_burst_is_condensed_into_few_messages(tmp_path: Path) -> None:
    """Twenty alerts queued for one channel go out as batches of up to ten, in order."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 20, ["slack:C1"])
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            core.add_notifier(notifier)
            ids = await _queue(core, server, clock, 20)
            assert len(ids) == 20
            await core.deliverer.deliver_once()
            batches = [s[1] for s in notifier.sent]
            assert len(batches) <= 6 and [i for b in batches for i in b] == sorted(ids)
            assert max(len(b) for b in batches) == 10


async def test_failing_feed_notice_is_posted_once_and_recovery_once(tmp_path: Path) -> None:
    """A feed that keeps failing produces one notice per subscribed channel, then one
    'works again' notice — not one per attempt."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 0, ["slack:C1"], poll={"failing_after": 2})
        async with core_for(settings, clock=clock) as core:
            notifier = ScriptedNotifier()
            core.add_notifier(notifier)
            await core.poll(due_only=False)
            server.set_feed("/r.rss", "down", status=500)
            for _ in range(5):
                clock.advance(hours=7)
                await core.poll(due_only=False)
                await core.deliverer.deliver_once()
            server.set_feed("/r.rss", rss([]))
            for _ in range(2):
                clock.advance(hours=7)
                await core.poll(due_only=False)
                await core.deliverer.deliver_once()
            texts = [t for d, t in notifier.notices if d == "slack:C1"]
            assert len(texts) == 2
            assert "failing" in texts[0] and "HTTP 500" in texts[0]
            assert "works again" in texts[1]
