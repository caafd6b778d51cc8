"""What a channel sees is a story, not an article per watch: alerts of one story (several
watches matched it) become one alert that lists every watch. Pure; the sender applies it
to each batch before a notifier renders it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.core.models import Alert, WatchHit


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
