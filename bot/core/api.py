"""The core API every surface calls: the CLI, and every chat command through
:mod:`bot.core.commands`.

Every call names its :class:`Caller`: where it comes from (the destination), which
workspace or server (the tenant) and whether the adapter found the user to manage that
channel. The core decides what the caller may see and change:

* a channel sees the operator's watches (from the config file) and its own, never another
  channel's; a person's direct-message watches are theirs alone;
* a workspace/server sees the operator's feeds and the feeds it added; items of a feed a
  workspace added reach only that workspace's channels; the operator's feeds can only be
  changed in the config file;
* changing what a channel receives needs ``can_manage`` (decided by the adapter:
  Slack admins/owners or the allow-list, Discord members with Manage Channels);
* the CLI is the operator (``tenant=None``) and sees everything.

Destinations are strings: ``slack:C0123ABCD``, ``discord:1122...``, ``slack-dm:U0123``,
``discord-dm:4242``, ``slack-webhook:https://...``, ``discord-webhook:https://...``,
``console``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.controls import ChannelControls, ChannelReport, WatchControls
from bot.core.models import (
    ArticleSearch,
    ArticleView,
    FeedInfo,
    StatusReport,
    WatchInfo,
    WhyReport,
)
from bot.core.opml import ImportResult
from bot.core.storypick import StoryHere
from bot.core.trend import TrendData


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, from where. Adapters fill it in; the core decides what follows from it."""

    destination: str  # where the command was typed, and where its channel's alerts go
    tenant: str | None  # "slack:T0123" / "discord:g:4567"; None for the operator (CLI)
    user: str | None = None  # "slack:U0123" / "discord:4242"
    can_manage: bool = False  # may change what this channel receives
    dm: str | None = None  # this person's direct-message destination, if the platform has one
    managers: str = "channel managers"  # who may manage here, in the platform's words
    # Typed in a direct message: no channel's alerts to change there, only one's own.
    direct: bool = False

    @property
    def operator(self) -> bool:
        return self.tenant is None

    @classmethod
    def console(cls) -> Caller:
        """The operator at the command line."""
        return cls(destination="console", tenant=None, user="cli", can_manage=True)


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    destination: str
    changed: tuple[WatchInfo, ...]  # watches newly (un)subscribed by this call
    unchanged: tuple[WatchInfo, ...]  # already in the requested state
    unknown: tuple[str, ...]  # references that named no watch this caller may use


@dataclass(frozen=True, slots=True)
class BackfillResult:
    destination: str
    queued: tuple[ArticleView, ...]  # one article per story now queued here, oldest first
    already_here: int  # matching stories skipped because this channel already had them
    watches: int  # watches delivering here that were matched


class CoreAPI(Protocol):
    async def subscribe(self, caller: Caller, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        """Start alerts in the caller's channel: every operator watch, or the named ones.

        A reference is a watch id ("3", "#3") or name (case-insensitive) among the watches
        the caller may see. Raises ``PermissionDeniedError`` without ``can_manage``.
        """
        ...

    async def unsubscribe(self, caller: Caller, watch_refs: Sequence[str] = ()) -> SubscribeResult:
        """Stop alerts in the caller's channel: all its watches, or the named ones."""
        ...

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
        """Create a watch owned by the caller's channel (or, ``personal``, their DM) and
        subscribe it there. Raises ``QuerySyntaxError`` (with position) for a malformed
        query and ``QuotaError`` past the channel's limits.

        ``google_news``: also poll a Google News search of the query, read for the caller's
        workspace as one of its feeds (within its feed quota; its items reach that
        workspace's channels only). Raises ``UnsearchableQueryError`` when Google could
        search nothing of the query (a regular expression alone)."""
        ...

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
        """Change a watch this channel (or DM) owns. ``mention=""`` removes the ping.
        ``google_news`` turns its Google News search on or off (None: as it was); a search
        no watch of the workspace uses any more stops being read for it."""
        ...

    async def list_watches(self, caller: Caller, *, personal: bool = False) -> list[WatchInfo]:
        """Watches delivering to the caller's channel (or DM), with hit counts. The
        operator with destination ``console`` gets every watch."""
        ...

    async def available_watches(self, caller: Caller) -> list[WatchInfo]:
        """Watches the caller may subscribe to: the operator's and the channel's own."""
        ...

    async def remove_watch(
        self, caller: Caller, watch_ref: str, *, personal: bool = False
    ) -> WatchInfo:
        """Remove a watch this channel owns, or unsubscribe it from an operator watch. Its
        Google News search stops being read for the workspace when no other of its
        watches searches the same.

        Raises ``NotFoundError`` when the reference names no watch of this channel.
        """
        ...

    async def test_query(self, caller: Caller, query: str, *, limit: int = 10) -> ArticleSearch:
        """The stories of recent stored articles (from feeds the caller may see) ``query``
        would match, the latest activity first, each led by the first article it matched,
        with matched terms, and how far back the search read."""
        ...

    async def latest(
        self, caller: Caller, query: str | None = None, *, limit: int = 5
    ) -> ArticleSearch:
        """The stories active last among the stored articles the caller may see (matching
        ``query`` when given), each led by its first report (``bot.core.listing``)."""
        ...

    async def add_feed(self, caller: Caller, url: str, *, name: str | None = None) -> FeedInfo:
        """Validate (private-address guard, fetched once, must parse) and add a feed for the
        caller's workspace. Raises ``BlockedAddressError`` / ``FetchError`` / ``ParseError``
        with a reason, ``DuplicateError`` when the workspace already has it."""
        ...

    async def list_feeds(self, caller: Caller) -> list[FeedInfo]:
        """The operator's feeds and the caller's workspace's."""
        ...

    async def remove_feed(self, caller: Caller, feed_ref: str) -> FeedInfo:
        """Remove one of the workspace's feeds by id or URL. Raises ``NotFoundError``, or
        ``PermissionDeniedError`` for an operator feed or a watch's Google News search."""
        ...

    async def import_feeds(
        self, caller: Caller, *, url: str | None = None, document: bytes | None = None
    ) -> ImportResult:
        """Add every feed of an OPML document (given, or fetched from ``url`` through the
        chat fetch guard) as the workspace's own, each under the rules of ``add_feed``
        (duplicates, quota, private-address guard, one fetch to check it, autodiscovery),
        checked concurrently with a bound. Raises ``ParseError`` for a file that is not
        usable OPML and ``PermissionDeniedError`` without ``can_manage``."""
        ...

    async def backfill(self, caller: Caller, count: int) -> BackfillResult:
        """Queue the channel's latest ``count`` matching stories (of the watches delivering
        there) for delivery now, each led by its first report the watch matches, skipping
        every story this channel already has an alert for. Needs ``can_manage``."""
        ...

    async def trend(self, caller: Caller, watch_ref: str, days: int) -> TrendData:
        """Stories per day over ``days`` days and top outlets for one watch the caller may
        see. Raises ``NotFoundError`` for an unknown watch."""
        ...

    async def status(self, caller: Caller) -> StatusReport:
        """Feed and delivery health the caller may see; ``subscriptions`` lists the
        caller's channel's watches."""
        ...

    async def why(self, caller: Caller, url: str) -> WhyReport:
        """What happened to one article URL, told only as far as the caller may see."""
        ...

    # --- channel controls (bot.core.controls) ---------------------------------------------

    async def channel_settings(self, caller: Caller) -> ChannelReport:
        """The caller's channel's controls and its watches' volume settings."""
        ...

    async def set_digest(
        self, caller: Caller, mode: str, at: str | None = None, tz: str | None = None
    ) -> ChannelControls:
        """``realtime``, ``hourly`` or ``daily`` at ``at`` (HH:MM) in ``tz`` (IANA). Raises
        ``ControlError`` for what cannot be read."""
        ...

    async def set_quiet(self, caller: Caller, hours: str, tz: str | None = None) -> ChannelControls:
        """Quiet hours ``HH:MM-HH:MM`` (may cross midnight) in ``tz``, or ``off``."""
        ...

    async def snooze(
        self, caller: Caller, target: str, duration: str
    ) -> tuple[WatchInfo | None, datetime | None]:
        """Snooze the channel (``target`` "channel") or one of its watches for ``duration``
        ("2h", "until monday", "off"). Returns (the watch or None, when it ends or None)."""
        ...

    async def set_volume(
        self,
        caller: Caller,
        watch_ref: str,
        *,
        per_hour: int | None = None,
        min_outlets: int | None = None,
    ) -> tuple[WatchInfo, WatchControls]:
        """Cap a watch's alerts here per hour (the rest go to the next summary) and/or alert
        only once its story has ``min_outlets`` outlets. ``0`` removes a setting."""
        ...

    async def set_updates(self, caller: Caller, mode: str) -> ChannelControls:
        """How a story's growth reaches the channel: ``edit`` its message, or ``thread``
        replies under it."""
        ...

    async def set_template(self, caller: Caller, source: str) -> tuple[ChannelControls, str | None]:
        """Set the channel's alert template (``default`` removes it). Returns the controls
        and a sample alert rendered with it. Raises ``TemplateError`` with the reason."""
        ...

    # --- alert buttons ----------------------------------------------------------------------

    async def mute_story(self, caller: Caller, alert_ref: str) -> tuple[str, bool]:
        """Mute the story of an alert sent to the caller's channel: its pending alerts are let
        go and its message is no longer updated. Returns the story's headline and whether
        this muted it (False: it already was). Raises ``NotFoundError`` for an alert of
        another channel."""
        ...

    async def stories_here(self, caller: Caller) -> list[StoryHere]:
        """The stories most recently alerted in the caller's channel, newest first (each
        marked when muted there): what ``story mute`` picks from, and offers as choices."""
        ...

    async def mute_story_named(self, caller: Caller, words: str) -> tuple[StoryHere, ...]:
        """The stories alerted in the caller's channel whose headline holds ``words``
        (:func:`~bot.core.storypick.stories_named`); when exactly one does, it is muted
        as ``mute_story`` mutes (its ``muted`` says whether it already was). Managers only:
        ``PermissionDeniedError`` otherwise."""
        ...

    async def not_relevant(self, caller: Caller, alert_ref: str) -> tuple[WatchInfo, bool]:
        """Record that the caller finds an alert's story not relevant to its watch (once per
        person); anyone in the channel may. Returns (the watch, newly recorded)."""
        ...
