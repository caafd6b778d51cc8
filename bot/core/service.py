"""``Wirewatch``: the one core every surface (CLI, Slack, Discord) calls.

It implements :class:`bot.core.api.CoreAPI` on top of the store, the poller and the
fetcher. Adapters decide who may call what; this decides what happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlsplit

from bot.core.alerts import AlertRow
from bot.core.api import BackfillResult, Caller, SubscribeResult
from bot.core.articles import canonical_url
from bot.core.commands.catalogue import IMPORT_MAX_BYTES, TREND_DAYS_MAX
from bot.core.controls import (
    CHANNEL_WORDS,
    ChannelControls,
    ChannelReport,
    ControlError,
    WatchControls,
    local_zone,
    snooze_end,
    with_digest,
    with_quiet,
    with_template,
    with_updates,
    with_volume,
)
from bot.core.discovery import feed_links, looks_like_html
from bot.core.errors import (
    DuplicateError,
    FeedError,
    NotFoundError,
    ParseError,
    PermissionDeniedError,
    QuotaError,
    UnsearchableQueryError,
)
from bot.core.fetch import FetchRequest, feed_address
from bot.core.listing import (
    KeptArticle,
    first_report,
    first_story_keys,
    list_stories,
    listing_rank,
    undated_backlog,
)
from bot.core.matcher import MatchDocument, explain, match_one
from bot.core.models import (
    ArticleSearch,
    ArticleView,
    FeedInfo,
    ParsedFeed,
    StatusReport,
    WatchInfo,
    WhyReport,
    iso_utc,
)
from bot.core.opml import ImportResult, parse_opml
from bot.core.parsing import parse_feed
from bot.core.poller import FeedFetcher, Poller
from bot.core.ports import Clock
from bot.core.query import Query, parse_query
from bot.core.refs import id_of, ping_problem
from bot.core.search_feeds import GOOGLE_NEWS_SEARCH, google_news_url, search_feed_name
from bot.core.storeport import CoreStore
from bot.core.storypick import STORIES_SEARCHED, StoryHere, stories_named
from bot.core.trend import TrendData, TrendPoint, count_trend

log = logging.getLogger(__name__)

RECENT_WINDOW = timedelta(days=14)  # the default of [database] retention_days
# A page that names several feeds: the best few are tried, not all of them.
DISCOVERY_TRIES = 3
# Feeds of one import checked at once: enough to be quick, few enough to be polite.
IMPORT_CONCURRENCY = 4
# Articles a trend reads at most, newest first (~1 s of matching, read a page at a time).
TREND_MAX_ARTICLES = 100_000
# `latest QUERY`, `watch test` and `backfill` read the retention window newest first, a
# page at a time, until they have found enough: at most SCAN_MAX articles (~0.5 s of
# matching and ~1 s of reading with 100,000 stored), so a query nothing matches cannot
# hold the event loop for long in a busy install, while a match a few days old is still
# found (one page of 5,000 held a few hours of 2,000 feeds).
SCAN_PAGE = 5000
SCAN_MAX = 50_000
# `latest` reads LATEST_READ_AHEAD times the stories asked for, then that many times more
# while those articles hold too few stories, up to LATEST_READ_MAX articles.
LATEST_READ_AHEAD = 4
LATEST_READ_MAX = 5000


@dataclass(frozen=True, slots=True)
class CheckedFeed:
    # The feed's own URL: a discovered one when the URL given was a page, and where it
    # permanently redirects when it does (a new feed has no items keyed by the old one).
    url: str
    title: str | None
    parsed: ParsedFeed
    page: str | None = None  # the web page given, when the feed was found through it


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


def _oldest_dated(rows: Sequence[Any], oldest: datetime | None) -> datetime | None:
    """How far back a scan has read, after ``rows`` (read newest first): the publication
    time of the last of them that is not a new feed's undated backlog, else ``oldest``.
    The backlog, read last, has no publication time to tell: when no dated article was
    read at all, the time the last of it was read stands for it, so a search cut there
    still says it was cut."""
    for row in reversed(rows):
        if not undated_backlog(row.published_known, row.held_reason):
            published: datetime = row.published
            return published
    if oldest is None and rows:
        stored: datetime = rows[-1].published
        return stored
    return oldest


def _doc(row: Any) -> MatchDocument:
    return MatchDocument(
        title=row.title, summary=row.summary, content=row.content, source=row.source
    )


@dataclass(frozen=True, slots=True)
class Quotas:
    """What one chat channel or workspace may create; the operator is exempt."""

    watches_per_channel: int = 50
    terms_per_watch: int = 40
    feeds_per_workspace: int = 50


def _checked_ping(mention: str | None) -> str | None:
    """A watch's ping as stored (trimmed), or PermissionDeniedError saying why it cannot be:
    the adapters ping only a role or a user group and would drop anything else at send time,
    while ``watch list`` went on saying the watch pings its group."""
    if not mention or not mention.strip():
        return mention
    problem = ping_problem(mention)
    if problem is not None:
        raise PermissionDeniedError(f"the ping {problem}")
    return mention.strip()


def _operator_watch(w: WatchInfo) -> bool:
    # Config watches have no owner; watches added at the CLI belong to the console.
    return w.owner is None or w.owner == "console"


class Wirewatch:
    """The core API (see ``bot.core.api.CoreAPI``)."""

    def __init__(
        self,
        *,
        store: CoreStore,
        poller: Poller,
        fetcher: FeedFetcher,
        clock: Clock,
        default_interval: int = 300,
        quotas: Quotas = Quotas(),
        wake_delivery: Callable[[], None] | None = None,
        recent_window: timedelta = RECENT_WINDOW,
        google_news_search: str = GOOGLE_NEWS_SEARCH,
    ) -> None:
        self.store = store
        self.poller = poller
        self.fetcher = fetcher
        self.clock = clock
        self.default_interval = default_interval
        self.quotas = quotas
        self.wake_delivery = wake_delivery
        # What `latest`, `watch test` and `backfill` look back over: the articles kept
        # (``[database] retention_days``).
        self.recent_window = recent_window
        self.google_news_search = google_news_search

    # ---- who sees what ------------------------------------------------------------------

    @staticmethod
    def _home(caller: Caller, personal: bool) -> str:
        """The destination a command acts on: the channel, or the caller's DM."""
        if not personal:
            return caller.destination
        if caller.dm is None:
            raise PermissionDeniedError("personal watches need a direct-message channel")
        return caller.dm

    async def _visible_watches(self, caller: Caller) -> list[WatchInfo]:
        everything = await self.store.watch_infos()
        if caller.operator:
            return everything
        own = {caller.destination, caller.dm}
        return [w for w in everything if _operator_watch(w) or w.owner in own]

    @staticmethod
    def _resolve_watches(
        refs: Sequence[str], candidates: list[WatchInfo]
    ) -> tuple[list[WatchInfo], list[str]]:
        def matching(ref: str) -> list[WatchInfo]:
            key = ref.strip().lstrip("#")
            watch_id = id_of(ref)
            return [
                w
                for w in candidates
                if (watch_id is not None and w.id == watch_id)
                or (w.name and w.name.casefold() == key.casefold())
                or w.query.casefold() == ref.strip().casefold()
            ]

        found: list[WatchInfo] = []
        unknown: list[str] = []
        at = 0
        while at < len(refs):
            # Words typed apart may be one name ("subscribe rare earth lithium" on Slack,
            # whose line of text splits at spaces): the longest run that names a watch.
            end = next(
                (e for e in range(len(refs), at + 1, -1) if matching(" ".join(refs[at:e]))),
                at + 1,
            )
            ref = " ".join(refs[at:end])
            match = matching(ref)
            if match:
                found.extend(m for m in match if m not in found)
            else:
                unknown.append(ref)
            at = end
        return found, unknown

    @classmethod
    def _one_watch(cls, ref: str, candidates: list[WatchInfo], unknown: str) -> WatchInfo:
        """The one watch ``ref`` names among ``candidates``: NotFoundError with ``unknown``
        when none does, and naming each when several do (a channel's own watch and a
        subscribed one may share a name): a command on one watch never picks one at random."""
        found, _ = cls._resolve_watches([ref], candidates)
        if not found:
            raise NotFoundError(unknown)
        if len(found) > 1:
            ids = ", ".join(f"#{w.id}" for w in found)
            raise NotFoundError(
                f"{len(found)} watches here answer to {ref!r} ({ids}): name one by its id"
            )
        return found[0]

    async def _check_name(
        self, name: str | None, home: str, *, query: str | None = None, editing: int | None = None
    ) -> None:
        """Refuse a name (or query) another watch here already answers to: the channel's own
        watches, whether or not they post here now, and the watches it subscribed to. A
        name of digits would read as another watch's id."""
        here = [
            w
            for w in await self.store.watch_infos()
            if (w.owner == home or home in w.destinations) and w.id != editing
        ]
        if name and id_of(name) is not None:
            raise DuplicateError(
                f"a watch's name cannot be a number ({name!r} reads as watch #{id_of(name)})"
            )
        for w in here:
            # `unsubscribe` turns a channel's own watch off here without removing it, and
            # `watch list` no longer shows it: say where it went and how to have it back.
            off = (
                f" (it no longer posts here: 'subscribe {w.id}' turns it back on)"
                if home not in w.destinations
                else ""
            )
            if query is not None and w.owner == home and w.query.casefold() == query.casefold():
                raise DuplicateError(f"watch #{w.id} already has that query here{off}")
            if name and w.name and w.name.casefold() == name.casefold():
                raise DuplicateError(f"watch #{w.id} is already called {name!r} here{off}")

    # ---- subscriptions ----------------------------------------------------------------------

    def _require_manager(self, caller: Caller) -> None:
        if not caller.can_manage:
            raise PermissionDeniedError(f"only {caller.managers} can change this channel's alerts")

    async def _set_subscriptions(
        self, caller: Caller, targets: Sequence[WatchInfo], active: bool, unknown: Sequence[str]
    ) -> SubscribeResult:
        now = self.clock.now()
        changed, unchanged = [], []
        for w in targets:
            if await self.store.set_subscription(
                w.id, caller.destination, active, now, tenant=caller.tenant
            ):
                changed.append(w)
            else:
                unchanged.append(w)
        await self.poller.refresh_watches()
        return SubscribeResult(caller.destination, tuple(changed), tuple(unchanged), tuple(unknown))

    async def subscribe(self, caller: Caller, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        self._require_manager(caller)
        visible = await self._visible_watches(caller)
        if watch_refs:
            targets, unknown = self._resolve_watches(watch_refs, visible)
        else:
            targets, unknown = [w for w in visible if w.owner is None], []
        return await self._set_subscriptions(caller, targets, True, unknown)

    async def unsubscribe(self, caller: Caller, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        self._require_manager(caller)
        mine = await self.store.watch_infos(caller.destination)
        if watch_refs:
            targets, unknown = self._resolve_watches(watch_refs, mine)
        else:
            targets, unknown = mine, []
        return await self._set_subscriptions(caller, targets, False, unknown)

    # ---- watches ------------------------------------------------------------------------

    def _check_terms(self, caller: Caller, parsed: Query) -> None:
        if not caller.operator and len(parsed.terms) > self.quotas.terms_per_watch:
            raise QuotaError(
                f"that query has {len(parsed.terms)} terms; a watch may have at most "
                f"{self.quotas.terms_per_watch}"
            )

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
        if not personal:
            self._require_manager(caller)
        home = self._home(caller, personal)
        mention = _checked_ping(mention)
        parsed = parse_query(query)  # raises QuerySyntaxError with the position
        self._check_terms(caller, parsed)
        search = self._search_url(parsed) if google_news else None
        await self._check_name(name, home, query=parsed.text)
        owned = [w for w in await self.store.watch_infos() if w.owner == home]
        if not caller.operator and len(owned) >= self.quotas.watches_per_channel:
            where = "your direct messages have" if personal else "this channel has"
            off = [w for w in owned if home not in w.destinations]
            hidden = (
                f" ({len(off)} of them no longer post here, so watch list does not show them: "
                f"'watch remove {off[0].id}' removes one)"
                if off
                else ""
            )
            raise QuotaError(
                f"{where} {len(owned)} watches, the most allowed{hidden}; remove one first"
            )
        if search is not None:
            # Before the watch: a workspace out of feeds gets no watch it did not ask for.
            await self._take_search_feed(caller, search, search_feed_name(name, parsed.text))
        watch_id = await self.store.add_watch(
            query=parsed.text,
            name=name,
            origin="cli" if caller.operator else "chat",
            owner=home,
            tenant=caller.tenant,
            created_by=caller.user,
            mention=mention,
            now=self.clock.now(),
            destinations_=[home],
            google_news=google_news,
        )
        await self.poller.refresh_watches()
        return await self._watch(watch_id)

    async def _watch(self, watch_id: int) -> WatchInfo:
        for w in await self.store.watch_infos():
            if w.id == watch_id:
                return w
        raise NotFoundError(f"no watch #{watch_id}")

    async def _owned_watch(self, caller: Caller, watch_ref: str, home: str) -> WatchInfo:
        everything = await self.store.watch_infos()
        if caller.operator:
            return self._one_watch(watch_ref, everything, f"no watch {watch_ref!r}")
        candidates = [w for w in everything if w.owner == home]
        found, _ = self._resolve_watches([watch_ref], candidates)
        if not found:
            # `watch list` shows the default watches a channel subscribed to beside its own:
            # "no watch #1" about a listed #1 left the reader guessing.
            subscribed, _ = self._resolve_watches(
                [watch_ref],
                [w for w in await self._visible_watches(caller) if home in w.destinations],
            )
            if len(subscribed) == 1:
                w = subscribed[0]
                raise PermissionDeniedError(
                    f"watch #{w.id} is a default watch, the operator's: it cannot be changed "
                    f"here, only turned off ('unsubscribe {w.id}')"
                )
        return self._one_watch(watch_ref, candidates, f"no watch {watch_ref!r} of this channel")

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
        if not personal:
            self._require_manager(caller)
        home = self._home(caller, personal)
        watch = await self._owned_watch(caller, watch_ref, home)
        values: dict[str, Any] = {}
        parsed = parse_query(watch.query)
        if query is not None:
            parsed = parse_query(query)
            self._check_terms(caller, parsed)
            values["query"] = parsed.text
        if name is not None:
            values["name"] = name or None
        if values:
            await self._check_name(
                values.get("name"), watch.owner or home, query=values.get("query"), editing=watch.id
            )
        if mention is not None:
            values["mention"] = _checked_ping(mention) or None
        if google_news is not None:
            values["google_news"] = google_news
        searching = watch.google_news if google_news is None else google_news
        before = self._searches(watch)
        after = self._search_url(parsed) if searching else None
        if after is not None and after != before:
            shown = values.get("name", watch.name)
            await self._take_search_feed(caller, after, search_feed_name(shown, parsed.text))
        if values:
            await self.store.update_watch(watch.id, **values)
            await self.poller.refresh_watches()
        if before is not None and before != after:
            await self._release_search_feed(watch.tenant, before)
        return await self._watch(watch.id)

    # ---- a watch's Google News search ---------------------------------------------------

    def _searches(self, watch: WatchInfo) -> str | None:
        """The search feed a watch polls, if it searches Google News."""
        if not watch.google_news:
            return None
        return google_news_url(parse_query(watch.query), self.google_news_search)

    def _search_url(self, parsed: Query) -> str:
        """The watch's search feed; refused when Google could search nothing of it."""
        url = google_news_url(parsed, self.google_news_search)
        if url is None:
            raise UnsearchableQueryError(parsed.text)
        return url

    async def _take_search_feed(self, caller: Caller, url: str, name: str) -> None:
        """Read a watch's search feed for its workspace: the workspace's own (within its
        feed quota), so its items reach that workspace's channels only."""
        if await self.store.find_feed(url, visible_to=caller.tenant) is not None:
            return  # read here already (the operator's, this workspace's own or its watches')
        await self.store.upsert_feed(
            url,
            name=name,
            interval=self.default_interval,
            source="operator" if caller.operator else "user",
            now=self.clock.now(),
            added_by=caller.user,
            tenant=caller.tenant,
            tenant_max=None if caller.operator else self.quotas.feeds_per_workspace,
            watch_search=True,
        )
        log.info("watch search feed added", extra={"feed": url, "tenant": caller.tenant})

    async def _release_search_feed(self, tenant: str | None, url: str) -> None:
        """A search feed no watch of its workspace searches any more stops being read for
        it (unless the workspace added that feed itself)."""
        if tenant is None:
            return  # the operator's feeds go in the config file or at the command line
        if await self._searching_watch(tenant, url) is not None:
            return  # another of the workspace's watches searches it too
        feed = await self.store.find_feed(url)
        if feed is not None and await self.store.remove_feed_owner(
            feed.id, tenant, watch_search_only=True
        ):
            log.info("watch search feed dropped", extra={"feed": url, "tenant": tenant})

    async def _searching_watch(self, tenant: str, url: str) -> WatchInfo | None:
        """A watch of ``tenant`` whose Google News search is ``url``."""
        for w in await self.store.watch_infos():
            if w.tenant == tenant and self._searches(w) == url:
                return w
        return None

    async def list_watches(self, caller: Caller, *, personal: bool = False) -> list[WatchInfo]:
        home = self._home(caller, personal)
        if caller.operator and home == "console":
            return await self.store.watch_infos()
        counts = await self.store.controls.not_relevant(home)
        return [
            replace(w, not_relevant=counts.get(w.id, 0)) for w in await self.store.watch_infos(home)
        ]

    async def available_watches(self, caller: Caller) -> list[WatchInfo]:
        return await self._visible_watches(caller)

    async def remove_watch(
        self, caller: Caller, watch_ref: str, *, personal: bool = False
    ) -> WatchInfo:
        if not personal:
            self._require_manager(caller)
        home = self._home(caller, personal)
        if caller.operator and home == "console":
            candidates = await self.store.watch_infos()
        else:
            candidates = [
                w
                for w in await self._visible_watches(caller)
                if w.owner == home or home in w.destinations
            ]
        w = self._one_watch(watch_ref, candidates, f"no watch {watch_ref!r} here")
        if caller.operator and home == "console" and w.owner is None:
            raise PermissionDeniedError(
                f"watch #{w.id} comes from the config file: remove it there "
                "(it is added again at every start)"
            )
        if w.owner == home or (caller.operator and home == "console"):
            await self.store.update_watch(w.id, active=False)
            search = self._searches(w)
            if search is not None:
                await self._release_search_feed(w.tenant, search)
        else:
            # An operator watch: this channel just stops receiving it.
            await self.store.set_subscription(w.id, home, False, self.clock.now())
        await self.poller.refresh_watches()
        return w

    async def test_query(self, caller: Caller, query: str, *, limit: int = 10) -> ArticleSearch:
        """The ``limit`` stories with an article ``query`` matches that were active last,
        each led by the first article it matched, as the watch would have alerted them:
        once a story."""
        parsed = parse_query(query)
        since = self.clock.now() - self.recent_window
        found: dict[str, None] = {}
        read, oldest = 0, None
        bounded, pages = await self._recent_scan(caller, since=since)
        async with aclosing(pages) as pages:
            async for rows in pages:
                for r in rows:
                    if r.story_key not in found and match_one(parsed, _doc(r)) is not None:
                        found[r.story_key] = None
                        if len(found) >= limit:
                            return ArticleSearch(await self._stories(caller, found, since, parsed))
                read += len(rows)
                oldest = _oldest_dated(rows, oldest)
        stories = await self._stories(caller, found, since, parsed)
        if not bounded:
            return ArticleSearch(stories)
        return ArticleSearch(stories, searched_back_to=oldest, read=read)

    async def _stories(
        self, caller: Caller, keys: Iterable[str], since: datetime, query: Query | None = None
    ) -> tuple[ArticleView, ...]:
        """The stories of ``keys`` as a listing shows them (``bot.core.listing``), from the
        articles ``caller`` may see: led by their first report (the first ``query``
        matches, when given), with the other outlets carrying them."""
        keys = list(keys)
        if not keys:
            return ()
        kept = await self.store.kept_story_articles(
            keys, since=since, visible_to=caller.tenant, content=query is not None
        )
        stories: dict[str, list[KeptArticle]] = {}
        for key in keys:
            for row in kept.get(key, ()):
                matched = None if query is None else match_one(query, _doc(row))
                view = _article_view(row, matched=matched or (), query=query)
                matches = query is None or matched is not None
                stories.setdefault(key, []).append(
                    KeptArticle(view, row.first_seen_at, listing_rank(row), matches)
                )
        return list_stories(stories)

    async def _recent_scan(
        self, caller: Caller, *, since: datetime | None = None, limit: int | None = None
    ) -> tuple[bool, AsyncGenerator[list[Any], None]]:
        """The articles first seen since ``since`` (default: the retention window) that
        ``caller`` may see, newest first, in pages of SCAN_PAGE, ``limit`` (default
        SCAN_MAX) in all at most; and whether the window holds more than that."""
        if since is None:
            since = self.clock.now() - self.recent_window
        if limit is None:
            limit = SCAN_MAX
        # One id past the bound tells a window cut by it from one that ends there.
        ids = await self.store.recent_article_ids(
            since=since, limit=limit + 1, visible_to=caller.tenant
        )
        return len(ids) > limit, self._pages_of(ids[:limit])

    async def _pages_of(self, ids: list[int]) -> AsyncGenerator[list[Any], None]:
        for start in range(0, len(ids), SCAN_PAGE):
            yield await self.store.articles_with_ids(ids[start : start + SCAN_PAGE])

    async def latest(
        self, caller: Caller, query: str | None = None, *, limit: int = 5
    ) -> ArticleSearch:
        """The ``limit`` stories active last, each led by its first report."""
        if query:
            return await self.test_query(caller, query, limit=limit)
        since = self.clock.now() - self.recent_window
        # A story's many outlets are among the newest articles too: read a few times
        # ``limit``, and more while they hold fewer stories than asked.
        read = limit * LATEST_READ_AHEAD
        while True:
            rows = await self.store.recent_articles(
                since=since, limit=read, visible_to=caller.tenant
            )
            keys = first_story_keys((r.story_key for r in rows), limit)
            if len(keys) >= limit or len(rows) < read or read >= LATEST_READ_MAX:
                break
            read = min(read * LATEST_READ_AHEAD, LATEST_READ_MAX)
        return ArticleSearch(await self._stories(caller, keys, since))

    # ---- feeds --------------------------------------------------------------------------

    async def add_feed(self, caller: Caller, url: str, *, name: str | None = None) -> FeedInfo:
        self._require_manager(caller)
        url = feed_address(url.strip().strip("<>"))
        existing = await self.store.find_feed(url, visible_to=caller.tenant)
        if existing is not None:
            raise DuplicateError(f"feed #{existing.id} already reads {url}")
        await self._check_feed_quota(caller, adding=1)
        checked = await self.check_feed(caller, url)
        if feed_address(checked.url) != url:
            found = await self.store.find_feed(feed_address(checked.url), visible_to=caller.tenant)
            if found is not None:
                raise DuplicateError(
                    f"feed #{found.id} already reads {checked.url}, where {url} leads"
                )
        return await self._store_feed(caller, checked.url, name or checked.title)

    async def _check_feed_quota(self, caller: Caller, *, adding: int) -> int:
        """How many more feeds the workspace may add (raises when not even ``adding``)."""
        if caller.operator:
            return 1 << 30
        assert caller.tenant is not None
        count = await self.store.count_tenant_feeds(caller.tenant)
        room = self.quotas.feeds_per_workspace - count
        if room < adding:
            raise QuotaError(
                f"this workspace has {count} feeds, the most allowed; remove one first"
            )
        return room

    async def check_feed(self, caller: Caller, url: str) -> CheckedFeed:
        """Fetch ``url`` once and make sure a feed is there: the URL's own document, or a
        feed its web page names (autodiscovery), fetched through the same guard (what
        ``feeds add`` adds, and ``wirewatch feed check`` shows)."""
        # The fetcher guards the address: the operator's private-address switch covers the
        # operator's own feeds only; chat feeds reach the chat allow-list at most.
        allow_private = None if caller.operator else False
        result = await self.fetcher.fetch(FetchRequest(url=url, allow_private=allow_private))
        if result.body is None:
            raise ParseError("the server sent no content")
        try:
            parsed = parse_feed(result.body, url=result.final_url, content_type=result.content_type)
        except ParseError:
            if not looks_like_html(result.body, result.content_type):
                raise
            links = feed_links(result.body, result.final_url)
        else:
            if not parsed.entries:
                log.info("feed %s parsed but has no items yet", url)
            return CheckedFeed(result.moved_to or url, parsed.title, parsed)
        if not links:
            raise ParseError(
                "that is a web page, and it names no feed "
                '(no <link rel="alternate"> to RSS, Atom or JSON Feed)'
            )
        reasons: list[str] = []
        for link in links[:DISCOVERY_TRIES]:
            try:
                found = await self.fetcher.fetch(
                    FetchRequest(url=link.url, allow_private=allow_private)
                )
                if found.body is None:
                    raise ParseError("the server sent no content")
                feed = parse_feed(found.body, url=found.final_url, content_type=found.content_type)
            except FeedError as e:
                reasons.append(f"{link.url}: {e.reason}")
                continue
            log.info("feed discovered", extra={"feed": link.url, "page": url})
            return CheckedFeed(found.moved_to or link.url, feed.title or link.title, feed, url)
        raise ParseError(
            "that page names feeds, but none could be read (" + "; ".join(reasons) + ")"
        )

    async def _store_feed(self, caller: Caller, url: str, name: str | None) -> FeedInfo:
        return await self.store.upsert_feed(
            feed_address(url),
            name=name,
            interval=self.default_interval,
            source="operator" if caller.operator else "user",
            now=self.clock.now(),
            added_by=caller.user,
            tenant=caller.tenant,
            tenant_max=None if caller.operator else self.quotas.feeds_per_workspace,
        )

    async def list_feeds(self, caller: Caller) -> list[FeedInfo]:
        return await self.store.list_feeds(visible_to=caller.tenant)

    async def remove_feed(self, caller: Caller, feed_ref: str) -> FeedInfo:
        self._require_manager(caller)
        ref = feed_ref.strip().strip("<>")
        feed = await self.store.find_feed(ref, visible_to=caller.tenant)
        if feed is None and feed_address(ref) != ref:
            # Stored as `feeds add` stores an address: the form the user typed is the same feed.
            feed = await self.store.find_feed(feed_address(ref), visible_to=caller.tenant)
        if feed is None:
            raise NotFoundError(f"no feed {feed_ref!r}")
        if caller.operator:
            if feed.source == "config":
                raise PermissionDeniedError(
                    f"feed #{feed.id} comes from the config file: remove it there "
                    "(it is added again at every start)"
                )
            await self.store.deactivate_feed(feed.id)
            return feed
        if caller.tenant not in await self.store.feed_tenants(feed.id):
            raise PermissionDeniedError(
                f"feed #{feed.id} is the operator's; only the operator's config can remove it"
            )
        assert caller.tenant is not None
        searching = await self._searching_watch(caller.tenant, feed.url)
        if searching is not None:
            # Taken away under the watch, it would go on saying it searches Google News.
            raise PermissionDeniedError(
                f"feed #{feed.id} is the Google News search of watch #{searching.id}: "
                "turn that off on the watch (or remove the watch) instead"
            )
        await self.store.remove_feed_owner(feed.id, caller.tenant)
        return feed

    async def import_feeds(
        self, caller: Caller, *, url: str | None = None, document: bytes | None = None
    ) -> ImportResult:
        self._require_manager(caller)
        if document is None:
            if not url:
                raise ParseError("no OPML file: give its URL")
            result = await self.fetcher.fetch(
                FetchRequest(
                    url=url.strip().strip("<>"),
                    allow_private=None if caller.operator else False,
                )
            )
            document = result.body or b""
        doc = parse_opml(document, max_bytes=IMPORT_MAX_BYTES)
        present: list[str] = []
        refused: list[tuple[str, str]] = []
        todo: list[tuple[str, str | None]] = []
        room = await self._check_feed_quota(caller, adding=0)
        for item in doc.feeds:
            address = feed_address(item.url)
            if urlsplit(item.url).scheme not in ("http", "https"):
                refused.append((item.url, "not an http(s) address"))
            elif await self.store.find_feed(address, visible_to=caller.tenant) is not None:
                present.append(item.url)
            elif any(address == queued for queued, _ in todo):
                present.append(item.url)  # the file lists it twice, written two ways
            elif len(todo) >= room:
                refused.append(
                    (
                        item.url,
                        f"this workspace reached its {self.quotas.feeds_per_workspace} feeds",
                    )
                )
            else:
                todo.append((address, item.title))
        slots = asyncio.Semaphore(IMPORT_CONCURRENCY)

        async def check(feed_url: str) -> CheckedFeed | str:
            async with slots:
                try:
                    return await self.check_feed(caller, feed_url)
                except FeedError as e:
                    return e.reason

        outcomes = await asyncio.gather(*(check(u) for u, _ in todo))
        added: list[FeedInfo] = []
        for (feed_url, title), outcome in zip(todo, outcomes, strict=True):
            if isinstance(outcome, str):
                refused.append((feed_url, outcome))
            elif (
                await self.store.find_feed(feed_address(outcome.url), visible_to=caller.tenant)
                is not None
            ):
                present.append(feed_url)  # a page whose feed this workspace already reads
            else:
                added.append(await self._store_feed(caller, outcome.url, title or outcome.title))
        log.info(
            "feeds imported",
            extra={"tenant": caller.tenant, "added": len(added), "refused": len(refused)},
        )
        return ImportResult(doc.title, len(doc.feeds), tuple(added), tuple(present), tuple(refused))

    async def backfill(self, caller: Caller, count: int) -> BackfillResult:
        self._require_manager(caller)
        watches = await self.store.watch_infos(caller.destination)
        queries = [(w, parse_query(w.query)) for w in watches]
        # Newest first: the first matching article of each story stands for it.
        picked: dict[str, tuple[Any, WatchInfo, tuple[str, ...]]] = {}
        here: set[str] = set()
        _, pages = await self._recent_scan(caller)
        async with aclosing(pages) as pages:
            async for rows in pages:
                for row in rows:
                    if row.story_key in picked:
                        continue
                    doc = _doc(row)
                    for watch, parsed in queries:
                        matched = match_one(parsed, doc)
                        if matched is not None:
                            picked[row.story_key] = (row, watch, tuple(matched))
                            break
                here = await self.store.stories_alerted_in(caller.destination, list(picked))
                if len(picked) - len(here) >= count:
                    break  # enough stories this channel has not had
        fresh = [v for k, v in picked.items() if k not in here][:count]
        fresh.reverse()  # oldest first, so the channel reads them in order
        fresh = await self._first_reports(caller, fresh)
        alert_rows = [
            AlertRow(watch.id, caller.destination, row.story_key, row.id, matched)
            for row, watch, matched in fresh
        ]
        await self.store.queue_alerts(alert_rows, self.clock.now())
        if alert_rows and self.wake_delivery is not None:
            self.wake_delivery()
        return BackfillResult(
            destination=caller.destination,
            queued=tuple(_article_view(row, matched=m) for row, _, m in fresh),
            already_here=len(here),
            watches=len(watches),
        )

    async def _first_reports(
        self, caller: Caller, picked: list[tuple[Any, WatchInfo, tuple[str, ...]]]
    ) -> list[tuple[Any, WatchInfo, tuple[str, ...]]]:
        """Each picked story's first report its watch matches (what its alert would have
        been sent with), in place of the newest matching article the scan met first."""
        since = self.clock.now() - self.recent_window
        keys = [row.story_key for row, _, _ in picked]
        kept = await self.store.kept_story_articles(keys, since=since, visible_to=caller.tenant)
        leads = []
        for row, watch, matched in picked:
            parsed = parse_query(watch.query)
            rows = {r.id: r for r in kept.get(row.story_key, ())} or {row.id: row}
            terms = {i: match_one(parsed, _doc(r)) for i, r in rows.items()}
            story = [
                KeptArticle(_article_view(r), r.first_seen_at, listing_rank(r), found is not None)
                for r, found in zip(rows.values(), terms.values(), strict=True)
            ]
            lead = first_report(story).view.id
            lead_terms = terms[lead]
            leads.append((rows[lead], watch, matched if lead_terms is None else tuple(lead_terms)))
        return leads

    async def trend(self, caller: Caller, watch_ref: str, days: int) -> TrendData:
        days = max(1, min(days, TREND_DAYS_MAX))
        watch = self._one_watch(
            watch_ref, await self._visible_watches(caller), f"no watch {watch_ref!r} here"
        )
        parsed = parse_query(watch.query)
        now = self.clock.now()
        today = now.date()
        first = datetime.combine(today - timedelta(days=days - 1), time(), UTC)
        # An article is published at most a day after it was first seen (see articles.py):
        # a day earlier by first sight holds every article published in the window.
        points: list[TrendPoint] = []
        oldest_read: datetime | None = None
        bounded, pages = await self._recent_scan(
            caller, since=first - timedelta(days=1), limit=TREND_MAX_ARTICLES
        )
        async for rows in pages:
            # A new feed's undated backlog has no day: the one it was read is not its own.
            points += [
                TrendPoint(r.story_key, r.published, r.source)
                for r in rows
                if not undated_backlog(r.published_known, r.held_reason)
                and match_one(parsed, _doc(r)) is not None
            ]
            oldest_read = _oldest_dated(rows, oldest_read)
        read_all = not bounded
        counted_from: date | None
        if not read_all and oldest_read is not None:
            # The oldest day read may hold more articles than were read.
            counted_from = oldest_read.astimezone(UTC).date() + timedelta(days=1)
        else:
            stored_since = await self.store.oldest_article_seen_at()
            counted_from = stored_since.astimezone(UTC).date() if stored_since else None
        return count_trend(
            watch.name or watch.query,
            points,
            today=today,
            days=days,
            counted_from=counted_from,
            read_all=read_all,
        )

    # ---- status and why -------------------------------------------------------------------

    def _own_destinations(self, caller: Caller) -> tuple[str, ...]:
        return tuple(d for d in (caller.destination, caller.dm) if d is not None)

    async def status(self, caller: Caller) -> StatusReport:
        scope = None if caller.operator else self._own_destinations(caller)
        feeds = await self.store.list_feeds(visible_to=caller.tenant)
        depth, oldest, dead = await self.store.outbox_stats(scope)
        last = await self.store.get_meta("last_poll_at")
        subs: tuple[WatchInfo, ...] = ()
        if caller.destination != "console":
            subs = tuple(await self.store.watch_infos(caller.destination))
        dests = await self.store.destination_statuses()
        if scope is not None:
            dests = [d for d in dests if d.destination in scope]
        recent_dead = await self.store.dead_letters(limit=5, destinations_=scope) if dead else []
        return StatusReport(
            feeds=tuple(feeds),
            destinations=tuple(dests),
            outbox_depth=depth,
            oldest_pending_at=oldest,
            dead_letters=dead,
            last_poll_at=datetime.fromisoformat(last) if last else None,
            subscriptions=subs,
            recent_dead=tuple(recent_dead),
        )

    async def why(self, caller: Caller, url: str) -> WhyReport:
        raw = url.strip().strip("<>")
        canonical = canonical_url(raw)
        row = await self.store.article_by_url(canonical) or await self.store.article_by_url(raw)
        if (
            row is not None
            and caller.tenant is not None
            and not await self.store.article_visible(row.id, caller.tenant)
        ):
            row = None  # another workspace's feed: not ours to tell
        if row is None:
            return WhyReport(
                url=canonical,
                found=False,
                lines=(
                    "Wirewatch has not seen this article in any feed it polls "
                    f"(looked for {canonical}).",
                    "If it is recent, its feed may not carry it yet, or no feed Wirewatch "
                    "reads covers this site.",
                ),
            )
        lines = [
            f"Seen {iso_utc(row.first_seen_at)} in feed {row.feed_url or '(removed feed)'} "
            f"from {row.source}: “{row.title}”.",
            f"Published {iso_utc(row.published)}"
            + (
                ""
                if row.published_known
                else " (the feed gave no date, or one more than a day ahead: first-seen time used)"
            )
            + ".",
        ]
        if row.held_reason:
            lines.append(f"Not alerted: {row.held_reason}.")
        # Another workspace's own feed may carry the story too: never named here.
        story = await self.store.story_articles(row.story_key, visible_to=caller.tenant)
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
        watches = await self._visible_watches(caller)
        told = len(lines)
        for w in watches:
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
        if len(lines) == told:
            # Silence here would leave "why no alert?" unanswered.
            lines.append(
                "No watch is set, so nothing could alert on it."
                if not watches
                else f"No watch found any of its terms in it ({len(watches)} checked)."
            )
        own = self._own_destinations(caller)
        for a in await self.store.alerts_for_story(row.story_key):
            if not caller.operator and a.destination not in own:
                continue
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

    # ---- channel controls ---------------------------------------------------------------

    async def _delivering_here(self, caller: Caller, watch_ref: str) -> WatchInfo:
        """A watch that delivers to the caller's channel (its own, or a subscribed one)."""
        here = [
            w
            for w in await self._visible_watches(caller)
            if w.owner == caller.destination or caller.destination in w.destinations
        ]
        return self._one_watch(watch_ref, here, f"no watch {watch_ref!r} delivers to this channel")

    async def channel_settings(self, caller: Caller) -> ChannelReport:
        destination = caller.destination
        volumes = await self.store.controls.watches(destination)
        watches = await self.store.watch_infos(destination)
        return ChannelReport(
            destination=destination,
            controls=await self.store.controls.channel(destination),
            watches=tuple((w, volumes.get(w.id, WatchControls())) for w in watches),
            now=self.clock.now(),
        )

    async def _save_controls(self, caller: Caller, controls: ChannelControls) -> ChannelControls:
        await self.store.controls.set_channel(
            caller.destination, controls, by=caller.user, now=self.clock.now()
        )
        return controls

    async def set_digest(
        self, caller: Caller, mode: str, at: str | None = None, tz: str | None = None
    ) -> ChannelControls:
        self._require_manager(caller)
        current = await self.store.controls.channel(caller.destination)
        return await self._save_controls(caller, with_digest(current, mode, at, tz))

    async def set_quiet(self, caller: Caller, hours: str, tz: str | None = None) -> ChannelControls:
        self._require_manager(caller)
        current = await self.store.controls.channel(caller.destination)
        return await self._save_controls(caller, with_quiet(current, hours, tz))

    async def _snooze_words(
        self, caller: Caller, target: str, duration: str, current: ChannelControls
    ) -> tuple[str, str]:
        """The watch and the duration, when a watch's name of several words was typed on
        one line and split after its first ("snooze rare earth 2h": "rare", "earth 2h"):
        the longest leading words that name a watch here, before a duration that reads."""
        words = f"{target} {duration}".split()
        if target.strip().lower() in CHANNEL_WORDS or len(words) < 3:
            return target, duration
        here = [
            w
            for w in await self._visible_watches(caller)
            if w.owner == caller.destination or caller.destination in w.destinations
        ]
        for cut in range(len(words) - 1, 1, -1):
            name, rest = " ".join(words[:cut]), " ".join(words[cut:])
            try:
                snooze_end(rest, self.clock.now(), local_zone(current))
            except ControlError:
                continue
            if self._resolve_watches([name], here)[0]:
                return name, rest
        return target, duration

    async def snooze(
        self, caller: Caller, target: str, duration: str
    ) -> tuple[WatchInfo | None, datetime | None]:
        self._require_manager(caller)
        current = await self.store.controls.channel(caller.destination)
        target, duration = await self._snooze_words(caller, target, duration, current)
        until = snooze_end(duration, self.clock.now(), local_zone(current))
        if target.strip().lower() in CHANNEL_WORDS:
            await self._save_controls(caller, replace(current, snoozed_until=until))
            return None, until
        watch = await self._delivering_here(caller, target)
        volumes = await self.store.controls.watches(caller.destination)
        controls = replace(volumes.get(watch.id, WatchControls()), snoozed_until=until)
        await self.store.controls.set_watch(
            watch.id, caller.destination, controls, now=self.clock.now()
        )
        return watch, until

    async def set_updates(self, caller: Caller, mode: str) -> ChannelControls:
        self._require_manager(caller)
        current = await self.store.controls.channel(caller.destination)
        return await self._save_controls(caller, with_updates(current, mode))

    async def set_template(self, caller: Caller, source: str) -> tuple[ChannelControls, str | None]:
        self._require_manager(caller)
        current = await self.store.controls.channel(caller.destination)
        controls, sample = with_template(current, source)
        return await self._save_controls(caller, controls), sample

    async def set_volume(
        self,
        caller: Caller,
        watch_ref: str,
        *,
        per_hour: int | None = None,
        min_outlets: int | None = None,
    ) -> tuple[WatchInfo, WatchControls]:
        self._require_manager(caller)
        watch = await self._delivering_here(caller, watch_ref)
        volumes = await self.store.controls.watches(caller.destination)
        controls = with_volume(volumes.get(watch.id, WatchControls()), per_hour, min_outlets)
        await self.store.controls.set_watch(
            watch.id, caller.destination, controls, now=self.clock.now()
        )
        return watch, controls

    # ---- alert buttons ------------------------------------------------------------------

    async def _alert_here(self, caller: Caller, alert_ref: str) -> tuple[str, int, str]:
        alert_id = id_of(alert_ref)
        found = (
            await self.store.controls.alert_here(caller.destination, alert_id)
            if alert_id is not None
            else None
        )
        if found is None:
            raise NotFoundError(f"no alert {alert_ref!r} in this channel")
        return found

    async def mute_story(self, caller: Caller, alert_ref: str) -> tuple[str, bool]:
        self._require_manager(caller)
        story_key, _, title = await self._alert_here(caller, alert_ref)
        if await self.store.controls.muted(caller.destination, [story_key]):
            return title, False
        await self.store.controls.mute_story(
            caller.destination, story_key, by=caller.user, now=self.clock.now()
        )
        return title, True

    async def stories_here(self, caller: Caller) -> list[StoryHere]:
        return await self.store.controls.stories_here(caller.destination, STORIES_SEARCHED)

    async def mute_story_named(self, caller: Caller, words: str) -> tuple[StoryHere, ...]:
        self._require_manager(caller)
        found = stories_named(words, await self.stories_here(caller))
        if len(found) == 1:
            await self.store.controls.mute_story(
                caller.destination, found[0].story_key, by=caller.user, now=self.clock.now()
            )
        return found

    async def not_relevant(self, caller: Caller, alert_ref: str) -> tuple[WatchInfo, bool]:
        story_key, watch_id, _ = await self._alert_here(caller, alert_ref)
        # The message stands for every watch that matched the story here: the verdict is
        # about each of them.
        new = False
        for matched in await self.store.controls.story_watches(caller.destination, story_key):
            new |= await self.store.controls.record_feedback(
                caller.destination,
                matched,
                story_key,
                user=caller.user or "someone",
                verdict="irrelevant",
                now=self.clock.now(),
            )
        counts = await self.store.controls.not_relevant(caller.destination)
        watch = await self._watch(watch_id)
        return replace(watch, not_relevant=counts.get(watch_id, 0)), new
