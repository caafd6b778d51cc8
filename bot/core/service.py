"""``Wirewatch``: the one core every surface (CLI, Slack, Discord) calls.

It implements :class:`bot.core.api.CoreAPI` on top of the store, the poller and the
fetcher. Adapters decide who may call what; this decides what happens.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.api import SubscribeResult
from bot.core.articles import canonical_url
from bot.core.errors import NotFoundError, ParseError
from bot.core.fetch import FetchRequest
from bot.core.matcher import MatchDocument, explain, match_one
from bot.core.models import ArticleView, FeedInfo, StatusReport, WatchInfo, WhyReport, iso_utc
from bot.core.netguard import check_url_syntax
from bot.core.parsing import parse_feed
from bot.core.poller import FeedFetcher, Poller
from bot.core.ports import Clock
from bot.core.query import Query, parse_query
from bot.store.store import Store

log = logging.getLogger(__name__)

RECENT_WINDOW = timedelta(days=14)


def _article_view(
    row: Any, *, matched: Sequence[str] = (), query: Query | None = None
) -> ArticleView:
    return ArticleView(
        id=row.id,
        url=row.url,
        title=row.title,
        summary=row.summary,
        source=row.source,
        published=row.published if row.published_known else None,
        feed_url=row.feed_url or "",
        story_key=row.story_key,
        matched=tuple(matched),
        watch_query=query.text if query else None,
        image_url=row.image_url,
    )


def _doc(row: Any) -> MatchDocument:
    return MatchDocument(
        title=row.title, summary=row.summary, content=row.content, source=row.source
    )


class Wirewatch:
    """The core API (see ``bot.core.api.CoreAPI``)."""

    def __init__(
        self,
        *,
        store: Store,
        poller: Poller,
        fetcher: FeedFetcher,
        clock: Clock,
        default_interval: int = 300,
        allow_private: bool = False,
    ) -> None:
        self.store = store
        self.poller = poller
        self.fetcher = fetcher
        self.clock = clock
        self.default_interval = default_interval
        self.allow_private = allow_private

    # ---- subscriptions ----------------------------------------------------------------------

    @staticmethod
    def _resolve_watches(
        refs: Sequence[str], candidates: list[WatchInfo]
    ) -> tuple[list[WatchInfo], list[str]]:
        found: list[WatchInfo] = []
        unknown: list[str] = []
        for ref in refs:
            key = ref.strip().lstrip("#")
            match = [
                w
                for w in candidates
                if (key.isdigit() and w.id == int(key))
                or (w.name and w.name.casefold() == key.casefold())
                or w.query.casefold() == ref.strip().casefold()
            ]
            if match:
                found.extend(m for m in match if m not in found)
            else:
                unknown.append(ref)
        return found, unknown

    async def subscribe(self, destination: str, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        everything = await self.store.watch_infos()
        if watch_refs:
            targets, unknown = self._resolve_watches(watch_refs, everything)
        else:
            targets = [w for w in everything if w.owner is None]
            unknown = []
        now = self.clock.now()
        changed, unchanged = [], []
        for w in targets:
            if await self.store.set_subscription(w.id, destination, True, now):
                changed.append(w)
            else:
                unchanged.append(w)
        await self.poller.refresh_watches()
        return SubscribeResult(destination, tuple(changed), tuple(unchanged), tuple(unknown))

    async def unsubscribe(
        self, destination: str, watch_refs: Sequence[str] = ()
    ) -> SubscribeResult:
        mine = await self.store.watch_infos(destination)
        if watch_refs:
            targets, unknown = self._resolve_watches(watch_refs, mine)
        else:
            targets, unknown = mine, []
        now = self.clock.now()
        changed, unchanged = [], []
        for w in targets:
            if await self.store.set_subscription(w.id, destination, False, now):
                changed.append(w)
            else:
                unchanged.append(w)
        await self.poller.refresh_watches()
        return SubscribeResult(destination, tuple(changed), tuple(unchanged), tuple(unknown))

    # ---- watches ------------------------------------------------------------------------

    async def add_watch(
        self,
        destination: str,
        query: str,
        *,
        name: str | None = None,
        created_by: str | None = None,
        mention: str | None = None,
    ) -> WatchInfo:
        parsed = parse_query(query)  # raises QuerySyntaxError with the position
        origin = "cli" if destination == "console" else "chat"
        watch_id = await self.store.add_watch(
            query=parsed.text,
            name=name,
            origin=origin,
            owner=destination,
            created_by=created_by,
            mention=mention,
            now=self.clock.now(),
            destinations_=[destination],
        )
        await self.poller.refresh_watches()
        return await self._watch(watch_id)

    async def _watch(self, watch_id: int) -> WatchInfo:
        for w in await self.store.watch_infos():
            if w.id == watch_id:
                return w
        raise NotFoundError(f"no watch #{watch_id}")

    async def list_watches(self, destination: str | None = None) -> list[WatchInfo]:
        return await self.store.watch_infos(destination)

    async def remove_watch(self, destination: str, watch_ref: str) -> WatchInfo:
        mine = await self.store.watch_infos(None if destination == "console" else destination)
        found, _ = self._resolve_watches([watch_ref], mine)
        if not found:
            raise NotFoundError(
                f"no watch {watch_ref!r} here; `watch list` shows this channel's watches and ids"
            )
        w = found[0]
        if w.owner == destination or destination == "console":
            await self.store.update_watch(w.id, active=False)
        else:
            await self.store.set_subscription(w.id, destination, False, self.clock.now())
        await self.poller.refresh_watches()
        return w

    async def test_query(self, query: str, *, limit: int = 10) -> list[ArticleView]:
        parsed = parse_query(query)
        rows = await self.store.recent_articles(since=self.clock.now() - RECENT_WINDOW, limit=5000)
        out = []
        for r in rows:
            matched = match_one(parsed, _doc(r))
            if matched is not None:
                out.append(_article_view(r, matched=matched, query=parsed))
                if len(out) >= limit:
                    break
        return out

    async def latest(self, query: str | None = None, *, limit: int = 5) -> list[ArticleView]:
        if query:
            return await self.test_query(query, limit=limit)
        rows = await self.store.recent_articles(since=self.clock.now() - RECENT_WINDOW, limit=limit)
        return [_article_view(r) for r in rows]

    # ---- feeds --------------------------------------------------------------------------

    async def add_feed(
        self, url: str, *, name: str | None = None, added_by: str | None = None
    ) -> FeedInfo:
        url = url.strip().strip("<>")
        if not self.allow_private:
            check_url_syntax(url)
        result = await self.fetcher.fetch(FetchRequest(url=url))
        if result.body is None:
            raise ParseError("the server sent no content")
        parsed = parse_feed(result.body, url=result.final_url, content_type=result.content_type)
        if not parsed.entries:
            log.info("feed %s parsed but has no items yet", url)
        return await self.store.upsert_feed(
            url,
            name=name or parsed.title,
            interval=self.default_interval,
            source="user",
            now=self.clock.now(),
            added_by=added_by,
        )

    async def list_feeds(self) -> list[FeedInfo]:
        return await self.store.list_feeds()

    async def remove_feed(self, feed_ref: str) -> FeedInfo:
        feed = await self.store.find_feed(feed_ref.strip().strip("<>"))
        if feed is None:
            raise NotFoundError(f"no feed {feed_ref!r}; `feeds list` shows ids")
        await self.store.deactivate_feed(feed.id)
        return feed

    # ---- status and why -------------------------------------------------------------------

    async def status(self, destination: str | None = None) -> StatusReport:
        feeds = await self.store.list_feeds()
        depth, oldest, dead = await self.store.outbox_stats()
        last = await self.store.get_meta("last_poll_at")
        subs: tuple[WatchInfo, ...] = ()
        if destination is not None:
            subs = tuple(await self.store.watch_infos(destination))
        return StatusReport(
            feeds=tuple(feeds),
            destinations=tuple(await self.store.destination_statuses()),
            outbox_depth=depth,
            oldest_pending_at=oldest,
            dead_letters=dead,
            last_poll_at=datetime.fromisoformat(last) if last else None,
            subscriptions=subs,
        )

    async def why(self, url: str) -> WhyReport:
        raw = url.strip().strip("<>")
        canonical = canonical_url(raw)
        row = await self.store.article_by_url(canonical) or await self.store.article_by_url(raw)
        if row is None:
            return WhyReport(
                url=canonical,
                found=False,
                lines=(
                    "Wirewatch has not seen this article in any feed it polls "
                    f"(looked for {canonical}).",
                    "If it is recent, its feed may not carry it yet, or no configured feed "
                    "covers this site: `feeds list` shows what is polled.",
                ),
            )
        lines = [
            f"Seen {iso_utc(row.first_seen_at)} in feed {row.feed_url or '(removed feed)'} "
            f"from {row.source}: “{row.title}”.",
            f"Published {iso_utc(row.published)}"
            + ("" if row.published_known else " (the feed gave no date: first-seen time used)")
            + ".",
        ]
        if row.held_reason:
            lines.append(f"Not alerted: {row.held_reason}.")
        story = await self.store.story_articles(row.story_key)
        if story and story[0].id != row.id:
            first = story[0]
            lines.append(
                f"Same story as “{first.title}” from {first.source} (story {row.story_key}): "
                "alerts go out once per story."
            )
        elif len(story) > 1:
            others = sorted({s.source for s in story if s.id != row.id})
            lines.append(f"Also carried by: {', '.join(others)} (story {row.story_key}).")
        doc = _doc(row)
        for w in await self.store.watch_infos():
            try:
                q = parse_query(w.query)
            except Exception:
                continue
            present, missing = explain(q, doc)
            if match_one(q, doc) is not None:
                lines.append(f"Watch #{w.id} “{w.query}” matched: {', '.join(present)}.")
            elif present:
                lines.append(
                    f"Watch #{w.id} “{w.query}” did not match: found {', '.join(present)}"
                    + (
                        f" but not {', '.join(missing)}."
                        if missing
                        else " but an excluded term too."
                    )
                )
        for a in await self.store.alerts_for_story(row.story_key):
            if a.state == "sent":
                lines.append(
                    f"Delivered to {a.destination} at {iso_utc(a.sent_at)} (alert #{a.id}, "
                    f"watch #{a.watch_id})."
                )
            elif a.state == "dead":
                lines.append(
                    f"Could not be delivered to {a.destination}: {a.last_error} "
                    f"(alert #{a.id} is in the dead-letter list)."
                )
            else:
                lines.append(
                    f"Queued for {a.destination} since {iso_utc(a.created_at)}"
                    + (f"; last error: {a.last_error}" if a.last_error else "")
                    + f" (alert #{a.id})."
                )
        return WhyReport(url=canonical, found=True, lines=tuple(lines))
