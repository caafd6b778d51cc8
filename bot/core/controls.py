"""Channel controls: digests, quiet hours, snoozes and per-watch volume, as pure decisions.

A channel's alerts are not always sent the moment they are matched. Before the sender
claims a destination's alerts it *gates* them (:func:`gate`): an alert may go now, be held
for the next summary (a digest, the end of quiet hours or of a snooze, the next hour when
a watch is over its hourly cap), or wait until its story is carried by enough outlets.
Held alerts are later *flushed* (:func:`flushable`) into one summary, which the notifiers
render as a digest: stories grouped by watch with outlet counts, newest first.

Every decision here takes the time as an argument: nothing reads a clock or a database.
Times are aware UTC datetimes; wall-clock settings (08:00, 22:00-07:00) are read in the
channel's IANA time zone, so a digest at 08:00 stays at 08:00 across daylight-saving
changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.errors import WirewatchError
from bot.core.models import WatchInfo

DEFAULT_TZ = "UTC"
WAIT_FOR_OUTLETS = timedelta(hours=48)  # a story that never reaches K outlets is let go
MAX_SNOOZE = timedelta(days=30)
MAX_PER_HOUR = 100
MAX_MIN_OUTLETS = 20


class ControlError(WirewatchError):
    """A digest time, time zone, quiet-hours range or duration that cannot be read."""


class Digest(StrEnum):
    REALTIME = "realtime"
    HOURLY = "hourly"
    DAILY = "daily"


class Hold(StrEnum):
    """Why an alert waits for a summary instead of going out now."""

    DIGEST = "digest"  # the channel gets digests, not single alerts
    QUIET = "quiet"  # inside the channel's quiet hours
    SNOOZE = "snooze"  # the channel is snoozed
    WATCH_SNOOZE = "watch-snooze"  # its watch is snoozed in this channel
    RATE = "rate"  # its watch already sent its hourly share here


@dataclass(frozen=True, slots=True)
class ChannelControls:
    """What a channel asked for; the defaults are realtime, no quiet hours, no snooze."""

    digest: Digest = Digest.REALTIME
    digest_at: time | None = None  # daily digests: the local time
    digest_tz: str = DEFAULT_TZ
    quiet_start: time | None = None
    quiet_end: time | None = None
    quiet_tz: str = DEFAULT_TZ
    snoozed_until: datetime | None = None
    threads: bool = False  # story growth as thread replies instead of edits
    template: str | None = None  # the alerts' first line (bot.core.templates)

    @property
    def default(self) -> bool:
        return self == ChannelControls()

    @property
    def quiet(self) -> bool:
        return self.quiet_start is not None and self.quiet_end is not None


@dataclass(frozen=True, slots=True)
class WatchControls:
    """One watch's volume in one channel."""

    snoozed_until: datetime | None = None
    max_per_hour: int | None = None
    min_outlets: int | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """A pending alert the gate may act on (never one whose send was attempted)."""

    id: int
    watch_id: int
    story_key: str
    outlets: int  # distinct outlets carrying its story now
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Waiting:
    """An alert waiting for its story to reach the watch's outlet threshold."""

    id: int
    watch_id: int
    outlets: int
    created_at: datetime
    story_key: str = ""


@dataclass(slots=True)
class GateDecision:
    hold: dict[int, Hold] = field(default_factory=dict)
    wait: list[int] = field(default_factory=list)  # pending -> waiting for outlets
    release: list[int] = field(default_factory=list)  # waiting -> pending (threshold met)
    drop: list[int] = field(default_factory=list)  # waited too long: never alerted
    muted: list[int] = field(default_factory=list)  # its story was muted here

    @property
    def empty(self) -> bool:
        return not (self.hold or self.wait or self.release or self.drop or self.muted)


# --- reading what people type -------------------------------------------------------------

_CLOCK = re.compile(r"^(\d{1,2})(?::?(\d{2}))?\s*(am|pm)?$", re.IGNORECASE)


def parse_clock(text: str) -> time:
    """``08:00``, ``8:30``, ``0730``, ``7pm`` -> a wall-clock time."""
    m = _CLOCK.match(text.strip())
    if not m:
        raise ControlError(f"{text!r} is not a time of day: use HH:MM, e.g. 08:00")
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    meridiem = (m.group(3) or "").lower()
    if meridiem:
        if not 1 <= hour <= 12:
            raise ControlError(f"{text!r} is not a time of day")
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ControlError(f"{text!r} is not a time of day: hours 00-23, minutes 00-59")
    return time(hour, minute)


def parse_tz(name: str | None) -> str:
    """An IANA zone name (``Europe/London``, ``Asia/Shanghai``, ``UTC``), checked."""
    if not name:
        return DEFAULT_TZ
    name = name.strip()
    if name.upper() in {"UTC", "GMT", "Z"}:
        return DEFAULT_TZ
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a tzdata folder
        raise ControlError(
            f"{name!r} is not a time zone: use an IANA name such as Europe/London,"
            " America/New_York or Asia/Shanghai"
        ) from None
    return name


def parse_quiet(text: str) -> tuple[time, time]:
    """``22:00-07:00`` -> (start, end); the range may cross midnight."""
    start, sep, end = text.replace("–", "-").partition("-")
    if not sep:
        raise ControlError(f"{text!r} is not a range: use HH:MM-HH:MM, e.g. 22:00-07:00")
    a, b = parse_clock(start), parse_clock(end)
    if a == b:
        raise ControlError("quiet hours must start and end at different times")
    return a, b


# A number is read from its first digit, at most six of them: a search from every digit
# of a typed run of thousands was quadratic, and int() refuses over 4,300 digits. A unit
# ends where letters end, so parts may touch ("1d12h").
_DURATION_PART = re.compile(
    r"(?<!\d)(\d{1,6})\s*+(weeks?|w|days?|d|hours?|hrs?|h|minutes?|mins?|m)(?![a-z])",
    re.IGNORECASE,
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_until(text: str, now: datetime, tz: str = DEFAULT_TZ) -> datetime:
    """When a snooze ends: ``2h``, ``90m``, ``1d12h``, ``until monday`` (its start, local),
    ``until 08:00`` (the next 08:00, local), ``until tomorrow``. At most 30 days."""
    words = text.strip().lower()
    if words.startswith("until "):
        until = _until(words[6:].strip(), now, ZoneInfo(tz))
    else:
        total = timedelta()
        for m in _DURATION_PART.finditer(words):
            n, unit = int(m.group(1)), m.group(2)[0].lower()
            total += {
                "w": timedelta(weeks=n),
                "d": timedelta(days=n),
                "h": timedelta(hours=n),
                "m": timedelta(minutes=n),
            }[unit]
        if not total or _DURATION_PART.sub("", words).strip():
            raise ControlError(
                f"{text!r} is not a duration: use e.g. 30m, 2h, 1d, 'until monday' or 'until 08:00'"
            )
        if total > MAX_SNOOZE:  # before adding: 999999w is past the calendar's end
            raise ControlError("a snooze lasts at most 30 days")
        until = now + total
    if until <= now:
        raise ControlError(f"{text!r} is already over")
    if until - now > MAX_SNOOZE:
        raise ControlError("a snooze lasts at most 30 days")
    return until


def _until(what: str, now: datetime, zone: ZoneInfo) -> datetime:
    """``tomorrow`` / ``midnight``, a weekday (``monday``, ``mon``, ``thurs``), either
    with a time (``monday 08:00``: that day at 08:00), or a time alone (the next one)."""
    local = now.astimezone(zone)
    day_word, _, clock = what.partition(" ")
    clock = clock.strip()
    if day_word in {"tomorrow", "midnight"} and not (day_word == "midnight" and clock):
        at = parse_clock(clock) if clock else time(0, 0)
        return _at(local.date() + timedelta(days=1), at, zone)
    weekday = _weekday(day_word)
    if weekday is not None:
        ahead = (weekday - local.weekday()) % 7
        if not clock:
            return _at(local.date() + timedelta(days=ahead or 7), time(0, 0), zone)
        at = parse_clock(clock)
        moment = _at(local.date() + timedelta(days=ahead), at, zone)
        return moment if moment > now else _at(local.date() + timedelta(days=ahead + 7), at, zone)
    return next_local(parse_clock(what), zone, now)


def _weekday(word: str) -> int | None:
    """Monday = 0 for a weekday's name or a prefix of it of three letters or more."""
    if len(word) < 3:
        return None
    return next((i for i, day in enumerate(_WEEKDAYS) if day.startswith(word)), None)


def parse_digest(mode: str, at: str | None, tz: str | None) -> tuple[Digest, time | None, str]:
    """``realtime``, ``hourly``, ``daily 08:00 [TZ]`` -> (mode, time, zone)."""
    try:
        digest = Digest(mode.strip().lower())
    except ValueError:
        raise ControlError(
            f"{mode!r} is not a digest mode: realtime, hourly or daily HH:MM [TZ]"
        ) from None
    if digest is Digest.DAILY:
        if not at:
            raise ControlError("a daily digest needs its time: daily 08:00 [Europe/London]")
        return digest, parse_clock(at), parse_tz(tz)
    if at and tz is None and not _CLOCK.match(at.strip()):
        # Typed in one line ("digest hourly Europe/London"), the zone comes second.
        at, tz = None, at
    if at:
        raise ControlError(f"only daily digests take a time ({digest} does not)")
    return digest, None, parse_tz(tz)


# --- time arithmetic in a channel's zone --------------------------------------------------


def _at(day: object, at: time, zone: ZoneInfo) -> datetime:
    # A wall time skipped by a DST jump resolves forward (zoneinfo's fold=0 rule, then a
    # round trip through UTC normalises it), so 02:30 on a spring-forward day is 03:30.
    local = datetime.combine(day, at, tzinfo=zone)  # type: ignore[arg-type]
    return local.astimezone(UTC)


def next_local(at: time, zone: ZoneInfo, after: datetime) -> datetime:
    """The first instant strictly after ``after`` when the wall clock in ``zone`` reads ``at``."""
    local = after.astimezone(zone)
    for days in range(0, 3):
        candidate = _at(local.date() + timedelta(days=days), at, zone)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable: a wall time recurs every day")  # pragma: no cover


def in_quiet(controls: ChannelControls, now: datetime) -> bool:
    """Whether ``now`` falls inside the channel's quiet hours (start inclusive)."""
    if controls.quiet_start is None or controls.quiet_end is None:
        return False
    local = now.astimezone(ZoneInfo(controls.quiet_tz)).time().replace(tzinfo=None)
    start, end = controls.quiet_start, controls.quiet_end
    if start < end:
        return start <= local < end
    return local >= start or local < end


def quiet_ends(controls: ChannelControls, now: datetime) -> datetime | None:
    """When the quiet hours ``now`` is in end (None outside them)."""
    if not in_quiet(controls, now) or controls.quiet_end is None:
        return None
    return next_local(controls.quiet_end, ZoneInfo(controls.quiet_tz), now)


def snoozed(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def next_digest(controls: ChannelControls, after: datetime) -> datetime:
    """The digest that collects an alert held at ``after``."""
    if controls.digest is Digest.DAILY and controls.digest_at is not None:
        return next_local(controls.digest_at, ZoneInfo(controls.digest_tz), after)
    return _next_hour(after)


def _next_hour(after: datetime) -> datetime:
    return after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def channel_held(controls: ChannelControls, now: datetime) -> Hold | None:
    """Why nothing goes out in this channel right now (None: it is open)."""
    if snoozed(controls.snoozed_until, now):
        return Hold.SNOOZE
    if in_quiet(controls, now):
        return Hold.QUIET
    return None


# --- the gate and the flush ---------------------------------------------------------------


def gate(
    candidates: Sequence[Candidate],
    waiting: Sequence[Waiting],
    controls: ChannelControls,
    watches: Mapping[int, WatchControls],
    sent_last_hour: Mapping[int, int],
    now: datetime,
    held: Sequence[Held] = (),
    muted: Set[str] = frozenset(),
) -> GateDecision:
    """What to do with a channel's pending alerts before any is sent.

    ``candidates`` are in queue order; ``sent_last_hour`` counts each watch's alerts sent
    here in the last hour, and alerts let through now count against the same cap. Alerts
    of a story the channel muted are let go, wherever they wait.
    """
    decision = GateDecision()
    if muted:
        decision.muted = [c.id for c in candidates if c.story_key in muted]
        decision.muted += [w.id for w in waiting if w.story_key in muted]
        decision.muted += [h.id for h in held if h.story_key in muted]
    gone = set(decision.muted)
    candidates = [c for c in candidates if c.id not in gone]
    waiting = [w for w in waiting if w.id not in gone]
    blocked = channel_held(controls, now)
    allowed: dict[int, int] = dict(sent_last_hour)

    def held_for(watch_id: int) -> Hold | None:
        """Why an alert due now waits for a summary, or None (and it counts as sent)."""
        wc = watches.get(watch_id, WatchControls())
        if blocked is not None:
            return blocked
        if snoozed(wc.snoozed_until, now):
            return Hold.WATCH_SNOOZE
        if controls.digest is not Digest.REALTIME:
            return Hold.DIGEST
        if wc.max_per_hour is not None and allowed.get(watch_id, 0) >= wc.max_per_hour:
            return Hold.RATE
        allowed[watch_id] = allowed.get(watch_id, 0) + 1
        return None

    # Older than any candidate: a story that reached its outlets goes first, under the
    # channel's other controls like any alert due now.
    for w in waiting:
        need = watches.get(w.watch_id, WatchControls()).min_outlets or 0
        if w.outlets >= need:
            reason = held_for(w.watch_id)
            if reason is None:
                decision.release.append(w.id)
            else:
                decision.hold[w.id] = reason
        elif now - w.created_at > WAIT_FOR_OUTLETS:
            decision.drop.append(w.id)
    for c in candidates:
        wc = watches.get(c.watch_id, WatchControls())
        if wc.min_outlets and c.outlets < wc.min_outlets:
            decision.wait.append(c.id)
            continue
        reason = held_for(c.watch_id)
        if reason is not None:
            decision.hold[c.id] = reason
    return decision


@dataclass(frozen=True, slots=True)
class Held:
    id: int
    watch_id: int
    reason: Hold
    held_at: datetime
    story_key: str = ""


def flushable(
    held: Iterable[Held],
    controls: ChannelControls,
    watches: Mapping[int, WatchControls],
    now: datetime,
) -> list[int]:
    """The held alerts whose summary is due now (none while the channel is quiet or
    snoozed: they join the summary sent when that ends)."""
    if channel_held(controls, now) is not None:
        return []
    out: list[int] = []
    for h in held:
        # Whatever held it first (quiet hours, the channel's snooze), its watch's own
        # snooze still holds it until that ends.
        if snoozed(watches.get(h.watch_id, WatchControls()).snoozed_until, now):
            continue
        if controls.digest is not Digest.REALTIME:
            # Whatever held it, it now waits for the digest (a digest at 08:00 inside quiet
            # hours goes out when they end: the channel was held above).
            due = next_digest(controls, h.held_at) <= now
        elif h.reason is Hold.WATCH_SNOOZE:
            due = True  # its snooze is over
        elif h.reason in (Hold.RATE, Hold.DIGEST):
            # Over the cap: in the next hour's summary. Held for a digest the channel no
            # longer takes: now.
            due = h.reason is Hold.DIGEST or _next_hour(h.held_at) <= now
        else:
            due = True  # quiet hours or the channel's snooze are over
        if due:
            out.append(h.id)
    return out


def summary_heading(reasons: Iterable[Hold], controls: ChannelControls) -> str:
    """The title of a summary of alerts held for ``reasons``."""
    kinds = set(reasons)
    if controls.digest is Digest.DAILY:
        return "Daily digest"
    if controls.digest is Digest.HOURLY:
        return "Hourly digest"
    if kinds == {Hold.QUIET}:
        return "While quiet hours were on"
    if kinds == {Hold.SNOOZE}:
        return "While this channel was snoozed"
    if kinds == {Hold.WATCH_SNOOZE}:
        return "While a watch was snoozed"
    if kinds == {Hold.RATE}:
        return "More from the last hour (over a watch's hourly limit)"
    return "Summary"


def describe(controls: ChannelControls, now: datetime) -> list[tuple[str, datetime | None]]:
    """The channel's controls in words, one line each (for ``settings``), each with the
    moment that ends it when it has one (shown in the reader's own time zone)."""
    lines: list[tuple[str, datetime | None]] = []
    if controls.digest is Digest.DAILY and controls.digest_at is not None:
        lines.append((f"Digest: daily at {controls.digest_at:%H:%M} {controls.digest_tz}", None))
    elif controls.digest is Digest.HOURLY:
        lines.append(("Digest: hourly, on the hour", None))
    else:
        lines.append(("Digest: realtime (each story as it breaks)", None))
    if controls.quiet_start is not None and controls.quiet_end is not None:
        state = " (on now)" if in_quiet(controls, now) else ""
        lines.append(
            (
                f"Quiet hours: {controls.quiet_start:%H:%M}-{controls.quiet_end:%H:%M}"
                f" {controls.quiet_tz}{state}",
                None,
            )
        )
    else:
        lines.append(("Quiet hours: off", None))
    if snoozed(controls.snoozed_until, now) and controls.snoozed_until is not None:
        lines.append(("Snoozed until ", controls.snoozed_until))
    updates = "thread replies" if controls.threads else "edit the message"
    lines.append((f"Story updates: {updates}", None))
    template = f"Template: {controls.template}" if controls.template else "Template: default"
    lines.append((template, None))
    return lines


# --- changes people ask for (shared by the core and its test double) ----------------------

OFF = {"off", "none", "stop", "0"}
CHANNEL_WORDS = {"channel", "here", "all", "everything"}


def with_digest(
    current: ChannelControls, mode: str, at: str | None, tz: str | None
) -> ChannelControls:
    digest, when, zone = parse_digest(mode, at, tz)
    return replace(current, digest=digest, digest_at=when, digest_tz=zone)


def with_quiet(current: ChannelControls, hours: str, tz: str | None) -> ChannelControls:
    if hours.strip().lower() in OFF:
        return replace(current, quiet_start=None, quiet_end=None, quiet_tz=DEFAULT_TZ)
    start, end = parse_quiet(hours)
    return replace(current, quiet_start=start, quiet_end=end, quiet_tz=parse_tz(tz))


def snooze_end(duration: str, now: datetime, tz: str) -> datetime | None:
    """When a snooze given as ``duration`` ends; None for ``off`` (end it now)."""
    if duration.strip().lower() in OFF:
        return None
    return parse_until(duration, now, tz)


def with_volume(
    current: WatchControls, per_hour: int | None, min_outlets: int | None
) -> WatchControls:
    """``None`` keeps a setting, ``0`` removes it."""
    if per_hour is not None and not 0 <= per_hour <= MAX_PER_HOUR:
        raise ControlError(f"an hourly limit is between 1 and {MAX_PER_HOUR} (0 removes it)")
    if min_outlets is not None and not 0 <= min_outlets <= MAX_MIN_OUTLETS:
        raise ControlError(f"an outlet threshold is between 1 and {MAX_MIN_OUTLETS} (0 removes it)")
    if per_hour is not None:
        current = replace(current, max_per_hour=per_hour or None)
    if min_outlets is not None:
        current = replace(current, min_outlets=min_outlets if min_outlets > 1 else None)
    return current


def local_zone(controls: ChannelControls) -> str:
    """The zone a channel's times are read in when a command names none."""
    if controls.quiet:
        return controls.quiet_tz
    return controls.digest_tz


@dataclass(frozen=True, slots=True)
class ChannelReport:
    """A channel's controls, for ``settings``: its own and each of its watches'."""

    destination: str
    controls: ChannelControls
    watches: tuple[tuple[WatchInfo, WatchControls], ...]
    now: datetime


def with_template(current: ChannelControls, source: str) -> tuple[ChannelControls, str | None]:
    """The channel with ``source`` as its template (``default`` removes it), and the sample
    alert rendered with it. Raises ``TemplateError`` for one that would fail at send time."""
    from bot.core.templates import validate  # Jinja2 loads only when a template is set

    text = source.strip()
    if text.lower() in OFF | {"default", "reset"}:
        return replace(current, template=None), None
    sample = validate(text)
    return replace(current, template=text), sample


def with_updates(current: ChannelControls, mode: str) -> ChannelControls:
    """``edit`` (a story's message is edited as it grows) or ``thread`` (replies under it)."""
    word = mode.strip().lower()
    if word not in ("edit", "thread"):
        raise ControlError(f"{mode!r} is not a choice: edit or thread")
    return replace(current, threads=word == "thread")
