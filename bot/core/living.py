"""What a living message (one per story, or a burst's listing of several) shows next.

A posted message remembers what it last showed of each of its stories (:class:`Shown`,
kept with the post). When its stories grow, :func:`next_showing` compares that with the
stories now: a story the channel muted keeps what it showed (its line in a listing is
not grown for it, nor when another story of the listing grows), and only the stories
that changed since are what a thread reply says, each with its headline when the
message lists several, and "headline now" only when the headline differs from the one
the message or its thread last showed. Pure: the sender reads and stores, this decides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence, Set
from dataclasses import asdict, dataclass, replace

from bot.core.models import Alert


@dataclass(frozen=True, slots=True)
class Shown:
    """One story as its message (or thread) last showed it: what later coverage changes."""

    title: str
    summary: str
    updated: bool
    also_reported_by: tuple[str, ...]
    coverage: tuple[tuple[str, str], ...]
    further: tuple[tuple[str, str, str], ...]
    watches: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Growth:
    """One story's change since its message or thread last showed it, for a reply."""

    alert: Alert  # the story now
    retitled: bool  # its headline differs from the one last shown
    named: bool  # the message lists several stories: the reply says which one grew
    headline: str  # the one the message or its thread last showed: what a reader knows


@dataclass(frozen=True, slots=True)
class Showing:
    """What to do with a message whose stories grew."""

    stories: tuple[Alert, ...]  # what an edit renders: a muted story as it was last shown
    grown: tuple[Growth, ...]  # what a thread reply says; nothing: leave the message be
    shown: dict[str, Shown]  # what the message and its thread show after the update


def shown_of(alert: Alert) -> Shown:
    """What a message shows of ``alert``'s story."""
    return Shown(
        title=alert.title,
        summary=alert.summary,
        updated=alert.updated,
        also_reported_by=alert.also_reported_by,
        coverage=alert.coverage,
        further=alert.further,
        watches=tuple(h.watch_id for h in alert.hits),
    )


def shown_in(stories: Sequence[Alert]) -> dict[str, Shown]:
    """What a message carrying ``stories`` (one alert per story) shows, by story key."""
    return {a.story_key: shown_of(a) for a in stories}


def as_shown(alert: Alert, shown: Shown) -> Alert:
    """``alert`` with what its message showed instead of its coverage now."""
    return replace(
        alert,
        title=shown.title,
        summary=shown.summary,
        updated=shown.updated,
        also_reported_by=shown.also_reported_by,
        coverage=shown.coverage,
        further=shown.further,
        also_matched=tuple(h for h in alert.also_matched if h.watch_id in shown.watches),
    )


def next_showing(
    stories: Sequence[Alert], shown: Mapping[str, Shown] | None, muted: Set[str]
) -> Showing:
    """The update of a message carrying ``stories`` (one alert per story, their coverage
    now) that last showed ``shown`` (None: a message posted before it was kept).

    A muted story is shown as it was; without a record of that, as it is now (a message
    from before the record), but it is never a growth. Any other story that changed is,
    and every one when nothing was recorded.
    """
    kept = shown or {}
    out: list[Alert] = []
    grown: list[Growth] = []
    for story in stories:
        before = kept.get(story.story_key)
        if story.story_key in muted:
            out.append(story if before is None else as_shown(story, before))
            continue
        out.append(story)
        named = len(stories) > 1
        if before is None:
            # Unknown what was shown: its headline counts as new only if it ever changed.
            grown.append(Growth(story, story.updated, named, story.title))
        elif shown_of(story) != before:
            grown.append(Growth(story, story.title != before.title, named, before.title))
    return Showing(tuple(out), tuple(grown), shown_in(out))


def unsure_reply(
    stories: Sequence[Alert], shown: Mapping[str, Shown] | None, pending: Mapping[str, Shown]
) -> Showing:
    """The thread reply that was sent unconfirmed when the message showed ``shown`` and
    would show ``pending`` after it, rebuilt as it was from ``stories`` now: the same
    words, so the platform's duplicate check (Slack's metadata key, Discord's nonce, both
    derived from them) finds it. Coverage grown since is not in it: that is the next
    reply's. Mutes are not applied: a story muted since was in the reply as it was sent."""
    then = [as_shown(a, pending[a.story_key]) if a.story_key in pending else a for a in stories]
    return next_showing(then, shown, frozenset())


def shown_to_json(shown: Mapping[str, Shown]) -> str:
    """``shown`` as the text the post keeps."""
    return json.dumps({key: asdict(s) for key, s in shown.items()}, ensure_ascii=False)


def shown_from_json(text: str | None) -> dict[str, Shown] | None:
    """What a post kept; None for none, or for a record this version cannot read (the
    message is then updated as one from before the record)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return {
            key: Shown(
                title=str(s["title"]),
                summary=str(s["summary"]),
                updated=bool(s["updated"]),
                also_reported_by=tuple(str(n) for n in s["also_reported_by"]),
                coverage=tuple((str(n), str(u)) for n, u in s["coverage"]),
                further=tuple((str(o), str(t), str(u)) for o, t, u in s["further"]),
                watches=tuple(int(w) for w in s["watches"]),
            )
            for key, s in data.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
