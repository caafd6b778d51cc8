"""Which feeds a workspace may read: the operator's (for everyone), its own, and any a chat
user added that no workspace owns. Every read that shows articles to a workspace filters
by it, an alert's coverage included (its channel's workspace)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from bot.core.storeport import GLOBAL_SOURCES
from bot.store.schema import alerts, feed_owners, feeds, subscriptions, watches


def visible_feeds(tenant: str) -> Any:
    """A WHERE clause for feeds whose items ``tenant`` may see."""
    owned = select(feed_owners.c.feed_id).where(feed_owners.c.tenant == tenant)
    anyone_owns = select(feed_owners.c.feed_id)
    return or_(
        feeds.c.source.in_(GLOBAL_SOURCES),
        feeds.c.id.in_(owned),
        ~feeds.c.id.in_(anyone_owns),
    )


def feed_reach(conn: Connection, feed_ids: Sequence[int]) -> dict[int, tuple[str, ...] | None]:
    """Each feed's reach: the workspaces that may read it, None for everyone (the
    operator's feeds, and those no workspace owns). A feed since removed is absent."""
    if not feed_ids:
        return {}
    ids = list(feed_ids)
    owners: dict[int, set[str]] = {}
    for feed_id, tenant in conn.execute(
        select(feed_owners.c.feed_id, feed_owners.c.tenant).where(feed_owners.c.feed_id.in_(ids))
    ):
        owners.setdefault(feed_id, set()).add(tenant)
    return {
        feed_id: reach_of(source, owners.get(feed_id))
        for feed_id, source in conn.execute(
            select(feeds.c.id, feeds.c.source).where(feeds.c.id.in_(ids))
        )
    }


def reach_of(source: str, owners: Iterable[str] | None) -> tuple[str, ...] | None:
    """A feed's reach from its source and owning workspaces: None (everyone) for the
    operator's feeds and those no workspace owns."""
    if source in GLOBAL_SOURCES or not owners:
        return None
    return tuple(sorted(set(owners)))


def reaches(reach: tuple[str, ...] | None, reader: str | None) -> bool:
    """Whether a feed of this reach shows to a channel of workspace ``reader`` (None: the
    operator's destinations, which see every feed; a reach of () shows to them alone)."""
    return reach is None or reader is None or reader in reach


# The workspace an alert is read in: its channel's subscription's, else its watch's
# (None: the operator's destinations). Select it over ``with_reader(...)``.
READER = func.coalesce(subscriptions.c.tenant, watches.c.tenant).label("reader")


def with_reader(joined: Any) -> Any:
    """``joined`` (alerts already joined to their watches) with the subscription that
    brought each alert to its channel, for :data:`READER`."""
    return joined.outerjoin(
        subscriptions,
        and_(
            subscriptions.c.watch_id == alerts.c.watch_id,
            subscriptions.c.destination == alerts.c.destination,
        ),
    )
