"""Statements the poller runs inside ONE transaction per batch of fetched feeds.

They are plain synchronous SQLAlchemy calls, run through ``Store.run_write``: on SQLite the
whole batch runs in one worker thread with the stdlib driver (one thread hop per batch,
not per statement); on PostgreSQL inside the async engine via ``run_sync``.

Seen keys, new articles, alerts (the outbox) and the feed's fetch state are written
together, so a crash anywhere leaves either all of a feed's results or none of them.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bot.core.alerts import AlertRow as AlertRow  # re-exported: tests queue rows
from bot.core.intents import (
    AppliedIngest,
    FeedUpdateIntent,
    Headline,
    IngestPlan,
    Placement,
    PlacementFacts,
    SeenKey,
)
from bot.core.intents import (
    StoredArticle as StoredArticle,
)
from bot.core.models import Article
from bot.core.notices import (
    Notice,
    PlainNotice,
    feed_notice_destinations,
    notice_fallback,
    notice_to_json,
)
from bot.store.schema import (
    RETITLES_STAMP,
    alerts,
    articles,
    feeds,
    meta,
    notices,
    posts,
    seen_items,
    subscriptions,
    watches,
)
from bot.store.visibility import READER, feed_reach, reaches, with_reader

# Bound parameters per statement: SQLite (3.32+) and PostgreSQL allow 32,766; stay under.
_CHUNK = 5000
# Seen-key pairs per lookup: one parameter each way, bounded only to keep a statement small.
_PAIRS = 20_000


def _ins(conn: Connection, table: Any) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


def seen_keys_many(
    conn: Connection, keys_by_feed: Mapping[int, Sequence[str]]
) -> dict[tuple[int, str], str | None]:
    """(feed id, key) pairs already seen, for many feeds at once, with the headline note
    stored with each (None for identity keys and older rows).

    The wanted pairs go in as ONE parameter (a JSON array on SQLite, two arrays on
    PostgreSQL) joined against the primary key: one index probe per pair. The plain
    ``feed_id IN (...) AND key IN (...)`` it replaces probed every feed with every key
    of the batch (200 feeds x 10,000 keys), most of them misses.
    """
    pairs = [(f, k) for f, keys in keys_by_feed.items() for k in keys]
    found: dict[tuple[int, str], str | None] = {}
    if not pairs:
        return found
    if conn.dialect.name == "postgresql":
        stmt = text(
            "SELECT s.feed_id, s.key, s.note FROM unnest(:feed_ids, :keys) AS w(feed_id, key)"
            " JOIN seen_items AS s ON s.feed_id = w.feed_id AND s.key = w.key"
        ).bindparams(
            bindparam("feed_ids", type_=ARRAY(Integer)), bindparam("keys", type_=ARRAY(String))
        )
        for i in range(0, len(pairs), _PAIRS):
            chunk = pairs[i : i + _PAIRS]
            rows = conn.execute(
                stmt, {"feed_ids": [f for f, _ in chunk], "keys": [k for _, k in chunk]}
            )
            found.update(((r[0], r[1]), r[2]) for r in rows)
        return found
    # The rows come back as ONE JSON array: a changed feed's ~48 known entries make
    # ~50,000 rows a cycle, and fetching them one by one released and re-took the GIL per
    # row in this writer thread, each time waiting for the busy event loop (2.5 s of a
    # 10,000-feed cycle's writer time went there, against ~0.1 s of actual lookups).
    stmt = text(
        "SELECT json_group_array(json_array(s.feed_id, s.key, s.note))"
        " FROM json_each(:pairs) AS w"
        " JOIN seen_items AS s ON s.feed_id = json_extract(w.value, '$[0]')"
        " AND s.key = json_extract(w.value, '$[1]')"
    )
    for i in range(0, len(pairs), _PAIRS):
        packed = conn.execute(stmt, {"pairs": json.dumps(pairs[i : i + _PAIRS])}).scalar()
        found.update(((f, k), note) for f, k, note in json.loads(packed or "[]"))
    return found


def _bound(conn: Connection, column: Any) -> Callable[[Any], Any]:
    """The driver value SQLAlchemy would bind for ``column`` (UTC datetimes as SQLite text,
    booleans as 0/1), for rows sent to the driver directly."""
    dialect = conn.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _same


def _same(value: Any) -> Any:
    return value


def add_seen_keys(conn: Connection, seen: Sequence[SeenKey], now: datetime) -> None:
    """Record (feed id, key, headline note) rows; a row already there is kept."""
    if not seen:
        return
    if conn.dialect.name == "sqlite":
        # A seeding poll records ~4 keys per item (400,000 for 2,000 new feeds): straight
        # to the driver, SQLAlchemy's per-row parameter processing was most of the write.
        # And as ONE statement over a JSON array (a SeenKey is a tuple: it encodes as
        # [feed id, key, note] as it is): an executemany steps SQLite once per row,
        # releasing the GIL each time, and this writer thread then waits for the busy
        # event loop to hand it back (~0.1 ms a row in a 10,000-feed cycle).
        seen_at = _sqlite_time(now)
        for i in range(0, len(seen), _PAIRS):
            conn.exec_driver_sql(
                "INSERT INTO seen_items (feed_id, key, seen_at, note)"
                " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?,"
                " json_extract(value, '$[2]') FROM json_each(?) WHERE true"
                " ON CONFLICT DO NOTHING",
                (seen_at, json.dumps(seen[i : i + _PAIRS])),
            )
        return
    stmt = _ins(conn, seen_items).on_conflict_do_nothing()
    conn.execute(
        stmt, [{"feed_id": f, "key": k, "seen_at": now, "note": note} for f, k, note in seen]
    )


def set_seen_notes(conn: Connection, notes: dict[tuple[int, str], str]) -> None:
    for (feed_id, key), note in sorted(notes.items()):
        conn.execute(
            update(seen_items)
            .where(seen_items.c.feed_id == feed_id, seen_items.c.key == key)
            .values(note=note)
        )


def articles_by_url(conn: Connection, urls: Sequence[str]) -> dict[str, StoredArticle]:
    out: dict[str, StoredArticle] = {}
    if conn.dialect.name == "sqlite":
        # Every batch looks up its new items' URLs (2,000 in a first poll's batch, nearly
        # all unknown): one JSON array bound once, where an IN list of that many values
        # cost SQLAlchemy as much Python as SQLite's own index probes.
        rows = conn.exec_driver_sql(
            "SELECT id, url, story_key, held_reason, title, feed_id FROM articles"
            " WHERE url IN (SELECT value FROM json_each(?))",
            (json.dumps(list(urls)),),
        )
        for r in rows:
            out[r[1]] = StoredArticle(r[0], r[2], r[3], r[4], r[5])
        return out
    for i in range(0, len(urls), _CHUNK):
        rows = conn.execute(
            select(
                articles.c.id,
                articles.c.url,
                articles.c.story_key,
                articles.c.held_reason,
                articles.c.title,
                articles.c.feed_id,
            ).where(articles.c.url.in_(list(urls[i : i + _CHUNK])))
        )
        for r in rows:
            out[r.url] = StoredArticle(r.id, r.story_key, r.held_reason, r.title, r.feed_id)
    return out


def insert_articles(
    conn: Connection,
    rows: Sequence[tuple[Article, str, str | None, int | None]],
    *,
    now: datetime,
) -> dict[str, StoredArticle]:
    """Insert (article, story key, held reason, feed id) rows in one statement; map url ->
    stored row."""
    if not rows:
        return {}
    values = [
        {
            "url": a.url,
            "feed_id": feed_id,
            "title": a.title,
            "summary": a.summary,
            "content": a.content,
            "source": a.source,
            "published": a.published,
            "published_known": a.published_known,
            "first_seen_at": now,
            "story_key": story,
            "image_url": a.image_url,
            "guid": a.guid,
            "held_reason": held,
        }
        for a, story, held, feed_id in rows
    ]
    if conn.dialect.name == "sqlite":
        stored = _insert_articles_sqlite(conn, values)
    else:
        stored = _insert_articles_returning(conn, values)
    missing = [a.url for a, _, _, _ in rows if a.url not in stored]
    if missing:
        stored.update(articles_by_url(conn, missing))
    return stored


_ARTICLE_COLUMNS = (
    "url",
    "feed_id",
    "title",
    "summary",
    "content",
    "source",
    "published",
    "published_known",
    "first_seen_at",
    "story_key",
    "image_url",
    "guid",
    "held_reason",
)


def _insert_articles_sqlite(
    conn: Connection, values: Sequence[dict[str, Any]]
) -> dict[str, StoredArticle]:
    """Multi-row INSERTs sent to the driver as plain values, then the new rows' ids read
    back as ONE JSON array: a seeding poll stores 100,000 articles, and SQLAlchemy's
    per-value processing, an executemany or RETURNING (SQLite stepped once per row, the
    writer thread re-taking the interpreter lock each time from a busy event loop) cost
    more than SQLite's own work.

    One instance owns a SQLite file and this runs in its one write transaction, so the
    batch's rows are exactly those past the largest id before it.
    """
    before = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM articles").scalar()
    when = _SqliteTimes()
    params = [
        p
        for v in values
        for p in (
            v["url"],
            v["feed_id"],
            v["title"],
            v["summary"],
            v["content"],
            v["source"],
            when(v["published"]),
            1 if v["published_known"] else 0,
            when(v["first_seen_at"]),
            v["story_key"],
            v["image_url"],
            v["guid"],
            v["held_reason"],
        )
    ]
    per_row = len(_ARTICLE_COLUMNS)
    size = max(1, 30_000 // per_row)  # under SQLite's 32,766 bound parameters
    placeholder = "(" + ", ".join("?" * per_row) + ")"
    for start in range(0, len(values), size):
        rows = len(values[start : start + size])
        conn.exec_driver_sql(
            f"INSERT INTO articles ({', '.join(_ARTICLE_COLUMNS)}) VALUES "
            + ", ".join([placeholder] * rows)
            + " ON CONFLICT (url) DO NOTHING",
            tuple(params[start * per_row : (start + rows) * per_row]),
        )
    packed = conn.exec_driver_sql(
        "SELECT json_group_array(json_array(id, url)) FROM articles WHERE id > ?", (before,)
    ).scalar()
    ids = {url: article_id for article_id, url in json.loads(packed or "[]")}
    stored: dict[str, StoredArticle] = {}
    for v in values:
        url = v["url"]
        if url in ids and url not in stored:
            stored[url] = StoredArticle(
                ids[url], v["story_key"], v["held_reason"], v["title"], v["feed_id"]
            )
    return stored


class _SqliteTimes:
    """What :class:`~bot.store.schema.UTCDateTime` stores on SQLite (naive UTC text, with
    microseconds), without SQLAlchemy's two processing layers; a batch's rows share a
    few times (every row's first-seen time is the batch's), so each is formatted once."""

    def __init__(self) -> None:
        self._done: dict[datetime, str] = {}

    def __call__(self, value: datetime) -> str:
        text = self._done.get(value)
        if text is None:
            text = self._done[value] = _sqlite_time(value)
        return text


def _sqlite_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _insert_articles_returning(
    conn: Connection, values: Sequence[dict[str, Any]]
) -> dict[str, StoredArticle]:
    # Another instance may store the same URL (from another feed) at the same moment:
    # skip those rows and read back the winner's, rather than fail the whole batch.
    result = conn.execute(
        _ins(conn, articles)
        .on_conflict_do_nothing(index_elements=[articles.c.url])
        .returning(
            articles.c.id,
            articles.c.url,
            articles.c.story_key,
            articles.c.held_reason,
            articles.c.title,
            articles.c.feed_id,
        ),
        list(values),
    )
    return {
        r.url: StoredArticle(r.id, r.story_key, r.held_reason, r.title, r.feed_id) for r in result
    }


def insert_alerts(
    conn: Connection, rows: Sequence[AlertRow], now: datetime
) -> list[tuple[int, AlertRow]]:
    """Queue alerts in one statement; returns (id, row) for those created. A row whose
    story already alerted this watch in this destination is skipped (the unique key)."""
    if not rows:
        return []
    result = conn.execute(
        _ins(conn, alerts)
        .on_conflict_do_nothing()
        .returning(
            alerts.c.id,
            alerts.c.watch_id,
            alerts.c.destination,
            alerts.c.story_key,
        ),
        [
            {
                "watch_id": r.watch_id,
                "destination": r.destination,
                "story_key": r.story_key,
                "article_id": r.article_id,
                "matched": json.dumps(list(r.matched)),
                "created_at": now,
                "state": "pending",
                "attempts": 0,
                "maybe_sent": False,
                "next_attempt_at": now,
            }
            for r in rows
        ],
    )
    # Rows come back in any order (asking for the parameters' order makes SQLite insert
    # one row per statement: skipped rows would break the correlation): matched by key,
    # in id order, which is the order they were queued in.
    by_key = {(r.watch_id, r.destination, r.story_key): r for r in rows}
    created = [(x.id, by_key[(x.watch_id, x.destination, x.story_key)]) for x in result]
    created.sort(key=lambda pair: pair[0])
    return created


def count_hits(conn: Connection, hits: Mapping[int, int], now: datetime) -> None:
    """Add ``hits[watch id]`` to each watch's counter: one executemany, in id order."""
    if not hits:
        return
    conn.execute(
        update(watches)
        .where(watches.c.id == bindparam("w_id"))
        .values(hits=watches.c.hits + bindparam("w_by"), last_hit_at=now),
        [{"w_id": watch_id, "w_by": hits[watch_id]} for watch_id in sorted(hits)],
    )


def update_feed_states(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update for the common case (304s): one statement for rows of one shape."""
    if not rows:
        return
    if conn.dialect.name == "sqlite" and len({r["b_id"] for r in rows}) == len(rows):
        # One UPDATE ... FROM a JSON array (see add_seen_keys: no step per row). Columns
        # with one value in every row (a 304's status, no error, the lease let go: most of
        # them) are bound once instead of travelling in every row.
        first = rows[0]
        names = [k for k in first if k != "b_id"]
        same = [n for n in names if all(r[n] == first[n] for r in rows)]
        varying = [n for n in names if n not in same]
        binds = [_bound(conn, feeds.c[name]) for name in varying]
        packed = json.dumps(
            [
                [r["b_id"], *(bind(r[n]) for n, bind in zip(varying, binds, strict=True))]
                for r in rows
            ]
        )
        sets = [f'"{n}" = ?' for n in same] + [
            f"\"{n}\" = json_extract(w.value, '$[{i}]')" for i, n in enumerate(varying, 1)
        ]
        conn.exec_driver_sql(
            f"UPDATE feeds SET {', '.join(sets)} FROM json_each(?) AS w"
            " WHERE feeds.id = json_extract(w.value, '$[0]')",
            (*(_bound(conn, feeds.c[n])(first[n]) for n in same), packed),
        )
        return
    stmt = (
        update(feeds)
        .where(feeds.c.id == bindparam("b_id"))
        .values({k: bindparam(k) for k in rows[0] if k != "b_id"})
    )
    conn.execute(stmt, list(rows))


def notice_subscribers(conn: Connection) -> list[tuple[str, str | None]]:
    """Every active subscription's (destination, tenant): who may hear about feed trouble
    (:func:`bot.core.notices.feed_notice_destinations` picks among them per feed)."""
    rows = conn.execute(
        select(subscriptions.c.destination, subscriptions.c.tenant)
        .where(subscriptions.c.active.is_(True))
        .distinct()
    )
    return [(r[0], r[1]) for r in rows]


def insert_notices(
    conn: Connection, rows: Sequence[tuple[str, Notice | str]], now: datetime
) -> None:
    """Queue (destination, notice) rows in the caller's transaction. A notice is stored as
    data with its plain words beside it; a bare string is a plain-text notice."""
    if not rows:
        return
    values = []
    for dest, notice in rows:
        if isinstance(notice, str):
            notice = PlainNotice(notice)
        values.append(
            {
                "destination": dest,
                "text": notice_fallback(notice),
                "data": notice_to_json(notice),
                "created_at": now,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
    conn.execute(insert(notices), values)


def touch_posts(conn: Connection, grown: Sequence[tuple[str, int | None]]) -> int:
    """Stories that grew, each with the feed that grew it (None: since removed): the
    messages showing them need an edit. A message names only the feeds its channel's
    workspace may read, so a story grown by one workspace's own feed is edited there
    alone: elsewhere the edit would show nothing new, and tell that something moved.
    Returns how many messages were marked."""
    if not grown:
        return 0
    growers: dict[str, set[int | None]] = {}
    for story_key, feed_id in grown:
        growers.setdefault(story_key, set()).add(feed_id)
    reach = feed_reach(conn, sorted({f for _, f in grown if f is not None}))
    keys = sorted(growers)
    pairs: set[tuple[str, str]] = set()
    for start in range(0, len(keys), _CHUNK):
        rows = conn.execute(
            select(
                alerts.c.destination,
                alerts.c.message_id,
                alerts.c.story_key,
                READER,
            )
            .select_from(with_reader(alerts.join(watches, watches.c.id == alerts.c.watch_id)))
            .where(
                alerts.c.story_key.in_(keys[start : start + _CHUNK]),
                alerts.c.state == "sent",
                alerts.c.message_id.is_not(None),
            )
            .distinct()
        )
        for r in rows:
            if any(
                # A feed since removed shows to the operator's channels alone, as in
                # the alert's own read (``visible_feeds``).
                reaches(() if f is None else reach.get(f, ()), r.reader)
                for f in growers[r.story_key]
            ):
                pairs.add((r.destination, r.message_id))
    if not pairs:
        return 0
    ordered = sorted(pairs)  # one lock order across instances
    conn.execute(
        update(posts)
        .where(tuple_(posts.c.destination, posts.c.message_id).in_(ordered))
        .values(revision=posts.c.revision + 1)
    )
    return len(ordered)


def fold_into_posts(
    conn: Connection, created: Sequence[tuple[int, AlertRow]], now: datetime
) -> list[int]:
    """A new alert for a story this destination already got (another watch matched it
    later) joins that story's message rather than posting it again: it is recorded as
    sent in that message, which is marked for an edit. Returns the alert ids folded."""
    if not created:
        return []
    wanted = {(r.destination, r.story_key) for _, r in created}
    sent: dict[tuple[str, str], str] = {}
    keys = sorted({k for _, k in wanted})
    for start in range(0, len(keys), _CHUNK):
        rows = conn.execute(
            select(alerts.c.destination, alerts.c.story_key, alerts.c.message_id).where(
                alerts.c.story_key.in_(keys[start : start + _CHUNK]),
                alerts.c.state == "sent",
                alerts.c.message_id.is_not(None),
            )
        )
        for r in rows:
            if (r.destination, r.story_key) in wanted:
                sent.setdefault((r.destination, r.story_key), r.message_id)
    folded: list[int] = []
    for alert_id, row in created:
        message_id = sent.get((row.destination, row.story_key))
        if message_id is None:
            continue
        conn.execute(
            update(alerts)
            .where(alerts.c.id == alert_id)
            .values(state="sent", sent_at=now, message_id=message_id)
        )
        conn.execute(
            update(posts)
            .where(and_(posts.c.destination == row.destination, posts.c.message_id == message_id))
            .values(revision=posts.c.revision + 1)
        )
        folded.append(alert_id)
    return folded


# One key for "assigning stories": instances take it in turn on PostgreSQL, so an article
# is grouped against every article any instance stored before it.
STORY_LOCK_KEY = 0x57575354  # "WWST"


def lock_stories(conn: Connection) -> None:
    """Serialise story assignment across instances until this transaction ends (SQLite has
    one writer at a time anyway)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": STORY_LOCK_KEY})


# What the story index knows an article by: the headline and summary it was first stored
# with. A retitle leaves a running index as it was (the lead still gathers outlets that
# carry its first headline); an index rebuilt from the current headline would not.
FIRST_TITLE = func.coalesce(articles.c.first_title, articles.c.title)
FIRST_SUMMARY = func.coalesce(articles.c.first_summary, articles.c.summary)


def headlines_after(
    conn: Connection, after_id: int, since: datetime
) -> list[tuple[int, str, str, str, datetime]]:
    """(id, story key, first title, first summary, first seen) of articles that could
    alert, stored after ``after_id`` (by any instance), oldest first."""
    rows = conn.execute(
        select(
            articles.c.id,
            articles.c.story_key,
            FIRST_TITLE,
            FIRST_SUMMARY,
            articles.c.first_seen_at,
        )
        .where(
            articles.c.id > after_id,
            articles.c.first_seen_at >= since,
            articles.c.held_reason.is_(None),
        )
        .order_by(articles.c.id)
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def max_article_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(articles.c.id))).scalar() or 0)


def retitles_stamp(conn: Connection) -> int:
    """How many transactions have retitled articles (0 when none has)."""
    value = conn.execute(select(meta.c.value).where(meta.c.key == RETITLES_STAMP)).scalar()
    return int(value or 0)


def next_retitles_stamp(conn: Connection) -> int:
    """Count one more retitling transaction; returns the stamp its articles carry."""
    stmt = _ins(conn, meta).values(key=RETITLES_STAMP, value="1")
    stmt = stmt.on_conflict_do_update(
        index_elements=[meta.c.key],
        set_={"value": cast(cast(meta.c.value, Integer) + 1, Text)},
    ).returning(meta.c.value)
    return int(conn.execute(stmt).scalar_one())


# ---- a batch's plan, applied --------------------------------------------------------------


def feed_state_row(intent: FeedUpdateIntent) -> dict[str, Any]:
    """The feeds columns an intent sets (rows of one shape share one executemany)."""
    row: dict[str, Any] = {
        "b_id": intent.feed_id,
        "last_fetch_at": intent.fetched_at,
        "last_status": intent.status,
        "last_error": intent.error,
        "error_since": intent.error_since,
        "consecutive_failures": intent.consecutive_failures,
        "failing_notified": intent.failing_notified,
        "next_poll_at": intent.next_poll_at,
        "lease_owner": None,
        "lease_until": None,
        "moved_to": intent.moved_to,
    }
    if intent.succeeded:
        row["last_success_at"] = intent.fetched_at
    if intent.validators is not None:
        v = intent.validators
        row.update(
            etag=v.etag,
            last_modified=v.last_modified,
            body_hash=v.body_hash,
            ttl_seconds=v.ttl_seconds,
            max_age=v.max_age,
            seeded=True,
        )
        if v.entry_prints is not None:
            row["entry_prints"] = b64encode(v.entry_prints).decode("ascii")
    return row


def apply_plan(
    conn: Connection, plan: IngestPlan, place: Callable[[PlacementFacts], Placement]
) -> AppliedIngest:
    """Record a batch's plan in the caller's transaction (see ``Store.apply_ingest``)."""
    now = plan.now
    add_seen_keys(conn, plan.seen, now)
    urls = list(
        dict.fromkeys(
            [r.url for r in plan.retitles]
            + [d.article.url for f in plan.fresh for d in f.decisions]
        )
    )
    stored = articles_by_url(conn, urls) if urls else {}
    newer: list[Headline] = []
    if plan.fresh or plan.retitles:
        # A retitle too: a message of its story being posted meanwhile either is recorded
        # sent before it (and marked below) or sees its stamp (``Outbox.mark_sent``).
        lock_stories(conn)
    # One instance owns a SQLite file: its story index is complete already.
    if plan.fresh and conn.dialect.name == "postgresql":
        since = plan.stories_since or now
        newer = [Headline(*row) for row in headlines_after(conn, plan.stories_seen_id, since)]
    placement = place(PlacementFacts(stored=stored, newer=newer))
    stamp = next_retitles_stamp(conn) if placement.retitled else None
    for r in placement.retitled:
        conn.execute(
            update(articles)
            .where(articles.c.id == r.article_id)
            .values(
                # SET reads the row as it was: the first retitle keeps the first headline.
                first_title=FIRST_TITLE,
                first_summary=FIRST_SUMMARY,
                title=r.title,
                summary=r.summary,
                updated_at=now,
                retitle_stamp=stamp,
            )
        )
    touch_posts(conn, list(dict.fromkeys((r.story_key, r.feed_id) for r in placement.retitled)))
    set_seen_notes(conn, dict(plan.seen_notes))
    inserted = insert_articles(
        conn,
        [(a.article, a.story_key, a.held_reason, a.feed_id) for a in placement.articles],
        now=now,
    )
    stored = {**stored, **inserted}
    rows: list[AlertRow] = []
    queued: set[tuple[int, str, str]] = set()
    for alert in placement.alerts:
        article = stored[alert.article_url]
        # Another instance may have stored this URL first: its story is the article's.
        key = (alert.watch_id, alert.destination, article.story_key)
        if key in queued:
            continue
        queued.add(key)
        rows.append(
            AlertRow(
                alert.watch_id, alert.destination, article.story_key, article.id, alert.matched
            )
        )
    created = insert_alerts(conn, rows, now)
    # One message per story and channel: what joins a story already posted there edits
    # that message instead of posting again.
    folded = set(fold_into_posts(conn, created, now))
    touch_posts(conn, list(placement.grown))
    by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for intent in plan.feeds:
        row = feed_state_row(intent)
        by_shape.setdefault(tuple(row), []).append(row)
    for shaped in by_shape.values():
        update_feed_states(conn, shaped)
    # Hits count stories a watch alerted on, not messages. Hit counters are the rows
    # instances share: updated last and in id order, so two instances' batches never
    # lock them in opposite orders (a deadlock).
    hits: dict[int, int] = {}
    for watch_id, _story in {(r.watch_id, r.story_key) for _, r in created}:
        hits[watch_id] = hits.get(watch_id, 0) + 1
    count_hits(conn, hits, now)
    # Notices are queued with the state change that caused them: told exactly once.
    if plan.notices:
        subscribed = notice_subscribers(conn)
        notice_rows: list[tuple[str, Notice | str]] = [
            (d, n.notice)
            for n in plan.notices
            for d in feed_notice_destinations(n.reach, subscribed)
        ]
        insert_notices(conn, notice_rows, now)
    return AppliedIngest(
        alert_ids=tuple(alert_id for alert_id, _ in created if alert_id not in folded),
        article_ids=tuple(a.id for a in inserted.values()),
    )
