"""Match many watch queries against one article in a single pass.

How it stays cheap with thousands of watches:

1. Every non-regex term of every watch is folded once (:func:`~bot.core.textfold.fold_term`)
   and all surface spellings of it (plural forms, :func:`surface_variants`) go into ONE
   Aho-Corasick automaton, padded with a space on each side that is not a
   Han/kana/Hangul/Thai edge. The article's fields are surface-folded (single spaces,
   no punctuation) and padded too, so every hit the automaton reports is already a
   whole-word hit: no boundary checks in Python.
2. One automaton pass over the title and one over summary + content (joined by a newline,
   which no key contains) give the term ids present in each; the publisher name gets a
   pass only when some watch has a ``source:`` term.
3. Each watch is indexed under its *anchor* terms: a set of positive terms at least one
   of which must be present for the watch to match (for ``a AND b`` just one of them, for
   ``a OR b`` both). Only watches with a present anchor are evaluated. Watches whose
   anchors include a regex are evaluated for every article (regex-only watches).
4. Evaluation is a precompiled closure per watch: set membership tests, with regex terms
   moved last inside AND so RE2 runs only when the cheaper terms already hold. All regexes
   sit in one RE2::Set, so the first regex asked about in a field answers every regex of
   every watch for that field in one pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import ahocorasick
import re2

from bot.core.query import And, Node, Not, Or, Query, Term, regex_options
from bot.core.textfold import is_spaceless_char, surface_fold, surface_variants

__all__ = ["Match", "MatchDocument", "Matcher", "explain", "match_one"]

log = logging.getLogger(__name__)

# Field codes: an unfielded term looks in title + summary + content.
_ANY, _TITLE, _SUMMARY, _SOURCE = 0, 1, 2, 3
_FIELD_CODES: dict[str | None, int] = {
    None: _ANY,
    "title": _TITLE,
    "summary": _SUMMARY,
    "source": _SOURCE,
}
_EMPTY: frozenset[int] = frozenset()
_SECOND = itemgetter(1)
# RE2::Set fails (finds nothing) when its DFA outgrows this; 64 MiB fits thousands of regexes.
_REGEX_SET_MAX_MEM = 64 << 20


@dataclass(frozen=True, slots=True)
class MatchDocument:
    """The text of one article as the matcher sees it (plain text, HTML already removed)."""

    title: str
    summary: str = ""
    content: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class Match:
    """A watch that matched: ``matched`` are its positive terms that were present, as written
    in the query, in query order, without duplicates."""

    watch_id: int
    matched: tuple[str, ...]


class _Article:
    """Per-article state: which term ids each field holds; the publisher name and regexes
    are only looked at when some watch asks."""

    __slots__ = ("_matcher", "_regex_hits", "_source", "any", "body", "texts", "title")

    def __init__(
        self,
        matcher: Matcher,
        title: AbstractSet[int],
        body: AbstractSet[int],
        texts: tuple[str, str, str, str],
    ) -> None:
        self.title = title
        self.body = body  # summary + content
        self.any = title | body if title and body else title or body
        self.texts = texts  # surface-folded title, summary, content, source
        self._matcher = matcher
        self._source: AbstractSet[int] | None = None
        self._regex_hits: list[AbstractSet[int] | None] | None = None

    @property
    def source(self) -> AbstractSet[int]:
        if self._source is None:
            self._source = self._matcher._terms_in(self.texts[3])
        return self._source

    def regex(self, regex_id: int, field_code: int) -> bool:
        if field_code == _ANY:
            return (
                regex_id in self._regexes_in(0)
                or regex_id in self._regexes_in(1)
                or regex_id in self._regexes_in(2)
            )
        if field_code == _TITLE:
            return regex_id in self._regexes_in(0)
        if field_code == _SUMMARY:
            return regex_id in self._regexes_in(1) or regex_id in self._regexes_in(2)
        return regex_id in self._regexes_in(3)

    def _regexes_in(self, field_index: int) -> AbstractSet[int]:
        """Ids of the regexes found in one field: one RE2::Set pass answers all of them."""
        hits = self._regex_hits
        if hits is None:
            hits = self._regex_hits = [None, None, None, None]
        found = hits[field_index]
        if found is None:
            text = self.texts[field_index]
            found = hits[field_index] = (
                frozenset(self._matcher._regex_set.Match(text.encode()) or ()) if text else _EMPTY
            )
        return found


_Check = Callable[[_Article], bool]


@dataclass(frozen=True, slots=True)
class _CompiledWatch:
    watch_id: int
    # None when being a candidate already proves the match: a one-term watch is a
    # candidate exactly when its term is present (the anchor index put it there).
    check: _Check | None
    # Positive terms in query order, each with its presence test. The same text may come
    # twice (``title:x OR x``); it is reported once, where it is first present.
    positives: tuple[tuple[str, _Check], ...]
    # For the common all-unfielded-plain-terms watch: (text, term id) to test with a set.
    plain_positives: tuple[tuple[str, int], ...] | None
    positives_text: tuple[str, ...]  # what a one-term watch reports

    def matched_terms(self, article: _Article) -> tuple[str, ...]:
        matched: list[str] = []
        if self.plain_positives is not None:
            present = article.any
            for text, term_id in self.plain_positives:
                if term_id in present and text not in matched:
                    matched.append(text)
        else:
            for text, check in self.positives:
                if text not in matched and check(article):
                    matched.append(text)
        return tuple(matched)


# An anchor is (is_regex, id, field code).
_Anchor = tuple[bool, int, int]


class Matcher:
    """All active watches compiled for matching; immutable, rebuild it when watches change."""

    def __init__(
        self,
        automaton: Any,
        regex_set: Any,
        watches: dict[int, _CompiledWatch],
        anchors: tuple[dict[int, tuple[int, ...]], ...],
        always: tuple[int, ...],
        fields_used: frozenset[int],
    ) -> None:
        """Use :meth:`build`; this only stores what it compiled."""
        self._automaton = automaton
        self._regex_set = regex_set
        self._watches = watches
        # Anchor index per field code: term id -> watches that term can make candidates.
        self._anchors_any, self._anchors_title, self._anchors_summary, self._anchors_source = (
            anchors
        )
        self._always = always
        self._fields_used = fields_used  # field codes some term or regex is restricted to

    @classmethod
    def build(cls, watches: Iterable[tuple[int, Query]]) -> Matcher:
        """Compile ``(watch_id, query)`` pairs. Watch ids must be unique."""
        compiler = _Compiler()
        compiled: dict[int, _CompiledWatch] = {}
        anchors: tuple[dict[int, list[int]], ...] = ({}, {}, {}, {})
        always: list[int] = []
        fields_used: set[int] = set()
        for watch_id, query in watches:
            if watch_id in compiled:
                raise ValueError(f"duplicate watch id {watch_id}")
            compiled[watch_id] = compiler.compile_watch(watch_id, query)
            fields_used.update(_FIELD_CODES[term.field] for term in query.terms)
            watch_anchors = compiler.anchors(query.root)
            if watch_anchors is None or any(is_regex for is_regex, _, _ in watch_anchors):
                always.append(watch_id)
                continue
            for _, term_id, field_code in watch_anchors:
                anchors[field_code].setdefault(term_id, []).append(watch_id)
        log.debug(
            "matcher built",
            extra={"watches": len(compiled), "terms": compiler.term_count, "always": len(always)},
        )
        return cls(
            automaton=compiler.automaton(),
            regex_set=compiler.regex_set(),
            watches=compiled,
            anchors=tuple({k: tuple(v) for k, v in index.items()} for index in anchors),
            always=tuple(always),
            fields_used=frozenset(fields_used),
        )

    def __len__(self) -> int:
        return len(self._watches)

    def match(self, doc: MatchDocument) -> list[Match]:
        """Every watch the document matches, sorted by watch id."""
        article = self._article(doc)
        present = article.any
        candidates = set(self._always)
        anchors = self._anchors_any
        for term_id in anchors.keys() & present:
            candidates.update(anchors[term_id])
        if self._fields_used:
            for anchors, in_field in (
                (self._anchors_title, article.title),
                (self._anchors_summary, article.body),
            ):
                for term_id in anchors.keys() & in_field:
                    candidates.update(anchors[term_id])
            anchors = self._anchors_source
            if anchors:
                for term_id in anchors.keys() & article.source:
                    candidates.update(anchors[term_id])
        matches = []
        watches = self._watches
        for watch_id in sorted(candidates):
            watch = watches[watch_id]
            check = watch.check
            if check is None:  # a one-term watch: being a candidate is the match
                matches.append(Match(watch_id, watch.positives_text))
            elif check(article):
                matches.append(Match(watch_id, watch.matched_terms(article)))
        return matches

    def explain_watch(
        self, watch_id: int, doc: MatchDocument
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(present positive terms, missing positive terms) of one compiled watch."""
        article = self._article(doc)
        watch = self._watches[watch_id]
        present = tuple(text for text, check in watch.positives if check(article))
        missing = tuple(text for text, check in watch.positives if not check(article))
        return present, missing

    def _article(self, doc: MatchDocument) -> _Article:
        title = surface_fold(doc.title)
        summary = surface_fold(doc.summary)
        content = surface_fold(doc.content)
        source = surface_fold(doc.source) if _SOURCE in self._fields_used else ""
        # Summary and content share one pass: the " \n " joint holds no key (keys are words
        # and spaces), so no hit spans the two.
        body = f"{summary} \n {content}" if content else summary
        return _Article(
            self, self._terms_in(title), self._terms_in(body), (title, summary, content, source)
        )

    def _terms_in(self, text: str) -> AbstractSet[int]:
        if not text or self._automaton is None:
            return _EMPTY
        return set(map(_SECOND, self._automaton.iter(f" {text} ")))


def match_one(query: Query, doc: MatchDocument) -> tuple[str, ...] | None:
    """The matched terms if ``query`` matches ``doc``, else None (for ``watch test``)."""
    matches = _single_watch_matcher(query).match(doc)
    return matches[0].matched if matches else None


def explain(query: Query, doc: MatchDocument) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(present positive terms, missing positive terms), each in query order, for ``why``."""
    return _single_watch_matcher(query).explain_watch(0, doc)


@lru_cache(maxsize=256)
def _single_watch_matcher(query: Query) -> Matcher:
    # `watch test` runs one query over hundreds of stored articles: compile it once.
    return Matcher.build([(0, query)])


class _Compiler:
    """Assigns term ids, collects automaton keys and regexes, and turns ASTs into checks."""

    def __init__(self) -> None:
        self._term_ids: dict[str, int] = {}  # folded term -> id
        self._regex_ids: dict[str, int] = {}  # pattern -> id, the pattern's index in the set
        self._anchor_weight: dict[int, int] = {}  # term id -> how specific the term is

    @property
    def term_count(self) -> int:
        return len(self._term_ids)

    def regex_set(self) -> Any:
        if not self._regex_ids:
            return None
        options = regex_options()
        options.max_mem = _REGEX_SET_MAX_MEM
        regex_set = re2.Set.SearchSet(options)
        for pattern, regex_id in self._regex_ids.items():
            added = regex_set.Add(pattern)
            assert added == regex_id, (added, regex_id)
        regex_set.Compile()
        return regex_set

    def automaton(self) -> Any:
        if not self._term_ids:
            return None
        automaton = ahocorasick.Automaton()
        for folded, term_id in self._term_ids.items():
            left = "" if is_spaceless_char(folded[0]) else " "
            right = "" if is_spaceless_char(folded[-1]) else " "
            for spelling in surface_variants(folded):
                key = f"{left}{spelling}{right}"
                # A surface spelling folds to exactly one term, so keys never collide.
                existing = automaton.get(key, None)
                assert existing is None or existing == term_id, key
                automaton.add_word(key, term_id)
        automaton.make_automaton()
        return automaton

    def _term_id(self, term: Term) -> int:
        if term.is_regex:
            return self._regex_ids.setdefault(term.folded, len(self._regex_ids))
        term_id = self._term_ids.setdefault(term.folded, len(self._term_ids))
        self._anchor_weight[term_id] = 100 * term.folded.count(" ") + len(term.folded)
        return term_id

    def anchors(self, node: Node) -> frozenset[_Anchor] | None:
        """Positive terms of which at least one must be present for ``node`` to hold, or None
        when no such set can be derived (a NOT with nothing positive beside it)."""
        if isinstance(node, Term):
            return frozenset({(node.is_regex, self._term_id(node), _FIELD_CODES[node.field])})
        if isinstance(node, Not):
            return None
        child_anchors = [self.anchors(child) for child in node.children]
        if isinstance(node, Or):
            if any(anchors is None for anchors in child_anchors):
                return None
            return frozenset().union(*child_anchors)  # type: ignore[arg-type]
        usable = [anchors for anchors in child_anchors if anchors is not None]
        if not usable:
            return None
        # Any one child's anchors will do for AND: prefer no regex, then the fewest terms,
        # then the most specific ones (more words, longer): they occur in fewer articles.
        return min(usable, key=lambda a: (any(r for r, _, _ in a), len(a), -self._specificity(a)))

    def _specificity(self, anchors: frozenset[_Anchor]) -> int:
        return min(self._anchor_weight.get(anchor[1], 0) for anchor in anchors)

    def compile_watch(self, watch_id: int, query: Query) -> _CompiledWatch:
        positives = [(term.text, self._term_check(term)) for term in query.positive_terms]
        plain = [(term.text, self._plain_any(term)) for term in query.positive_terms]
        single_term = isinstance(query.root, Term) and not query.root.is_regex
        return _CompiledWatch(
            watch_id,
            check=None if single_term else self._check(query.root),
            positives=tuple(positives),
            plain_positives=(
                None
                if any(term_id is None for _, term_id in plain)
                else tuple((text, term_id) for text, term_id in plain if term_id is not None)
            ),
            positives_text=tuple(dict.fromkeys(text for text, _ in positives)),
        )

    def _term_check(self, term: Term) -> _Check:
        term_id = self._term_id(term)
        field_code = _FIELD_CODES[term.field]
        if term.is_regex:
            return lambda article: article.regex(term_id, field_code)
        if field_code == _ANY:
            return lambda article: term_id in article.any
        if field_code == _TITLE:
            return lambda article: term_id in article.title
        if field_code == _SUMMARY:
            return lambda article: term_id in article.body
        return lambda article: term_id in article.source

    def _check(self, node: Node) -> _Check:
        if isinstance(node, Term):
            return self._term_check(node)
        if isinstance(node, Not):
            inner = self._check(node.child)
            return lambda article: not inner(article)
        if isinstance(node, Or):
            return self._or_check(node)
        return self._and_check(node)

    def _plain_any(self, node: Node) -> int | None:
        """The id of an unfielded, non-regex term: the common case, tested with set algebra."""
        if isinstance(node, Term) and not node.is_regex and node.field is None:
            return self._term_id(node)
        return None

    def _or_check(self, node: Or) -> _Check:
        plain: set[int] = set()
        others: list[_Check] = []
        for child in node.children:
            term_id = self._plain_any(child)
            if term_id is not None:
                plain.add(term_id)
            else:
                others.append(self._check(child))
        frozen_plain = frozenset(plain)
        if not others:
            return lambda article: not article.any.isdisjoint(frozen_plain)
        rest = tuple(others)
        if not frozen_plain:
            return lambda article: any(check(article) for check in rest)
        return lambda article: (
            (not article.any.isdisjoint(frozen_plain)) or any(check(article) for check in rest)
        )

    def _and_check(self, node: And) -> _Check:
        required: set[int] = set()
        forbidden: set[int] = set()
        cheap: list[_Check] = []
        costly: list[_Check] = []  # anything holding a regex runs last
        for child in node.children:
            term_id = self._plain_any(child)
            if term_id is not None:
                required.add(term_id)
                continue
            if isinstance(child, Not):
                negated_id = self._plain_any(child.child)
                if negated_id is not None:
                    forbidden.add(negated_id)
                    continue
            (costly if _has_regex(child) else cheap).append(self._check(child))
        frozen_required, frozen_forbidden = frozenset(required), frozenset(forbidden)
        rest = tuple(cheap + costly)
        # Specialised shapes: most watches are a few plain terms, some negated.
        if not rest and not frozen_forbidden:
            return lambda article: frozen_required <= article.any
        if not rest:
            return lambda article: (
                frozen_required <= article.any and article.any.isdisjoint(frozen_forbidden)
            )

        def check(article: _Article) -> bool:
            present = article.any
            if not frozen_required <= present or not present.isdisjoint(frozen_forbidden):
                return False
            # A plain loop: all() over a generator costs ~0.3 µs more per watch evaluated.
            for child_check in rest:  # noqa: SIM110
                if not child_check(article):
                    return False
            return True

        return check


def _has_regex(node: Node) -> bool:
    if isinstance(node, Term):
        return node.is_regex
    if isinstance(node, Not):
        return _has_regex(node.child)
    return any(_has_regex(child) for child in node.children)
