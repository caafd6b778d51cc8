"""The sender: moves alerts from the durable outbox to the notifiers, exactly once in effect.

For each destination, the oldest pending alerts are leased, marked "maybe sent" (durably,
before the platform is called), sent, and marked sent only after the platform confirmed.
A crash between the two leaves "maybe sent" set, and the next attempt asks the notifier
to resend idempotently (Discord nonce, Slack metadata lookup). A thread reply under a
living message is recorded on its post the same way before it is sent, and until it is
confirmed the next attempt, by any instance, resends that same reply, checked first; an
operational notice is marked "maybe sent" in its own outbox likewise.
Destinations are served concurrently; inside one destination alerts go strictly in
order. Under ``run()`` each destination drains in a task of its own that no pass waits
for: a platform that answers late, or not until its client gives up, holds up no other
channel.

A message the platform refuses as such (``RejectedMessageError``: a 400 about its content)
is not the destination's fault: that alert is dead-lettered with the platform's reason and
the channel carries on. When a condensed batch is refused, its alerts are resent one at a
time, so only the one at fault is dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.alerts import one_per_story
from bot.core.controls import Held, flushable, gate, summary_heading
from bot.core.errors import (
    DeliveryError,
    PermanentDeliveryError,
    RateLimitedError,
    RejectedMessageError,
    RetryableDeliveryError,
)
from bot.core.living import (
    next_showing,
    shown_from_json,
    shown_in,
    shown_to_json,
    unsure_reply,
)
from bot.core.models import Alert
from bot.core.notices import ChannelRecovered, notice_from_row
from bot.core.ports import Clock, MessageEditor, Notifier, ThreadReplier
from bot.core.storeport import CoreStore

log = logging.getLogger(__name__)

BASE_BACKOFF = 2.0
MAX_BACKOFF = 300.0
EDIT_GAP = timedelta(seconds=30)  # one edit per message per gap: platforms rate-limit edits
# Failed edits in a row after which a message keeps what it shows (backed off to 5 min,
# about an hour and a half of trying): its channel was deleted, or stays out of reach.
EDIT_TRIES = 24


def _surely_unsent(error: BaseException) -> bool:
    """Whether a failed send certainly left nothing on the platform."""
    if isinstance(error, RetryableDeliveryError):
        return not error.maybe_sent
    return isinstance(error, DeliveryError)


def retry_delay(attempts: int, retry_after: float | None, rng: random.Random) -> float:
    """Exponential backoff with full jitter, never sooner than the platform asked."""
    exp = min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempts - 1))
    delay = rng.uniform(exp / 2, exp)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, 6 * 3600)


@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed_destinations: dict[str, str] = field(default_factory=dict)
    dead_lettered: int = 0
    messages: int = 0
    edited: int = 0


class Deliverer:
    def __init__(
        self,
        *,
        store: CoreStore,
        notifiers: Mapping[str, Notifier],
        clock: Clock,
        dead_after: timedelta = timedelta(hours=6),
        burst_threshold: int = 5,
        instance_id: str | None = None,
        lease: timedelta = timedelta(minutes=2),
        rng: random.Random | None = None,
        on_sent: Callable[[int, float], None] | None = None,
        on_pass: Callable[[DeliveryReport], None] | None = None,
        edit_gap: timedelta = EDIT_GAP,
    ) -> None:
        self.store = store
        self.notifiers = dict(notifiers)
        self.clock = clock
        self.dead_after = dead_after
        self.burst_threshold = burst_threshold
        self.instance_id = instance_id or uuid.uuid4().hex[:12]
        self.lease = lease
        self.rng = rng or random.Random()
        self.on_sent = on_sent
        self.on_pass = on_pass
        self.edit_gap = edit_gap
        self._wake = asyncio.Event()
        # Destination -> the last alert id of a batch the platform refused: up to it, alerts
        # go one per message until the one at fault is found (lost on restart, when the
        # batch is refused once more and found again).
        self._one_by_one: dict[str, int] = {}
        # Set by run()'s stop: a pass in progress sends no further batch (SIGTERM must not
        # wait for a whole backlog at the platforms' pace).
        self._stopping: asyncio.Event | None = None
        self._templates: dict[str, str] = {}  # destination -> its template, read per pass
        self._threads: dict[str, bool] = {}  # destination -> story growth as thread replies
        # A controlled channel -> the new alerts its gate let through in this pass.
        self._gated: dict[str, set[int]] = {}
        # Under run(): destinations still being drained from an earlier pass (a platform
        # slow to answer, a backlog at its pace), and the notices being posted. A pass
        # starts no second drain of the same destination and waits for neither.
        self._draining: dict[str, asyncio.Task[None]] = {}
        self._noticing: dict[str, asyncio.Task[None]] = {}
        self._claiming_notices: asyncio.Task[None] | None = None

    def notifier_for(self, destination: str) -> Notifier | None:
        return self.notifiers.get(destination.partition(":")[0])

    def wake(self) -> None:
        self._wake.set()

    async def deliver_once(self) -> DeliveryReport:
        """One pass: every destination with due alerts, concurrently, each in order; it
        returns once every destination is done."""
        report = DeliveryReport()
        await self._dead_letter_expired(report)
        await self.deliver_notices()
        dests = await self._due_destinations()
        await asyncio.gather(*(self._drain(d, report) for d in dests))
        # A channel that just recovered has its notice queued: post it in this pass.
        await self.deliver_notices()
        if self.on_pass:
            self.on_pass(report)
        return report

    async def _start_pass(self) -> None:
        """run()'s pass: each due destination drains in a task of its own, and the pass
        waits for none of them, so a platform that answers late (or not at all, until
        its client's timeout) holds up no other channel; the next pass serves the others
        and leaves that one to its drain."""
        report = DeliveryReport()
        await self._dead_letter_expired(report)
        self._start_notices()
        for destination in await self._due_destinations():
            task = asyncio.create_task(self._guarded(self._drain_alone(destination)))
            self._draining[destination] = task
            task.add_done_callback(functools.partial(self._drained, destination))
        if self.on_pass:
            self.on_pass(report)

    def _drained(self, destination: str, _task: asyncio.Task[None]) -> None:
        self._draining.pop(destination, None)

    async def _drain_alone(self, destination: str) -> None:
        report = DeliveryReport()
        await self._drain(destination, report)
        if self.on_pass:
            self.on_pass(report)

    @staticmethod
    async def _guarded(work: Awaitable[object]) -> None:
        try:
            await work
        except Exception:
            log.exception("delivery failed unexpectedly; retrying at the next pass")

    async def _dead_letter_expired(self, report: DeliveryReport) -> None:
        now = self.clock.now()
        hours = self.dead_after.total_seconds() / 3600
        expired = await self.store.dead_letter_expired(created_before=now - self.dead_after)
        for destination, count, reason in expired:
            report.dead_lettered += count
            log.error(
                "%d alert(s) not delivered within %g h moved to the dead-letter list: %s",
                count,
                hours,
                reason or "never attempted",
                extra={"destination": destination},
            )

    async def _due_destinations(self) -> list[str]:
        """Destinations with alerts or edits due, gated first, but none still draining."""
        now = self.clock.now()
        busy = set(self._draining)
        # A drain in progress keeps reading what its gate let through.
        self._gated = {d: g for d, g in self._gated.items() if d in busy}
        for destination in await self.store.controls.controlled():
            if destination not in busy:
                await self._gate(destination, now)
        dests = await self.store.pending_destinations(now)
        dests += [d for d in await self.store.edit_destinations(now) if d not in dests]
        return [d for d in dests if d not in busy]

    async def _gate(self, destination: str, now: datetime) -> None:
        """Apply the channel's controls before anything of it is claimed: hold alerts for a
        summary or until enough outlets carry their story, and queue summaries now due."""
        store = self.store.controls
        channel = await store.channel(destination)
        watches = await store.watches(destination)
        candidates, waiting, held, sent, muted = await store.gate_inputs(destination, now)
        decision = gate(candidates, waiting, channel, watches, sent, now, held, muted)
        if not decision.empty:
            await store.apply(destination, decision, now)
        # What this pass may send of the channel's new alerts: one queued since (the poll
        # runs in the same loop while a send awaits the platform) waits for the next gate.
        stopped = set(decision.hold) | set(decision.wait) | set(decision.muted)
        self._gated[destination] = {c.id for c in candidates if c.id not in stopped} | set(
            decision.release
        )
        held = [h for h in held if h.id not in set(decision.muted)]
        held += [
            Held(w.id, w.watch_id, decision.hold[w.id], now)
            for w in waiting
            if w.id in decision.hold
        ]
        held += [
            Held(c.id, c.watch_id, decision.hold[c.id], now)
            for c in candidates
            if c.id in decision.hold
        ]
        due = flushable(held, channel, watches, now)
        if due:
            reasons = {h.reason for h in held if h.id in set(due)}
            queued = await store.flush(destination, due, summary_heading(reasons, channel), now)
            log.info(
                "summary queued",
                extra={"destination": destination, "alerts": queued, "reasons": sorted(reasons)},
            )

    def _shaped(self, destination: str, alerts: list[Alert]) -> list[Alert]:
        """One alert per story, carrying the channel's template when it set one."""
        stories = one_per_story(alerts)
        template = self._templates.get(destination)
        return [replace(a, template=template) for a in stories] if template else stories

    async def _drain(self, destination: str, report: DeliveryReport) -> None:
        notifier = self.notifier_for(destination)
        if notifier is None:
            kind = destination.partition(":")[0]
            reason = f"no {kind} adapter is configured in this instance"
            report.failed_destinations[destination] = reason
            await self.store.destination_failed(
                destination, reason=reason, now=self.clock.now(), permanent=True
            )
            return
        # Before anything is claimed: a message whose stories get a newer article than
        # this, or a new headline, while it is being posted is due an edit once posted.
        stories_read_up_to = await self.store.max_article_id()
        retitles_read_up_to = await self.store.retitles_stamp()
        controls = await self.store.controls.channel(destination)
        self._threads[destination] = controls.threads
        template = controls.template
        if template:
            self._templates[destination] = template
        else:
            self._templates.pop(destination, None)
        while self._stopping is None or not self._stopping.is_set():
            now = self.clock.now()
            claimed, maybe_sent = await self.store.claim_outbox(
                destination=destination,
                owner=self.instance_id,
                now=now,
                lease=self.lease,
                batch=notifier.max_batch,
                burst_threshold=self.burst_threshold,
                gated=self._gated.get(destination),
            )
            if not claimed:
                await self._edit_grown(destination, notifier, report)
                return
            claimed = await self._single_after_rejection(destination, claimed, now)
            sent = await self._send(
                destination,
                notifier,
                claimed,
                maybe_sent,
                report,
                stories_read_up_to,
                retitles_read_up_to,
            )
            if not sent:
                return

    async def _single_after_rejection(
        self, destination: str, claimed: list[Alert], now: datetime
    ) -> list[Alert]:
        """``claimed``, or only its first alert while a refused batch is being resent one
        alert at a time (the rest are released, due at once and certainly not sent)."""
        until = self._one_by_one.get(destination)
        if until is None:
            return claimed
        if claimed[0].id > until:
            del self._one_by_one[destination]
            return claimed
        rest = [a.id for a in claimed[1:]]
        if rest:
            await self.store.mark_retry(
                rest, error="resent one by one", next_attempt_at=now, definitely_not_sent=True
            )
        return claimed[:1]

    async def _send(
        self,
        destination: str,
        notifier: Notifier,
        claimed: list[Alert],
        maybe_sent: bool,
        report: DeliveryReport,
        stories_read_up_to: int | None = None,
        retitles_read_up_to: int | None = None,
    ) -> bool:
        """Send one claimed batch and record the outcome; False stops this destination.
        ``stories_read_up_to``: the newest article stored before the batch was claimed;
        ``retitles_read_up_to``: the retitles stamp read then."""
        ids = [a.id for a in claimed]
        await self.store.mark_attempt(ids, self.instance_id)

        def renew(until: datetime) -> Awaitable[int]:
            return self.store.renew_lease(ids, owner=self.instance_id, until=until)

        try:
            async with self._lease_kept(renew):
                message_id = await notifier.send(
                    destination, self._shaped(destination, claimed), maybe_sent=maybe_sent
                )
        except RejectedMessageError as e:
            if len(claimed) > 1:
                # Which alert is at fault is unknown: each goes alone, in order, from now.
                log.warning(
                    "batch refused, resending one by one: %s",
                    e.reason,
                    extra={"destination": destination, "alert_ids": ids},
                )
                self._one_by_one[destination] = ids[-1]
                await self.store.mark_retry(
                    ids, error=e.reason, next_attempt_at=self.clock.now(), definitely_not_sent=True
                )
                return True
            await self.store.dead_letter(ids, e.reason)
            report.dead_lettered += 1
            log.error(
                "message refused, alert moved to the dead-letter list: %s",
                e.reason,
                extra={"destination": destination, "alert_ids": ids},
            )
            return True
        except PermanentDeliveryError as e:
            report.failed_destinations[destination] = e.reason
            await self._failed(destination, ids, e.reason, None, permanent=True, sure=True)
            return False
        except RateLimitedError as e:
            # The platform was reached and asked for a pause: honour it, count no failure.
            report.retried += len(ids)
            delay = retry_delay(1, e.retry_after, self.rng)
            await self.store.mark_retry(
                ids,
                error=e.reason,
                next_attempt_at=self.clock.now() + timedelta(seconds=delay),
                definitely_not_sent=not e.maybe_sent,
            )
            log.warning(
                "rate limited, sending again in %.0fs: %s",
                delay,
                e.reason,
                extra={"destination": destination, "alert_ids": ids},
            )
            return False
        except RetryableDeliveryError as e:
            report.retried += len(ids)
            await self._failed(
                destination,
                ids,
                e.reason,
                e.retry_after,
                permanent=False,
                sure=not e.maybe_sent,
            )
            return False
        except (TimeoutError, OSError) as e:
            # Outcome unknown: keep "maybe sent" so the resend is checked first.
            report.retried += len(ids)
            reason = f"network error: {type(e).__name__}"
            await self._failed(destination, ids, reason, None, permanent=False, sure=False)
            return False
        done = self.clock.now()
        shown = shown_to_json(shown_in(one_per_story(claimed)))
        await self.store.mark_sent(
            ids,
            message_id=message_id,
            now=done,
            shown=shown,
            stories_read_up_to=stories_read_up_to,
            retitles_read_up_to=retitles_read_up_to,
        )
        report.sent += len(ids)
        report.messages += 1
        if self.on_sent:
            for a in claimed:
                self.on_sent(a.id, (done - a.created_at).total_seconds())
        recovered = await self.store.destination_ok(destination, now=done)
        if recovered is not None:
            since, broken_by = recovered
            # Alerts pending when it broke were queued at most dead_after before; those
            # old enough to have expired since were set aside, not posted.
            missed = (
                await self.store.dead_letters_queued(
                    destination, since=since - self.dead_after, until=done - self.dead_after
                )
                if since is not None
                else 0
            )
            log.info(
                "destination recovered",
                extra={"destination": destination, "dead_lettered": missed},
            )
            # The channel could not be told while broken; tell it now, once.
            await self.store.queue_notices(
                [(destination, ChannelRecovered(since=since, reason=broken_by, missed=missed))],
                done,
            )
        return True

    async def _edit_grown(
        self, destination: str, notifier: Notifier, report: DeliveryReport
    ) -> None:
        """Edit the messages whose stories grew since they were posted (new outlets, another
        watch): after new alerts, because new stories matter more than coverage."""
        now = self.clock.now()
        claimed = await self.store.claim_edits(
            destination=destination, owner=self.instance_id, now=now, lease=self.lease
        )
        if not claimed:
            return
        post_ids = [c[0] for c in claimed]

        def renew(until: datetime) -> Awaitable[int]:
            return self.store.renew_edit_lease(post_ids, owner=self.instance_id, until=until)

        async with self._lease_kept(renew):
            await self._edit_claimed(destination, notifier, report, claimed)

    async def _edit_claimed(
        self,
        destination: str,
        notifier: Notifier,
        report: DeliveryReport,
        claimed: list[tuple[int, str, int, str | None, int, str | None]],
    ) -> None:
        """Edit (or reply under) each claimed message whose stories grew, in order."""
        for post_id, message_id, revision, shown, failed, pending in claimed:
            if self._stopping is not None and self._stopping.is_set():
                return
            now = self.clock.now()
            if not isinstance(notifier, MessageEditor):
                # Webhooks cannot edit: the message keeps the coverage it was sent with.
                await self.store.edit_done(post_id, revision=revision, now=now, next_edit_at=now)
                continue
            stories = one_per_story(await self.store.alerts_in_message(destination, message_id))
            replier = notifier if isinstance(notifier, ThreadReplier) else None
            threaded = bool(self._threads.get(destination)) and replier is not None
            unsure = shown_from_json(pending) if threaded else None
            if unsure is not None:
                # An earlier reply may be in the thread (its send was not confirmed, maybe
                # by an instance since restarted): that same reply goes again, looked for
                # first, and the growth since is answered after it.
                showing = unsure_reply(stories, shown_from_json(shown), unsure)
            else:
                muted = await self.store.controls.muted(destination, [a.story_key for a in stories])
                showing = next_showing(stories, shown_from_json(shown), muted)
                if not showing.grown:
                    # Nothing it shows changed, or only stories muted here (they keep what
                    # they showed): the message is left as it is.
                    await self.store.edit_done(
                        post_id, revision=revision, now=now, next_edit_at=now
                    )
                    continue
            try:
                if replier is not None and unsure is not None:
                    if showing.grown:
                        await replier.reply(destination, message_id, showing.grown, maybe_sent=True)
                elif replier is not None and threaded:
                    # Durable before the platform is called: a crash or an unsure answer
                    # leaves the record for whichever instance retries.
                    await self.store.reply_attempt(post_id, pending=shown_to_json(showing.shown))
                    await replier.reply(destination, message_id, showing.grown)
                else:
                    await notifier.edit(
                        destination, message_id, self._shaped(destination, list(showing.stories))
                    )
            except (
                RetryableDeliveryError,
                PermanentDeliveryError,
                TimeoutError,
                OSError,
            ) as e:
                # Backed off by the edits this message failed in a row, as a send is: a
                # platform that keeps failing is not asked again at every pass. A channel
                # out of reach (access lost, token revoked) is probed as its alerts are;
                # the update lands once it is back, or is given up after EDIT_TRIES.
                if isinstance(e, DeliveryError):
                    reason, retry_after = e.reason, getattr(e, "retry_after", None)
                else:
                    reason, retry_after = f"network error: {type(e).__name__}", None
                delay = retry_delay(failed + 1, retry_after, self.rng)
                if isinstance(e, PermanentDeliveryError):
                    delay = max(delay, 60.0)
                give_up = failed + 1 >= EDIT_TRIES
                log.warning(
                    "gave up updating a posted message: %s"
                    if give_up
                    else "could not update a posted message yet, retrying in %.0fs: %s",
                    *((reason,) if give_up else (delay, reason)),
                    extra={"destination": destination, "message_id": message_id},
                )
                await self.store.edit_failed(
                    post_id,
                    error=reason,
                    retry_at=now + timedelta(seconds=delay),
                    give_up=give_up,
                    # An earlier unsure reply stays unsure whatever this attempt met.
                    reply_unsure=threaded and (unsure is not None or not _surely_unsent(e)),
                )
                return
            except DeliveryError as e:
                # The platform refused this edit itself (the message was deleted, can no
                # longer be edited): the alert went out; stop editing it.
                log.warning(
                    "could not update a posted message: %s",
                    e.reason,
                    extra={"destination": destination, "message_id": message_id},
                )
                await self.store.edit_failed(post_id, error=e.reason, retry_at=now, give_up=True)
                continue
            if unsure is not None:
                await self.store.reply_confirmed(post_id, next_edit_at=now + self.edit_gap)
            else:
                await self.store.edit_done(
                    post_id,
                    revision=revision,
                    now=now,
                    next_edit_at=now + self.edit_gap,
                    shown=shown_to_json(showing.shown),
                )
            report.edited += 1

    @contextlib.asynccontextmanager
    async def _lease_kept(self, renew: Callable[[datetime], Awaitable[int]]) -> AsyncIterator[None]:
        """Renew a claim's lease every third of it while the platform calls under it run:
        a call slower than the lease (a rate-limit wait, a slow answer) must not let
        another instance claim the same alerts or messages and post or edit them again.
        An instance that dies stops renewing, and its claims expire as before."""
        done = asyncio.Event()

        async def keep() -> None:
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    # asyncio.timeout, not wait_for (see bot.leader: a swallowed cancel).
                    async with asyncio.timeout(self.lease.total_seconds() / 3):
                        await done.wait()
                if done.is_set():
                    return
                try:
                    await renew(self.clock.now() + self.lease)
                except Exception as e:  # the database away: the send goes on regardless
                    log.warning("could not renew a delivery lease: %s", e)

        keeper = asyncio.create_task(keep())
        try:
            yield
        finally:
            done.set()
            await keeper

    async def _failed(
        self,
        destination: str,
        ids: list[int],
        reason: str,
        retry_after: float | None,
        *,
        permanent: bool,
        sure: bool,
    ) -> None:
        now = self.clock.now()
        count, newly = await self.store.destination_failed(
            destination, reason=reason, now=now, permanent=permanent
        )
        delay = retry_delay(count, retry_after, self.rng)
        if permanent:
            # Probe again later: when access comes back, delivery resumes by itself.
            delay = max(delay, 60.0)
        await self.store.mark_retry(
            ids,
            error=reason,
            next_attempt_at=now + timedelta(seconds=delay),
            definitely_not_sent=sure,
        )
        log.warning(
            "delivery failed, retrying in %.0fs: %s",
            delay,
            reason,
            extra={"destination": destination, "alert_ids": ids},
        )
        if newly:
            log.error("destination is failing: %s", reason, extra={"destination": destination})

    async def deliver_notices(self) -> int:
        """Post pending operational notices, each channel's in order and the channels side
        by side; one that fails is retried, never dropped silently (after the dead-letter
        age it is given up, and logged)."""
        now = self.clock.now()
        claimed = await self.store.claim_notices(owner=self.instance_id, now=now, lease=self.lease)
        by_destination: dict[str, list[Any]] = {}
        for row in claimed:
            by_destination.setdefault(row.destination, []).append(row)
        posted = await asyncio.gather(
            *(self._post_notices(d, rows) for d, rows in by_destination.items())
        )
        return sum(posted)

    def _start_notices(self) -> None:
        """run()'s notices: each channel's in a task of its own that no pass waits for (a
        platform that does not answer holds only its own channel's notices)."""
        if self._claiming_notices is not None and not self._claiming_notices.done():
            return
        self._claiming_notices = asyncio.create_task(self._guarded(self._claim_notices()))

    async def _claim_notices(self) -> None:
        busy = set(self._noticing)
        now = self.clock.now()
        claimed = await self.store.claim_notices(
            owner=self.instance_id, now=now, lease=self.lease, skip=busy
        )
        by_destination: dict[str, list[Any]] = {}
        for row in claimed:
            by_destination.setdefault(row.destination, []).append(row)
        for destination, rows in by_destination.items():
            task = asyncio.create_task(self._guarded(self._post_notices(destination, rows)))
            self._noticing[destination] = task
            task.add_done_callback(functools.partial(self._noticed, destination))

    def _noticed(self, destination: str, _task: asyncio.Task[None]) -> None:
        self._noticing.pop(destination, None)

    async def _post_notices(self, destination: str, rows: list[Any]) -> int:
        """Post one destination's claimed notices in order, their lease kept while they go
        out one after another at the platform's pace; how many went out."""
        notice_ids = [row.id for row in rows]

        def renew(until: datetime) -> Awaitable[int]:
            return self.store.renew_notice_lease(notice_ids, owner=self.instance_id, until=until)

        async with self._lease_kept(renew):
            return await self._post_each_notice(destination, rows)

    async def _post_each_notice(self, destination: str, rows: list[Any]) -> int:
        """Each notice in order, its outcome recorded; how many went out."""
        sent = 0
        notifier = self.notifier_for(destination)
        for row in rows:
            now = self.clock.now()
            if notifier is None:
                retry = now + timedelta(minutes=5)
                await self.store.notice_done(
                    row.id, sent=False, error="no adapter for this destination", retry_at=retry
                )
                continue
            # Durable before the platform is called: a crash or an unsure answer leaves the
            # notice "maybe sent", and the next attempt, by any instance, looks first.
            await self.store.notice_attempt(row.id)
            try:
                await notifier.send_notice(
                    row.destination,
                    notice_from_row(row.text, row.data),
                    notice_id=row.id,
                    maybe_sent=bool(row.maybe_sent),
                )
            except RejectedMessageError as e:
                log.error("notice refused: %s", e.reason, extra={"destination": row.destination})
                await self.store.notice_done(row.id, sent=False, error=e.reason)
            except (DeliveryError, TimeoutError, OSError) as e:
                retry_after = getattr(e, "retry_after", None)
                delay = retry_delay(row.attempts, retry_after, self.rng)
                if isinstance(e, PermanentDeliveryError):
                    delay = max(delay, 60.0)
                reason = getattr(e, "reason", type(e).__name__)
                log.warning(
                    "notice not posted yet: %s", reason, extra={"destination": row.destination}
                )
                await self.store.notice_done(
                    row.id,
                    sent=False,
                    error=reason,
                    retry_at=now + timedelta(seconds=delay),
                    # An earlier unsure attempt stays unsure whatever this one met.
                    definitely_not_sent=_surely_unsent(e) and not row.maybe_sent,
                )
            else:
                await self.store.notice_done(row.id, sent=True)
                sent += 1
        return sent

    async def run(self, stop: asyncio.Event, *, idle: float = 1.0) -> None:
        """Deliver until ``stop`` is set; woken early when the poller queued alerts. On
        ``stop`` the batch being sent finishes; the rest stays in the outbox."""
        self._stopping = stop
        try:
            while not stop.is_set():
                try:
                    await self._start_pass()
                except Exception:
                    log.exception("delivery pass failed; retrying")
                self._wake.clear()
                waiters: list[Awaitable[object]] = [self._wake.wait(), stop.wait()]
                tasks = [asyncio.ensure_future(w) for w in waiters]
                _done, pending = await asyncio.wait(
                    tasks, timeout=idle, return_when=asyncio.FIRST_COMPLETED
                )
                for t in pending:
                    t.cancel()
        finally:
            # Each drain finishes the send in flight and takes no further batch.
            if self._claiming_notices is not None:
                await asyncio.wait([self._claiming_notices])
            running = [*self._draining.values(), *self._noticing.values()]
            if running:
                await asyncio.wait(running)
            self._claiming_notices = None
            self._stopping = None
