"""The store port: what the core asks of its storage, as Protocols grouped by topic.

The core (poller, sender, service) types against these, never against
``bot.store.store.Store``, which satisfies every one of them structurally (mypy checks
it in ``bot.app``). Each Protocol names exactly the methods the core calls; a topic's
records (``FeedRow``, ``WatchRow``) live here too, so the core reads them without
importing the store.

    FeedsStore     claim, release and list feeds, their ownership by workspaces
    WatchesStore   watches and their subscriptions
    ArticlesStore  stored articles and stories, as commands and digests read them
    IngestStore    seen keys, and one transaction that records a polled batch's plan
    OutboxStore    alerts queued for delivery, edits of posted messages, notices
    MetaStore      small key/value facts (last poll time) and pruning
    ControlsPort   a channel's delivery controls (digests, quiet hours, mutes)

``CoreStore`` is all of them together: what the composition root hands the core.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.models import Alert, DeadLetter, DestinationStatus, FeedInfo, WatchInfo
from bot.core.notices import Notice
from bot.core.storypick import StoryHere

if TYPE_CHECKING:
    from bot.core.alerts import AlertRow
    from bot.core.controls import (
        Candidate,
        ChannelControls,
        GateDecision,
        Held,
        Waiting,
        WatchControls,
    )
    from bot.core.intents import AppliedIngest, IngestPlan, Placement, PlacementFacts

# Feed sources whose items reach every workspace (the operator's feeds).
GLOBAL_SOURCES = ("config", "operator")


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A feed's fetch state as the poller needs it."""

    id: int
    url: str
    name: str | None
    interval: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    seeded: bool
    consecutive_failures: int
    error_since: datetime | None
    last_error: str | None
    failing_notified: bool
    source: str = "config"  # "config", "operator" (CLI) or "user" (chat)
    # Workspaces/servers whose channels may receive this feed's items; None: everyone's
    # (the operator's feeds, and chat feeds from before tenancy).
    reach: tuple[str, ...] | None = None
    # The entry prints of the body recorded last (see PrepareJob.known); empty: none yet.
    entry_prints: bytes = b""
    moved_to: str | None = None  # where its URL permanently redirects (fetched there)
    # The cadence its last new body asked for (<ttl>, Cache-Control max-age): a 304 or an
    # unchanged body carries no <ttl>, and may leave out the header.
    ttl_seconds: int | None = None
    max_age: int | None = None

    @property
    def fetch_url(self) -> str:
        return self.moved_to or self.url


@dataclass(frozen=True, slots=True)
class Target:
    """A destination a watch delivers to, with the workspace/server it belongs to."""

    destination: str
    tenant: str | None


@dataclass(frozen=True, slots=True)
class WatchRow:
    id: int
    query: str
    name: str | None
    mention: str | None
    use_defaults: bool
    targets: tuple[Target, ...]
    owner: str | None = None
    tenant: str | None = None
    google_news: bool = False  # also polls a Google News search of its query

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(t.destination for t in self.targets)


class FeedsStore(Protocol):
    async def claim_feeds(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        due_only: bool = True,
        due_by: datetime | None = None,
    ) -> list[FeedRow]:
        """Lease up to ``limit`` active feeds (due ones unless ``due_only`` is False) for
        ``lease`` from ``now``; due means due by ``due_by`` (``now`` if not given)."""
        ...

    def take_lease_takeovers(self) -> int:
        """Feeds claimed from an instance whose lease had expired, since the last call."""
        ...

    async def release_feeds(self, owner: str, ids: Sequence[int]) -> None:
        """Drop ``owner``'s leases on these feeds (a batch that could not be recorded)."""
        ...

    async def make_all_due(self, now: datetime) -> None:
        """Every active feed becomes due at ``now`` (a forced poll of everything)."""
        ...

    async def count_leased_elsewhere(self, owner: str, now: datetime) -> int:
        """Active feeds another instance holds a live lease on (a forced poll skips them)."""
        ...

    async def upsert_feed(
        self,
        url: str,
        *,
        name: str | None,
        interval: int,
        source: str,
        now: datetime,
        added_by: str | None = None,
        tenant: str | None = None,
        tenant_max: int | None = None,
        watch_search: bool = False,
    ) -> FeedInfo:
        """Add (or reactivate) a feed; with ``tenant``, record that workspace as an owner,
        refusing (QuotaError) when it would own more than ``tenant_max`` feeds.
        ``watch_search``: the workspace owns it only as its watches' Google News search."""
        ...

    async def list_feeds(self, *, visible_to: str | None = None) -> list[FeedInfo]:
        """Active feeds; with ``visible_to``, only those that workspace may see."""
        ...

    async def find_feed(self, ref: str, *, visible_to: str | None = None) -> FeedInfo | None:
        """The feed with this URL or ``#id``, if ``visible_to`` may see it."""
        ...

    async def deactivate_feed(self, feed_id: int) -> None:
        """Stop reading a feed (its history stays)."""
        ...

    async def feed_tenants(self, feed_id: int) -> list[str]:
        """The workspaces that added this feed."""
        ...

    async def remove_feed_owner(
        self, feed_id: int, tenant: str, *, watch_search_only: bool = False
    ) -> bool:
        """Drop a workspace's claim on a feed; True when nobody owns it any more and it
        stopped being read. ``watch_search_only``: only a claim held as its watches'
        Google News search."""
        ...

    async def count_tenant_feeds(self, tenant: str) -> int:
        """How many feeds a workspace added (its quota)."""
        ...


class WatchesStore(Protocol):
    async def watch_rows(self) -> list[WatchRow]:
        """Active watches with their active destinations (for matching and delivery)."""
        ...

    async def watches_stamp(self) -> str | None:
        """A token that changes whenever any instance changes the watches or their
        subscriptions (None before the first change)."""
        ...

    async def watch_infos(self, destination: str | None = None) -> list[WatchInfo]:
        """Active watches (delivering to ``destination`` when given), with hit counts."""
        ...

    async def add_watch(
        self,
        *,
        query: str,
        name: str | None,
        origin: str,
        now: datetime,
        owner: str | None = None,
        tenant: str | None = None,
        created_by: str | None = None,
        mention: str | None = None,
        use_defaults: bool = False,
        destinations_: Sequence[str] = (),
        google_news: bool = False,
    ) -> int:
        """Store a new watch and subscribe ``destinations_``; returns its id."""
        ...

    async def update_watch(self, watch_id: int, **values: Any) -> None:
        """Change a watch's columns (query, name, mention, active...)."""
        ...

    async def set_subscription(
        self,
        watch_id: int,
        destination: str,
        active: bool,
        now: datetime,
        *,
        tenant: str | None = None,
    ) -> bool:
        """Set a subscription's state; True when it changed."""
        ...


class ArticlesStore(Protocol):
    async def recent_articles(
        self, *, since: datetime, limit: int, visible_to: str | None = None
    ) -> list[Any]:
        """Recently seen articles, newest first (by ``bot.core.listing.listing_rank``), as
        rows with their feed's URL."""
        ...

    async def recent_article_ids(
        self, *, since: datetime, limit: int, visible_to: str | None = None
    ) -> list[int]:
        """The ids of :meth:`recent_articles`, in its order (one pass, ids only)."""
        ...

    async def articles_with_ids(self, ids: Sequence[int]) -> list[Any]:
        """Those articles as :meth:`recent_articles` rows, in the order of ``ids``."""
        ...

    async def kept_story_articles(
        self,
        story_keys: Sequence[str],
        *,
        since: datetime,
        visible_to: str | None = None,
        content: bool = True,
    ) -> dict[str, list[Any]]:
        """Each story's articles first seen since ``since`` (that ``visible_to`` may see),
        as :meth:`recent_articles` rows, first seen first; their ``content`` empty unless
        ``content`` (what matching reads)."""
        ...

    async def article_visible(self, article_id: int, tenant: str) -> bool:
        """Whether a workspace may see an article (it came from a feed it may read)."""
        ...

    async def recent_headlines(
        self, *, since: datetime, limit: int
    ) -> list[tuple[str, str, str, datetime]]:
        """(story key, title, summary, first seen) of recent articles that could alert,
        newest first: what the story index starts from. The title and summary are those
        the article was first stored with (a retitle does not change what a running
        index knows it by, so a restarted one must not either)."""
        ...

    async def article_by_url(self, url: str) -> Any:
        """One stored article (a row with its feed's URL), or None."""
        ...

    async def story_articles(self, story_key: str, *, visible_to: str | None = None) -> list[Any]:
        """Every stored article of a story, oldest first; with ``visible_to``, only from
        feeds that workspace may see."""
        ...

    async def alerts_for_story(self, story_key: str) -> list[Any]:
        """Every alert queued for a story, oldest first."""
        ...

    async def oldest_article_seen_at(self) -> datetime | None:
        """When the oldest article still stored was first seen (None: none is)."""
        ...

    async def stories_alerted_in(self, destination: str, story_keys: Sequence[str]) -> set[str]:
        """Which of ``story_keys`` already have an alert in ``destination``."""
        ...


class IngestStore(Protocol):
    async def seen_keys(
        self, keys_by_feed: Mapping[int, Sequence[str]]
    ) -> dict[tuple[int, str], str | None]:
        """The (feed id, key) pairs already seen, with the headline note kept with each
        (None for identity keys)."""
        ...

    async def max_article_id(self) -> int:
        """The newest stored article's id (0 when none): where the story index starts."""
        ...

    async def retitles_stamp(self) -> int:
        """A count that every retitling of stored articles, by any instance, moves on (0
        before the first): a message posted after it was read is due an edit if its
        stories were retitled since."""
        ...

    async def apply_ingest(
        self, plan: IngestPlan, place: Callable[[PlacementFacts], Placement]
    ) -> AppliedIngest:
        """Record a polled batch's plan in ONE transaction: seen keys, re-titled
        articles, new articles, alerts, feed states, hit counts and notices.

        ``place`` (pure, in memory) gives the new articles their stories and matches
        them; it is called inside the transaction, after the story lock is taken and with
        the articles other instances stored meanwhile, so N instances group as one.
        """
        ...


class OutboxStore(Protocol):
    async def pending_destinations(self, now: datetime) -> list[str]:
        """Destinations with alerts due now."""
        ...

    async def claim_outbox(
        self,
        *,
        destination: str,
        owner: str,
        now: datetime,
        lease: timedelta,
        batch: int,
        burst_threshold: int,
        digest_batch: int = 10,
        gated: Set[int] | None = None,
    ) -> tuple[list[Alert], bool]:
        """Lease the oldest pending alerts of one destination, in order; returns
        (alerts, maybe_sent). With ``gated`` (a channel with controls), a new alert is
        claimed only if its id is there: one queued after the gate ran waits for it."""
        ...

    async def alerts_by_ids(self, ids: Sequence[int]) -> list[Alert]:
        """Queued alerts, rebuilt as the notifiers render them."""
        ...

    async def renew_lease(self, ids: Sequence[int], *, owner: str, until: datetime) -> int:
        """Extend ``owner``'s lease on these claimed alerts to ``until`` (their send still
        runs); returns how many it still held."""
        ...

    async def renew_edit_lease(
        self, post_ids: Sequence[int], *, owner: str, until: datetime
    ) -> int:
        """Extend ``owner``'s lease on these claimed posts to ``until`` (their edits still
        run); returns how many it still held."""
        ...

    async def mark_attempt(self, ids: Sequence[int], owner: str) -> None:
        """A send is about to start: its outcome is unknown until confirmed."""
        ...

    async def mark_sent(
        self,
        ids: Sequence[int],
        *,
        message_id: str,
        now: datetime,
        owner: str | None = None,
        shown: str | None = None,
        stories_read_up_to: int | None = None,
        retitles_read_up_to: int | None = None,
    ) -> None:
        """The platform confirmed the message carrying these alerts; ``shown`` is what it
        shows of each story (:func:`bot.core.living.shown_to_json`), kept with its post.
        With ``stories_read_up_to`` (the newest article id stored before the alerts were
        claimed), the post is due an edit if its stories got a newer article meanwhile;
        with ``retitles_read_up_to`` (:meth:`retitles_stamp` before the claim), if an
        article of theirs was retitled meanwhile."""
        ...

    async def mark_retry(
        self,
        ids: Sequence[int],
        *,
        error: str,
        next_attempt_at: datetime,
        definitely_not_sent: bool,
    ) -> None:
        """Try these alerts again later."""
        ...

    async def dead_letter(self, ids: Sequence[int], reason: str) -> None:
        """Give up on these alerts now, recording why."""
        ...

    async def dead_letter_expired(
        self, *, created_before: datetime
    ) -> list[tuple[str, int, str | None]]:
        """Give up on alerts queued before ``created_before``: (destination, how many, the
        newest one's last error) for each destination that had any."""
        ...

    async def dead_letters(
        self, limit: int = 20, destinations_: Sequence[str] | None = None
    ) -> list[DeadLetter]:
        """The newest dead letters (over ``destinations_`` when given), newest first."""
        ...

    async def dead_letters_queued(
        self, destination: str, *, since: datetime, until: datetime
    ) -> int:
        """Dead-lettered alerts of ``destination`` queued between ``since`` and ``until``."""
        ...

    async def edit_destinations(self, now: datetime) -> list[str]:
        """Destinations with a posted message due an edit."""
        ...

    async def claim_edits(
        self, *, destination: str, owner: str, now: datetime, lease: timedelta, limit: int = 10
    ) -> list[tuple[int, str, int, str | None, int, str | None]]:
        """(post id, message id, revision, what it last showed, failed edits in a row, what
        it shows once its unsure thread reply is there) of this destination's messages due
        an edit."""
        ...

    async def alerts_in_message(self, destination: str, message_id: str) -> list[Alert]:
        """The alerts one message carries, with the story's current coverage."""
        ...

    async def edit_done(
        self,
        post_id: int,
        *,
        revision: int,
        now: datetime,
        next_edit_at: datetime,
        shown: str | None = None,
    ) -> None:
        """A message was edited (or answered in its thread) up to ``revision``; ``shown``,
        when given, is what it and its thread show now. No thread reply is unsure then."""
        ...

    async def reply_attempt(self, post_id: int, *, pending: str) -> None:
        """A thread reply is about to be sent: record what the message and its thread show
        once it is there (``pending``), until it is confirmed."""
        ...

    async def reply_confirmed(self, post_id: int, *, next_edit_at: datetime) -> None:
        """The unsure thread reply is in the thread: the message shows what it brought;
        growth since is answered from ``next_edit_at``."""
        ...

    async def edit_failed(
        self,
        post_id: int,
        *,
        error: str,
        retry_at: datetime,
        give_up: bool,
        reply_unsure: bool = False,
    ) -> None:
        """An edit failed: retry later, or drop it when the platform refused for good.
        ``reply_unsure``: a thread reply that may be in the thread keeps its record."""
        ...

    async def queue_alerts(self, rows: Sequence[AlertRow], now: datetime) -> list[int]:
        """Queue alerts in order; returns the ids created (a story already alerted in a
        destination for a watch is skipped)."""
        ...

    async def outbox_stats(
        self, destinations_: Sequence[str] | None = None
    ) -> tuple[int, datetime | None, int]:
        """(pending alerts, oldest pending, dead letters)."""
        ...

    async def destination_failed(
        self, destination: str, *, reason: str, now: datetime, permanent: bool
    ) -> tuple[int, bool]:
        """Count a failure; returns (consecutive failures, whether it just became failing)."""
        ...

    async def destination_ok(
        self, destination: str, *, now: datetime
    ) -> tuple[datetime | None, str | None] | None:
        """Clear failures; a destination that had been failing returns (since, reason)."""
        ...

    async def destination_statuses(self) -> list[DestinationStatus]:
        """Every destination's delivery health."""
        ...

    async def queue_notices(self, rows: Sequence[tuple[str, Notice | str]], now: datetime) -> None:
        """Queue (destination, notice) rows; a bare string is a plain-text notice."""
        ...

    async def claim_notices(
        self,
        *,
        owner: str,
        now: datetime,
        lease: timedelta,
        limit: int = 50,
        skip: Collection[str] = (),
    ) -> list[Any]:
        """Lease due pending notices, oldest first; none of the destinations in ``skip``
        (their earlier notices are still being posted)."""
        ...

    async def renew_notice_lease(
        self, notice_ids: Sequence[int], *, owner: str, until: datetime
    ) -> int:
        """Extend ``owner``'s lease on these claimed notices to ``until`` (still being
        posted); returns how many it still held."""
        ...

    async def notice_attempt(self, notice_id: int) -> None:
        """A notice is about to be posted: it may be in the channel until confirmed (the
        claimed row's ``maybe_sent`` says so to the next attempt)."""
        ...

    async def notice_done(
        self,
        notice_id: int,
        *,
        sent: bool,
        error: str | None = None,
        retry_at: datetime | None = None,
        definitely_not_sent: bool = True,
    ) -> None:
        """A notice was posted, or is retried at ``retry_at`` (given up without one).
        ``definitely_not_sent`` False: it may be in the channel, and the retry looks."""
        ...


class MetaStore(Protocol):
    async def get_meta(self, key: str) -> str | None:
        """A small stored fact (``last_poll_at``...)."""
        ...

    async def set_meta(self, key: str, value: str) -> None:
        """Store a small fact."""
        ...

    async def prune(self, *, articles_before: datetime, seen_before: datetime) -> None:
        """Drop old articles and old seen keys."""
        ...


class ControlsPort(Protocol):
    """A channel's delivery controls (``bot.store.controls.ControlsStore``)."""

    async def channel(self, destination: str) -> ChannelControls:
        """The channel's settings (defaults when never set)."""
        ...

    async def set_channel(
        self, destination: str, controls: ChannelControls, *, by: str | None, now: datetime
    ) -> None:
        """Replace the channel's settings."""
        ...

    async def watches(self, destination: str) -> dict[int, WatchControls]:
        """Per-watch settings in this channel."""
        ...

    async def set_watch(
        self, watch_id: int, destination: str, controls: WatchControls, *, now: datetime
    ) -> None:
        """Replace one watch's settings in this channel."""
        ...

    async def alert_here(self, destination: str, alert_id: int) -> tuple[str, int, str] | None:
        """(story key, watch id, watch name) of an alert posted in this channel."""
        ...

    async def stories_here(self, destination: str, limit: int) -> list[StoryHere]:
        """The ``limit`` stories most recently alerted in ``destination``, newest first."""
        ...

    async def story_watches(self, destination: str, story_key: str) -> list[int]:
        """The watches a story was alerted for in ``destination``."""
        ...

    async def mute_story(
        self, destination: str, story_key: str, *, by: str | None, now: datetime
    ) -> None:
        """No further alerts of this story in this channel."""
        ...

    async def muted(self, destination: str, story_keys: Sequence[str]) -> set[str]:
        """Which of ``story_keys`` are muted in this channel."""
        ...

    async def record_feedback(
        self,
        destination: str,
        watch_id: int,
        story_key: str,
        *,
        user: str,
        verdict: str,
        now: datetime,
    ) -> bool:
        """Record a user's verdict on an alert; False when already recorded."""
        ...

    async def not_relevant(self, destination: str) -> dict[int, int]:
        """Watch id -> "not relevant" votes in this channel."""
        ...

    async def controlled(self) -> set[str]:
        """Channels with any control set."""
        ...

    async def gate_inputs(
        self, destination: str, now: datetime
    ) -> tuple[list[Candidate], list[Waiting], list[Held], dict[int, int], set[str]]:
        """What the delivery gate decides from."""
        ...

    async def apply(self, destination: str, decision: GateDecision, now: datetime) -> None:
        """Record the gate's decision."""
        ...

    async def flush(self, destination: str, ids: Sequence[int], heading: str, now: datetime) -> int:
        """Queue held alerts as one summary; returns how many."""
        ...


class CoreStore(
    FeedsStore, WatchesStore, ArticlesStore, IngestStore, OutboxStore, MetaStore, Protocol
):
    """Every topic together: the store the composition root hands the core."""

    @property
    def controls(self) -> ControlsPort:
        """The channel-controls part of the store."""
        ...
