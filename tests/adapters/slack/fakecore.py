"""A small in-memory CoreAPI for adapter tests (the real core is tested on its own)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.core.api import SubscribeResult
from bot.core.errors import NotFoundError, ParseError, QuerySyntaxError
from bot.core.models import (
    ArticleView,
    DestinationState,
    DestinationStatus,
    FeedHealth,
    FeedInfo,
    StatusReport,
    WatchInfo,
    WhyReport,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class FakeCore:
    def __init__(self) -> None:
        self.watches: dict[int, WatchInfo] = {
            1: WatchInfo(1, '"rare earth"', "rare earths", 4, NOW, ()),
            2: WatchInfo(2, "lithium", None, 0, None, ()),
        }
        self.defaults = (1, 2)
        self.feeds: dict[int, FeedInfo] = {
            1: FeedInfo(
                1,
                "https://news.example/rss",
                "Example News",
                300,
                FeedHealth.OK,
                NOW,
                None,
                None,
                0,
                None,
                "config",
            ),
            2: FeedInfo(
                2,
                "https://broken.example/feed",
                None,
                600,
                FeedHealth.FAILING,
                None,
                "HTTP 503 from server",
                NOW,
                5,
                None,
                "config",
            ),
        }
        self.articles = [
            ArticleView(
                1,
                "https://news.example/a1",
                "Rare earth prices soar",
                "Rare earth miners gain.",
                "Reuters",
                NOW,
                "https://news.example/rss",
                "s1",
                ("rare earth",),
                '"rare earth"',
                1,
            ),
            ArticleView(
                2,
                "https://news.example/a2",
                "Lithium glut",
                "Lithium falls.",
                "FT",
                NOW,
                "https://news.example/rss",
                "s2",
                ("lithium",),
                "lithium",
                2,
            ),
        ]
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def _resolve(self, ref: str) -> WatchInfo | None:
        ref = ref.lstrip("#")
        if ref.isdigit():
            return self.watches.get(int(ref))
        return next(
            (w for w in self.watches.values() if (w.name or "").lower() == ref.lower()), None
        )

    async def subscribe(self, destination: str, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        self.calls.append(("subscribe", (destination, tuple(watch_refs))))
        return self._set(destination, watch_refs, on=True)

    async def unsubscribe(
        self, destination: str, watch_refs: Sequence[str] = ()
    ) -> SubscribeResult:
        self.calls.append(("unsubscribe", (destination, tuple(watch_refs))))
        return self._set(destination, watch_refs, on=False)

    def _set(self, destination: str, refs: Sequence[str], *, on: bool) -> SubscribeResult:
        if refs:
            found = [(r, self._resolve(r)) for r in refs]
            targets = [w for _, w in found if w is not None]
            unknown = tuple(r for r, w in found if w is None)
        else:
            targets = (
                [self.watches[i] for i in self.defaults]
                if on
                else [w for w in self.watches.values() if destination in w.destinations]
            )
            unknown = ()
        changed, unchanged = [], []
        for w in targets:
            if (destination in w.destinations) == on:
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

    async def add_watch(
        self,
        destination: str,
        query: str,
        *,
        name: str | None = None,
        created_by: str | None = None,
        mention: str | None = None,
    ) -> WatchInfo:
        self.calls.append(("add_watch", (destination, query, created_by)))
        if query.count('"') % 2:
            raise QuerySyntaxError("unclosed quote", query, query.index('"'))
        watch = WatchInfo(
            max(self.watches) + 1, query, name, 0, None, (destination,), owner=destination
        )
        self.watches[watch.id] = watch
        return watch

    async def list_watches(self, destination: str | None = None) -> list[WatchInfo]:
        return [
            w for w in self.watches.values() if destination is None or destination in w.destinations
        ]

    async def remove_watch(self, destination: str, watch_ref: str) -> WatchInfo:
        self.calls.append(("remove_watch", (destination, watch_ref)))
        watch = self._resolve(watch_ref)
        if watch is None or destination not in watch.destinations:
            raise NotFoundError(f"no watch {watch_ref} in this channel")
        del self.watches[watch.id]
        return watch

    async def test_query(self, query: str, *, limit: int = 10) -> list[ArticleView]:
        self.calls.append(("test_query", (query, limit)))
        if query.count('"') % 2:
            raise QuerySyntaxError("unclosed quote", query, query.index('"'))
        return [a for a in self.articles if query.strip('"').lower() in a.title.lower()][:limit]

    async def latest(self, query: str | None = None, *, limit: int = 5) -> list[ArticleView]:
        self.calls.append(("latest", (query, limit)))
        return [a for a in self.articles if query is None or query.lower() in a.title.lower()][
            :limit
        ]

    async def add_feed(
        self, url: str, *, name: str | None = None, added_by: str | None = None
    ) -> FeedInfo:
        self.calls.append(("add_feed", (url, added_by)))
        if "notafeed" in url:
            raise ParseError("the page is HTML, not a feed")
        feed = FeedInfo(
            max(self.feeds) + 1, url, name, 300, FeedHealth.NEW, None, None, None, 0, None, "user"
        )
        self.feeds[feed.id] = feed
        return feed

    async def list_feeds(self) -> list[FeedInfo]:
        return list(self.feeds.values())

    async def remove_feed(self, feed_ref: str) -> FeedInfo:
        self.calls.append(("remove_feed", (feed_ref,)))
        feed = self.feeds.pop(int(feed_ref), None) if feed_ref.isdigit() else None
        if feed is None:
            raise NotFoundError(f"no feed {feed_ref}")
        return feed

    async def status(self, destination: str | None = None) -> StatusReport:
        return StatusReport(
            feeds=tuple(self.feeds.values()),
            destinations=(
                DestinationStatus(
                    "slack:C9", DestinationState.FAILING, "channel is archived", NOW, 3
                ),
            ),
            outbox_depth=3,
            oldest_pending_at=NOW,
            dead_letters=1,
            last_poll_at=NOW,
            subscriptions=tuple(await self.list_watches(destination)),
        )

    async def why(self, url: str) -> WhyReport:
        self.calls.append(("why", (url,)))
        if url.endswith("a1"):
            return WhyReport(
                url, True, ("fetched from Example News", "matched watch #1 (rare earth)")
            )
        return WhyReport(url, False, ())
