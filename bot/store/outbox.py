"""The outbox in the database: alerts waiting to be sent, leased, marked sent or dead, and
the posts (messages) a story's later coverage edits. The sender (:mod:`bot.core.delivery`)
drives it; every state change is one transaction, so a crash or a second instance never
loses an alert or sends one twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.alerts import StoryArticle, news_of_their_own, other_outlets
from bot.core.models import Alert, DeadLetter
from bot.store.ingest import STORY_LOCK_KEY
from bot.store.schema import alerts, articles, feeds, notices, posts, watches
from bot.store.visibility import READER, visible_feeds, with_reader


class Outbox:
    """The outbox half of :class:`bot.store.store.Store` (a mixin over its engine)."""

    engine: AsyncEngine
    dialect: str

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError  # pragma: no cover  (Store provides it)

    def _insert(self, table: Any) -> Any:
        raise NotImplementedError  # pragma: no cover  (Store provides it)

    async def pending_destinations(self, now: datetime) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(alerts.c.destination)
                .where(
                    alerts.c.state == "pending",
                    alerts.c.next_attempt_at <= now,
                    or_(alerts.c.lease_until.is_(None), alerts.c.lease_until < now),
                )
                .distinct()
            )
            return [r[0] for r in rows]

    async def claim_outbox(
        self,
        *,
        destination: str,
        owner: str,
        now: datetime,
        lease: timedelta,
        batch: int,
        burst_threshold: int,
        digest_batch: int = 10,
        gated: Set[int] | None = None,
    ) -> tuple[list[Alert], bool]:
        """Lease the OLDEST pending alerts of one destination, in order.

        One alert normally; up to ``batch`` when more than ``burst_threshold`` are queued
        (the notifier condenses them into one message). Only a prefix in id order is
        claimed, so per-channel order holds; if the oldest row is leased elsewhere or not
        yet due, nothing is claimed. Returns (alerts, maybe_sent).

        While an attempt's outcome is unknown ("maybe sent"), exactly that batch is claimed
        again, never regrouped: the platform's duplicate check (Discord nonce, Slack
        metadata) is keyed on the batch's first alert, so a resend that found the earlier
        message must stand for the same alerts, or those added since would be marked sent
        unposted.

        ``gated``: the new alerts (never attempted, no summary) a channel's controls let
        through in this pass; one queued since the gate ran is not claimed, nor anything
        after it, until the next pass gates it (a digest channel would get it at once).
        """

        def cleared(alert_id: int, attempts: int, digest: str | None) -> bool:
            return gated is None or attempts > 0 or digest is not None or alert_id in gated

        async with self.transaction() as conn:
            unsure = select(alerts.c.id, alerts.c.next_attempt_at, alerts.c.lease_until).where(
                alerts.c.destination == destination,
                alerts.c.state == "pending",
                alerts.c.maybe_sent.is_(True),
            )
            if self.dialect == "postgresql":
                unsure = unsure.with_for_update()
            earlier = (await conn.execute(unsure.order_by(alerts.c.id))).all()
            if earlier:
                if any(
                    r.next_attempt_at > now or (r.lease_until is not None and r.lease_until >= now)
                    for r in earlier
                ):
                    return [], False
                same = [r.id for r in earlier]
                await conn.execute(
                    update(alerts)
                    .where(alerts.c.id.in_(same))
                    .values(lease_owner=owner, lease_until=now + lease)
                )
                return (await self._alerts_by_ids(conn, same))[0], True
            await self._fold_into_sent(conn, destination, now)
            queued = (
                await conn.execute(
                    select(func.count())
                    .select_from(alerts)
                    .where(alerts.c.destination == destination, alerts.c.state == "pending")
                )
            ).scalar_one()
            pick = (
                select(
                    alerts.c.id,
                    alerts.c.next_attempt_at,
                    alerts.c.lease_until,
                    alerts.c.digest,
                    alerts.c.attempts,
                )
                .where(alerts.c.destination == destination, alerts.c.state == "pending")
                .order_by(alerts.c.id)
                .limit(max(batch, digest_batch))
            )
            if self.dialect == "postgresql":
                # Serialise claimers of the same channel so order holds across instances.
                pick = pick.with_for_update()
            rows = (await conn.execute(pick)).all()
            # A summary's alerts go together (a digest page); others alone, or condensed
            # during a burst.
            heading = rows[0].digest if rows else None
            take = digest_batch if heading else (batch if queued > burst_threshold else 1)
            ids: list[int] = []
            for r in rows[:take]:
                if r.next_attempt_at > now or (r.lease_until is not None and r.lease_until >= now):
                    break
                if r.digest != heading or not cleared(r.id, r.attempts, r.digest):
                    break
                ids.append(r.id)
            if not ids:
                return [], False
            # Other watches' alerts for the same story ride along: one message per story.
            stories = select(alerts.c.story_key).where(alerts.c.id.in_(ids)).scalar_subquery()
            siblings = await conn.execute(
                select(alerts.c.id, alerts.c.attempts, alerts.c.digest).where(
                    alerts.c.destination == destination,
                    alerts.c.state == "pending",
                    alerts.c.story_key.in_(stories),
                    alerts.c.id.not_in(ids),
                    alerts.c.digest.is_(None) if heading is None else alerts.c.digest == heading,
                    alerts.c.next_attempt_at <= now,
                    or_(alerts.c.lease_until.is_(None), alerts.c.lease_until < now),
                )
            )
            ids.extend(r.id for r in siblings if cleared(r.id, r.attempts, r.digest))
            await conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + lease)
            )
            found = await self._alerts_by_ids(conn, ids)
            return found[0], any(found[1])

    async def _fold_into_sent(self, conn: AsyncConnection, destination: str, now: datetime) -> None:
        """A pending alert whose story this destination was sent since it was queued joins
        that story's message, as one queued after the send does (see
        :func:`bot.store.ingest.fold_into_posts`): an alert released from waiting for
        outlets, held for a summary, or queued while the story's first send was unsure,
        would otherwise post the story a second time."""
        sent = alerts.alias("sent")
        free = or_(alerts.c.lease_until.is_(None), alerts.c.lease_until < now)
        rows = (
            await conn.execute(
                select(alerts.c.id, func.min(sent.c.message_id).label("message_id"))
                .join(
                    sent,
                    and_(
                        sent.c.destination == alerts.c.destination,
                        sent.c.story_key == alerts.c.story_key,
                        sent.c.state == "sent",
                        sent.c.message_id.is_not(None),
                    ),
                )
                .where(
                    alerts.c.destination == destination,
                    alerts.c.state == "pending",
                    alerts.c.maybe_sent.is_(False),
                    free,
                )
                .group_by(alerts.c.id)
            )
        ).all()
        for row in rows:
            joined = await conn.execute(
                update(alerts)
                .where(alerts.c.id == row.id, alerts.c.state == "pending", free)
                .values(state="sent", sent_at=now, message_id=row.message_id)
            )
            if joined.rowcount:
                await conn.execute(
                    update(posts)
                    .where(posts.c.destination == destination, posts.c.message_id == row.message_id)
                    .values(revision=posts.c.revision + 1)
                )

    async def _alerts_by_ids(
        self, conn: AsyncConnection, ids: Sequence[int]
    ) -> tuple[list[Alert], list[bool]]:
        q = (
            select(
                alerts,
                articles.c.title,
                articles.c.url,
                articles.c.source,
                articles.c.summary,
                articles.c.published,
                articles.c.published_known,
                articles.c.image_url,
                articles.c.updated_at.label("article_updated_at"),
                watches.c.query,
                watches.c.name.label("watch_name"),
                watches.c.mention,
                feeds.c.url.label("feed_url"),
                # The workspace of the channel: its coverage names only what it may read.
                READER,
            )
            .select_from(
                with_reader(
                    alerts.join(articles, articles.c.id == alerts.c.article_id)
                    .join(watches, watches.c.id == alerts.c.watch_id)
                    .outerjoin(feeds, feeds.c.id == articles.c.feed_id)
                )
            )
            .where(alerts.c.id.in_(list(ids)))
            .order_by(alerts.c.id)
        )
        rows = (await conn.execute(q)).all()
        others: dict[tuple[str | None, str], list[StoryArticle]] = {}
        for reader in {r.reader for r in rows}:
            stories = {r.story_key for r in rows if r.reader == reader}
            conds = [articles.c.story_key.in_(stories)]
            if reader is not None:
                conds.append(visible_feeds(reader))
            for s in await conn.execute(
                select(
                    articles.c.story_key,
                    articles.c.source,
                    articles.c.url,
                    articles.c.title,
                    articles.c.summary,
                )
                .select_from(articles.outerjoin(feeds, feeds.c.id == articles.c.feed_id))
                .where(*conds)
                .order_by(articles.c.id)
            ):
                others.setdefault((reader, s.story_key), []).append(
                    StoryArticle(s.source, s.title, s.summary, s.url)
                )
        # One story's alerts (a watch per destination) share their article: worked out once.
        further: dict[tuple[str | None, str], tuple[tuple[str, str, str], ...]] = {}
        out: list[Alert] = []
        for r in rows:
            story = others.get((r.reader, r.story_key), [])
            also, coverage = other_outlets(r.source, r.url, [(s.source, s.url) for s in story])
            if (r.reader, r.url) not in further:
                alerted = StoryArticle(r.source, r.title, r.summary, r.url)
                further[(r.reader, r.url)] = (
                    news_of_their_own(alerted, story) if len(story) > 1 else ()
                )
            out.append(
                Alert(
                    id=r.id,
                    destination=r.destination,
                    watch_id=r.watch_id,
                    watch_query=r.query,
                    watch_name=r.watch_name,
                    title=r.title,
                    url=r.url,
                    source=r.source,
                    summary=r.summary,
                    published=r.published if r.published_known else None,
                    matched=tuple(json.loads(r.matched)),
                    story_key=r.story_key,
                    feed_url=r.feed_url or "",
                    created_at=r.created_at,
                    also_reported_by=also,
                    image_url=r.image_url,
                    mention=r.mention,
                    updated=r.article_updated_at is not None,
                    coverage=coverage,
                    further=further[(r.reader, r.url)],
                    digest=r.digest,
                )
            )
        return out, [bool(r.maybe_sent) for r in rows]

    async def alerts_by_ids(self, ids: Sequence[int]) -> list[Alert]:
        async with self.engine.connect() as conn:
            return (await self._alerts_by_ids(conn, ids))[0]

    async def renew_lease(self, ids: Sequence[int], *, owner: str, until: datetime) -> int:
        """Extend ``owner``'s lease on these alerts while their send runs; returns how many
        it still held."""
        async with self.transaction() as conn:
            result = await conn.execute(
                update(alerts)
                .where(
                    alerts.c.id.in_(list(ids)),
                    alerts.c.lease_owner == owner,
                    alerts.c.state == "pending",
                )
                .values(lease_until=until)
            )
            return int(result.rowcount)

    async def renew_edit_lease(
        self, post_ids: Sequence[int], *, owner: str, until: datetime
    ) -> int:
        """Extend ``owner``'s lease on these posts while their edits run; returns how many
        it still held."""
        async with self.transaction() as conn:
            result = await conn.execute(
                update(posts)
                .where(posts.c.id.in_(list(post_ids)), posts.c.lease_owner == owner)
                .values(lease_until=until)
            )
            return int(result.rowcount)

    async def mark_attempt(self, ids: Sequence[int], owner: str) -> None:
        """Record that a send is about to start: from here its outcome is unknown until
        confirmed, so a crash makes the next sender check the platform first."""
        async with self.transaction() as conn:
            await conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)), alerts.c.lease_owner == owner)
                .values(maybe_sent=True, attempts=alerts.c.attempts + 1)
            )

    async def mark_sent(
        self,
        ids: Sequence[int],
        *,
        message_id: str,
        now: datetime,
        owner: str | None = None,
        shown: str | None = None,
        stories_read_up_to: int | None = None,
        retitles_read_up_to: int | None = None,
    ) -> None:
        async with self.transaction() as conn:
            if stories_read_up_to is not None and self.dialect == "postgresql":
                # Story assignment and retitling hold this lock until they commit, so an
                # article or a headline of these stories is either visible below or finds
                # these alerts sent and marks their post itself (``touch_posts``). On
                # SQLite the update below takes the one write lock first, to the same
                # effect.
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": STORY_LOCK_KEY}
                )
            await conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)))
                .values(
                    state="sent",
                    sent_at=now,
                    message_id=message_id,
                    maybe_sent=False,
                    lease_owner=None,
                    lease_until=None,
                    last_error=None,
                )
            )
            destination = (
                await conn.execute(select(alerts.c.destination).where(alerts.c.id == ids[0]))
            ).scalar_one_or_none()
            if destination is None or not message_id:
                return
            # An article of these stories stored, or retitled, while the message was on
            # its way found no sent alert to mark for an edit: the new post is marked
            # instead.
            changed = []
            if stories_read_up_to is not None:
                changed.append(articles.c.id > stories_read_up_to)
            if retitles_read_up_to is not None:
                changed.append(articles.c.retitle_stamp > retitles_read_up_to)
            grown = (
                bool(changed)
                and (
                    await conn.execute(
                        select(articles.c.id)
                        .where(
                            articles.c.story_key.in_(
                                select(alerts.c.story_key)
                                .where(alerts.c.id.in_(list(ids)))
                                .scalar_subquery()
                            ),
                            or_(*changed),
                        )
                        .limit(1)
                    )
                ).first()
                is not None
            )
            await conn.execute(
                self._insert(posts)
                .values(
                    destination=destination,
                    message_id=message_id,
                    created_at=now,
                    revision=1 if grown else 0,
                    edited_revision=0,
                    next_edit_at=now,
                    edit_attempts=0,
                    shown=shown,
                )
                .on_conflict_do_nothing()
            )

    # --- living messages: edits of posts whose story grew ---------------------------------

    def _due_edits(self, now: datetime) -> Any:
        return and_(
            posts.c.revision > posts.c.edited_revision,
            posts.c.next_edit_at <= now,
            or_(posts.c.lease_until.is_(None), posts.c.lease_until < now),
        )

    async def edit_destinations(self, now: datetime) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(posts.c.destination).where(self._due_edits(now)).distinct()
            )
            return [r[0] for r in rows]

    async def claim_edits(
        self, *, destination: str, owner: str, now: datetime, lease: timedelta, limit: int = 10
    ) -> list[tuple[int, str, int, str | None, int, str | None]]:
        """(post id, message id, revision, what it last showed, failed edits in a row, what
        it shows once its unsure thread reply is there) of this destination's messages due
        an edit."""
        async with self.transaction() as conn:
            pick = (
                select(
                    posts.c.id,
                    posts.c.message_id,
                    posts.c.revision,
                    posts.c.shown,
                    posts.c.edit_attempts,
                    posts.c.reply_pending,
                )
                .where(posts.c.destination == destination, self._due_edits(now))
                .order_by(posts.c.id)
                .limit(limit)
            )
            if self.dialect == "postgresql":
                pick = pick.with_for_update(skip_locked=True)
            rows = (await conn.execute(pick)).all()
            if rows:
                await conn.execute(
                    update(posts)
                    .where(posts.c.id.in_([r.id for r in rows]))
                    .values(lease_owner=owner, lease_until=now + lease)
                )
            return [
                (r.id, r.message_id, r.revision, r.shown, r.edit_attempts, r.reply_pending)
                for r in rows
            ]

    async def alerts_in_message(self, destination: str, message_id: str) -> list[Alert]:
        """The alerts one message carries, rebuilt with the story's current coverage."""
        async with self.engine.connect() as conn:
            ids = [
                r[0]
                for r in await conn.execute(
                    select(alerts.c.id).where(
                        alerts.c.destination == destination, alerts.c.message_id == message_id
                    )
                )
            ]
            return (await self._alerts_by_ids(conn, ids))[0] if ids else []

    async def edit_done(
        self,
        post_id: int,
        *,
        revision: int,
        now: datetime,
        next_edit_at: datetime,
        shown: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "edited_revision": revision,
            "next_edit_at": next_edit_at,
            "edit_attempts": 0,
            "last_error": None,
            "lease_owner": None,
            "lease_until": None,
            "reply_pending": None,
        }
        if shown is not None:
            values["shown"] = shown
        async with self.transaction() as conn:
            await conn.execute(update(posts).where(posts.c.id == post_id).values(**values))

    async def reply_attempt(self, post_id: int, *, pending: str) -> None:
        """A thread reply is about to be sent: from here it may be in the thread until
        confirmed, and ``pending`` (what the message and its thread then show) says which
        reply it was, so any instance, after a restart too, resends that one, checked."""
        async with self.transaction() as conn:
            await conn.execute(
                update(posts).where(posts.c.id == post_id).values(reply_pending=pending)
            )

    async def reply_confirmed(self, post_id: int, *, next_edit_at: datetime) -> None:
        """The unsure thread reply is in the thread (found, or sent now): the message shows
        what it brought; growth since is answered from ``next_edit_at``."""
        async with self.transaction() as conn:
            await conn.execute(
                update(posts)
                .where(posts.c.id == post_id, posts.c.reply_pending.is_not(None))
                .values(
                    shown=posts.c.reply_pending,
                    reply_pending=None,
                    next_edit_at=next_edit_at,
                    edit_attempts=0,
                    last_error=None,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    async def edit_failed(
        self,
        post_id: int,
        *,
        error: str,
        retry_at: datetime,
        give_up: bool,
        reply_unsure: bool = False,
    ) -> None:
        """An edit that failed is retried later; one the platform refused for good is
        dropped (the message keeps its earlier coverage). ``reply_unsure``: a thread reply
        that may be in the thread keeps its record, so its retry looks for it first."""
        values: dict[str, Any] = {
            "last_error": error,
            "next_edit_at": retry_at,
            "edit_attempts": posts.c.edit_attempts + 1,
            "lease_owner": None,
            "lease_until": None,
        }
        if give_up:
            values["edited_revision"] = posts.c.revision
        if give_up or not reply_unsure:
            values["reply_pending"] = None
        async with self.transaction() as conn:
            await conn.execute(update(posts).where(posts.c.id == post_id).values(**values))

    async def mark_retry(
        self,
        ids: Sequence[int],
        *,
        error: str,
        next_attempt_at: datetime,
        definitely_not_sent: bool,
    ) -> None:
        values: dict[str, Any] = {
            "last_error": error,
            "next_attempt_at": next_attempt_at,
            "lease_owner": None,
            "lease_until": None,
        }
        if definitely_not_sent:
            values["maybe_sent"] = False
        async with self.transaction() as conn:
            await conn.execute(update(alerts).where(alerts.c.id.in_(list(ids))).values(**values))

    async def dead_letter_expired(
        self, *, created_before: datetime
    ) -> list[tuple[str, int, str | None]]:
        """Give up on alerts queued before ``created_before``: (destination, how many, the
        newest one's last error) for each destination that had any."""
        expired = and_(alerts.c.state == "pending", alerts.c.created_at < created_before)
        async with self.transaction() as conn:
            await conn.execute(
                update(notices)
                .where(notices.c.state == "pending", notices.c.created_at < created_before)
                .values(state="dead", lease_owner=None, lease_until=None)
            )
            rows = (
                await conn.execute(
                    select(alerts.c.destination, alerts.c.last_error)
                    .where(expired)
                    .order_by(alerts.c.id)
                )
            ).all()
            if not rows:
                return []
            await conn.execute(
                update(alerts)
                .where(expired)
                .values(state="dead", lease_owner=None, lease_until=None)
            )
        found: dict[str, tuple[int, str | None]] = {}
        for r in rows:
            count, error = found.get(r.destination, (0, None))
            found[r.destination] = (count + 1, r.last_error or error)
        return [(d, n, error) for d, (n, error) in found.items()]

    async def dead_letters_queued(
        self, destination: str, *, since: datetime, until: datetime
    ) -> int:
        """Dead-lettered alerts of ``destination`` queued between ``since`` and ``until``."""
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(alerts)
                        .where(
                            alerts.c.destination == destination,
                            alerts.c.state == "dead",
                            alerts.c.created_at >= since,
                            alerts.c.created_at < until,
                        )
                    )
                ).scalar_one()
            )

    async def outbox_stats(
        self, destinations_: Sequence[str] | None = None
    ) -> tuple[int, datetime | None, int]:
        """(pending alerts, oldest pending, dead letters), over ``destinations_`` when given."""
        scope = [] if destinations_ is None else [alerts.c.destination.in_(list(destinations_))]
        async with self.engine.connect() as conn:
            depth, oldest = (
                await conn.execute(
                    select(func.count(), func.min(alerts.c.created_at)).where(
                        alerts.c.state == "pending", *scope
                    )
                )
            ).one()
            dead = (
                await conn.execute(
                    select(func.count()).select_from(alerts).where(alerts.c.state == "dead", *scope)
                )
            ).scalar_one()
            return int(depth), oldest, int(dead)

    async def pending_by_destination(self) -> dict[str, int]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(alerts.c.destination, func.count())
                .where(alerts.c.state == "pending")
                .group_by(alerts.c.destination)
            )
            return {r[0]: int(r[1]) for r in rows}

    async def dead_letters(
        self, limit: int = 20, destinations_: Sequence[str] | None = None
    ) -> list[DeadLetter]:
        """The newest dead letters (over ``destinations_`` when given), newest first."""
        scope = [] if destinations_ is None else [alerts.c.destination.in_(list(destinations_))]
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(alerts.c.id, alerts.c.destination, alerts.c.last_error, articles.c.title)
                .select_from(alerts.join(articles, articles.c.id == alerts.c.article_id))
                .where(alerts.c.state == "dead", *scope)
                .order_by(alerts.c.id.desc())
                .limit(limit)
            )
            return [DeadLetter(r.id, r.destination, r.title, r.last_error) for r in rows]

    async def dead_letter(self, ids: Sequence[int], reason: str) -> None:
        """Give up on these alerts now, recording why (the platform refused the message)."""
        async with self.transaction() as conn:
            await conn.execute(
                update(alerts)
                .where(alerts.c.id.in_(list(ids)), alerts.c.state == "pending")
                .values(
                    state="dead",
                    last_error=reason,
                    maybe_sent=False,
                    lease_owner=None,
                    lease_until=None,
                )
            )

    # --- feeds io / trend ---
