"""Domain data that walks one way: feeds -> entries -> articles -> matches -> alerts.

Everything here is a frozen dataclass with no behaviour beyond derived properties;
decisions live in the pure modules (``query``, ``matcher``, ``articles``, ``stories``,
``schedule``) and I/O lives at the edges (``fetch``, ``store``, adapters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One item as the feed carried it, before cleaning (fields may hold HTML)."""

    guid: str | None
    link: str | None
    title: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None  # timezone-aware UTC when the feed gave a date
    source_name: str | None = None  # Google News <source>, dc:publisher, ...
    source_url: str | None = None
    image_url: str | None = None
    author: str | None = None

    def __reduce__(self) -> tuple[type[FeedEntry], tuple[object, ...]]:
        return FeedEntry, _values(self)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed document. ``warning`` names what was repaired, if anything."""

    title: str | None
    link: str | None
    entries: tuple[FeedEntry, ...]
    # Publisher's hint for how often to poll (<ttl>, sy:updatePeriod/Frequency), seconds.
    ttl_seconds: int | None = None
    parser: str = "fast"
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned item: plain text, canonical URL, UTC time, stable identity keys."""

    url: str  # canonical article URL
    title: str  # plain text, publisher suffix removed for Google News
    summary: str  # plain text, short: for display
    content: str  # plain text, capped: stored (full content when the feed carries it, else "")
    source: str  # publisher name
    published: datetime  # UTC; first-seen time when the feed gave none
    published_known: bool
    # Identity keys, strongest first (guid-based, url-based, title+date hash). An item is
    # "seen" when ANY of its keys was seen before: a changed guid with the same URL, or
    # a re-dated item with the same guid, stays the same item.
    identity_keys: tuple[str, ...]
    image_url: str | None = None
    guid: str | None = None
    # Every word of the item's text (description and content), uncut: what watches match
    # against. Held in memory for one batch, never stored.
    full_text: str = ""

    def __reduce__(self) -> tuple[type[Article], tuple[object, ...]]:
        return Article, _values(self)


def _values(item: Any) -> tuple[object, ...]:
    """The field values, to pickle an object as a call of its class: entries and articles
    cross to and from the parsing worker processes by the hundred thousand, and a frozen
    slotted dataclass's default unpickling looks up its fields for every object."""
    return tuple(getattr(item, name) for name in item.__match_args__)


class FeedHealth(StrEnum):
    OK = "ok"
    # The last fetch or parse failed, not yet often enough in a row to call it failing
    # (and tell the channels): it is tried again at its next poll.
    RETRYING = "retrying"
    FAILING = "failing"
    NEW = "new"


@dataclass(frozen=True, slots=True)
class FeedInfo:
    id: int
    url: str
    name: str | None
    interval_seconds: int
    health: FeedHealth
    last_success_at: datetime | None
    last_error: str | None
    error_since: datetime | None
    consecutive_failures: int
    next_poll_at: datetime | None
    source: str  # "config" (file) | "operator" (CLI) | "user" (chat)
    moved_to: str | None = None  # where its URL permanently redirects (fetched there)


@dataclass(frozen=True, slots=True)
class WatchInfo:
    id: int
    query: str
    name: str | None
    hits: int
    last_hit_at: datetime | None
    destinations: tuple[str, ...]
    owner: str | None = None  # destination that created it in chat, None for config watches
    mention: str | None = None  # the only mention an alert for this watch may carry
    tenant: str | None = None  # workspace/server of the owner (None: the operator's)
    not_relevant: int = 0  # stories people here marked "not relevant" (its precision)
    google_news: bool = False  # also polls a Google News search of its query


class DestinationState(StrEnum):
    OK = "ok"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class WatchHit:
    """Another watch that matched the same story in the same channel."""

    watch_id: int
    watch_name: str | None
    watch_query: str
    matched: tuple[str, ...]
    mention: str | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """A neutral alert: each adapter renders it natively (embed, Block Kit, line of text)."""

    id: int
    destination: str  # e.g. "slack:C0123ABCD", "discord:1122...", "console"
    watch_id: int
    watch_query: str
    watch_name: str | None
    title: str
    url: str
    source: str
    summary: str
    published: datetime | None
    matched: tuple[str, ...]  # matched terms as written in the query
    story_key: str
    feed_url: str
    created_at: datetime
    also_reported_by: tuple[str, ...] = ()
    image_url: str | None = None
    mention: str | None = None  # role/user-group id a watch was configured to ping
    updated: bool = False  # the headline changed materially after it was first alerted
    also_matched: tuple[WatchHit, ...] = ()  # the story's other watches in this channel
    coverage: tuple[tuple[str, str], ...] = ()  # (outlet, url) of the story's other articles
    # (outlet, headline, url) of the story's articles that are news of their own beside
    # this one (bot.core.alerts.news_of_their_own): shown by headline, not only by outlet
    further: tuple[tuple[str, str, str], ...] = ()
    digest: str | None = None  # part of a summary (digest, after quiet hours): its heading
    template: str | None = None  # the channel's template for its first line, if it set one

    @property
    def hits(self) -> tuple[WatchHit, ...]:
        """Every watch this alert stands for, its own first."""
        own = WatchHit(self.watch_id, self.watch_name, self.watch_query, self.matched, self.mention)
        return (own, *self.also_matched)

    def as_json(self) -> dict[str, object]:
        """The documented JSON shape of ``poll --once --json`` and ``latest --json``."""
        return {
            "id": self.id,
            "watch": self.watch_query,
            "watch_id": self.watch_id,
            "watch_name": self.watch_name,
            "destination": self.destination,
            "feed": self.feed_url,
            "source": self.source,
            "title": self.title,
            "url": self.url,
            "summary": self.summary,
            "published": iso_utc(self.published),
            "matched": list(self.matched),
            "story": self.story_key,
            "also_reported_by": list(self.also_reported_by),
            "coverage": [{"source": source, "url": url} for source, url in self.coverage],
            "further": [
                {"source": source, "title": title, "url": url}
                for source, title, url in self.further
            ],
            "updated": self.updated,
        }


@dataclass(frozen=True, slots=True)
class ArticleView:
    """A stored article as ``latest`` and ``watch test`` show it: its story's first report
    there (see ``bot.core.listing``), with the story's other outlets (``also_reported_by``,
    and each one's first article in ``coverage``) and its articles that are news of their
    own (``further``: outlet, headline, url), as an alert carries them."""

    id: int
    url: str
    title: str
    summary: str
    source: str
    published: datetime | None
    feed_url: str
    story_key: str
    matched: tuple[str, ...] = ()
    watch_query: str | None = None
    watch_id: int | None = None
    image_url: str | None = None
    also_reported_by: tuple[str, ...] = ()
    coverage: tuple[tuple[str, str], ...] = ()
    further: tuple[tuple[str, str, str], ...] = ()
    # The story's newest dated article, when later than the lead: the listing is ordered by
    # it, and a lead an hour old above a story of ten minutes ago must say why.
    latest_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "watch": self.watch_query,
            "watch_id": self.watch_id,
            "feed": self.feed_url,
            "source": self.source,
            "title": self.title,
            "url": self.url,
            "summary": self.summary,
            "published": iso_utc(self.published),
            "matched": list(self.matched),
            "story": self.story_key,
            "also_reported_by": list(self.also_reported_by),
            "coverage": [{"source": source, "url": url} for source, url in self.coverage],
            "further": [
                {"source": source, "title": title, "url": url}
                for source, title, url in self.further
            ],
            "latest_activity": iso_utc(self.latest_at),
        }


@dataclass(frozen=True, slots=True)
class ArticleSearch:
    """What ``latest`` and ``watch test`` found, the stories active last first, and how
    far back they read.

    A search reads the articles kept newest first and stops at a bound (a query nothing
    matches must not read a busy install's whole history). ``searched_back_to`` is set
    when it stopped there before finding enough: the publication time of the oldest
    article it read (a new feed's undated backlog, read last, has none), with ``read`` the
    articles it read. Older kept articles were not
    searched, and the reply says so rather than let "no match" read as "none stored".
    """

    articles: tuple[ArticleView, ...]
    searched_back_to: datetime | None = None
    read: int = 0


@dataclass(frozen=True, slots=True)
class DestinationStatus:
    destination: str
    state: DestinationState
    last_error: str | None
    failing_since: datetime | None
    pending: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An alert given up on: refused by the platform, or not delivered in time."""

    id: int
    destination: str
    title: str
    last_error: str | None  # why: the platform's refusal, or the last delivery failure


@dataclass(frozen=True, slots=True)
class StatusReport:
    feeds: tuple[FeedInfo, ...]
    destinations: tuple[DestinationStatus, ...]
    outbox_depth: int
    oldest_pending_at: datetime | None
    dead_letters: int
    last_poll_at: datetime | None
    subscriptions: tuple[WatchInfo, ...] = ()  # for the asking channel
    recent_dead: tuple[DeadLetter, ...] = ()  # the newest dead letters, with their reasons

    @property
    def failing_feeds(self) -> tuple[FeedInfo, ...]:
        return tuple(f for f in self.feeds if f.health is FeedHealth.FAILING)


@dataclass(frozen=True, slots=True)
class WhyReport:
    """What happened to one article URL, in order, as plain sentences plus facts."""

    url: str
    found: bool
    lines: tuple[str, ...] = field(default_factory=tuple)


def iso_utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")
