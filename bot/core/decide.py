"""Pure decisions about items: is it new, and may it alert? No I/O, no clock reads."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from bot.core.models import Article
from bot.core.textfold import headline_tokens

HELD_FIRST_POLL = "first poll of the feed: recorded without alerting"
HELD_TOO_OLD = "older than the alert age limit"


class ItemDecision(NamedTuple):
    article: Article
    alert: bool
    held_reason: str | None


def fresh_indexes(key_lists: Sequence[Sequence[str]], seen_keys: set[str]) -> list[int]:
    """Indexes of items none of whose identity keys were seen before (nor earlier in this
    document).

    Any shared key makes two items the same item: that is how a re-dated item, a changed
    guid with the same URL, or a duplicate entry inside one feed stays one item.
    """
    seen = set(seen_keys)
    fresh: list[int] = []
    for i, keys in enumerate(key_lists):
        if not any(k in seen for k in keys):
            fresh.append(i)
        seen.update(keys)
    return fresh


def new_articles(articles: Sequence[Article], seen_keys: set[str]) -> list[Article]:
    """The articles among ``articles`` that are new (see :func:`fresh_indexes`)."""
    return [articles[i] for i in fresh_indexes([a.identity_keys for a in articles], seen_keys)]


def newest(dates: Sequence[datetime], count: int) -> list[int]:
    """Indexes of the ``count`` newest of ``dates``, newest first; equal dates in the
    feed's order (whatever picks a feed's newest items picks the same ones)."""
    return sorted(range(len(dates)), key=dates.__getitem__, reverse=True)[:count]


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
        backfilled = set(newest([a.published for a in fresh], backfill))
    out = []
    for i, article in enumerate(fresh):
        if first_poll and i not in backfilled:
            out.append(ItemDecision(article, False, HELD_FIRST_POLL))
        elif article.published_known and now - article.published > max_age:
            out.append(ItemDecision(article, False, HELD_TOO_OLD))
        else:
            out.append(ItemDecision(article, True, None))
    return out


# Wire services re-file with a prefix ("UPDATE 2-", "EXCLUSIVE-"): not a new headline.
_WIRE_PREFIX = re.compile(
    r"^\s*(?:(?:update|updated|corrected|correction|exclusive|refile|breaking|analysis)"
    r"(?:\s*\d+)?\s*[-:|]\s*)+",
    re.IGNORECASE,
)


def headline_note(title: str) -> str:
    """A short fingerprint of a headline, kept with the item's seen key: when the same item
    comes back with another note, its headline may have changed (then
    ``headline_changed_materially`` decides). Cheap: it runs for every entry polled."""
    text = " ".join(title.split()).lower()
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


PRINT_SIZE = 6  # bytes of an entry print


def entry_print(raw_key: str, note: str) -> bytes:
    """A few bytes standing for an entry's raw key with its headline note: an entry whose
    print was in the body a feed's last recorded poll saw is known, headline and all (see
    ``bot.core.prepare``). 48 bits: a new entry mistaken for one of a feed's ~50 old ones
    is a ~1-in-5x10^12 event; each feed stores ~50 prints, those of its last recorded body."""
    return hashlib.blake2b(f"{raw_key}\n{note}".encode(), digest_size=PRINT_SIZE).digest()


def headline_changed_materially(old: str, new: str) -> bool:
    """True when a re-titled item says something else: a content word added, dropped or
    changed (a number, "curbs" -> "lifts curbs"). Case, punctuation, accents, stopwords
    and wire prefixes are not a change."""
    before = headline_tokens(_WIRE_PREFIX.sub("", old))
    after = headline_tokens(_WIRE_PREFIX.sub("", new))
    return before != after
