"""Which feeds a workspace may read: the operator's (for everyone), its own, and any a chat
user added that no workspace owns. Every read that shows articles to a workspace filters
by it, an alert's coverage included (its channel's workspace)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from bot.core.storeport import GLOBAL_SOURCES
from bot.store.schema import feed_owners, feeds


def visible_feeds(tenant: str) -> Any:
    """A WHERE clause for feeds whose items ``tenant`` may see."""
    owned = select(feed_owners.c.feed_id).where(feed_owners.c.tenant == tenant)
    anyone_owns = select(feed_owners.c.feed_id)
    return or_(
        feeds.c.source.in_(GLOBAL_SOURCES),
        feeds.c.id.in_(owned),
        ~feeds.c.id.in_(anyone_owns),
    )
