"""Operational notices as data: what broke, since when, why, and what to do.

A notice is a small frozen record (:data:`Notice`), stored as JSON beside a plain-text
fallback in the ``notices`` outbox. It becomes words only at the edge: :func:`notice_line`
turns it into the spans of the command reply model (:mod:`bot.core.commands.reply`), where
a command to type is a :class:`~bot.core.commands.reply.Cmd` that each surface words in its
own syntax (``/wirewatch feeds remove 4`` on Slack, ``/feeds remove 4`` on Discord,
``wirewatch feed remove 4`` on the command line). The core never writes one platform's
command syntax into a sentence.

Rows queued as text before notices were data (migration 0006) decode to
:class:`PlainNotice` and are sent as written. A row whose data this version cannot read
(written by a newer one) falls back to its text the same way, so a rolling upgrade or a
rollback never loses a notice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.core.commands.reply import Cmd, Line, Link, Span, When, plain_text
from bot.core.display import web_url

URL_SHOWN = 1000  # a longer feed URL is shown as text, not linked


class Audience(StrEnum):
    """Who reads a notice decides which remedy it may offer."""

    CHANNEL = "channel"  # people in a chat channel: its managers can run chat commands
    OPERATOR = "operator"  # whoever runs Wirewatch: the command line and the config file


@dataclass(frozen=True, slots=True)
class FeedFailing:
    """A feed has failed ``failing_after`` polls in a row; its alerts are paused."""

    name: str
    url: str
    since: datetime | None
    reason: str | None
    feed_id: int | None = None
    source: str = "config"  # who added it: "config", "operator" (CLI) or "user" (chat)


@dataclass(frozen=True, slots=True)
class FeedRecovered:
    """A feed that had been announced as failing works again."""

    name: str
    url: str = ""


@dataclass(frozen=True, slots=True)
class ChannelRecovered:
    """Wirewatch can post to a channel again after delivery there had been failing."""

    since: datetime | None
    reason: str | None
    # Alerts queued for the channel meanwhile that waited past the dead-letter age: set
    # aside for the operator, never posted here. The channel is told, not promised them.
    missed: int = 0


@dataclass(frozen=True, slots=True)
class PlainNotice:
    """Text written before notices were data (or data this version cannot read): sent as
    written, escaped like any untrusted text."""

    text: str


Notice = FeedFailing | FeedRecovered | ChannelRecovered | PlainNotice


def _when(moment: datetime | None) -> Span:
    # An absolute time, not a relative one: the notice may be posted hours after it was
    # queued (the channel was down), and "since 3 minutes ago" would then be wrong. Chat
    # shows it in each reader's own time zone; plain text in UTC.
    return When(moment.astimezone(UTC), absolute=True) if moment else "a while"


def _url(url: str) -> Span:
    # Linked only when it is a well-formed http(s) URL; anything else is shown as text.
    safe = web_url(url, max_length=URL_SHOWN)
    return Link(safe) if safe else url


def _feed_remedy(notice: FeedFailing, audience: Audience) -> tuple[Span, ...]:
    """What the reader can do about a failing feed, with the command only where it works:
    a chat manager removes only a feed added from chat; the operator removes any feed but
    one from the config file, which a config sync would bring back."""
    ref = str(notice.feed_id) if notice.feed_id is not None else notice.url
    if notice.source == "config":
        if audience is Audience.OPERATOR:
            return ("remove it from the config file.",)
        return ("ask the operator to remove it.",)
    if notice.source == "user" or audience is Audience.OPERATOR:
        return ("remove it with ", Cmd("feeds remove", ref), ".")
    return ("ask the operator to remove it.",)


def notice_line(notice: Notice, audience: Audience = Audience.CHANNEL) -> Line:
    """The notice as reply spans (a pure function: the renderer picks the syntax)."""
    if isinstance(notice, FeedFailing):
        return (
            "⚠️ Feed “",
            notice.name,
            "” is failing since ",
            _when(notice.since),
            ": ",
            notice.reason or "unknown error",
            ". Alerts from it are paused; Wirewatch keeps retrying and will say when it "
            "recovers. Check the URL (",
            _url(notice.url),
            ") or ",
            *_feed_remedy(notice, audience),
        )
    if isinstance(notice, FeedRecovered):
        return ("✅ Feed “", notice.name, "” works again; alerts from it resume.")
    if isinstance(notice, ChannelRecovered):
        if notice.missed:
            n = notice.missed
            held = (
                f"; {n} alert{'s' if n != 1 else ''} queued meanwhile "
                f"{'were' if n != 1 else 'was'} held too long to be sent and "
                f"{'were' if n != 1 else 'was'} not posted (the operator's status lists "
                f"{'them' if n != 1 else 'it'}); the rest are being delivered now, in order."
            )
        else:
            held = "; alerts held meanwhile are being delivered now, in order."
        return (
            "✅ Wirewatch can post here again. Delivery had been failing since ",
            _when(notice.since),
            *((" (", notice.reason, ")") if notice.reason else ()),
            held,
        )
    return (notice.text,)


def notice_fallback(notice: Notice) -> str:
    """Plain words for the stored ``text`` column: what an older version posts for a row
    it cannot read as data, and what logs quote."""
    return plain_text(notice_line(notice))


# --- storage -----------------------------------------------------------------------------

_KINDS = {
    "feed_failing": FeedFailing,
    "feed_recovered": FeedRecovered,
    "channel_recovered": ChannelRecovered,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def notice_to_json(notice: Notice) -> str | None:
    """The notice as the JSON stored in ``notices.data``; None for plain text (the
    ``text`` column already holds all of it)."""
    if isinstance(notice, PlainNotice):
        return None
    fields: dict[str, Any] = {"kind": _KIND_OF[type(notice)]}
    if isinstance(notice, FeedFailing):
        fields.update(
            name=notice.name,
            url=notice.url,
            since=_iso(notice.since),
            reason=notice.reason,
            feed_id=notice.feed_id,
            source=notice.source,
        )
    elif isinstance(notice, FeedRecovered):
        fields.update(name=notice.name, url=notice.url)
    else:
        fields.update(since=_iso(notice.since), reason=notice.reason)
        if notice.missed:
            fields.update(missed=notice.missed)
    return json.dumps(fields, ensure_ascii=False, sort_keys=True)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def notice_from_row(text: str, data: str | None) -> Notice:
    """Decode a stored notice. Rows from before 0006 (no data) and data this version does
    not understand fall back to the stored text, so nothing queued is ever lost."""
    if not data:
        return PlainNotice(text)
    try:
        fields = json.loads(data)
        kind = fields.get("kind") if isinstance(fields, dict) else None
        if kind == "feed_failing":
            feed_id = fields.get("feed_id")
            return FeedFailing(
                name=str(fields["name"]),
                url=str(fields["url"]),
                since=_moment(fields.get("since")),
                reason=_opt_str(fields.get("reason")),
                feed_id=feed_id if isinstance(feed_id, int) else None,
                source=str(fields.get("source", "config")),
            )
        if kind == "feed_recovered":
            return FeedRecovered(name=str(fields["name"]), url=str(fields.get("url", "")))
        if kind == "channel_recovered":
            return ChannelRecovered(
                since=_moment(fields.get("since")),
                reason=_opt_str(fields.get("reason")),
                missed=int(fields.get("missed") or 0),
            )
    except (ValueError, KeyError, TypeError):
        pass
    return PlainNotice(text)


# --- who hears about a feed --------------------------------------------------------------


def feed_notice_destinations(
    reach: Sequence[str] | None, subscribed: Iterable[tuple[str, str | None]]
) -> list[str]:
    """Channels told about a feed's trouble: the subscribed ``(destination, tenant)`` pairs
    its items may reach. A workspace's own feed is news only to that workspace: telling
    other workspaces would show them a feed (its URL, its errors) that is not theirs."""
    allowed = None if reach is None else set(reach)
    return sorted(
        {
            destination
            for destination, tenant in subscribed
            if destination != "console" and (allowed is None or tenant in allowed)
        }
    )
