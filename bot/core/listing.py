"""``latest``, ``watch test`` and ``backfill`` list stories as alerts show them: an event
five outlets carry is one line, led by its first report (what its alert was sent with),
naming the other four and the headlines that are news of their own, not five lines that
crowd out the rest. Stories come by their latest activity: a story an outlet carried a
minute ago is news, however early its first report. Pure.

How recent an article is (:func:`listing_rank`) is its publication time, its first-seen
time when it has none, except for a new feed's undated backlog (:func:`undated_backlog`):
those items were in the feed before Wirewatch first read it, from any time before, so
they rank below every other article rather than as news of the minute they were read.
The store orders by the same rank (``bot.store.store.LISTING_ORDER``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from bot.core.alerts import StoryArticle, news_of_their_own, other_outlets
from bot.core.decide import HELD_FIRST_POLL
from bot.core.models import ArticleView

# (not a new feed's undated backlog, publication time, tie-break): the larger, the newer.
Rank = tuple[bool, datetime, int]


class StoredItem(Protocol):
    """What the rank reads of a stored article."""

    @property
    def id(self) -> int: ...
    @property
    def published(self) -> datetime: ...
    @property
    def published_known(self) -> bool: ...
    @property
    def held_reason(self) -> str | None: ...


def undated_backlog(published_known: bool, held_reason: str | None) -> bool:
    """Whether an article is a new feed's undated backlog: recorded without a date of its
    own by the feed's silent first poll. Its stored time is when it was first seen, which
    says nothing of its age. An undated item a feed carries later is news when first seen,
    and so is a first poll's item that ``[poll] backfill`` alerted."""
    return not published_known and held_reason == HELD_FIRST_POLL


def listing_rank(item: StoredItem) -> Rank:
    """How recent ``item`` counts when listing: by publication time (first-seen time when
    undated), the later first, the later stored breaking ties; a new feed's undated backlog
    below everything else, most recently read first and within one read in the feed's
    order (a feed lists its newest first)."""
    if undated_backlog(item.published_known, item.held_reason):
        return (False, item.published, -item.id)
    return (True, item.published, item.id)


@dataclass(frozen=True, slots=True)
class KeptArticle:
    """One of a story's kept articles, as the listing weighs it: ``matches`` when it is
    what was searched for (every article, when nothing was)."""

    view: ArticleView
    first_seen: datetime
    rank: Rank
    matches: bool = True


def first_story_keys(keys: Iterable[str], limit: int) -> list[str]:
    """The first ``limit`` distinct story keys of ``keys`` (articles newest first: the
    stories with the latest activity)."""
    found: dict[str, None] = {}
    for key in keys:
        found.setdefault(key)
        if len(found) == limit:
            break
    return list(found)


def first_report(story: Sequence[KeptArticle]) -> KeptArticle:
    """The story's first report among its matching articles (all of them when none
    matches): the first seen, and of those seen in one poll the first published."""
    candidates = [a for a in story if a.matches] or list(story)
    return min(candidates, key=lambda a: (a.first_seen, a.rank[1], a.view.id))


def story_line(story: Sequence[KeptArticle]) -> ArticleView:
    """One story as ``latest`` shows it: its first report, with the other outlets carrying
    it (names, and each one's first article) and up to three of its articles that are news
    of their own beside the lead, as its alert carries them."""
    lead = first_report(story).view
    in_order = sorted((a.view for a in story), key=lambda v: v.id)  # first seen first
    also, coverage = other_outlets(lead.source, lead.url, [(v.source, v.url) for v in in_order])
    further = news_of_their_own(_told(lead), [_told(v) for v in in_order])
    return replace(
        lead,
        also_reported_by=also,
        coverage=coverage,
        further=further,
        latest_at=latest_activity(lead, story),
    )


def latest_activity(lead: ArticleView, story: Sequence[KeptArticle]) -> datetime | None:
    """When the story last grew (its newest dated article), if later than its lead's own
    date; an undated backlog item says nothing of when."""
    dated = [a.rank[1] for a in story if a.rank[0]]
    newest = max(dated, default=None)
    if newest is None or lead.published is None or newest <= lead.published:
        return None
    return newest


def list_stories(stories: Mapping[str, Sequence[KeptArticle]]) -> tuple[ArticleView, ...]:
    """Each story once (:func:`story_line`), the latest activity first: the story whose
    newest article ranks highest (:func:`listing_rank`)."""
    told = [s for s in stories.values() if s]
    told.sort(key=lambda story: max(a.rank for a in story), reverse=True)
    return tuple(story_line(story) for story in told)


def _told(view: ArticleView) -> StoryArticle:
    return StoryArticle(view.source, view.title, view.summary, view.url)
