"""The one in-memory CoreAPI double, for adapter tests that need states a real core reaches
only slowly (failing destinations, dead letters) or a core that answers late.

``tests/core/test_core_contract.py`` runs the same suite against this double and the
real core, so the double cannot drift from what the core does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime

from bot.core.api import BackfillResult, Caller, SubscribeResult
from bot.core.controls import (
    CHANNEL_WORDS,
    ChannelControls,
    ChannelReport,
    WatchControls,
    local_zone,
    snooze_end,
    with_digest,
    with_quiet,
    with_template,
    with_updates,
    with_volume,
)
from bot.core.errors import (
    BlockedAddressError,
    DuplicateError,
    FeedError,
    NotFoundError,
    ParseError,
    PermissionDeniedError,
    UnsearchableQueryError,
)
from bot.core.matcher import MatchDocument, match_one
from bot.core.models import (
    ArticleSearch,
    ArticleView,
    DestinationStatus,
    FeedHealth,
    FeedInfo,
    StatusReport,
    WatchInfo,
    WhyReport,
)
from bot.core.opml import ImportResult, parse_opml
from bot.core.query import parse_query
from bot.core.search_feeds import google_news_url
from bot.core.storypick import StoryHere, stories_named
from bot.core.trend import TrendData, TrendPoint, count_trend

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


class MemoryCore:
    """Operator watches #1 "rare earth" and #2 lithium, one operator feed, no articles."""

    def __init__(self) -> None:
        self.watches: dict[int, WatchInfo] = {
            1: WatchInfo(1, '"rare earth"', "rare earth", 0, None, ()),
            2: WatchInfo(2, "lithium", "lithium", 0, None, ()),
        }
        self.feeds: dict[int, FeedInfo] = {
            1: FeedInfo(1, "https://news.example/rss", "Example News", 300, FeedHealth.OK, NOW,
                        None, None, 0, None, "config"),
        }  # fmt: skip
        self.feed_tenants: dict[int, str] = {}
        self.articles: list[ArticleView] = []
        self.destinations: tuple[DestinationStatus, ...] = ()
        self.dead_letters = 0
        self.calls: list[str] = []
        # alert id -> (destination, story key, watch id, headline): what alert buttons name
        self.alerts: dict[int, tuple[str, str, int, str]] = {}
        self.muted: set[tuple[str, str]] = set()
        self.feedback: set[tuple[str, int, str, str]] = set()
        self.channel_controls: dict[str, ChannelControls] = {}
        self.watch_controls: dict[tuple[str, int], WatchControls] = {}
        self.backfilled: dict[str, set[str]] = {}  # destination -> story keys queued there

    # --- helpers ---------------------------------------------------------------------

    def _visible(self, caller: Caller) -> list[WatchInfo]:
        return [
            w
            for w in self.watches.values()
            if caller.operator or w.owner in (None, "console", caller.destination, caller.dm)
        ]

    @staticmethod
    def _find(refs: Sequence[str], among: list[WatchInfo]) -> tuple[list[WatchInfo], list[str]]:
        found: list[WatchInfo] = []
        unknown: list[str] = []
        for ref in refs:
            key = ref.strip().lstrip("#").casefold()
            hit = [w for w in among if str(w.id) == key or (w.name or "").casefold() == key]
            found.extend(hit) if hit else unknown.append(ref)
        return found, unknown

    @staticmethod
    def _manager(caller: Caller) -> None:
        if not caller.can_manage:
            raise PermissionDeniedError(f"only {caller.managers} can change this channel's alerts")

    def _set(
        self, caller: Caller, targets: list[WatchInfo], unknown: list[str], *, on: bool
    ) -> SubscribeResult:
        changed, unchanged = [], []
        dest = caller.destination
        for w in targets:
            if (dest in w.destinations) == on:
                unchanged.append(w)
                continue
            dests = (*w.destinations, dest) if on else tuple(d for d in w.destinations if d != dest)
            self.watches[w.id] = replace(w, destinations=dests)
            changed.append(self.watches[w.id])
        return SubscribeResult(dest, tuple(changed), tuple(unchanged), tuple(unknown))

    def _search_url(self, query: str) -> str:
        url = google_news_url(parse_query(query))
        if url is None:
            raise UnsearchableQueryError(query)
        return url

    def _take_search(self, caller: Caller, url: str, name: str) -> None:
        if any(f.url == url for f in self.feeds.values()):
            return
        feed = FeedInfo(
            max(self.feeds) + 1, url, name, 300, FeedHealth.NEW, None, None, None, 0, None, "user"
        )
        self.feeds[feed.id] = feed
        if caller.tenant is not None:
            self.feed_tenants[feed.id] = caller.tenant

    def _drop_search(self, tenant: str | None, url: str) -> None:
        if any(
            w.tenant == tenant and w.google_news and self._search_url(w.query) == url
            for w in self.watches.values()
        ):
            return
        for feed in [f for f in self.feeds.values() if f.url == url]:
            if self.feed_tenants.get(feed.id) == tenant:
                del self.feeds[feed.id]

    # --- the API ---------------------------------------------------------------------

    async def subscribe(self, caller: Caller, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        self.calls.append("subscribe")
        self._manager(caller)
        visible = self._visible(caller)
        if watch_refs:
            targets, unknown = self._find(watch_refs, visible)
        else:
            targets, unknown = [w for w in visible if w.owner is None], []
        return self._set(caller, targets, unknown, on=True)

    async def unsubscribe(self, caller: Caller, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        self.calls.append("unsubscribe")
        self._manager(caller)
        mine = [w for w in self.watches.values() if caller.destination in w.destinations]
        if watch_refs:
            targets, unknown = self._find(watch_refs, mine)
        else:
            targets, unknown = mine, []
        return self._set(caller, targets, unknown, on=False)

    async def add_watch(
        self,
        caller: Caller,
        query: str,
        *,
        name: str | None = None,
        mention: str | None = None,
        personal: bool = False,
        google_news: bool = False,
    ) -> WatchInfo:
        self.calls.append("add_watch")
        self._manager(caller)
        parsed = parse_query(query)
        home = caller.destination
        for w in self.watches.values():
            if w.owner == home and w.query.casefold() == parsed.text.casefold():
                raise DuplicateError(f"watch #{w.id} already has that query here")
        if google_news:
            self._take_search(caller, self._search_url(parsed.text), f"Google News: {query}")
        new = WatchInfo(
            max(self.watches) + 1, parsed.text, name, 0, None, (home,), home, mention,
            caller.tenant, google_news=google_news,
        )  # fmt: skip
        self.watches[new.id] = new
        return new

    async def edit_watch(
        self,
        caller: Caller,
        watch_ref: str,
        *,
        query: str | None = None,
        name: str | None = None,
        mention: str | None = None,
        personal: bool = False,
        google_news: bool | None = None,
    ) -> WatchInfo:
        self._manager(caller)
        owned = [w for w in self.watches.values() if w.owner == caller.destination]
        found, _ = self._find([watch_ref], owned)
        if not found:
            raise NotFoundError(f"no watch {watch_ref!r} of this channel")
        old = found[0]
        w = replace(
            old,
            query=parse_query(query).text if query is not None else old.query,
            name=(name or None) if name is not None else old.name,
            mention=(mention or None) if mention is not None else old.mention,
            google_news=old.google_news if google_news is None else google_news,
        )
        if w.google_news:
            self._take_search(caller, self._search_url(w.query), f"Google News: {w.query}")
        self.watches[w.id] = w
        if old.google_news:
            self._drop_search(old.tenant, self._search_url(old.query))
        return w

    async def list_watches(self, caller: Caller, *, personal: bool = False) -> list[WatchInfo]:
        if caller.operator and caller.destination == "console":
            return list(self.watches.values())
        dest = caller.destination
        return [
            replace(w, not_relevant=len({f[2] for f in self.feedback if f[:2] == (dest, w.id)}))
            for w in self.watches.values()
            if dest in w.destinations
        ]

    async def available_watches(self, caller: Caller) -> list[WatchInfo]:
        return self._visible(caller)

    async def remove_watch(
        self, caller: Caller, watch_ref: str, *, personal: bool = False
    ) -> WatchInfo:
        self._manager(caller)
        here = [
            w
            for w in self._visible(caller)
            if w.owner == caller.destination or caller.destination in w.destinations
        ]
        found, _ = self._find([watch_ref], here)
        if not found:
            raise NotFoundError(f"no watch {watch_ref!r} here")
        w = found[0]
        if w.owner == caller.destination:
            del self.watches[w.id]
            if w.google_news:
                self._drop_search(w.tenant, self._search_url(w.query))
        else:
            self._set(caller, [w], [], on=False)
        return w

    async def test_query(self, caller: Caller, query: str, *, limit: int = 10) -> ArticleSearch:
        parse_query(query)
        return ArticleSearch(tuple(self.articles[:limit]))

    async def latest(
        self, caller: Caller, query: str | None = None, *, limit: int = 5
    ) -> ArticleSearch:
        if query:
            parse_query(query)
        return ArticleSearch(tuple(self.articles[:limit]))

    async def add_feed(self, caller: Caller, url: str, *, name: str | None = None) -> FeedInfo:
        self._manager(caller)
        if "127.0.0.1" in url or "localhost" in url:
            raise BlockedAddressError(
                "the address is private (127.0.0.1): Wirewatch only fetches public feeds"
            )
        if any(f.url == url for f in await self.list_feeds(caller)):
            raise DuplicateError(f"already reading {url}")
        feed = FeedInfo(
            max(self.feeds) + 1, url, name, 300, FeedHealth.NEW, None, None, None, 0, None, "user"
        )
        self.feeds[feed.id] = feed
        if caller.tenant is not None:
            self.feed_tenants[feed.id] = caller.tenant
        return feed

    async def list_feeds(self, caller: Caller) -> list[FeedInfo]:
        return [
            f
            for f in self.feeds.values()
            if caller.operator or self.feed_tenants.get(f.id, caller.tenant) == caller.tenant
        ]

    async def remove_feed(self, caller: Caller, feed_ref: str) -> FeedInfo:
        self._manager(caller)
        ref = feed_ref.strip().lstrip("#")
        feed = next(
            (f for f in await self.list_feeds(caller) if str(f.id) == ref or f.url == ref), None
        )
        if feed is None:
            raise NotFoundError(f"no feed {feed_ref!r}")
        if not caller.operator and self.feed_tenants.get(feed.id) != caller.tenant:
            raise PermissionDeniedError(f"feed #{feed.id} is the operator's")
        for w in self.watches.values():
            if (
                w.tenant == caller.tenant
                and w.google_news
                and self._search_url(w.query) == feed.url
            ):
                raise PermissionDeniedError(
                    f"feed #{feed.id} is the Google News search of watch #{w.id}"
                )
        del self.feeds[feed.id]
        return feed

    async def import_feeds(
        self, caller: Caller, *, url: str | None = None, document: bytes | None = None
    ) -> ImportResult:
        self._manager(caller)
        if document is None:
            if url and ("127.0.0.1" in url or "localhost" in url):
                raise BlockedAddressError("the address is private (127.0.0.1)")
            raise ParseError("the double fetches nothing: pass the document")
        doc = parse_opml(document)
        added: list[FeedInfo] = []
        present: list[str] = []
        refused: list[tuple[str, str]] = []
        for item in doc.feeds:
            try:
                added.append(await self.add_feed(caller, item.url, name=item.title))
            except DuplicateError:
                present.append(item.url)
            except FeedError as e:
                refused.append((item.url, e.reason))
        return ImportResult(doc.title, len(doc.feeds), tuple(added), tuple(present), tuple(refused))

    async def backfill(self, caller: Caller, count: int) -> BackfillResult:
        self._manager(caller)
        watches = await self.list_watches(caller)
        had = self.backfilled.setdefault(caller.destination, set())
        matching = [
            a
            for a in self.articles
            if any(match_one(parse_query(w.query), _doc(a)) is not None for w in watches)
        ]
        fresh = [a for a in matching if a.story_key not in had][:count]
        had.update(a.story_key for a in fresh)
        return BackfillResult(
            caller.destination, tuple(reversed(fresh)), len(matching) - len(fresh), len(watches)
        )

    async def trend(self, caller: Caller, watch_ref: str, days: int) -> TrendData:
        found, _ = self._find([watch_ref], self._visible(caller))
        if not found:
            raise NotFoundError(f"no watch {watch_ref!r} here")
        query = parse_query(found[0].query)
        points = [
            TrendPoint(a.story_key, a.published or NOW, a.source)
            for a in self.articles
            if match_one(query, _doc(a)) is not None
        ]
        return count_trend(found[0].name or found[0].query, points, today=NOW.date(), days=days)

    async def status(self, caller: Caller) -> StatusReport:
        subs = tuple(w for w in self.watches.values() if caller.destination in w.destinations)
        return StatusReport(
            tuple(await self.list_feeds(caller)),
            self.destinations,
            3,
            NOW,
            self.dead_letters,
            NOW,
            subs,
        )

    async def why(self, caller: Caller, url: str) -> WhyReport:
        return WhyReport(url, False, (f"Wirewatch has not seen {url} in any feed it polls.",))

    # --- channel controls --------------------------------------------------------------

    def _here(self, caller: Caller, ref: str) -> WatchInfo:
        here = [
            w
            for w in self._visible(caller)
            if w.owner == caller.destination or caller.destination in w.destinations
        ]
        found, _ = self._find([ref], here)
        if not found:
            raise NotFoundError(f"no watch {ref!r} delivers to this channel")
        return found[0]

    async def channel_settings(self, caller: Caller) -> ChannelReport:
        self.calls.append("channel_settings")
        dest = caller.destination
        watches = [w for w in self.watches.values() if w.owner == dest or dest in w.destinations]
        return ChannelReport(
            dest,
            self.channel_controls.get(dest, ChannelControls()),
            tuple((w, self.watch_controls.get((dest, w.id), WatchControls())) for w in watches),
            NOW,
        )

    async def set_digest(
        self, caller: Caller, mode: str, at: str | None = None, tz: str | None = None
    ) -> ChannelControls:
        self.calls.append("set_digest")
        self._manager(caller)
        current = self.channel_controls.get(caller.destination, ChannelControls())
        new = self.channel_controls[caller.destination] = with_digest(current, mode, at, tz)
        return new

    async def set_quiet(self, caller: Caller, hours: str, tz: str | None = None) -> ChannelControls:
        self.calls.append("set_quiet")
        self._manager(caller)
        current = self.channel_controls.get(caller.destination, ChannelControls())
        new = self.channel_controls[caller.destination] = with_quiet(current, hours, tz)
        return new

    async def snooze(
        self, caller: Caller, target: str, duration: str
    ) -> tuple[WatchInfo | None, datetime | None]:
        self.calls.append("snooze")
        self._manager(caller)
        current = self.channel_controls.get(caller.destination, ChannelControls())
        until = snooze_end(duration, NOW, local_zone(current))
        if target.strip().lower() in CHANNEL_WORDS:
            self.channel_controls[caller.destination] = replace(current, snoozed_until=until)
            return None, until
        watch = self._here(caller, target)
        key = (caller.destination, watch.id)
        old = self.watch_controls.get(key, WatchControls())
        self.watch_controls[key] = replace(old, snoozed_until=until)
        return watch, until

    async def set_updates(self, caller: Caller, mode: str) -> ChannelControls:
        self.calls.append("set_updates")
        self._manager(caller)
        current = self.channel_controls.get(caller.destination, ChannelControls())
        new = self.channel_controls[caller.destination] = with_updates(current, mode)
        return new

    async def set_template(self, caller: Caller, source: str) -> tuple[ChannelControls, str | None]:
        self.calls.append("set_template")
        self._manager(caller)
        current = self.channel_controls.get(caller.destination, ChannelControls())
        controls, sample = with_template(current, source)
        self.channel_controls[caller.destination] = controls
        return controls, sample

    async def set_volume(
        self,
        caller: Caller,
        watch_ref: str,
        *,
        per_hour: int | None = None,
        min_outlets: int | None = None,
    ) -> tuple[WatchInfo, WatchControls]:
        self.calls.append("set_volume")
        self._manager(caller)
        watch = self._here(caller, watch_ref)
        key = (caller.destination, watch.id)
        new = with_volume(self.watch_controls.get(key, WatchControls()), per_hour, min_outlets)
        self.watch_controls[key] = new
        return watch, new

    # --- alert buttons -----------------------------------------------------------------

    def _alert(self, caller: Caller, ref: str) -> tuple[str, str, int, str]:
        key = ref.strip().lstrip("#")
        found = self.alerts.get(int(key)) if key.isdigit() else None
        if found is None or found[0] != caller.destination:
            raise NotFoundError(f"no alert {ref!r} in this channel")
        return found

    async def mute_story(self, caller: Caller, alert_ref: str) -> tuple[str, bool]:
        self.calls.append("mute_story")
        self._manager(caller)
        dest, story, _, title = self._alert(caller, alert_ref)
        new = (dest, story) not in self.muted
        self.muted.add((dest, story))
        return title, new

    async def stories_here(self, caller: Caller) -> list[StoryHere]:
        newest = sorted(
            ((alert_id, a) for alert_id, a in self.alerts.items() if a[0] == caller.destination),
            reverse=True,
        )
        found: dict[str, StoryHere] = {}
        for alert_id, (dest, story, _, title) in newest:
            found.setdefault(story, StoryHere(alert_id, story, title, (dest, story) in self.muted))
        return list(found.values())

    async def mute_story_named(self, caller: Caller, words: str) -> tuple[StoryHere, ...]:
        self.calls.append("mute_story_named")
        self._manager(caller)
        found = stories_named(words, await self.stories_here(caller))
        if len(found) == 1:
            self.muted.add((caller.destination, found[0].story_key))
        return found

    async def not_relevant(self, caller: Caller, alert_ref: str) -> tuple[WatchInfo, bool]:
        self.calls.append("not_relevant")
        dest, story, watch_id, _ = self._alert(caller, alert_ref)
        matched = {a[2] for a in self.alerts.values() if a[0] == dest and a[1] == story}
        verdicts = {(dest, w, story, caller.user or "someone") for w in matched}
        new = not verdicts <= self.feedback
        self.feedback |= verdicts
        marked = len({f[2] for f in self.feedback if f[0] == dest and f[1] == watch_id})
        return replace(self.watches[watch_id], not_relevant=marked), new


def _doc(article: ArticleView) -> MatchDocument:
    return MatchDocument(title=article.title, summary=article.summary, source=article.source)
