"""The store: every read and write of Wirewatch's state goes through here.

One async SQLAlchemy engine; SQLite (WAL) by default, PostgreSQL by URL, same code.
Work several instances share is claimed with leases (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL; SQLite runs one instance, guarded by a file lock in ``bot.app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import uuid
from base64 import b64decode
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine, create_engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from bot.core.alerts import AlertRow
from bot.core.articles import FUTURE_SLACK
from bot.core.decide import HELD_FIRST_POLL
from bot.core.errors import QuotaError
from bot.core.intents import AppliedIngest, IngestPlan, Placement, PlacementFacts
from bot.core.models import (
    DestinationState,
    DestinationStatus,
    FeedHealth,
    FeedInfo,
    WatchInfo,
)
from bot.core.notices import Notice
from bot.core.refs import id_of
from bot.core.storeport import GLOBAL_SOURCES, FeedRow, Target, WatchRow
from bot.store import ingest
from bot.store.controls import ControlsStore
from bot.store.migrate import upgrade_to_head
from bot.store.outbox import Outbox
from bot.store.schema import (
    alerts,
    articles,
    destinations,
    feed_owners,
    feeds,
    meta,
    notices,
    seen_items,
    subscriptions,
    watches,
)
from bot.store.visibility import reach_of, visible_feeds

log = logging.getLogger(__name__)

T = TypeVar("T")


# The columns a FeedRow is made of: a cycle claims every feed, and reading whole rows
# parsed five more timestamps per feed that nobody looked at.
_FEED_ROW = (
    feeds.c.id,
    feeds.c.url,
    feeds.c.name,
    feeds.c.interval,
    feeds.c.etag,
    feeds.c.last_modified,
    feeds.c.body_hash,
    feeds.c.entry_prints,
    feeds.c.seeded,
    feeds.c.consecutive_failures,
    feeds.c.error_since,
    feeds.c.last_error,
    feeds.c.failing_notified,
    feeds.c.source,
    feeds.c.moved_to,
    feeds.c.ttl_seconds,
    feeds.c.max_age,
)


def _feed_row(r: Any, reach: tuple[str, ...] | None = None) -> FeedRow:
    return FeedRow(
        id=r.id,
        url=r.url,
        name=r.name,
        interval=r.interval,
        etag=r.etag,
        last_modified=r.last_modified,
        body_hash=r.body_hash,
        seeded=r.seeded,
        consecutive_failures=r.consecutive_failures,
        error_since=r.error_since,
        last_error=r.last_error,
        failing_notified=r.failing_notified,
        source=r.source,
        reach=reach,
        entry_prints=b64decode(r.entry_prints) if r.entry_prints else b"",
        moved_to=r.moved_to,
        ttl_seconds=r.ttl_seconds,
        max_age=r.max_age,
    )


def _claimed_rows(rows: Sequence[Any], owners: dict[int, list[str]]) -> list[FeedRow]:
    """Claimed feeds' rows, each with the workspaces its items may reach."""
    return [_feed_row(r, reach_of(r.source, owners.get(r.id))) for r in rows]


def _feed_info(r: Any, failing_after: int) -> FeedInfo:
    if r.consecutive_failures >= failing_after:
        health = FeedHealth.FAILING
    elif r.consecutive_failures > 0:
        health = FeedHealth.RETRYING
    elif r.last_success_at is None:
        health = FeedHealth.NEW
    else:
        health = FeedHealth.OK
    return FeedInfo(
        id=r.id,
        url=r.url,
        name=r.name,
        interval_seconds=r.interval,
        health=health,
        last_success_at=r.last_success_at,
        last_error=r.last_error,
        error_since=r.error_since,
        consecutive_failures=r.consecutive_failures,
        next_poll_at=r.next_poll_at,
        source=r.source,
        moved_to=r.moved_to,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def create_engine_for(url: str) -> AsyncEngine:
    """An async engine for ``url``; SQLite files get WAL and their folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def new_feed_row(
    url: str,
    *,
    name: str | None,
    interval: int,
    source: str,
    now: datetime,
    added_by: str | None = None,
) -> dict[str, Any]:
    """Column values of a feed seen for the first time: due at once, not yet seeded."""
    return {
        "url": url,
        "name": name,
        "interval": interval,
        "source": source,
        "added_by": added_by,
        "active": True,
        "seeded": False,
        "consecutive_failures": 0,
        "failing_notified": False,
        "items_seen": 0,
        "created_at": now,
        "next_poll_at": now,
    }


def sync_sqlite_engine(engine: AsyncEngine) -> Engine | None:
    """A stdlib-sqlite3 engine on the same file, for batch writes in one writer thread.

    Its one connection stays open between batches: a connection per batch re-ran the
    pragmas, re-read the schema and started with a cold page cache, every batch (~0.3 s
    of CPU in an all-304 cycle of 10,000 feeds). No statement cache: a cached statement
    keeps the bound parameters of its last run, and a seeding poll's JSON arrays run to
    megabytes (+12 MB resident, measured). Only the writer thread uses the connection;
    ``check_same_thread`` is off so that ``dispose`` may close it from the loop's thread.
    """
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    sync = create_engine(
        url.set(drivername="sqlite"),
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=0,
        connect_args={"check_same_thread": False, "cached_statements": 0},
    )
    event.listen(sync, "connect", _sqlite_pragmas)
    return sync


# An article row as the commands read it: every column, and its feed's URL.
_ARTICLE_ROW = (articles, feeds.c.url.label("feed_url"))
_WITH_FEED = articles.outerjoin(feeds, feeds.c.id == articles.c.feed_id)
_ARTICLE_ROW_BRIEF = (
    *(c for c in articles.c if c.name != "content"),
    literal("").label("content"),
    feeds.c.url.label("feed_url"),
)
# bot.core.listing.undated_backlog in SQL (held_reason is NULL for most articles).
UNDATED_BACKLOG = and_(
    ~articles.c.published_known, func.coalesce(articles.c.held_reason, "") == HELD_FIRST_POLL
)
# bot.core.listing.listing_rank, newest first: a new feed's undated backlog after every
# other article; by publication time; the later stored first, but within the backlog in
# the feed's order.
LISTING_ORDER = (
    case((UNDATED_BACKLOG, 1), else_=0),
    articles.c.published.desc(),
    case((UNDATED_BACKLOG, articles.c.id), else_=-articles.c.id),
)


class Store(Outbox):
    """Async access to Wirewatch's tables. Construct with :meth:`open`."""

    def __init__(self, engine: AsyncEngine, *, failing_after: int = 3) -> None:
        self.engine = engine
        self.failing_after = failing_after
        self.dialect = engine.dialect.name
        self._lease_takeovers = 0
        self._sync_engine = sync_sqlite_engine(engine)
        # One writer thread: SQLite takes one writer at a time anyway, and the thread keeps
        # the engine's one connection to itself.
        self._write_lock = asyncio.Lock()
        # Adds of feeds counted against a workspace's quota, one at a time in this process
        # (SQLite's transactions may interleave their reads; PostgreSQL's instances also
        # take an advisory lock per workspace).
        self._quota_lock = asyncio.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self.controls = ControlsStore(self)

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` (synchronous SQLAlchemy calls) in ONE transaction.

        SQLite: in a worker thread on the stdlib driver, so a batch of statements costs one
        thread hop instead of one per statement. PostgreSQL: inside the async engine.
        """
        if self._sync_engine is not None:
            sync_engine = self._sync_engine

            def in_thread() -> T:
                with sync_engine.begin() as conn:
                    return work(conn)

            async with self._write_lock:
                if self._writer is None:
                    self._writer = ThreadPoolExecutor(1, thread_name_prefix="wirewatch-writer")
                call = functools.partial(contextvars.copy_context().run, in_thread)
                return await asyncio.get_running_loop().run_in_executor(self._writer, call)
        async with self.engine.begin() as conn:
            return await conn.run_sync(work)

    # ---- ingest -------------------------------------------------------------------------

    async def seen_keys(
        self, keys_by_feed: Mapping[int, Sequence[str]]
    ) -> dict[tuple[int, str], str | None]:
        """The (feed id, key) pairs already seen, with the headline note kept with each.

        Read outside the batch's write transaction: a feed's seen keys only change under
        its lease, which this instance holds until the batch is recorded."""
        if not any(keys_by_feed.values()):
            return {}
        return await self.run_write(lambda conn: ingest.seen_keys_many(conn, keys_by_feed))

    async def max_article_id(self) -> int:
        """The newest stored article's id (0 when none)."""
        return await self.run_write(ingest.max_article_id)

    async def retitles_stamp(self) -> int:
        """How many transactions have retitled articles, by any instance (0: none yet)."""
        return await self.run_write(ingest.retitles_stamp)

    async def apply_ingest(
        self, plan: IngestPlan, place: Callable[[PlacementFacts], Placement]
    ) -> AppliedIngest:
        """Record a polled batch's plan in ONE transaction (``bot.core.storeport``)."""
        return await self.run_write(lambda conn: ingest.apply_plan(conn, plan, place))

    async def make_all_due(self, now: datetime) -> None:
        """Every active feed becomes due by ``now``. A feed already due earlier keeps its
        time: another instance doing the same a moment later must not push it past this
        instance's cycle start (it would then find nothing due)."""
        async with self.transaction() as conn:
            await conn.execute(
                update(feeds)
                .where(
                    feeds.c.active.is_(True),
                    or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at > now),
                )
                .values(next_poll_at=now)
            )

    async def count_leased_elsewhere(self, owner: str, now: datetime) -> int:
        """Active feeds another instance holds a live lease on (it is polling them): what a
        forced poll of everything skips."""
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(feeds)
                        .where(
                            feeds.c.active.is_(True),
                            feeds.c.lease_owner.is_not(None),
                            feeds.c.lease_owner != owner,
                            feeds.c.lease_until >= now,
                        )
                    )
                ).scalar_one()
            )

    def take_lease_takeovers(self) -> int:
        """Feeds claimed from an instance whose lease had expired, since the last call."""
        n, self._lease_takeovers = self._lease_takeovers, 0
        return n

    @classmethod
    async def open(cls, url: str, *, failing_after: int = 3, migrate: bool = True) -> Store:
        engine = create_engine_for(url)
        if migrate:
            await upgrade_to_head(engine)
        return cls(engine, failing_after=failing_after)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.begin() as conn:
            yield conn

    def _insert(self, table: Any) -> Any:
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    # ---- meta ---------------------------------------------------------------------------

    async def set_meta(self, key: str, value: str) -> None:
        async with self.transaction() as conn:
            stmt = self._insert(meta).values(key=key, value=value)
            await conn.execute(
                stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value})
            )

    async def get_meta(self, key: str) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(select(meta.c.value).where(meta.c.key == key))
            ).scalar_one_or_none()

    async def watches_stamp(self) -> str | None:
        """A token that changes with every change of the watches or their subscriptions,
        by any instance: one row read, where reading every watch costs ~0.1 s at 10,000."""
        return await self.get_meta(WATCHES_STAMP)

    # ---- feeds --------------------------------------------------------------------------

    async def upsert_feed(
        self,
        url: str,
        *,
        name: str | None,
        interval: int,
        source: str,
        now: datetime,
        added_by: str | None = None,
        tenant: str | None = None,
        tenant_max: int | None = None,
        watch_search: bool = False,
    ) -> FeedInfo:
        """Add (or reactivate) a feed; with ``tenant``, record that workspace as an owner,
        refusing (QuotaError) when it would own more than ``tenant_max`` feeds: counted in
        the writing transaction, so adds sent at once cannot each find room.
        ``watch_search``: the workspace owns it only as its watches' Google News search."""
        counted = tenant is not None and tenant_max is not None
        async with (
            self._quota_lock if counted else contextlib.nullcontext(),
            self.transaction() as conn,
        ):
            if tenant is not None and tenant_max is not None:
                await self._check_room(conn, tenant, url, tenant_max)
            row = (await conn.execute(select(feeds).where(feeds.c.url == url))).first()
            if row is None:
                await conn.execute(
                    insert(feeds).values(
                        new_feed_row(
                            url,
                            name=name,
                            interval=interval,
                            source=source,
                            now=now,
                            added_by=added_by,
                        )
                    )
                )
            else:
                values: dict[str, Any] = {"active": True}
                if not row.active:
                    # A feed brought back takes its new adder's terms.
                    values.update(interval=interval, source=source, added_by=added_by)
                    if row.source == "user" and source == "user":
                        await conn.execute(
                            delete(feed_owners).where(feed_owners.c.feed_id == row.id)
                        )
                elif source in GLOBAL_SOURCES and row.source == "user":
                    values["source"] = source  # the operator takes it over for everyone
                # A workspace joining a feed others read keeps its name: the row is shared,
                # and its name is the source shown in their alerts.
                if name and (not row.active or source in GLOBAL_SOURCES or not row.name):
                    values["name"] = name
                await conn.execute(update(feeds).where(feeds.c.id == row.id).values(**values))
            row = (await conn.execute(select(feeds).where(feeds.c.url == url))).one()
            if tenant is not None:
                await conn.execute(
                    self._insert(feed_owners)
                    .values(
                        feed_id=row.id,
                        tenant=tenant,
                        added_by=added_by,
                        created_at=now,
                        watch_search=watch_search,
                    )
                    .on_conflict_do_nothing()
                )
            return _feed_info(row, self.failing_after)

    async def feed_tenants(self, feed_id: int) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(feed_owners.c.tenant).where(feed_owners.c.feed_id == feed_id)
            )
            return sorted(r[0] for r in rows)

    async def remove_feed_owner(
        self, feed_id: int, tenant: str, *, watch_search_only: bool = False
    ) -> bool:
        """Drop a workspace's claim on a feed; a chat feed nobody owns any more stops being
        read. Returns whether the feed was deactivated. ``watch_search_only``: only a claim
        held as its watches' Google News search (a feed it added itself stays)."""
        async with self.transaction() as conn:
            mine = [feed_owners.c.feed_id == feed_id, feed_owners.c.tenant == tenant]
            if watch_search_only:
                mine.append(feed_owners.c.watch_search.is_(True))
            dropped = await conn.execute(delete(feed_owners).where(*mine))
            if watch_search_only and not dropped.rowcount:
                return False
            left = (
                await conn.execute(
                    select(func.count())
                    .select_from(feed_owners)
                    .where(feed_owners.c.feed_id == feed_id)
                )
            ).scalar_one()
            if left:
                return False
            result = await conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_id, feeds.c.source == "user")
                .values(active=False)
            )
            return bool(result.rowcount)

    async def _check_room(
        self, conn: AsyncConnection, tenant: str, url: str, tenant_max: int
    ) -> None:
        if conn.dialect.name == "postgresql":
            # Instances adding for one workspace take turns (SQLite has one writer anyway).
            await conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:tenant))"), {"tenant": tenant}
            )
        owned = (
            select(feed_owners.c.feed_id)
            .join(feeds, feeds.c.id == feed_owners.c.feed_id)
            .where(feed_owners.c.tenant == tenant, feeds.c.active.is_(True))
        )
        ids = {r[0] for r in await conn.execute(owned)}
        here = (await conn.execute(select(feeds.c.id).where(feeds.c.url == url))).first()
        if (here is None or here[0] not in ids) and len(ids) >= tenant_max:
            raise QuotaError(
                f"this workspace has {len(ids)} feeds, the most allowed; remove one first"
            )

    async def count_tenant_feeds(self, tenant: str) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(feed_owners.join(feeds, feeds.c.id == feed_owners.c.feed_id))
                        .where(feed_owners.c.tenant == tenant, feeds.c.active.is_(True))
                    )
                ).scalar_one()
            )

    async def sync_config(
        self,
        *,
        feeds_: Sequence[tuple[str, str | None, int]],
        watches_: Sequence[tuple[str, str | None, str | None, bool, Sequence[str], bool]],
        now: datetime,
        renamed: Mapping[str, str] | None = None,
    ) -> None:
        """Make config feeds (url, name, interval) and config watches (query, name, mention,
        use_defaults, channels, google_news) match, in one transaction with a few
        statements: a config of thousands of feeds and watches starts in seconds. Chat-made
        items are untouched; an unsubscribe made in chat survives (existing subscription
        rows are kept).

        ``renamed`` (old URL -> new) moves a config feed whose address this version
        writes otherwise (a watch's search feed) to the new one, with what it has seen, so
        nothing it carried alerts again and nothing new is taken for a first poll's
        backlog; its conditional-GET validators belonged to the old address."""

        def write(conn: Connection) -> None:
            ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(_stamp_watches(conn.dialect.name))
            for old_url, new_url in (renamed or {}).items():
                if old_url == new_url:
                    continue
                taken = conn.execute(select(feeds.c.id).where(feeds.c.url == new_url)).first()
                if taken is None:
                    conn.execute(
                        update(feeds)
                        .where(feeds.c.url == old_url, feeds.c.source == "config")
                        .values(url=new_url, etag=None, last_modified=None, body_hash=None)
                    )
            urls = [u for u, _, _ in feeds_]
            if feeds_:
                stmt = ins(feeds)
                conn.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[feeds.c.url],
                        set_={
                            "active": True,
                            "interval": stmt.excluded.interval,
                            "name": func.coalesce(stmt.excluded.name, feeds.c.name),
                        },
                    ),
                    [
                        new_feed_row(u, name=n, interval=i, source="config", now=now)
                        for u, n, i in feeds_
                    ],
                )
            conn.execute(
                update(feeds)
                .where(feeds.c.source == "config", feeds.c.url.not_in(urls))
                .values(active=False)
            )
            existing = {
                (r.query, r.name): r.id
                for r in conn.execute(
                    select(watches.c.id, watches.c.query, watches.c.name).where(
                        watches.c.origin == "config"
                    )
                )
            }
            wanted = {(q, n) for q, n, *_ in watches_}
            stale = [i for key, i in existing.items() if key not in wanted]
            if stale:
                conn.execute(update(watches).where(watches.c.id.in_(stale)).values(active=False))
            known = [w for w in watches_ if (w[0], w[1]) in existing]
            if known:
                conn.execute(
                    update(watches)
                    .where(watches.c.id == bindparam("b_id"))
                    .values(
                        active=True,
                        mention=bindparam("b_mention"),
                        use_defaults=bindparam("b_defaults"),
                        google_news=bindparam("b_google_news"),
                    ),
                    [
                        {
                            "b_id": existing[(q, n)],
                            "b_mention": m,
                            "b_defaults": d,
                            "b_google_news": g,
                        }
                        for q, n, m, d, _, g in known
                    ],
                )
            new = [w for w in watches_ if (w[0], w[1]) not in existing]
            if new:
                rows = conn.execute(
                    insert(watches).returning(
                        watches.c.id, watches.c.query, watches.c.name, sort_by_parameter_order=True
                    ),
                    [
                        {
                            "query": q,
                            "name": n,
                            "origin": "config",
                            "mention": m,
                            "use_defaults": d,
                            "google_news": g,
                            "active": True,
                            "hits": 0,
                            "created_at": now,
                        }
                        for q, n, m, d, _, g in new
                    ],
                )
                for r in rows:
                    existing[(r.query, r.name)] = r.id
            subs = [
                {
                    "watch_id": existing[(q, n)],
                    "destination": dest,
                    "active": True,
                    "created_at": now,
                }
                for q, n, _, _, channels, _ in watches_
                for dest in channels
            ]
            if subs:
                conn.execute(ins(subscriptions).on_conflict_do_nothing(), subs)

        await self.run_write(write)

    async def list_feeds(self, *, visible_to: str | None = None) -> list[FeedInfo]:
        """Active feeds; with ``visible_to``, only those that workspace may see."""
        conds = [feeds.c.active.is_(True)]
        if visible_to is not None:
            conds.append(visible_feeds(visible_to))
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(feeds).where(*conds).order_by(feeds.c.id))
            return [_feed_info(r, self.failing_after) for r in rows]

    async def find_feed(self, ref: str, *, visible_to: str | None = None) -> FeedInfo | None:
        cond = feeds.c.url == ref
        feed_id = id_of(ref)
        if feed_id is not None:
            cond = or_(cond, feeds.c.id == feed_id)
        conds = [cond, feeds.c.active.is_(True)]
        if visible_to is not None:
            conds.append(visible_feeds(visible_to))
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(feeds).where(*conds))).first()
            return None if row is None else _feed_info(row, self.failing_after)

    async def deactivate_feed(self, feed_id: int) -> None:
        async with self.transaction() as conn:
            await conn.execute(update(feeds).where(feeds.c.id == feed_id).values(active=False))

    async def claim_feeds(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        due_only: bool = True,
        due_by: datetime | None = None,
    ) -> list[FeedRow]:
        """Lease up to ``limit`` active feeds (due ones unless ``due_only`` is False) for
        ``lease`` from ``now``; due means due by ``due_by`` (``now`` if not given).

        A feed leased by another live instance is skipped; an expired lease is taken over.
        """
        due_by = due_by or now
        conds = [
            feeds.c.active.is_(True),
            or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now),
        ]
        if due_only:
            conds.append(or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= due_by))
        pick = (
            select(feeds.c.id)
            .where(and_(*conds))
            .order_by(feeds.c.next_poll_at, feeds.c.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)

        # SQLite: one writer call (one thread hop, not one aiosqlite round trip per
        # statement): a cycle claims every feed, 500 at a time, and the claim was a
        # quarter of a cycle's event-loop time.
        def claim(conn: Connection) -> tuple[int, list[FeedRow]]:
            picked = conn.execute(pick.add_columns(feeds.c.lease_owner)).all()
            ids = [r[0] for r in picked]
            if not ids:
                return 0, []
            takeovers = sum(1 for r in picked if r[1] not in (None, owner))
            conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + lease)
            )
            rows = conn.execute(select(*_FEED_ROW).where(feeds.c.id.in_(ids))).all()
            owners: dict[int, list[str]] = {}
            for o in conn.execute(
                select(feed_owners.c.feed_id, feed_owners.c.tenant).where(
                    feed_owners.c.feed_id.in_(ids)
                )
            ):
                owners.setdefault(o.feed_id, []).append(o.tenant)
            return takeovers, _claimed_rows(rows, owners)

        if self._sync_engine is not None:
            takeovers, claimed = await self.run_write(claim)
            self._lease_takeovers += takeovers
            return claimed
        # PostgreSQL: statement by statement on the event loop, as before; instances share
        # the due feeds by taking turns between these awaits (SKIP LOCKED).
        async with self.transaction() as conn:
            picked = (await conn.execute(pick.add_columns(feeds.c.lease_owner))).all()
            ids = [r[0] for r in picked]
            if not ids:
                return []
            self._lease_takeovers += sum(1 for r in picked if r[1] not in (None, owner))
            await conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + lease)
            )
            rows = (await conn.execute(select(*_FEED_ROW).where(feeds.c.id.in_(ids)))).all()
            owners: dict[int, list[str]] = {}
            for o in await conn.execute(
                select(feed_owners.c.feed_id, feed_owners.c.tenant).where(
                    feed_owners.c.feed_id.in_(ids)
                )
            ):
                owners.setdefault(o.feed_id, []).append(o.tenant)
            return _claimed_rows(rows, owners)

    async def release_all_leases(self) -> None:
        """Drop every lease: only for a database one instance owns (SQLite with its lock),
        so a restart after a crash resumes at once instead of waiting for expiry."""
        async with self.transaction() as conn:
            await conn.execute(update(feeds).values(lease_owner=None, lease_until=None))
            await conn.execute(
                update(alerts)
                .where(alerts.c.lease_owner.is_not(None))
                .values(lease_owner=None, lease_until=None)
            )

    async def release_feeds(self, owner: str, ids: Sequence[int]) -> None:
        async with self.transaction() as conn:
            await conn.execute(
                update(feeds)
                .where(feeds.c.id.in_(list(ids)), feeds.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    # ---- watches and subscriptions ----------------------------------------------------------

    async def add_watch(
        self,
        *,
        query: str,
        name: str | None,
        origin: str,
        now: datetime,
        owner: str | None = None,
        tenant: str | None = None,
        created_by: str | None = None,
        mention: str | None = None,
        use_defaults: bool = False,
        destinations_: Sequence[str] = (),
        google_news: bool = False,
    ) -> int:
        async with self.transaction() as conn:
            result = await conn.execute(
                insert(watches).values(
                    query=query,
                    name=name,
                    origin=origin,
                    owner=owner,
                    tenant=tenant,
                    created_by=created_by,
                    mention=mention,
                    use_defaults=use_defaults,
                    google_news=google_news,
                    active=True,
                    hits=0,
                    created_at=now,
                )
            )
            watch_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            await conn.execute(_stamp_watches(conn.dialect.name))
            for dest in destinations_:
                await conn.execute(
                    insert(subscriptions).values(
                        watch_id=watch_id,
                        destination=dest,
                        active=True,
                        created_at=now,
                        tenant=tenant,
                    )
                )
            return watch_id

    async def update_watch(self, watch_id: int, **values: Any) -> None:
        async with self.transaction() as conn:
            await conn.execute(update(watches).where(watches.c.id == watch_id).values(**values))
            await conn.execute(_stamp_watches(conn.dialect.name))

    async def count_owned_watches(self, owner: str) -> int:
        async with self.engine.connect() as conn:
            return int(
                (
                    await conn.execute(
                        select(func.count())
                        .select_from(watches)
                        .where(watches.c.owner == owner, watches.c.active.is_(True))
                    )
                ).scalar_one()
            )

    async def set_subscription(
        self,
        watch_id: int,
        destination: str,
        active: bool,
        now: datetime,
        *,
        tenant: str | None = None,
    ) -> bool:
        """Set a subscription's state; return True when it changed. ``tenant`` records the
        destination's workspace/server (so its own feeds' items may reach it)."""
        async with self.transaction() as conn:
            row = (
                await conn.execute(
                    select(subscriptions.c.active, subscriptions.c.tenant).where(
                        subscriptions.c.watch_id == watch_id,
                        subscriptions.c.destination == destination,
                    )
                )
            ).first()
            if row is None:
                if not active:
                    return False
                await conn.execute(
                    insert(subscriptions).values(
                        watch_id=watch_id,
                        destination=destination,
                        active=True,
                        created_at=now,
                        tenant=tenant,
                    )
                )
                await conn.execute(_stamp_watches(conn.dialect.name))
                return True
            values: dict[str, Any] = {}
            if tenant is not None and row.tenant != tenant:
                values["tenant"] = tenant
            changed = bool(row.active) != active
            if changed:
                values["active"] = active
            if values:
                await conn.execute(
                    update(subscriptions)
                    .where(
                        subscriptions.c.watch_id == watch_id,
                        subscriptions.c.destination == destination,
                    )
                    .values(**values)
                )
                await conn.execute(_stamp_watches(conn.dialect.name))
            return changed

    async def watch_rows(self) -> list[WatchRow]:
        """Active watches with their active destinations (for matching and delivery)."""
        async with self.engine.connect() as conn:
            ws = (
                await conn.execute(
                    select(watches).where(watches.c.active.is_(True)).order_by(watches.c.id)
                )
            ).all()
            subs = await conn.execute(
                select(
                    subscriptions.c.watch_id, subscriptions.c.destination, subscriptions.c.tenant
                ).where(subscriptions.c.active.is_(True))
            )
            by_watch: dict[int, list[Target]] = {}
            for s in subs:
                by_watch.setdefault(s.watch_id, []).append(Target(s.destination, s.tenant))
            return [
                WatchRow(
                    id=w.id,
                    query=w.query,
                    name=w.name,
                    mention=w.mention,
                    use_defaults=w.use_defaults,
                    targets=tuple(sorted(by_watch.get(w.id, ()), key=lambda t: t.destination)),
                    owner=w.owner,
                    tenant=w.tenant,
                    google_news=w.google_news,
                )
                for w in ws
            ]

    async def watch_infos(self, destination: str | None = None) -> list[WatchInfo]:
        """Active watches (delivering to ``destination`` when given), with hit counts."""
        rows = await self.watch_rows()
        async with self.engine.connect() as conn:
            stats = {
                r.id: r
                for r in await conn.execute(
                    select(watches.c.id, watches.c.hits, watches.c.last_hit_at)
                )
            }
        out = []
        for w in rows:
            if destination is not None and destination not in w.destinations:
                continue
            st = stats[w.id]
            out.append(
                WatchInfo(
                    id=w.id,
                    query=w.query,
                    name=w.name,
                    hits=st.hits,
                    last_hit_at=st.last_hit_at,
                    destinations=w.destinations,
                    owner=w.owner,
                    mention=w.mention,
                    tenant=w.tenant,
                    google_news=w.google_news,
                )
            )
        return out

    def _window(self, since: datetime, visible_to: str | None) -> list[Any]:
        """WHERE clauses for the articles first seen since ``since`` that ``visible_to``
        may see, when given."""
        conds = [articles.c.first_seen_at >= since]
        if visible_to is not None:
            conds.append(visible_feeds(visible_to))
        return conds

    def _recent(self, *columns: Any, since: datetime, visible_to: str | None) -> Any:
        """SELECT ``columns`` of the articles first seen since ``since`` (that ``visible_to``
        may see, when given) with their feed, newest first (:data:`LISTING_ORDER`)."""
        return (
            select(*columns)
            .select_from(_WITH_FEED)
            .where(*self._window(since, visible_to))
            .order_by(*LISTING_ORDER)
        )

    async def recent_articles(
        self, *, since: datetime, limit: int, visible_to: str | None = None
    ) -> list[Any]:
        """Recently seen articles, newest first (a new feed's undated backlog last, see
        :func:`bot.core.listing.listing_rank`); with ``visible_to``, only from feeds that
        workspace may see."""
        async with self.engine.connect() as conn:
            since = await self._newest_reach(conn, since, limit, visible_to)
            query = self._recent(*_ARTICLE_ROW, since=since, visible_to=visible_to)
            return list(await conn.execute(query.limit(limit)))

    async def recent_article_ids(
        self, *, since: datetime, limit: int, visible_to: str | None = None
    ) -> list[int]:
        """The ids of :meth:`recent_articles`, in its order: the window is read and sorted
        once, by its rank alone, and the rows are fetched a page at a time
        (:meth:`articles_with_ids`), where paging by offset or by the last row read the
        whole window again for every page."""
        async with self.engine.connect() as conn:
            since = await self._newest_reach(conn, since, limit, visible_to)
            query = self._recent(articles.c.id, since=since, visible_to=visible_to)
            return [r[0] for r in await conn.execute(query.limit(limit))]

    async def _newest_reach(
        self, conn: AsyncConnection, since: datetime, limit: int, visible_to: str | None
    ) -> datetime:
        """The earliest the newest ``limit`` articles by rank (of those first seen since
        ``since``) can have been first seen: ``since`` or later.

        Sorting the whole window by publication time read every article kept (0.66 s for
        300,000). The ``limit`` articles seen last bound it: the newest ``limit`` published
        are at least as new as the oldest of those, and an article is never published more
        than :data:`~bot.core.articles.FUTURE_SLACK` after it was first seen, so none was
        first seen before that, less the slack (twice over, for instances' clocks).
        Usually that leaves a day or two of articles, not the window (bench P7). A new
        feed's undated backlog ranks below all others: the bound is taken from the others
        seen last, and holds only when there are ``limit`` of them.
        """
        seen_last = (
            select(articles.c.published)
            .select_from(_WITH_FEED)
            .where(*self._window(since, visible_to), ~UNDATED_BACKLOG)
            .order_by(articles.c.first_seen_at.desc())
            .limit(limit)
            .subquery()
        )
        oldest, count = (
            await conn.execute(select(func.min(seen_last.c.published), func.count()))
        ).one()
        return since if count < limit else max(since, oldest - 2 * FUTURE_SLACK)

    async def kept_story_articles(
        self,
        story_keys: Sequence[str],
        *,
        since: datetime,
        visible_to: str | None = None,
        content: bool = True,
    ) -> dict[str, list[Any]]:
        """Each story's articles first seen since ``since`` (that ``visible_to`` may see,
        when given), as :meth:`recent_articles` rows, first seen first; without their
        ``content`` (empty) unless asked for (it is for matching, and up to 20,000
        characters an article, of a story hundreds of outlets carry)."""
        found: dict[str, list[Any]] = {}
        if not story_keys:
            return found
        columns = _ARTICLE_ROW if content else _ARTICLE_ROW_BRIEF
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*columns)
                .select_from(_WITH_FEED)
                .where(articles.c.story_key.in_(list(story_keys)), *self._window(since, visible_to))
                .order_by(articles.c.id)
            )
            for row in rows:
                found.setdefault(row.story_key, []).append(row)
        return found

    async def articles_with_ids(self, ids: Sequence[int]) -> list[Any]:
        if not ids:
            return []
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*_ARTICLE_ROW).select_from(_WITH_FEED).where(articles.c.id.in_(list(ids)))
            )
            by_id = {r.id: r for r in rows}
        return [by_id[i] for i in ids if i in by_id]

    async def article_visible(self, article_id: int, tenant: str) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(
                select(articles.c.id)
                .select_from(articles.join(feeds, feeds.c.id == articles.c.feed_id))
                .where(articles.c.id == article_id, visible_feeds(tenant))
            )
            return found.first() is not None

    async def recent_headlines(
        self, *, since: datetime, limit: int
    ) -> list[tuple[str, str, str, datetime]]:
        """(story key, first title, first summary, first seen) of recent articles that
        could alert, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    articles.c.story_key,
                    ingest.FIRST_TITLE,
                    ingest.FIRST_SUMMARY,
                    articles.c.first_seen_at,
                )
                .where(articles.c.first_seen_at >= since, articles.c.held_reason.is_(None))
                .order_by(articles.c.first_seen_at.desc())
                .limit(limit)
            )
            return [(r[0], r[1], r[2], r[3]) for r in rows]

    async def article_by_url(self, url: str) -> Any:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    select(*_ARTICLE_ROW).select_from(_WITH_FEED).where(articles.c.url == url)
                )
            ).first()

    async def story_articles(self, story_key: str, *, visible_to: str | None = None) -> list[Any]:
        conds = [articles.c.story_key == story_key]
        if visible_to is not None:
            conds.append(visible_feeds(visible_to))
        async with self.engine.connect() as conn:
            return list(
                await conn.execute(
                    select(articles.c.id, articles.c.url, articles.c.source, articles.c.title)
                    .select_from(_WITH_FEED)
                    .where(*conds)
                    .order_by(articles.c.id)
                )
            )

    async def alerts_for_story(self, story_key: str) -> list[Any]:
        async with self.engine.connect() as conn:
            return list(
                await conn.execute(
                    select(alerts).where(alerts.c.story_key == story_key).order_by(alerts.c.id)
                )
            )

    async def prune(self, *, articles_before: datetime, seen_before: datetime) -> None:
        """Drop old articles (kept for `latest`) and old seen keys; alerts keep their story."""
        async with self.transaction() as conn:
            await conn.execute(
                delete(articles).where(
                    articles.c.first_seen_at < articles_before,
                    # Held for a summary or waiting for outlets (a snooze lasts up to
                    # 30 days) is still to be sent: its article stays.
                    ~articles.c.id.in_(
                        select(alerts.c.article_id).where(
                            alerts.c.state.in_(["pending", "held", "waiting"])
                        )
                    ),
                )
            )
            await conn.execute(delete(seen_items).where(seen_items.c.seen_at < seen_before))

    # ---- destinations ---------------------------------------------------------------------

    async def destination_failed(
        self, destination: str, *, reason: str, now: datetime, permanent: bool
    ) -> tuple[int, bool]:
        """Count a failure; return (consecutive failures, whether it just became failing).

        One upsert counts it, so instances failing the same channel at once each count
        theirs (a read, then an insert, refused the second instance's first failure as a
        duplicate row, and a read, then an update, lost one of two counts). It holds the
        row until commit: the state it returns is still the state when the row is marked
        failing, so one failure only turns the channel failing."""
        counted = self._insert(destinations).values(
            destination=destination,
            state="ok",
            consecutive_failures=1,
            last_error=reason,
            failing_since=now,
            updated_at=now,
        )
        counted = counted.on_conflict_do_update(
            index_elements=[destinations.c.destination],
            set_={
                "consecutive_failures": destinations.c.consecutive_failures + 1,
                "last_error": counted.excluded.last_error,
                "updated_at": counted.excluded.updated_at,
                "failing_since": func.coalesce(
                    destinations.c.failing_since, counted.excluded.failing_since
                ),
            },
        ).returning(destinations.c.consecutive_failures, destinations.c.state)
        async with self.transaction() as conn:
            count, state = (await conn.execute(counted)).one()
            newly = state != "failing" and (permanent or count >= self.failing_after)
            if newly:
                await conn.execute(
                    update(destinations)
                    .where(destinations.c.destination == destination)
                    .values(state="failing")
                )
            return count, newly

    async def destination_ok(
        self, destination: str, *, now: datetime
    ) -> tuple[datetime | None, str | None] | None:
        """Clear failures. When the destination had been marked failing, return that
        failure's (since, reason): it has just recovered."""
        async with self.transaction() as conn:
            row = (
                await conn.execute(
                    select(
                        destinations.c.state,
                        destinations.c.consecutive_failures,
                        destinations.c.failing_since,
                        destinations.c.last_error,
                    ).where(destinations.c.destination == destination)
                )
            ).first()
            if row is None or (row.state == "ok" and row.consecutive_failures == 0):
                return None
            await conn.execute(
                update(destinations)
                .where(destinations.c.destination == destination)
                .values(
                    state="ok",
                    consecutive_failures=0,
                    last_error=None,
                    failing_since=None,
                    updated_at=now,
                )
            )
            return (row.failing_since, row.last_error) if row.state == "failing" else None

    async def destination_statuses(self) -> list[DestinationStatus]:
        pending = await self.pending_by_destination()
        async with self.engine.connect() as conn:
            rows = {r.destination: r for r in await conn.execute(select(destinations))}
        names = sorted(set(rows) | set(pending))
        out = []
        for name in names:
            r = rows.get(name)
            out.append(
                DestinationStatus(
                    destination=name,
                    state=DestinationState(r.state) if r else DestinationState.OK,
                    last_error=r.last_error if r else None,
                    failing_since=r.failing_since if r else None,
                    pending=pending.get(name, 0),
                )
            )
        return out

    async def queue_notices(self, rows: Sequence[tuple[str, Notice | str]], now: datetime) -> None:
        """Queue (destination, notice) rows; a bare string is a plain-text notice."""
        from bot.store.ingest import insert_notices

        await self.run_write(lambda conn: insert_notices(conn, rows, now))

    async def claim_notices(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int = 50,
        skip: Collection[str] = (),
    ) -> list[Any]:
        """Lease due pending notices, oldest first; none of the destinations in ``skip``."""
        pick = (
            select(notices.c.id)
            .where(
                notices.c.state == "pending",
                notices.c.next_attempt_at <= now,
                or_(notices.c.lease_until.is_(None), notices.c.lease_until < now),
                notices.c.destination.not_in(list(skip)),
            )
            .order_by(notices.c.id)
            .limit(limit)
        )
        if self.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        async with self.transaction() as conn:
            ids = [r[0] for r in await conn.execute(pick)]
            if not ids:
                return []
            await conn.execute(
                update(notices)
                .where(notices.c.id.in_(ids))
                .values(lease_owner=owner, lease_until=now + lease, attempts=notices.c.attempts + 1)
            )
            return list(
                await conn.execute(
                    select(notices).where(notices.c.id.in_(ids)).order_by(notices.c.id)
                )
            )

    async def renew_notice_lease(
        self, notice_ids: Sequence[int], *, owner: str, until: datetime
    ) -> int:
        """Extend ``owner``'s lease on these notices while they are posted; returns how
        many it still held."""
        async with self.transaction() as conn:
            result = await conn.execute(
                update(notices)
                .where(
                    notices.c.id.in_(list(notice_ids)),
                    notices.c.lease_owner == owner,
                    notices.c.state == "pending",
                )
                .values(lease_until=until)
            )
            return int(result.rowcount)

    async def notice_attempt(self, notice_id: int) -> None:
        """A notice is about to be posted: until confirmed it may be in the channel, so
        the next attempt, by any instance, looks for it first."""
        async with self.transaction() as conn:
            await conn.execute(
                update(notices).where(notices.c.id == notice_id).values(maybe_sent=True)
            )

    async def notice_done(
        self,
        notice_id: int,
        *,
        sent: bool,
        error: str | None = None,
        retry_at: datetime | None = None,
        definitely_not_sent: bool = True,
    ) -> None:
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "last_error": error}
        if sent or definitely_not_sent:
            values["maybe_sent"] = False
        if sent:
            values["state"] = "sent"
        elif retry_at is None:
            values["state"] = "dead"
        else:
            values["next_attempt_at"] = retry_at
        async with self.transaction() as conn:
            await conn.execute(update(notices).where(notices.c.id == notice_id).values(**values))

    async def stories_alerted_in(self, destination: str, story_keys: Sequence[str]) -> set[str]:
        """Which of ``story_keys`` already have an alert in ``destination`` (queued, sent or
        dead-lettered, for any watch): what a backfill must not post again."""
        found: set[str] = set()
        keys = sorted(set(story_keys))
        async with self.engine.connect() as conn:
            for start in range(0, len(keys), 500):
                rows = await conn.execute(
                    select(alerts.c.story_key)
                    .where(
                        alerts.c.destination == destination,
                        alerts.c.story_key.in_(keys[start : start + 500]),
                    )
                    .distinct()
                )
                found.update(r[0] for r in rows)
        return found

    async def queue_alerts(self, rows: Sequence[AlertRow], now: datetime) -> list[int]:
        """Queue alerts (in the given order) for the delivery engine; returns the ids created.
        A row whose watch, destination and story already alerted is skipped."""

        def work(conn: Connection) -> list[int]:
            return [alert_id for alert_id, _ in ingest.insert_alerts(conn, rows, now)]

        return await self.run_write(work)

    async def oldest_article_seen_at(self) -> datetime | None:
        async with self.engine.connect() as conn:
            found: datetime | None = (
                await conn.execute(select(func.min(articles.c.first_seen_at)))
            ).scalar()
            return found


WATCHES_STAMP = "watches_changed"


def _stamp_watches(dialect: str) -> Any:
    """The statement that marks the watches changed (a fresh token in ``meta``), run in the
    transaction that changes them, so every instance's poller reads them again."""
    token = uuid.uuid4().hex
    stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(meta).values(
        key=WATCHES_STAMP, value=token
    )
    return stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": token})
