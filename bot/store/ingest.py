"""Statements the poller runs inside ONE transaction per batch of fetched feeds.

Seen keys, new articles, alerts (the outbox) and the feed's fetch state are written
together, so a crash anywhere leaves either all of a feed's results or none of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.core.models import Article
from bot.store.schema import (
    alerts,
    articles,
    feeds,
    notices,
    seen_items,
    subscriptions,
    watches,
)

# SQLite caps bound parameters per statement; stay well under it.
_CHUNK = 400


def _ins(conn: AsyncConnection, table: Any) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


async def seen_keys(conn: AsyncConnection, feed_id: int, keys: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(keys), _CHUNK):
        chunk = list(keys[i : i + _CHUNK])
        rows = await conn.execute(
            select(seen_items.c.key).where(
                seen_items.c.feed_id == feed_id, seen_items.c.key.in_(chunk)
            )
        )
        found.update(r[0] for r in rows)
    return found


async def add_seen_keys(
    conn: AsyncConnection, feed_id: int, keys: Sequence[str], now: datetime
) -> None:
    if not keys:
        return
    stmt = _ins(conn, seen_items).on_conflict_do_nothing()
    await conn.execute(stmt, [{"feed_id": feed_id, "key": k, "seen_at": now} for k in keys])


@dataclass(frozen=True, slots=True)
class StoredArticle:
    id: int
    story_key: str
    held_reason: str | None


async def articles_by_url(conn: AsyncConnection, urls: Sequence[str]) -> dict[str, StoredArticle]:
    out: dict[str, StoredArticle] = {}
    for i in range(0, len(urls), _CHUNK):
        rows = await conn.execute(
            select(
                articles.c.id, articles.c.url, articles.c.story_key, articles.c.held_reason
            ).where(articles.c.url.in_(list(urls[i : i + _CHUNK])))
        )
        for r in rows:
            out[r.url] = StoredArticle(r.id, r.story_key, r.held_reason)
    return out


async def insert_article(
    conn: AsyncConnection,
    article: Article,
    *,
    feed_id: int,
    story_key: str,
    now: datetime,
    held_reason: str | None,
) -> int:
    result = await conn.execute(
        insert(articles)
        .values(
            url=article.url,
            feed_id=feed_id,
            title=article.title,
            summary=article.summary,
            content=article.content,
            source=article.source,
            published=article.published,
            published_known=article.published_known,
            first_seen_at=now,
            story_key=story_key,
            image_url=article.image_url,
            guid=article.guid,
            held_reason=held_reason,
        )
        .returning(articles.c.id)
    )
    return int(result.scalar_one())


async def insert_articles(
    conn: AsyncConnection,
    rows: Sequence[tuple[Article, str, str | None]],
    *,
    feed_id: int,
    now: datetime,
) -> dict[str, StoredArticle]:
    """Insert (article, story key, held reason) rows in one statement; map url -> stored."""
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
        for a, story, held in rows
    ]
    # Another instance may store the same URL (from another feed) at the same moment:
    # skip those rows and read back the winner's, rather than fail the whole batch.
    result = await conn.execute(
        _ins(conn, articles)
        .on_conflict_do_nothing(index_elements=[articles.c.url])
        .returning(articles.c.id, articles.c.url, articles.c.story_key, articles.c.held_reason),
        values,
    )
    stored = {r.url: StoredArticle(r.id, r.story_key, r.held_reason) for r in result}
    missing = [v["url"] for v in values if v["url"] not in stored]
    if missing:
        stored.update(await articles_by_url(conn, missing))
    return stored


async def insert_alert(
    conn: AsyncConnection,
    *,
    watch_id: int,
    destination: str,
    story_key: str,
    article_id: int,
    matched: Sequence[str],
    now: datetime,
) -> int | None:
    """Queue an alert; None when this story already alerted this watch in this destination."""
    stmt = (
        _ins(conn, alerts)
        .values(
            watch_id=watch_id,
            destination=destination,
            story_key=story_key,
            article_id=article_id,
            matched=json.dumps(list(matched)),
            created_at=now,
            state="pending",
            attempts=0,
            maybe_sent=False,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing()
        .returning(alerts.c.id)
    )
    return (await conn.execute(stmt)).scalar_one_or_none()


async def count_hit(conn: AsyncConnection, watch_id: int, now: datetime, *, by: int = 1) -> None:
    await conn.execute(
        update(watches)
        .where(watches.c.id == watch_id)
        .values(hits=watches.c.hits + by, last_hit_at=now)
    )


async def update_feed_state(conn: AsyncConnection, feed_id: int, values: dict[str, Any]) -> None:
    await conn.execute(update(feeds).where(feeds.c.id == feed_id).values(**values))


async def update_feed_states(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    """Bulk update for the common case (304s): one executemany instead of N statements."""
    if not rows:
        return
    from sqlalchemy import bindparam

    stmt = (
        update(feeds)
        .where(feeds.c.id == bindparam("b_id"))
        .values({k: bindparam(k) for k in rows[0] if k != "b_id"})
    )
    await conn.execute(stmt, list(rows))


async def notice_destinations(conn: AsyncConnection) -> list[str]:
    """Channels that hear about feed trouble: every active subscription's, console aside."""
    rows = await conn.execute(
        select(subscriptions.c.destination).where(subscriptions.c.active.is_(True)).distinct()
    )
    return sorted(r[0] for r in rows if r[0] != "console")


async def insert_notices(
    conn: AsyncConnection, rows: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Queue (destination, text) notices in the caller's transaction."""
    if not rows:
        return
    await conn.execute(
        insert(notices),
        [
            {
                "destination": dest,
                "text": text,
                "created_at": now,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for dest, text in rows
        ],
    )
