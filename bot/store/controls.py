"""Channel controls in the database: settings rows, and the outbox moves the gate decides.

The decisions are :mod:`bot.core.controls`' (pure); this module reads their inputs and
applies their outcome, each in one transaction, so several instances may gate the same
channel: a move only touches alerts still in the state it was decided on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, func, insert, or_, select, union, update

from bot.core.controls import (
    Candidate,
    ChannelControls,
    Digest,
    GateDecision,
    Held,
    Hold,
    Waiting,
    WatchControls,
)
from bot.core.storypick import StoryHere
from bot.store.schema import (
    alerts,
    articles,
    channel_controls,
    feedback,
    feeds,
    muted_stories,
    watch_controls,
    watches,
)
from bot.store.visibility import READER, visible_feeds, with_reader

if TYPE_CHECKING:
    from bot.store.store import Store

HELD = "held"
WAITING = "waiting"
DROPPED = "dropped"


def _clock(value: str | None) -> time | None:
    return None if value is None else time.fromisoformat(value)


def _hhmm(value: time | None) -> str | None:
    return None if value is None else f"{value:%H:%M}"


class ControlsStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    # --- settings -----------------------------------------------------------------------

    async def channel(self, destination: str) -> ChannelControls:
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(channel_controls).where(channel_controls.c.destination == destination)
                )
            ).first()
        return _channel_from_row(row) if row is not None else ChannelControls()

    async def set_channel(
        self, destination: str, controls: ChannelControls, *, by: str | None, now: datetime
    ) -> None:
        values: dict[str, Any] = {
            "digest": str(controls.digest),
            "digest_at": _hhmm(controls.digest_at),
            "digest_tz": controls.digest_tz,
            "quiet_start": _hhmm(controls.quiet_start),
            "quiet_end": _hhmm(controls.quiet_end),
            "quiet_tz": controls.quiet_tz,
            "snoozed_until": controls.snoozed_until,
            "threads": controls.threads,
            "template": controls.template,
            "updated_at": now,
            "updated_by": by,
        }
        async with self.store.transaction() as conn:
            stmt = self.store._insert(channel_controls).values(destination=destination, **values)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[channel_controls.c.destination], set_=values
                )
            )

    async def watches(self, destination: str) -> dict[int, WatchControls]:
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(watch_controls).where(watch_controls.c.destination == destination)
            )
            return {
                r.watch_id: WatchControls(r.snoozed_until, r.max_per_hour, r.min_outlets)
                for r in rows
            }

    async def set_watch(
        self, watch_id: int, destination: str, controls: WatchControls, *, now: datetime
    ) -> None:
        values: dict[str, Any] = {
            "snoozed_until": controls.snoozed_until,
            "max_per_hour": controls.max_per_hour,
            "min_outlets": controls.min_outlets,
            "updated_at": now,
        }
        async with self.store.transaction() as conn:
            if controls == WatchControls():
                await conn.execute(
                    delete(watch_controls).where(
                        watch_controls.c.watch_id == watch_id,
                        watch_controls.c.destination == destination,
                    )
                )
                return
            stmt = self.store._insert(watch_controls).values(
                watch_id=watch_id, destination=destination, **values
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[watch_controls.c.watch_id, watch_controls.c.destination],
                    set_=values,
                )
            )

    # --- alert buttons ------------------------------------------------------------------

    async def alert_here(self, destination: str, alert_id: int) -> tuple[str, int, str] | None:
        """(story key, watch id, headline) of an alert sent to ``destination``; None for an
        alert of another channel (a button's value is not trusted)."""
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(alerts.c.story_key, alerts.c.watch_id, articles.c.title)
                    .select_from(alerts.join(articles, articles.c.id == alerts.c.article_id))
                    .where(alerts.c.id == alert_id, alerts.c.destination == destination)
                )
            ).first()
        return None if row is None else (row.story_key, row.watch_id, row.title)

    async def stories_here(self, destination: str, limit: int) -> list[StoryHere]:
        """The ``limit`` stories most recently alerted in ``destination``, newest first,
        each by its newest alert there (its headline as stored now), marked when muted."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    alerts.c.id,
                    alerts.c.story_key,
                    articles.c.title,
                    muted_stories.c.story_key.is_not(None).label("muted"),
                )
                .select_from(
                    alerts.join(articles, articles.c.id == alerts.c.article_id).outerjoin(
                        muted_stories,
                        and_(
                            muted_stories.c.destination == alerts.c.destination,
                            muted_stories.c.story_key == alerts.c.story_key,
                        ),
                    )
                )
                .where(alerts.c.destination == destination)
                .order_by(alerts.c.id.desc())
                # Several watches' alerts of one story are rows of one story: read enough.
                .limit(limit * 4)
            )
            found: dict[str, StoryHere] = {}
            for row in rows:
                if row.story_key not in found:
                    found[row.story_key] = StoryHere(
                        row.id, row.story_key, row.title or "", bool(row.muted)
                    )
            return list(found.values())[:limit]

    async def story_watches(self, destination: str, story_key: str) -> list[int]:
        """The watches a story was alerted for in ``destination`` (one message lists them)."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(alerts.c.watch_id)
                .where(alerts.c.destination == destination, alerts.c.story_key == story_key)
                .order_by(alerts.c.id)
            )
            return list(dict.fromkeys(r[0] for r in rows))

    async def mute_story(
        self, destination: str, story_key: str, *, by: str | None, now: datetime
    ) -> None:
        async with self.store.transaction() as conn:
            await conn.execute(
                self.store._insert(muted_stories)
                .values(destination=destination, story_key=story_key, muted_by=by, created_at=now)
                .on_conflict_do_nothing()
            )

    async def muted(self, destination: str, story_keys: Sequence[str]) -> set[str]:
        if not story_keys:
            return set()
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(muted_stories.c.story_key).where(
                    muted_stories.c.destination == destination,
                    muted_stories.c.story_key.in_(list(story_keys)),
                )
            )
            return {r[0] for r in rows}

    async def record_feedback(
        self,
        destination: str,
        watch_id: int,
        story_key: str,
        *,
        user: str,
        verdict: str,
        now: datetime,
    ) -> bool:
        """Record one verdict; False when this person had already given it."""
        async with self.store.transaction() as conn:
            result = await conn.execute(
                self.store._insert(feedback)
                .values(
                    destination=destination,
                    watch_id=watch_id,
                    story_key=story_key,
                    user=user,
                    verdict=verdict,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            return bool(result.rowcount)

    async def not_relevant(self, destination: str) -> dict[int, int]:
        """Per watch: stories marked not relevant here (by anyone, counted once each)."""
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(feedback.c.watch_id, func.count(func.distinct(feedback.c.story_key)))
                .where(feedback.c.destination == destination, feedback.c.verdict == "irrelevant")
                .group_by(feedback.c.watch_id)
            )
            return {r[0]: int(r[1]) for r in rows}

    async def controlled(self) -> set[str]:
        """Destinations the gate has work in: alerts held or waiting (their summary or
        threshold may be due), or new alerts where the channel set controls or muted a
        story. A channel with nothing new costs no gating (one indexed query in all)."""
        with_controls = union(
            select(channel_controls.c.destination),
            select(watch_controls.c.destination),
            select(muted_stories.c.destination),
        )
        async with self.store.engine.connect() as conn:
            rows = await conn.execute(
                select(alerts.c.destination)
                .where(
                    or_(
                        alerts.c.state.in_([HELD, WAITING]),
                        (alerts.c.state == "pending")
                        & (alerts.c.attempts == 0)
                        & alerts.c.digest.is_(None)
                        & alerts.c.destination.in_(with_controls.scalar_subquery()),
                    )
                )
                .distinct()
            )
            return {r[0] for r in rows}

    # --- the gate -----------------------------------------------------------------------

    async def gate_inputs(
        self, destination: str, now: datetime
    ) -> tuple[list[Candidate], list[Waiting], list[Held], dict[int, int], set[str]]:
        """(pending alerts never attempted, in queue order; alerts waiting for outlets;
        held alerts; alerts sent here per watch in the last hour; muted stories among
        them)."""
        async with self.store.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        alerts.c.id,
                        alerts.c.watch_id,
                        alerts.c.story_key,
                        alerts.c.state,
                        alerts.c.created_at,
                        alerts.c.hold,
                        alerts.c.held_at,
                    )
                    .where(
                        alerts.c.destination == destination,
                        or_(
                            alerts.c.state.in_([HELD, WAITING]),
                            (alerts.c.state == "pending")
                            & (alerts.c.attempts == 0)
                            & alerts.c.maybe_sent.is_(False)
                            & alerts.c.digest.is_(None)
                            & or_(alerts.c.lease_until.is_(None), alerts.c.lease_until < now),
                        ),
                    )
                    .order_by(alerts.c.id)
                )
            ).all()
            keys = {r.story_key for r in rows if r.state != HELD}
            outlets: dict[str, int] = {}
            if keys:
                # Only the outlets this channel's workspace may read count towards its
                # threshold, as only they show in its alert.
                reader = (
                    await conn.execute(
                        select(READER)
                        .select_from(with_reader(alerts.join(watches)))
                        .where(alerts.c.id.in_([r.id for r in rows]))
                        .limit(1)
                    )
                ).scalar()
                readable = (
                    articles.c.story_key.in_(keys)
                    if reader is None
                    else and_(
                        articles.c.story_key.in_(keys),
                        or_(articles.c.feed_id.is_(None), visible_feeds(reader)),
                    )
                )
                outlets = {
                    r[0]: int(r[1])
                    for r in await conn.execute(
                        select(articles.c.story_key, func.count(func.distinct(articles.c.source)))
                        .select_from(articles.outerjoin(feeds, feeds.c.id == articles.c.feed_id))
                        .where(readable)
                        .group_by(articles.c.story_key)
                    )
                }
            sent = {
                r[0]: int(r[1])
                for r in await conn.execute(
                    select(alerts.c.watch_id, func.count())
                    .where(
                        alerts.c.destination == destination,
                        alerts.c.state == "sent",
                        alerts.c.sent_at >= now - timedelta(hours=1),
                        alerts.c.digest.is_(None),
                    )
                    .group_by(alerts.c.watch_id)
                )
            }
        muted = await self.muted(destination, sorted({r.story_key for r in rows}))
        candidates = [
            Candidate(r.id, r.watch_id, r.story_key, outlets.get(r.story_key, 0), r.created_at)
            for r in rows
            if r.state == "pending"
        ]
        waiting = [
            Waiting(r.id, r.watch_id, outlets.get(r.story_key, 0), r.created_at, r.story_key)
            for r in rows
            if r.state == WAITING
        ]
        held = [
            Held(r.id, r.watch_id, Hold(r.hold), r.held_at or r.created_at, r.story_key)
            for r in rows
            if r.state == HELD
        ]
        return candidates, waiting, held, sent, muted

    async def apply(self, destination: str, decision: GateDecision, now: datetime) -> None:
        """Move alerts as decided; each move only if the alert is still where it was."""
        untouched = (
            (alerts.c.state == "pending")
            & (alerts.c.attempts == 0)
            & alerts.c.maybe_sent.is_(False)
            & or_(alerts.c.lease_until.is_(None), alerts.c.lease_until < now)
        )
        async with self.store.transaction() as conn:
            by_reason: dict[Hold, list[int]] = {}
            for alert_id, reason in decision.hold.items():
                by_reason.setdefault(reason, []).append(alert_id)
            for reason, ids in by_reason.items():
                # A pending alert, or one whose wait for outlets ended into a hold.
                await conn.execute(
                    update(alerts)
                    .where(alerts.c.id.in_(ids), or_(untouched, alerts.c.state == WAITING))
                    .values(state=HELD, hold=str(reason), held_at=now)
                )
            if decision.wait:
                await conn.execute(
                    update(alerts)
                    .where(alerts.c.id.in_(decision.wait), untouched)
                    .values(state=WAITING, held_at=now)
                )
            if decision.release:
                # Its story just reached the threshold: it goes now, as a new alert would.
                await conn.execute(
                    update(alerts)
                    .where(alerts.c.id.in_(decision.release), alerts.c.state == WAITING)
                    .values(state="pending", held_at=None, next_attempt_at=now, created_at=now)
                )
            if decision.drop:
                await conn.execute(
                    update(alerts)
                    .where(alerts.c.id.in_(decision.drop), alerts.c.state == WAITING)
                    .values(state=DROPPED, last_error="its story never reached enough outlets")
                )
            if decision.muted:
                await conn.execute(
                    update(alerts)
                    .where(
                        alerts.c.id.in_(decision.muted),
                        or_(untouched, alerts.c.state.in_([HELD, WAITING])),
                    )
                    .values(state=DROPPED, last_error="its story was muted in this channel")
                )

    async def flush(self, destination: str, ids: Sequence[int], heading: str, now: datetime) -> int:
        """Queue held alerts as one summary: re-queued in reading order (grouped by watch,
        newest story first) under ``heading``, due now. Returns how many were queued."""
        if not ids:
            return 0
        pick = (
            select(alerts, articles.c.published)
            .select_from(alerts.join(articles, articles.c.id == alerts.c.article_id))
            .where(alerts.c.id.in_(list(ids)), alerts.c.state == HELD)
        )
        if self.store.dialect == "postgresql":
            # Every instance's sender finds a summary due at the same moment: the first
            # queues it, the others wait here and find its alerts gone (they read them as
            # held before and re-queued copies the unique story key refused, failing their
            # whole pass).
            pick = pick.with_for_update(of=alerts)
        async with self.store.transaction() as conn:
            rows = (await conn.execute(pick)).all()
            if not rows:
                return 0

            # Newest first: the watch with the newest story leads, each watch's stories
            # newest first under it.
            def newest(r: Any) -> tuple[float, int]:
                return (r.published.timestamp(), r.id)

            lead: dict[int, tuple[float, int]] = {}
            for r in rows:
                lead[r.watch_id] = max(lead.get(r.watch_id, (float("-inf"), 0)), newest(r))
            ordered = sorted(
                rows,
                key=lambda r: (
                    tuple(-x for x in lead[r.watch_id]),
                    r.watch_id,
                    tuple(-x for x in newest(r)),
                ),
            )
            await conn.execute(delete(alerts).where(alerts.c.id.in_([r.id for r in rows])))
            columns = [c.name for c in alerts.columns if c.name != "id"]
            fresh = []
            for r in ordered:
                values = {c: getattr(r, c) for c in columns}
                values.update(
                    state="pending",
                    hold=None,
                    held_at=None,
                    digest=heading,
                    created_at=now,
                    next_attempt_at=now,
                    attempts=0,
                    maybe_sent=False,
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                )
                fresh.append(values)
            await conn.execute(insert(alerts), fresh)
            return len(fresh)


def _channel_from_row(row: Any) -> ChannelControls:
    return ChannelControls(
        digest=Digest(row.digest),
        digest_at=_clock(row.digest_at),
        digest_tz=row.digest_tz,
        quiet_start=_clock(row.quiet_start),
        quiet_end=_clock(row.quiet_end),
        quiet_tz=row.quiet_tz,
        snoozed_until=row.snoozed_until,
        threads=bool(row.threads),
        template=row.template,
    )
