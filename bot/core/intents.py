"""Ingest as intents: what a polled batch changes, planned by pure functions, recorded by
the store in one transaction (after lemon24/reader's FeedUpdateIntent / EntryUpdateIntent).

    fetched feeds ──▶ feed_update / failure_update  ──▶ FeedUpdateIntent (+ FeedNotice)
    changed feeds ──▶ screen_entries(seen raw keys)  ──▶ Screened
                  ──▶ plan_entries(seen identity keys) ──▶ IngestPlan (seen keys, re-titles,
                                                          fresh articles with decisions)
    inside the store's transaction (story lock held):
    PlacementFacts ──▶ place_articles ──▶ Placement (ArticleIntent with story keys,
                                          AlertIntent per watch/destination/story)

Nothing here reads a clock or touches I/O: the poller passes ``now`` and what the store
said it has seen; the store applies the intents and decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from bot.core import decide
from bot.core.articles import EntryIdentity, article_from_entry, entry_identity
from bot.core.errors import FeedError
from bot.core.fetch import FetchResult
from bot.core.models import Article, FeedEntry
from bot.core.notices import FeedFailing, FeedRecovered, Notice
from bot.core.prepare import CleanEntry
from bot.core.schedule import effective_interval, next_poll_at
from bot.core.storeport import FeedRow
from bot.core.stories import StoryFeatures, StoryIndex, story_features, story_key_for_url

# ---- what the poller hands over -------------------------------------------------------------


@dataclass(slots=True)
class FeedOutcome:
    """One polled feed: its fetch result and parsed entries, or the error."""

    feed: FeedRow
    fetched_at: datetime
    result: FetchResult | None = None
    # Entries with their cheap raw key; full identity keys and articles are computed
    # only for entries whose raw key is unseen (cleaning costs several times the parse).
    entries: list[tuple[FeedEntry, str]] = field(default_factory=list)
    feed_title: str | None = None
    ttl_seconds: int | None = None
    error: FeedError | None = None
    parse_warning: str | None = None
    # Entries cleaned in a worker already (bot.core.prepare): a first poll's, or a known
    # feed's that were not in its last recorded body. Then ``entries`` is empty.
    cleaned: list[CleanEntry] | None = None
    notes: list[str] | None = None  # each entry's headline note, when worked out already
    # Every entry's print (``PrepareJob.known``): stored with the feed when this outcome
    # is recorded. Entries found in the last recorded body's prints are in neither list.
    prints: bytes = b""

    @property
    def entry_count(self) -> int:
        return len(self.cleaned) if self.cleaned is not None else len(self.entries)

    def raw_keys(self) -> Iterable[str]:
        if self.cleaned is not None:
            return (c.raw_key for c in self.cleaned)
        return (r for _, r in self.entries)


@dataclass(frozen=True, slots=True)
class FeedNotice:
    """A feed started failing or recovered: tell the channels, once."""

    feed_url: str
    feed_name: str | None
    failing: bool
    reason: str | None
    since: datetime | None
    feed_id: int | None = None
    source: str = "config"
    reach: tuple[str, ...] | None = None  # the feed's ``FeedRow.reach``: who may hear of it

    @property
    def notice(self) -> Notice:
        """The notice as data; each notifier words it (and its commands) natively."""
        name = self.feed_name or self.feed_url
        if self.failing:
            return FeedFailing(
                name=name,
                url=self.feed_url,
                since=self.since,
                reason=self.reason,
                feed_id=self.feed_id,
                source=self.source,
            )
        return FeedRecovered(name=name, url=self.feed_url)


# ---- intents ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedValidators:
    """What a fetched body leaves for the next conditional GET and schedule."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None
    ttl_seconds: int | None
    max_age: int | None
    # The body's entry prints, stored beside its hash for the next change (None: the
    # stored ones stay).
    entry_prints: bytes | None = None


@dataclass(frozen=True, slots=True)
class FeedUpdateIntent:
    """A feed's fetch state after this poll; its lease ends with it."""

    feed_id: int
    fetched_at: datetime
    status: int | None
    next_poll_at: datetime
    consecutive_failures: int
    failing_notified: bool
    error: str | None = None  # None: the fetch succeeded
    error_since: datetime | None = None
    # A new body (not a 304): its validators, and the feed counts as seeded.
    validators: FeedValidators | None = None
    moved_to: str | None = None  # where the feed's URL permanently redirects, if it does

    @property
    def succeeded(self) -> bool:
        return self.error is None


# The per-item records are NamedTuples: a seeding poll makes ~500,000 of them, and a
# frozen dataclass costs several times a tuple to build.
class SeenKey(NamedTuple):
    feed_id: int
    key: str
    note: str | None  # headline fingerprint, for raw keys


@dataclass(frozen=True, slots=True)
class RetitleIntent:
    """A known item came back with another headline (a material change is stored)."""

    url: str
    title: str
    summary: str


@dataclass(frozen=True, slots=True)
class FeedArticles:
    """One changed feed's new items, each with its decision (alert, or held and why)."""

    feed: FeedRow
    decisions: tuple[decide.ItemDecision, ...]


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """Everything a batch records except what depends on other instances' latest articles
    (stories and alerts: see :func:`place_articles`)."""

    now: datetime
    feeds: tuple[FeedUpdateIntent, ...] = ()
    notices: tuple[FeedNotice, ...] = ()
    seen: tuple[SeenKey, ...] = ()
    seen_notes: Mapping[tuple[int, str], str] = field(default_factory=dict)  # re-titled
    retitles: tuple[RetitleIntent, ...] = ()
    fresh: tuple[FeedArticles, ...] = ()
    # Story features worked out already (in a parsing worker), by article URL.
    features: Mapping[str, StoryFeatures] = field(default_factory=dict)
    # The newest article id the story index has looked at: what other instances stored
    # after it must be indexed before placing ``fresh``.
    stories_seen_id: int = 0
    stories_since: datetime | None = None  # the story window's start

    @property
    def new_articles(self) -> int:
        return sum(len(f.decisions) for f in self.fresh)


class StoredArticle(NamedTuple):
    id: int
    story_key: str
    held_reason: str | None
    title: str = ""
    feed_id: int | None = None  # the feed it was first stored from (None: since removed)


@dataclass(frozen=True, slots=True)
class Headline:
    """An article another instance stored, as the story index needs it."""

    article_id: int
    story_key: str
    title: str
    summary: str
    first_seen_at: datetime


@dataclass(frozen=True, slots=True)
class PlacementFacts:
    """What the store holds, read under the story lock."""

    stored: Mapping[str, StoredArticle]  # url -> article, for fresh and re-titled urls
    newer: Sequence[Headline] = ()  # stored by other instances since ``stories_seen_id``


class ArticleIntent(NamedTuple):
    article: Article
    story_key: str
    held_reason: str | None
    feed_id: int


class AlertIntent(NamedTuple):
    """Queue an alert of ``watch_id`` in ``destination`` for the story of the article at
    ``article_url`` (the stored article's story wins if another instance stored it
    first)."""

    watch_id: int
    destination: str
    story_key: str
    article_url: str
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RetitledArticle:
    article_id: int
    title: str
    summary: str
    story_key: str
    feed_id: int | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    articles: tuple[ArticleIntent, ...] = ()
    alerts: tuple[AlertIntent, ...] = ()  # oldest article first
    # (story, the joining outlet's feed id): the story's messages grow, where their
    # channel's workspace may read that feed.
    grown: tuple[tuple[str, int], ...] = ()
    retitled: tuple[RetitledArticle, ...] = ()


@dataclass(frozen=True, slots=True)
class AppliedIngest:
    alert_ids: tuple[int, ...] = ()  # created and not folded into a posted message
    article_ids: tuple[int, ...] = ()  # stored by this batch


# ---- feed state -------------------------------------------------------------------------------


def feed_update(
    feed: FeedRow,
    *,
    fetched_at: datetime,
    result: FetchResult,
    ttl_seconds: int | None,
    now: datetime,
    entry_prints: bytes | None = None,
) -> FeedUpdateIntent:
    """A successful fetch: failures reset, next poll from the feed's (or server's) cadence.
    A new body's ``entry_prints`` are stored with its validators."""
    max_age = result.max_age
    if result.not_modified:
        # Nothing new was read: the cadence the body asked for when it was stored holds.
        ttl_seconds = feed.ttl_seconds
        max_age = feed.max_age if max_age is None else max_age
    interval = effective_interval(feed.interval, ttl_seconds=ttl_seconds, max_age=max_age)
    validators = None
    if not result.not_modified:
        validators = FeedValidators(
            etag=result.etag,
            last_modified=result.last_modified,
            body_hash=result.body_hash,
            ttl_seconds=ttl_seconds,
            max_age=result.max_age,
            entry_prints=entry_prints,
        )
    return FeedUpdateIntent(
        feed_id=feed.id,
        fetched_at=fetched_at,
        status=result.status,
        next_poll_at=next_poll_at(now=now, url=feed.url, interval=interval, consecutive_failures=0),
        consecutive_failures=0,
        failing_notified=False,
        validators=validators,
        moved_to=moved_to(feed, result.moved_to),
    )


def moved_to(feed: FeedRow, permanent: str | None) -> str | None:
    """Where to fetch the feed next: a chain of permanent redirects moves it there (or
    back home); a temporary one, or none from the new address, keeps it where it is."""
    if permanent is None:
        return feed.moved_to
    return None if permanent == feed.url else permanent


def failure_update(
    feed: FeedRow,
    *,
    fetched_at: datetime,
    error: FeedError,
    now: datetime,
    failing_after: int,
) -> tuple[FeedUpdateIntent, FeedNotice | None]:
    """A failed fetch: backoff, and a "failing" notice the first time it crosses
    ``failing_after`` consecutive failures."""
    failures = feed.consecutive_failures + 1
    since = feed.error_since or fetched_at
    notice = None
    if failures >= failing_after and not feed.failing_notified:
        notice = FeedNotice(
            feed.url, feed.name, True, error.reason, since, feed.id, feed.source, feed.reach
        )
    intent = FeedUpdateIntent(
        feed_id=feed.id,
        fetched_at=fetched_at,
        status=getattr(error, "status", None),
        next_poll_at=next_poll_at(
            now=now,
            url=feed.url,
            interval=feed.interval,
            consecutive_failures=failures,
            retry_after=getattr(error, "retry_after", None),
        ),
        consecutive_failures=failures,
        failing_notified=feed.failing_notified or failures >= failing_after,
        error=error.reason,
        error_since=since,
        # The address it moved to is gone: its own URL is tried again (it may redirect
        # somewhere else now).
        moved_to=None if getattr(error, "status", None) in (404, 410) else feed.moved_to,
    )
    return intent, notice


# ---- entries ---------------------------------------------------------------------------------


class Candidate(NamedTuple):
    """An entry whose raw key was not seen, with its identity keys; either the entry and
    its identity (cleaned only if its keys are unseen) or, from a worker that cleaned a
    first poll, the article."""

    keys: tuple[str, ...]
    entry: FeedEntry | None
    identity: EntryIdentity | None
    article: Article | None
    features: StoryFeatures | None = None  # worked out with the article, in the worker


class Retitled(NamedTuple):
    """A known entry with another headline: the raw entry, or the worker's article."""

    outcome: FeedOutcome
    entry: FeedEntry | None
    raw_key: str
    article: Article | None


@dataclass(frozen=True, slots=True)
class Screened:
    """Changed feeds' entries after the raw-key check: what needs identity keys."""

    outcomes: tuple[FeedOutcome, ...]
    raw_by_feed: Mapping[int, list[str]]
    seen_raw: Mapping[tuple[int, str], str | None]
    candidates: Mapping[int, list[Candidate]]
    notes: Mapping[tuple[int, str], str]
    retitled: tuple[Retitled, ...]
    keys_by_feed: Mapping[int, list[str]]  # each feed's identity keys, in order, once each


def raw_keys_by_feed(outcomes: Iterable[FeedOutcome]) -> dict[int, list[str]]:
    """Each changed feed's raw entry keys, in order, once each."""
    return {o.feed.id: list(dict.fromkeys(o.raw_keys())) for o in outcomes}


def screen_entries(
    outcomes: Sequence[FeedOutcome],
    seen_raw: Mapping[tuple[int, str], str | None],
    raw_by_feed: Mapping[int, list[str]] | None = None,
) -> Screened:
    """Entries whose raw guid/link this feed sent before are old news (a changed headline
    aside); the rest get their identity keys (usually a few entries per feed)."""
    candidates: dict[int, list[Candidate]] = {}
    notes: dict[tuple[int, str], str] = {}
    retitled: list[Retitled] = []
    for o in outcomes:
        fid, listed = o.feed.id, set()
        found = candidates[fid] = []
        if o.cleaned is not None:
            # Cleaned in a worker already: a first poll's entries, or those of a known
            # feed that were not in its last body.
            for c in o.cleaned:
                if c.raw_key in listed:
                    continue
                if (fid, c.raw_key) in seen_raw:
                    before = seen_raw[(fid, c.raw_key)]
                    if before is not None and before != c.note:
                        retitled.append(Retitled(o, None, c.raw_key, c.article))
                        notes[(fid, c.raw_key)] = c.note
                    continue
                notes[(fid, c.raw_key)] = c.note
                listed.add(c.raw_key)
                if c.keys:
                    found.append(Candidate(c.keys, None, None, c.article, c.features))
            continue
        notes_in = o.notes
        for i, (entry, raw) in enumerate(o.entries):
            if raw in listed:
                continue
            note = notes_in[i] if notes_in is not None else decide.headline_note(entry.title or "")
            if (fid, raw) in seen_raw:
                before = seen_raw[(fid, raw)]
                if before is not None and before != note:
                    retitled.append(Retitled(o, entry, raw, None))  # another headline
                    notes[(fid, raw)] = note
                continue
            notes[(fid, raw)] = note
            listed.add(raw)
            identity = entry_identity(entry, feed_url=o.feed.url)
            if identity is not None and identity.keys:
                found.append(Candidate(identity.keys, entry, identity, None))
    return Screened(
        outcomes=tuple(outcomes),
        raw_by_feed=raw_by_feed if raw_by_feed is not None else raw_keys_by_feed(outcomes),
        seen_raw=seen_raw,
        candidates=candidates,
        notes=notes,
        retitled=tuple(retitled),
        keys_by_feed={
            fid: list(dict.fromkeys(k for c in items for k in c.keys))
            for fid, items in candidates.items()
        },
    )


def plan_entries(
    screened: Screened,
    seen: Mapping[tuple[int, str], str | None],
    *,
    now: datetime,
    backfill: int,
    max_age: timedelta,
) -> IngestPlan:
    """Seen keys to record, re-titles, and each feed's new articles with their decisions.
    ``seen`` holds the identity keys (of ``screened.keys_by_feed``) already seen."""
    keys_by_feed = screened.keys_by_feed
    # Record every key not seen yet, also for known items (a changed guid's new key).
    seen_raw, notes = screened.seen_raw, screened.notes
    new_seen = [
        SeenKey(fid, k, notes.get((fid, k)))
        for fid, keys in screened.raw_by_feed.items()
        for k in keys
        if (fid, k) not in seen_raw
    ]
    # Identity keys carry no headline note (only raw keys do).
    new_seen += [
        SeenKey(fid, k, None)
        for fid, keys in keys_by_feed.items()
        for k in keys
        if (fid, k) not in seen
    ]
    retitles: list[RetitleIntent] = []
    for o, entry, _raw, cleaned in screened.retitled:
        article = cleaned
        if entry is not None:
            article = article_from_entry(
                entry, feed_url=o.feed.url, feed_title=o.feed_title, seen_at=now
            )
        if article is not None and article.url:
            retitles.append(RetitleIntent(article.url, article.title, article.summary))
    seen_notes = {
        (o.feed.id, raw): screened.notes[(o.feed.id, raw)] for o, _, raw, _ in screened.retitled
    }
    fresh: list[FeedArticles] = []
    features = {
        c.article.url: c.features
        for found in screened.candidates.values()
        for c in found
        if c.features is not None and c.article is not None
    }
    for o in screened.outcomes:
        feed_seen = {k for k in keys_by_feed[o.feed.id] if (o.feed.id, k) in seen}
        articles = fresh_articles(o, screened.candidates[o.feed.id], feed_seen)
        if not articles:
            continue
        decisions = decide.decide_items(
            articles, first_poll=not o.feed.seeded, backfill=backfill, max_age=max_age, now=now
        )
        fresh.append(FeedArticles(o.feed, tuple(decisions)))
    return IngestPlan(
        now=now,
        seen=tuple(new_seen),
        seen_notes=seen_notes,
        retitles=tuple(retitles),
        fresh=tuple(fresh),
        features=features,
    )


def fresh_articles(
    outcome: FeedOutcome,
    entries: Sequence[Candidate],
    seen: set[str],
) -> list[Article]:
    """Clean only the entries none of whose keys were seen (cleaning is the costly part)."""
    fresh = []
    for i in decide.fresh_indexes([c.keys for c in entries], seen):
        _keys, entry, identity, article, _features = entries[i]
        if article is None and entry is not None:
            article = article_from_entry(
                entry,
                feed_url=outcome.feed.url,
                feed_title=outcome.feed_title,
                seen_at=outcome.fetched_at,
                identity=identity,
            )
        if article is None:
            continue
        if not article.url:
            # A link-less item still needs a unique address to be stored and shown.
            article = replace(article, url=f"urn:wirewatch:item:{article.identity_keys[0]}")
        fresh.append(article)
    return fresh


# ---- stories and alerts ------------------------------------------------------------------------

# Of the items a feed's poll holds (a new feed's backlog, old news), at most this many, the
# newest published within the story window, are looked up in the story index. Looking an
# item up costs ~0.35 ms (its features and the search): every item of an OPML import of
# 2,000 feeds into a running bot, 100,000 of them, would hold the event loop for ~35 s.
# An older item cannot be coverage of a story told now, and a feed lists its newest first.
HELD_LOOKUPS = 10

# (watch id, destination, matched terms) for an article that may reach these workspaces.
AlertTargets = Callable[
    [Article, "tuple[str, ...] | None"], Iterable[tuple[int, str, tuple[str, ...]]]
]


def place_articles(
    plan: IngestPlan,
    facts: PlacementFacts,
    *,
    stories: StoryIndex,
    targets: AlertTargets,
) -> Placement:
    """Give every article not stored yet a story (grouping it with what the index holds,
    this batch's earlier articles included), and queue one alert per watch, destination
    and story, oldest article first so a channel reads the news in order.

    ``stories`` is updated in memory (alertable articles are indexed as they are placed);
    ``facts.newer`` must already be in it.
    """
    now = plan.now
    stored = facts.stored
    retitled = tuple(
        RetitledArticle(was.id, r.title, r.summary, was.story_key, was.feed_id)
        for r in plan.retitles
        if (was := stored.get(r.url)) is not None
        and decide.headline_changed_materially(was.title, r.title)
    )
    intents: list[ArticleIntent] = []
    story_of: dict[str, str] = {url: a.story_key for url, a in stored.items()}
    grown: dict[tuple[str, int], None] = {}
    for fresh in plan.fresh:
        looked_up = held_lookups(fresh.decisions, now, stories.window)
        for d in fresh.decisions:
            article = d.article
            if article.url in story_of:
                # The same canonical URL through another feed: same article and story.
                continue
            # With nothing indexed, a held item has nothing to join: it is not looked up.
            if d.alert or (article.url in looked_up and len(stories)):
                features = plan.features.get(article.url) or story_features(
                    article.title, article.summary
                )
                found = stories.find(features, now)
                story_key = found or story_key_for_url(article.url)
                if found is not None:
                    grown[(found, fresh.feed.id)] = None  # the story's messages grow
                if d.alert:
                    # Held items (a new feed's backlog, old news) are not indexed: the index
                    # is for stories that can still alert; a seeding poll brings thousands.
                    stories.add(story_key, features, now)
            else:
                # A held item is looked up (see HELD_LOOKUPS), never indexed: the rest keep
                # a story of their own, and their features (most of a seeding poll's items)
                # are never computed.
                story_key = story_key_for_url(article.url)
            intents.append(ArticleIntent(article, story_key, d.held_reason, fresh.feed.id))
            story_of[article.url] = story_key
    # Which workspaces each article may reach: its feeds' (None: everyone).
    reach: dict[str, tuple[str, ...] | None] = {}
    for fresh in plan.fresh:
        for d in fresh.decisions:
            reach[d.article.url] = _wider(reach.get(d.article.url, ()), fresh.feed.reach)
    alertable = sorted(
        (d.article for f in plan.fresh for d in f.decisions if d.alert),
        key=lambda a: a.published,
    )
    alerts: list[AlertIntent] = []
    queued: set[tuple[int, str, str]] = set()
    for article in alertable:
        story_key = story_of[article.url]
        for watch_id, dest, matched in targets(article, reach[article.url]):
            key = (watch_id, dest, story_key)
            if key in queued:
                continue  # two outlets' copies of one story in the same batch
            queued.add(key)
            alerts.append(AlertIntent(watch_id, dest, story_key, article.url, matched))
    return Placement(
        articles=tuple(intents),
        alerts=tuple(alerts),
        grown=tuple(sorted(grown)),
        retitled=retitled,
    )


def held_lookups(
    decisions: Sequence[decide.ItemDecision], now: datetime, window: timedelta
) -> frozenset[str]:
    """URLs of one feed's held items worth a story lookup: the newest HELD_LOOKUPS of those
    published within ``window`` of ``now``."""
    recent = [d.article for d in decisions if not d.alert and now - d.article.published <= window]
    dates = [a.published for a in recent]
    return frozenset(recent[i].url for i in decide.newest(dates, HELD_LOOKUPS))


def _wider(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The union of two reaches; None (everyone) absorbs any other."""
    if a is None or b is None:
        return None
    return tuple(sorted({*a, *b}))
