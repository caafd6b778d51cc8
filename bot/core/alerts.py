"""What a channel sees is a story, not an article per watch: alerts of one story (several
watches matched it) become one alert that lists every watch. Pure; the sender applies it
to each batch before a notifier renders it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.models import Alert, WatchHit
from bot.core.stories import THRESHOLD, story_features, story_similarity


def one_per_story(alerts: Sequence[Alert]) -> list[Alert]:
    """One alert per story, in first-seen order; the first alert of a story carries the
    other watches that matched it (``also_matched``) with their terms and pings."""
    firsts: dict[str, Alert] = {}
    extra: dict[str, list[WatchHit]] = {}
    for alert in alerts:
        first = firsts.setdefault(alert.story_key, alert)
        if first is alert:
            continue
        hits = extra.setdefault(alert.story_key, [])
        if alert.watch_id != first.watch_id and all(h.watch_id != alert.watch_id for h in hits):
            hits.append(
                WatchHit(
                    alert.watch_id,
                    alert.watch_name,
                    alert.watch_query,
                    alert.matched,
                    alert.mention,
                )
            )
    return [
        replace(first, also_matched=(*first.also_matched, *extra.get(key, ())))
        for key, first in firsts.items()
    ]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One alert to queue: a watch matched a story's article, for one destination. The
    outbox keeps one per (watch, destination, story)."""

    watch_id: int
    destination: str
    story_key: str
    article_id: int
    matched: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoryArticle:
    """One of a story's articles, as a message shows it."""

    source: str
    title: str
    summary: str
    url: str


def other_outlets(
    source: str, url: str, outlets: Sequence[tuple[str, str]]
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The outlets besides ``source`` carrying a story, from its articles' (outlet, url) in
    first-seen order: their names, and each one's first article. An outlet's own other
    articles of the story are not "also reported by"."""
    also: list[str] = []
    coverage: list[tuple[str, str]] = []
    for other_source, other_url in outlets:
        if other_url == url or other_source == source or not other_source:
            continue
        if other_source not in also:
            also.append(other_source)
            coverage.append((other_source, other_url))
    return tuple(also), tuple(coverage)


# Headlines shown by name under an alert, and the story's articles read for them (a story
# of fifty outlets' rewrites is read no further than its first ones).
FURTHER_SHOWN = 3
FURTHER_READ = 20


def news_of_their_own(
    alerted: StoryArticle, others: Sequence[StoryArticle]
) -> tuple[tuple[str, str, str], ...]:
    """(outlet, headline, url) of the story's other articles a reader would not take for
    a rewrite of the alerted one: the alerted outlet's own other articles (never listed
    under "also reported by"), and any whose headline reads as its own news (similarity
    under :data:`~bot.core.stories.THRESHOLD`: joined only by the lower bar of articles
    minutes apart). A story is joined on words; when the words misled, the reader still
    sees the headline instead of an outlet's name alone."""
    found: list[tuple[str, str, str]] = []
    features = None
    said = {alerted.title.casefold()}
    for other in others[:FURTHER_READ]:
        if other.url == alerted.url or not other.title or other.title.casefold() in said:
            continue
        if other.source != alerted.source:
            if features is None:
                features = story_features(alerted.title, alerted.summary)
            similarity = story_similarity(features, story_features(other.title, other.summary))
            if similarity >= THRESHOLD:
                continue
        found.append((other.source, other.title, other.url))
        said.add(other.title.casefold())
        if len(found) == FURTHER_SHOWN:
            break
    return tuple(found)
