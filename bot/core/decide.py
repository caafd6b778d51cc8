"""Pure decisions about items: is it new, and may it alert? No I/O, no clock reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.models import Article

HELD_FIRST_POLL = "first poll of the feed: recorded without alerting"
HELD_TOO_OLD = "older than the alert age limit"


@dataclass(frozen=True, slots=True)
class ItemDecision:
    article: Article
    alert: bool
    held_reason: str | None


def new_articles(articles: Sequence[Article], seen_keys: set[str]) -> list[Article]:
    """Articles none of whose identity keys were seen before (nor earlier in this document).

    Any shared key makes two items the same item: that is how a re-dated item, a changed
    guid with the same URL, or a duplicate entry inside one feed stays one item.
    """
    seen = set(seen_keys)
    fresh: list[Article] = []
    for article in articles:
        if any(k in seen for k in article.identity_keys):
            seen.update(article.identity_keys)
            continue
        seen.update(article.identity_keys)
        fresh.append(article)
    return fresh


def decide_items(
    fresh: Sequence[Article],
    *,
    first_poll: bool,
    backfill: int,
    max_age: timedelta,
    now: datetime,
) -> list[ItemDecision]:
    """Which new items alert: not on a feed's first poll (but for the ``backfill`` newest),
    never when older than ``max_age``."""
    backfilled: set[int] = set()
    if first_poll and backfill > 0:
        newest = sorted(range(len(fresh)), key=lambda i: fresh[i].published, reverse=True)
        backfilled = set(newest[:backfill])
    out = []
    for i, article in enumerate(fresh):
        if first_poll and i not in backfilled:
            out.append(ItemDecision(article, False, HELD_FIRST_POLL))
        elif article.published_known and now - article.published > max_age:
            out.append(ItemDecision(article, False, HELD_TOO_OLD))
        else:
            out.append(ItemDecision(article, True, None))
    return out


def all_keys(articles: Iterable[Article]) -> list[str]:
    keys: list[str] = []
    for a in articles:
        keys.extend(a.identity_keys)
    return list(dict.fromkeys(keys))
