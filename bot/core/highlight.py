"""Where a watch's matched terms occur in a text: the spans every renderer emphasises.

One function for every platform, so Slack and Discord bold the same words, and they are
the words the matcher matched: a term is found the way :mod:`bot.core.matcher` finds it,
not by a look-alike pattern.

* The text is cut into words as :func:`~bot.core.textfold.surface_fold` sees them (runs
  of letters, digits, marks, in-word apostrophes and acronym dots; scripts without spaces
  split from Latin ones), each word folded on its own and remembered with its span in the
  original text.
* A word or phrase term matches a run of words whose plural stems are the term's folded
  words, so ``tariff`` finds ``Tariffs`` and ``"rare earth"`` finds ``Rare-Earths``;
  Chinese, Japanese, Korean and Thai terms are found inside words, as the matcher does.
* A ``/regex/`` term runs in RE2 (linear time, whatever the pattern) over the same folded
  text the matcher searched, and each hit is mapped back to the words it covers. User
  regexes never reach Python's backtracking ``re``: ``/china|(\\w+\\s?)+zzz/`` costs what
  any other regex costs.

A term that cannot be found (a ``source:`` name, a regex that does not compile) simply
stays unemphasised.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from bot.core.query import compile_regex
from bot.core.textfold import fold_term, is_spaceless_char, plural_stem, surface_fold

__all__ = ["highlight_spans"]

Span = tuple[int, int]

# Characters that end a word in folded text, other than these that stay inside one:
# apostrophes (``China's``, ``don't``), dots (``U.S.``) and invisible format characters
# (a soft hyphen inside ``tar\xadiff``). Everything else that is not a letter, digit or mark
# separates words, exactly as folding turns it into a space.
_IN_WORD_PUNCTUATION = frozenset("'.\u2019\u02bc")
_EDGE_PUNCTUATION = "'.\u2019\u02bc"
_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+")


@dataclass(frozen=True, slots=True)
class _Word:
    start: int  # span in the original text
    end: int
    folded: str  # one surface-folded word (no spaces)
    stem: str  # its plural stem, as terms are folded
    exact: bool  # folded maps character for character onto text[start:end]


def highlight_spans(text: str, terms: Iterable[str]) -> list[Span]:
    """Sorted, merged ``(start, end)`` spans of ``text`` where ``terms`` occur.

    ``terms`` are matched terms as a query wrote them (``Alert.matched``): words, phrases
    without their quotes, and ``/regexes/`` with their slashes.
    """
    wanted = [term for term in (t.strip() for t in terms) if term]
    if not wanted or not text:
        return []
    words = _words(text)
    if not words:
        return []
    found: list[Span] = []
    by_stem: dict[str, list[int]] | None = None
    for term in wanted:
        regex = _regex_of(term)
        if regex is not None:
            found += _regex_spans(words, regex)
            continue
        if _is_regex_term(term):
            continue  # a regex RE2 refuses was never matched either
        folded = fold_term(term)
        if not folded:
            continue
        if by_stem is None:
            by_stem = {}
            for index, word in enumerate(words):
                by_stem.setdefault(word.stem, []).append(index)
        found += _term_spans(words, by_stem, folded.split(" "))
    return _merged(found)


def _is_regex_term(term: str) -> bool:
    return len(term) > 2 and term.startswith("/") and term.endswith("/")


def _regex_of(term: str) -> Any:
    return _compiled(term[1:-1]) if _is_regex_term(term) else None


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    try:
        return compile_regex(pattern)
    except re2.error:
        return None


# ---------------------------------------------------------------------------- words


def _is_word_char(char: str) -> bool:
    if char.isalnum() or char in _IN_WORD_PUNCTUATION:
        return True
    category = unicodedata.category(char)
    return category[0] == "M" or category == "Cf"


def _words(text: str) -> list[_Word]:
    words: list[_Word] = []
    i, n = 0, len(text)
    while i < n:
        if not _is_word_char(text[i]):
            i += 1
            continue
        start = i
        while i < n and _is_word_char(text[i]):
            i += 1
        _add_piece(text, start, i, words)
    return words


def _add_piece(text: str, start: int, end: int, words: list[_Word]) -> None:
    """Fold ``text[start:end]`` (a run without separators) into words."""
    # Edge punctuation folds to nothing ("China." is "china"); leaving it out of the span
    # keeps the emphasis on the word itself.
    while start < end and text[start] in _EDGE_PUNCTUATION:
        start += 1
    while end > start and text[end - 1] in _EDGE_PUNCTUATION:
        end -= 1
    if end < len(text) and text[end] == "." and _ACRONYM.fullmatch(text, start, end + 1):
        end += 1  # "U.S." keeps its last dot
    if start == end:
        return
    # A script without spaces next to a Latin word is two words (as folding splits them).
    cut = start
    for k in range(start + 1, end):
        if is_spaceless_char(text[k]) != is_spaceless_char(text[k - 1]) and text[k].isalnum():
            words.extend(_folded_words(text, cut, k))
            cut = k
    words.extend(_folded_words(text, cut, end))


def _folded_words(text: str, start: int, end: int) -> list[_Word]:
    piece = text[start:end]
    folded = surface_fold(piece).split(" ")
    exact = len(folded) == 1 and len(folded[0]) == len(piece)
    return [_Word(start, end, word, _stem(word), exact) for word in folded if word]


def _stem(word: str) -> str:
    return word if is_spaceless_char(word[0]) else plural_stem(word)


# ---------------------------------------------------------------------------- terms


def _term_spans(words: list[_Word], by_stem: dict[str, list[int]], tokens: list[str]) -> list[Span]:
    """Runs of words that the folded term ``tokens`` matches, as the matcher's keys would.

    Latin tokens must equal a word's plural stem; a first token in a script without spaces
    may end a word, a last one begin a word, and a single one sit anywhere inside a word.
    """
    first, last, count = tokens[0], tokens[-1], len(tokens)
    spans: list[Span] = []
    if count == 1 and is_spaceless_char(first[0]):
        for word in words:
            at = word.folded.find(first)
            while at >= 0:
                spans.append(_inner(word, at, at + len(first)))
                at = word.folded.find(first, at + 1)
        return spans
    starts = (
        range(len(words) - count + 1) if is_spaceless_char(first[0]) else by_stem.get(first, ())
    )
    for i in starts:
        if i + count > len(words):
            continue
        if not all(_token_matches(words[i + j], tokens[j], j, count) for j in range(count)):
            continue
        head, tail = words[i], words[i + count - 1]
        # A Latin token is a whole word; a spaceless one may be part of its word.
        start = (
            _inner(head, len(head.folded) - len(first), len(head.folded))[0]
            if is_spaceless_char(first[0])
            else head.start
        )
        end = _inner(tail, 0, len(last))[1] if is_spaceless_char(last[0]) else tail.end
        spans.append((start, end))
    return spans


def _token_matches(word: _Word, token: str, index: int, count: int) -> bool:
    if not is_spaceless_char(token[0]):
        return word.stem == token
    if index == 0:
        return word.folded.endswith(token)
    if index == count - 1:
        return word.folded.startswith(token)
    return word.folded == token


def _inner(word: _Word, start: int, end: int) -> Span:
    """The original span of ``word.folded[start:end]`` (the whole word when not exact)."""
    if word.exact:
        return word.start + start, word.start + end
    return word.start, word.end


# ---------------------------------------------------------------------------- regexes


def _regex_spans(words: list[_Word], regex: Any) -> list[Span]:
    """RE2 hits in the words' folded text (single spaces between), mapped back."""
    offsets: list[int] = []
    position = 0
    for word in words:
        offsets.append(position)
        position += len(word.folded) + 1
    folded = " ".join(word.folded for word in words)
    spans: list[Span] = []
    for hit in regex.finditer(folded):
        start, end = hit.start(), hit.end()
        if end <= start:
            continue
        first = bisect_right(offsets, start) - 1
        last = bisect_right(offsets, end - 1) - 1
        if start - offsets[first] >= len(words[first].folded):
            first += 1  # the hit starts on the space after a word
        if first > last:
            continue  # a hit of spaces only
        head, tail = words[first], words[last]
        head_start = max(0, start - offsets[first])
        tail_end = min(len(tail.folded), end - offsets[last])
        spans.append((_inner(head, head_start, head_start)[0], _inner(tail, tail_end, tail_end)[1]))
    return spans


def _merged(spans: list[Span]) -> list[Span]:
    spans.sort()
    merged: list[Span] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
