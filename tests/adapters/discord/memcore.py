"""A small in-memory CoreAPI for the states a real core reaches only slowly (failing
destinations, dead letters) and for commands tested without a database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.core.api import SubscribeResult
from bot.core.errors import BlockedAddressError, NotFoundError, QuerySyntaxError
from bot.core.models import (
    ArticleView,
    DestinationStatus,
    FeedHealth,
    FeedInfo,
    StatusReport,
    WatchInfo,
    WhyReport,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class MemoryCore:
    def __init__(self) -> None:
        self.watches: dict[int, WatchInfo] = {
            1: WatchInfo(1, '"rare earth"', "rare earth", 4, NOW, ()),
            2: WatchInfo(2, "lithium", "lithium", 0, None, ()),
        }
        self.feeds: dict[int, FeedInfo] = {
            1: FeedInfo(1, "https://news.example/rss", "Example News", 300, FeedHealth.OK, NOW,
                        None, None, 0, None, "config"),
        }  # fmt: skip
        self.articles: list[ArticleView] = []
        self.destinations: tuple[DestinationStatus, ...] = ()
        self.dead_letters = 0
        self.calls: list[str] = []

    def _find(self, ref: str) -> WatchInfo | None:
        ref = ref.lstrip("#")
        if ref.isdigit():
            return self.watches.get(int(ref))
        return next(
            (w for w in self.watches.values() if (w.name or "").lower() == ref.lower()), None
        )

    def _set(self, destination: str, refs: Sequence[str], *, on: bool) -> SubscribeResult:
        if refs:
            found = [self._find(r) for r in refs]
            targets = [w for w in found if w is not None]
            unknown = tuple(r for r, w in zip(refs, found, strict=True) if w is None)
        else:
            targets = [w for w in self.watches.values() if w.owner is None or not on]
            targets = [w for w in targets if on or destination in w.destinations]
            unknown = ()
        changed, unchanged = [], []
        for w in targets:
            has = destination in w.destinations
            if has == on:
                unchanged.append(w)
                continue
            dests = (
                (*w.destinations, destination)
                if on
                else tuple(d for d in w.destinations if d != destination)
            )
            self.watches[w.id] = replace(w, destinations=dests)
            changed.append(self.watches[w.id])
        return SubscribeResult(destination, tuple(changed), tuple(unchanged), unknown)

    async def subscribe(self, destination: str, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        self.calls.append("subscribe")
        return self._set(destination, watch_refs, on=True)

    async def unsubscribe(
        self, destination: str, watch_refs: Sequence[str] = ()
    ) -> SubscribeResult:
        self.calls.append("unsubscribe")
        return self._set(destination, watch_refs, on=False)

    async def add_watch(
        self,
        destination: str,
        query: str,
        *,
        name: str | None = None,
        created_by: str | None = None,
        mention: str | None = None,
    ) -> WatchInfo:
        self.calls.append("add_watch")
        if query.count('"') % 2:
            raise QuerySyntaxError("unclosed quote", query, query.index('"'))
        new = WatchInfo(
            max(self.watches) + 1, query, name, 0, None, (destination,), destination, mention
        )
        self.watches[new.id] = new
        return new

    async def list_watches(self, destination: str | None = None) -> list[WatchInfo]:
        return [
            w for w in self.watches.values() if destination is None or destination in w.destinations
        ]

    async def remove_watch(self, destination: str, watch_ref: str) -> WatchInfo:
        w = self._find(watch_ref)
        if w is None or destination not in w.destinations:
            raise NotFoundError(f"No watch {watch_ref!r} posts in this channel.")
        self._set(destination, [str(w.id)], on=False)
        return w

    async def test_query(self, query: str, *, limit: int = 10) -> list[ArticleView]:
        return self.articles[:limit]

    async def latest(self, query: str | None = None, *, limit: int = 5) -> list[ArticleView]:
        if query is not None and query.count('"') % 2:
            raise QuerySyntaxError("unclosed quote", query, query.index('"'))
        return self.articles[:limit]

    async def add_feed(
        self, url: str, *, name: str | None = None, added_by: str | None = None
    ) -> FeedInfo:
        if "127.0.0.1" in url or "localhost" in url:
            raise BlockedAddressError(
                "the address is private (127.0.0.1): Wirewatch only fetches public feeds"
            )
        feed = FeedInfo(
            max(self.feeds) + 1, url, name, 300, FeedHealth.NEW, None, None, None, 0, None, "user"
        )
        self.feeds[feed.id] = feed
        return feed

    async def list_feeds(self) -> list[FeedInfo]:
        return list(self.feeds.values())

    async def remove_feed(self, feed_ref: str) -> FeedInfo:
        feed = self.feeds.pop(int(feed_ref), None) if feed_ref.isdigit() else None
        if feed is None:
            raise NotFoundError(f"No feed {feed_ref!r}.")
        return feed

    async def status(self, destination: str | None = None) -> StatusReport:
        subs = tuple(w for w in self.watches.values() if destination in w.destinations)
        return StatusReport(
            tuple(self.feeds.values()), self.destinations, 3, NOW, self.dead_letters, NOW, subs
        )

    async def why(self, url: str) -> WhyReport:
        return WhyReport(url, False, (f"{url} was never fetched.",))
