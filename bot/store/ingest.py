"""Statements the poller runs inside ONE transaction per batch of fetched feeds.

They are plain synchronous SQLAlchemy calls, run through ``Store.run_write``: on SQLite the
whole batch runs in one worker thread with the stdlib driver (one thread hop per batch,
not per statement); on PostgreSQL inside the async engine via ``run_sync``.

Seen keys, new articles, alerts (the outbox) and the feed's fetch state are written
together, so a crash anywhere leaves either all of a feed's results or none of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from bot.core.models import Article
from bot.core.notices import Notice, PlainNotice, notice_fallback, notice_to_json
from bot.store.schema import (
    alerts,
    articles,
    feeds,
    notices,
    posts,
    seen_items,
    subscriptions,
    watches,
)

# Bound parameters per statement: SQLite (3.32+) and PostgreSQL allow 32,766; stay under.
_CHUNK = 5000


def _ins(conn: Connection, table: Any) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


def seen_keys_many(
    conn: Connection, keys_by_feed: dict[int, list[str]]
) -> dict[tuple[int, str], str | None]:
    """(feed id, key) pairs already seen, for many feeds at once (few statements), with
    the headline note stored with each (None for identity keys and older rows)."""
    feed_ids = list(keys_by_feed)
    all_keys = list(dict.fromkeys(k for keys in keys_by_feed.values() for k in keys))
    found: dict[tuple[int, str], str | None] = {}
    step = _CHUNK - len(feed_ids)
    for i in range(0, len(all_keys), max(step, 100)):
        rows = conn.execute(
            select(seen_items.c.feed_id, seen_items.c.key, seen_items.c.note).where(
                seen_items.c.feed_id.in_(feed_ids),
                seen_items.c.key.in_(all_keys[i : i + max(step, 100)]),
            )
        )
        found.update(((r[0], r[1]), r[2]) for r in rows)
    return found


def add_seen_pairs(
    conn: Connection,
    pairs: Sequence[tuple[int, str]],
    now: datetime,
    notes: dict[tuple[int, str], str] | None = None,
) -> None:
    if not pairs:
        return
    notes = notes or {}
    stmt = _ins(conn, seen_items).on_conflict_do_nothing()
    conn.execute(
        stmt,
        [{"feed_id": f, "key": k, "seen_at": now, "note": notes.get((f, k))} for f, k in pairs],
    )


def set_seen_notes(conn: Connection, notes: dict[tuple[int, str], str]) -> None:
    for (feed_id, key), note in sorted(notes.items()):
        conn.execute(
            update(seen_items)
            .where(seen_items.c.feed_id == feed_id, seen_items.c.key == key)
            .values(note=note)
        )


def retitle_articles(
    conn: Connection,
    changes: Sequence[tuple[str, str, str]],
    now: datetime,
    material: Callable[[str, str], bool],
) -> list[str]:
    """Take the new headline (and summary) of stored articles whose headline changed
    ``material``-ly; returns their story keys (their messages need an edit)."""
    if not changes:
        return []
    by_url = {url: (title, summary) for url, title, summary in changes}
    rows = conn.execute(
        select(articles.c.id, articles.c.url, articles.c.title, articles.c.story_key).where(
            articles.c.url.in_(list(by_url))
        )
    ).all()
    stories: list[str] = []
    for row in rows:
        title, summary = by_url[row.url]
        if not material(row.title, title):
            continue
        conn.execute(
            update(articles)
            .where(articles.c.id == row.id)
            .values(title=title, summary=summary, updated_at=now)
        )
        stories.append(row.story_key)
    return stories


@dataclass(frozen=True, slots=True)
class StoredArticle:
    id: int
    story_key: str
    held_reason: str | None


def articles_by_url(conn: Connection, urls: Sequence[str]) -> dict[str, StoredArticle]:
    out: dict[str, StoredArticle] = {}
    for i in range(0, len(urls), _CHUNK):
        rows = conn.execute(
            select(
                articles.c.id, articles.c.url, articles.c.story_key, articles.c.held_reason
            ).where(articles.c.url.in_(list(urls[i : i + _CHUNK])))
        )
        for r in rows:
            out[r.url] = StoredArticle(r.id, r.story_key, r.held_reason)
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
    # Another instance may store the same URL (from another feed) at the same moment:
    # skip those rows and read back the winner's, rather than fail the whole batch.
    result = conn.execute(
        _ins(conn, articles)
        .on_conflict_do_nothing(index_elements=[articles.c.url])
        .returning(articles.c.id, articles.c.url, articles.c.story_key, articles.c.held_reason),
        values,
    )
    stored = {r.url: StoredArticle(r.id, r.story_key, r.held_reason) for r in result}
    missing = [a.url for a, _, _, _ in rows if a.url not in stored]
    if missing:
        stored.update(articles_by_url(conn, missing))
    return stored


@dataclass(frozen=True, slots=True)
class AlertRow:
    watch_id: int
    destination: str
    story_key: str
    article_id: int
    matched: tuple[str, ...]


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
            sort_by_parameter_order=True,
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
    by_key = {(r.watch_id, r.destination, r.story_key): r for r in rows}
    return [(x.id, by_key[(x.watch_id, x.destination, x.story_key)]) for x in result]


def count_hit(conn: Connection, watch_id: int, now: datetime, *, by: int = 1) -> None:
    conn.execute(
        update(watches)
        .where(watches.c.id == watch_id)
        .values(hits=watches.c.hits + by, last_hit_at=now)
    )


def update_feed_states(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update for the common case (304s): one executemany instead of N statements."""
    if not rows:
        return
    from sqlalchemy import bindparam

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


def touch_posts(conn: Connection, story_keys: Sequence[str]) -> int:
    """Stories that grew (another outlet, another watch): their messages need an edit.
    Returns how many messages were marked."""
    if not story_keys:
        return 0
    pairs: set[tuple[str, str]] = set()
    for start in range(0, len(story_keys), _CHUNK):
        chunk = list(story_keys[start : start + _CHUNK])
        rows = conn.execute(
            select(alerts.c.destination, alerts.c.message_id)
            .where(
                alerts.c.story_key.in_(chunk),
                alerts.c.state == "sent",
                alerts.c.message_id.is_not(None),
            )
            .distinct()
        )
        pairs.update((r.destination, r.message_id) for r in rows)
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


def headlines_after(
    conn: Connection, after_id: int, since: datetime
) -> list[tuple[int, str, str, str, datetime]]:
    """(id, story key, title, summary, first seen) of articles that could alert, stored
    after ``after_id`` (by any instance), oldest first."""
    rows = conn.execute(
        select(
            articles.c.id,
            articles.c.story_key,
            articles.c.title,
            articles.c.summary,
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
