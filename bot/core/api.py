"""The core API chat adapters call: every slash command maps onto one method here.

Adapters only translate chat commands into these calls and render the results; they
decide *who* may call the mutating methods (channel managers), the core decides *what*
happens. Destinations are strings: ``slack:C0123ABCD``, ``discord:1122...``,
``slack-webhook:https://...``, ``discord-webhook:https://...``, ``console``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.core.models import ArticleView, FeedInfo, StatusReport, WatchInfo, WhyReport


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    destination: str
    changed: tuple[WatchInfo, ...]  # watches newly (un)subscribed by this call
    unchanged: tuple[WatchInfo, ...]  # already in the requested state
    unknown: tuple[str, ...]  # references that named no watch


class CoreAPI(Protocol):
    async def subscribe(self, destination: str, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        """Start alerts for ``destination``: all default (config) watches, or the named ones.

        A reference is a watch id ("3", "#3") or a watch name (case-insensitive).
        """
        ...

    async def unsubscribe(
        self, destination: str, watch_refs: Sequence[str] = ()
    ) -> SubscribeResult:
        """Stop alerts for ``destination``: all its watches, or the named ones (also "mute")."""
        ...

    async def add_watch(
        self,
        destination: str,
        query: str,
        *,
        name: str | None = None,
        created_by: str | None = None,
        mention: str | None = None,
    ) -> WatchInfo:
        """Create a watch owned by ``destination`` and subscribe it there.

        Raises ``QuerySyntaxError`` (with position) for a malformed query.
        """
        ...

    async def list_watches(self, destination: str | None = None) -> list[WatchInfo]:
        """Watches delivering to ``destination`` (all watches when None), with hit counts."""
        ...

    async def remove_watch(self, destination: str, watch_ref: str) -> WatchInfo:
        """Remove a watch this destination owns, or unsubscribe it from a shared one.

        Raises ``NotFoundError`` when the reference names no watch of this destination.
        """
        ...

    async def test_query(self, query: str, *, limit: int = 10) -> list[ArticleView]:
        """Stored recent articles ``query`` would match, newest first, with matched terms."""
        ...

    async def latest(self, query: str | None = None, *, limit: int = 5) -> list[ArticleView]:
        """Newest stored articles (matching ``query`` when given), newest first."""
        ...

    async def add_feed(
        self, url: str, *, name: str | None = None, added_by: str | None = None
    ) -> FeedInfo:
        """Validate (private-address guard, fetched once, must parse) and add a feed.

        Raises ``BlockedAddressError`` / ``FetchError`` / ``ParseError`` with a reason.
        """
        ...

    async def list_feeds(self) -> list[FeedInfo]: ...

    async def remove_feed(self, feed_ref: str) -> FeedInfo:
        """Remove a feed by id or URL. Raises ``NotFoundError``."""
        ...

    async def status(self, destination: str | None = None) -> StatusReport:
        """Feed and destination health, outbox depth, dead letters, last poll.

        With a destination, ``subscriptions`` lists that destination's watches.
        """
        ...

    async def why(self, url: str) -> WhyReport:
        """What happened to one article URL: fetched, matched or not (and why), delivered."""
        ...
