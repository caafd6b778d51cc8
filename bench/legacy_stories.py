"""The story rule before issue 10, kept unchanged as the baseline of bench/p6_stories.py.

Headlines compared as sets of folded content words: at least 3 shared; a shorter rewrite
needs >= 4 words, a substitution >= 5 shared and 80 % cover (or Jaccard >= 0.6);
opposites never merge. See ``bot/core/stories.py`` for the rule that replaced it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.textfold import headline_tokens

__all__ = ["LegacyStoryIndex", "same_story"]

_MIN_SHARED = 3
_MIN_SUBSET = 4
_MIN_SHARED_SUBSTITUTION = 5
_CONTAINMENT = 0.8
_JACCARD = 0.6

# Words whose swap turns a headline into its opposite. Folded like headline words.
_OPPOSITES_RAW = (
    (
        "tighten tightened tightening toughen toughened tougher",
        "ease eased easing loosen loosened loosening relax relaxed relaxing soften softened",
    ),
    (
        "rise rose risen rising climb climbed jump jumped soar soared surge surged gain gained",
        "fall fell fallen falling drop dropped slide slid slump slumped sink sank plunge plunged",
    ),
    (
        "raise raised raising hike hiked increase increased boost boosted",
        "cut cutting lower lowered reduce reduced decrease decreased slash slashed",
    ),
    ("impose imposed imposing", "lift lifted lifting scrap scrapped remove removed"),
    ("approve approved approval accept accepted", "reject rejected rejection veto vetoed"),
    ("win won winning", "lose lost losing"),
    ("open opened opening reopen reopened", "close closed closing shut"),
    ("expand expanded expanding extend extended", "shrink shrank shrunk shrinking"),
    ("support supported backs backed", "oppose opposed"),
    ("begin began start started", "end ended stop stopped halt halted"),
    ("ban banned", "allow allowed permit permitted"),
)


def _folded_words(words: str) -> frozenset[str]:
    return frozenset(token for word in words.split() for token in headline_tokens(word))


_OPPOSITES = tuple((_folded_words(a), _folded_words(b)) for a, b in _OPPOSITES_RAW)


def same_story(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two headlines (as :func:`headline_tokens`) report the same story."""
    shared = len(a & b)
    if shared < _MIN_SHARED:
        return False
    only_a, only_b = a - b, b - a
    if only_a and only_b and _opposite(only_a, only_b):
        return False
    smaller = min(len(a), len(b))
    if not only_a or not only_b:  # one headline's words contain the other's
        return smaller >= _MIN_SUBSET or a == b
    if shared < _MIN_SHARED_SUBSTITUTION:
        return False
    return shared / smaller >= _CONTAINMENT or shared / len(a | b) >= _JACCARD


def _opposite(only_a: frozenset[str], only_b: frozenset[str]) -> bool:
    for one, other in _OPPOSITES:
        if (only_a & one and only_b & other) or (only_a & other and only_b & one):
            return True
    return False


@dataclass(slots=True)
class _Headline:
    story_key: str
    tokens: frozenset[str]
    seen_at: datetime


class LegacyStoryIndex:
    """Recent headlines -> story keys, with an inverted index (word -> headlines).

    ``len()`` is the number of distinct headlines held (per story, identical word sets
    are held once). Pure in-memory state: no clock reads, callers pass ``now``.
    """

    def __init__(
        self, window: timedelta = timedelta(hours=48), *, max_headlines: int = 20_000
    ) -> None:
        self._window = window
        # Memory bound: past it the oldest headlines go first (about 2.3 KB each, so the
        # default holds ~45 MB — two days of every new headline from a few thousand feeds).
        self.max_headlines = max_headlines
        self._headlines: dict[int, _Headline] = {}
        self._by_content: dict[tuple[str, frozenset[str]], int] = {}
        self._postings: dict[str, set[int]] = {}
        self._expiry: list[tuple[datetime, int]] = []  # heap; stale rows skipped on pop
        self._next_id = 0

    def __len__(self) -> int:
        return len(self._headlines)

    def add(self, story_key: str, tokens: frozenset[str], seen_at: datetime) -> None:
        """Remember that a headline with ``tokens`` belongs to ``story_key``."""
        if not tokens:
            return  # nothing to compare later
        existing = self._by_content.get((story_key, tokens))
        if existing is not None:
            headline = self._headlines[existing]
            if seen_at > headline.seen_at:
                headline.seen_at = seen_at
                heapq.heappush(self._expiry, (seen_at, existing))
            return
        headline_id = self._next_id
        self._next_id += 1
        self._headlines[headline_id] = _Headline(story_key, tokens, seen_at)
        self._by_content[(story_key, tokens)] = headline_id
        for token in tokens:
            self._postings.setdefault(token, set()).add(headline_id)
        heapq.heappush(self._expiry, (seen_at, headline_id))
        while len(self._headlines) > self.max_headlines:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        seen_at, headline_id = heapq.heappop(self._expiry)
        headline = self._headlines.get(headline_id)
        if headline is None or headline.seen_at != seen_at:
            return
        self._forget(headline_id, headline)

    def _forget(self, headline_id: int, headline: _Headline) -> None:
        del self._headlines[headline_id]
        del self._by_content[(headline.story_key, headline.tokens)]
        for token in headline.tokens:
            posting = self._postings[token]
            posting.discard(headline_id)
            if not posting:
                del self._postings[token]

    def find(self, tokens: frozenset[str], now: datetime) -> str | None:
        """The story key of the best-matching headline seen within the window, if any."""
        if len(tokens) < _MIN_SHARED:
            return None
        postings = self._postings
        # Prefix filter: a match shares >= _MIN_SHARED words, so it holds at least one of
        # the (n - _MIN_SHARED + 1) rarest words: the commonest ones ("trump") are skipped.
        by_rarity = sorted(tokens, key=lambda token: len(postings.get(token, ())))
        probe = by_rarity[: len(tokens) - _MIN_SHARED + 1]
        candidates: set[int] = set()
        for token in probe:
            candidates.update(postings.get(token, ()))
        cutoff = now - self._window
        best: tuple[float, datetime] | None = None
        best_key: str | None = None
        for headline_id in candidates:
            headline = self._headlines[headline_id]
            if headline.seen_at < cutoff or not same_story(tokens, headline.tokens):
                continue
            score = (
                len(tokens & headline.tokens) / len(tokens | headline.tokens),
                headline.seen_at,
            )
            if best is None or score > best:
                best, best_key = score, headline.story_key
        return best_key

    def prune(self, now: datetime) -> None:
        """Forget headlines last seen before ``now - window``."""
        cutoff = now - self._window
        expiry = self._expiry
        while expiry and expiry[0][0] < cutoff:
            seen_at, headline_id = heapq.heappop(expiry)
            headline = self._headlines.get(headline_id)
            if headline is None or headline.seen_at != seen_at:
                continue  # already gone, or refreshed later (a newer heap row exists)
            self._forget(headline_id, headline)
