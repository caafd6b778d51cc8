"""Shared helpers for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from bot.core.models import Article
from bot.store import ingest
from bot.store.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def add_article(
    store: Store,
    url: str,
    story: str,
    published: datetime,
    source: str = "Reuters",
    *,
    seen: datetime = NOW,
) -> int:
    """One stored article of ``story`` (its id), as a poll first seeing it at ``seen``
    would record it."""
    article = Article(
        url=url,
        title=f"Title of {story}",
        summary="s",
        content="lithium",
        source=source,
        published=published,
        published_known=True,
        identity_keys=(f"u:{url}",),
    )

    def write(conn: Connection) -> int:
        return ingest.insert_articles(conn, [(article, story, None, None)], now=seen)[url].id

    return await store.run_write(write)
