"""Match many watch queries against one article in a single pass.

How it stays cheap with thousands of watches:

1. Every non-regex term of every watch is folded once (:func:`~bot.core.textfold.fold_term`)
   and all surface spellings of it (plural forms, :func:`surface_variants`) go into ONE
   Aho-Corasick automaton, padded with a space on each side that is not a
   Han/kana/Hangul/Thai edge. The article's fields are surface-folded (single spaces,
   no punctuation) and padded too, so every hit the automaton reports is already a
   whole-word hit: no boundary checks in Python.
2. ONE automaton pass covers title, summary and content, joined by ``" \\n "``: no key holds
   a newline, so no hit spans two fields, and a hit's end offset tells which field it is
   in. The per-field sets (for ``title:`` and ``summary:`` terms) are only split out when
   a watch asks. A publisher name is folded and searched once per distinct name (memo).
3. Each watch is indexed under its *anchor* terms: a set of positive terms at least one
   of which must be present for the watch to match (for ``a AND b`` just one of them, for
   ``a OR b`` both). Anchors are chosen to be rare: never a ``source:`` term (every article
   has a publisher) or a regex when a plain term will do. Only watches with a present
   anchor are looked at, and most never run any code: a one-term watch's match is built
   once at compile time and handed out as is, an OR of plain terms matches as soon as it
   is a candidate. The rest test the plain terms of a top-level AND (``required`` and
   ``forbidden`` sets) inline, then a precompiled closure for what is left; when every
   positive term is required (``a b``, ``a -b``), the Match is prebuilt too.
4. Regexes run only when a candidate watch asks about one, and only when the regex's
   required literal (:func:`required_literal`, e.g. ``tariff`` for ``/tariffs? on/``) is
   in the text (a substring test answers most questions): each is searched for on its
   own in the fields asked (~1 µs a field); an article that asks about more than a few
   gets RE2::Set passes instead, which answer every regex at once (when no pattern holds
   ``^``/``$``, one pass over the fields joined first tells which can be present at all).
   Regex-only watches are anchored on their regexes: the first few required literals are
   keys of their own in the automaton, the others are looked for with substring tests
   (more than eight: one pass of an RE2::Set of the literals), and only an article
   holding one makes its watches candidates. Regexes without a literal go through one
   pass of a small RE2::Set of just those regexes instead.

What is left per article is the folding, the automaton pass and a few set operations;
see bench/p2_matching.py for the figures.

Builds are incremental: ``Matcher.build(watches, reuse=previous)`` keeps every watch whose
query text is unchanged as compiled (term ids are never reassigned), updates only the index
entries of watches added, changed or removed, and puts new terms into a small second
automaton that each article also passes through, until they are an eighth of the big one
(at most 16,384 terms).
Dead terms (of removed watches) stay until they outnumber the live ones; then the next
build starts afresh. Adding a watch to 10,000 costs about what
compiling that one watch costs (bench/p2b_pathological.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, compress
from operator import attrgetter, itemgetter
from typing import Any

import daachorse
import re2

from bot.core.query import And, Node, Not, Or, Query, Term, compile_regex, regex_options
from bot.core.textfold import (
    is_spaceless_char,
    surface_fold,
    surface_fold_fields,
    surface_variants,
)

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
# Anchor kinds, cheapest to index first: a term looked up in title + summary + content,
# a source: term (looked up in the publisher name), a regex (needs an RE2 pass).
_IN_TEXT, _IN_SOURCE, _IN_REGEX = 0, 1, 2
_EMPTY: frozenset[int] = frozenset()
_KEY = itemgetter(2)
# An automaton's hit: (start, end, key), byte offsets into UTF-8, the end exclusive.
_Hit = tuple[int, int, int]
_WATCH_ID = attrgetter("watch_id")
# RE2::Set fails (finds nothing) when its DFA outgrows this; 64 MiB fits thousands of regexes.
_REGEX_SET_MAX_MEM = 64 << 20
# Regex syntax whose answer depends on where the text starts or ends: a pattern holding one
# of these may match a field alone but not the fields joined, so it disables the joined
# prefilter (a conservative test: ``[^a]`` disables it too).
_POSITION_SENSITIVE = ("^", "$", "\\A", "\\z")
_SOURCE_MEMO_SIZE = 4096
# The required literals of the regexes that regex-only watches are anchored on: up to this
# many are looked for with substring tests (~0.4 µs and ~1,700 instructions each over an
# article); more with one pass of an RE2::Set of just the literals (~1.5 µs and ~13,000
# instructions, however many there are: under callgrind, 5 substring tests cost less).
_FEW_LITERALS = 8
# The first few of those literals (at least this long) are keys of their own in the
# automaton instead (unpadded: a literal may sit inside a word), so the pass every article
# gets anyway tells which are present. Few, because a key with a new first letter widens
# the trie's root, which the automaton scans at nearly every character: 5 such keys cost
# an article ~1 µs of automaton time where 5 substring tests cost ~2 µs, 12 cost ~4.5 µs.
_MIN_KEY_LITERAL = 4
_MAX_KEY_LITERALS = 6
# Past this many (regex, field) questions about one article, RE2::Set passes answer them.
_SINGLE_REGEX_SEARCHES = 4
# Up to this many plain terms, a watch's matched terms are tested one by one; more are
# intersected with the article's terms first.
_FEW_TERMS = 8


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
    """Per-article state: the term ids present in title + summary + content; everything
    else (per-field sets, the publisher name, regexes) is worked out only when asked.

    The lazily computed slots start as None. (Leaving them unset and catching the
    AttributeError costs ~1.3 µs each time one is first asked for, and a third of the
    articles ask for the title or the publisher.)
    """

    __slots__ = (
        "_body",
        "_encoded",
        "_hits",
        "_joined",
        "_key_terms",
        "_matcher",
        "_possible_regexes",
        "_raw_source",
        "_regex_answers",
        "_regex_hits",
        "_source",
        "_text",
        "_texts",
        "_title",
        "_title_end",
        "any",
    )

    def __init__(
        self,
        matcher: Matcher,
        encoded: bytes,
        hits: list[_Hit],
        key_terms: list[int],
        title_end: int,
        raw_source: str,
    ) -> None:
        self._matcher = matcher
        self._encoded = encoded  # b" title \n summary \n content ": what the automaton read
        self._hits = hits  # (start, end, key) over " title \n summary \n content " in UTF-8
        self._key_terms = key_terms  # key -> term id
        self._title_end = title_end  # hits ending at or before this byte are in the title
        # Term ids found anywhere but the publisher name.
        self.any: set[int] = set(map(key_terms.__getitem__, map(_KEY, hits)))
        self._raw_source = raw_source
        # Worked out when first asked for (only regexes need the text as str).
        self._text: str | None = None
        self._texts: list[str | None] | None = None
        self._title: AbstractSet[int] | None = None
        self._body: AbstractSet[int] | None = None
        self._source: AbstractSet[int] | None = None
        self._joined: bytes | None = None
        self._possible_regexes: AbstractSet[int] | None = None
        self._regex_answers: dict[tuple[int, int], bool] | None = None
        self._regex_hits: list[AbstractSet[int] | None] | None = None

    @property
    def text(self) -> str:
        """``" title \\n summary \\n content "``, as the automaton read it."""
        text = self._text
        if text is None:
            text = self._text = self._encoded.decode()
        return text

    @property
    def texts(self) -> list[str | None]:
        """The surface-folded title, summary, content and publisher name (None: not yet)."""
        texts = self._texts
        if texts is None:
            fields = [field.strip() for field in self.text.split("\n")]
            fields += [""] * (3 - len(fields))
            texts = self._texts = [*fields, None]
        return texts

    @property
    def title(self) -> AbstractSet[int]:
        title = self._title
        if title is None:
            title = self._split_fields()
        return title

    @property
    def body(self) -> AbstractSet[int]:
        """Term ids in the summary or the content."""
        body = self._body
        if body is None:
            self._split_fields()
            body = self._body
            assert body is not None
        return body

    def _split_fields(self) -> AbstractSet[int]:
        """Fill in the title's and the body's term ids; returns the title's."""
        hits, key_terms, title_end = self._hits, self._key_terms, self._title_end
        title = self._title = {key_terms[key] for _, end, key in hits if end <= title_end}
        self._body = {key_terms[key] for _, end, key in hits if end > title_end}
        return title

    @property
    def source(self) -> AbstractSet[int]:
        source = self._source
        if source is None:
            source = self._source = self._matcher._source_terms(self._raw_source)
        return source

    @property
    def source_text(self) -> str:
        text = self.texts[3]
        if text is None:
            text = self.texts[3] = surface_fold(self._raw_source)
        return text

    def anchor_regexes(self) -> AbstractSet[int]:
        """Ids of the regexes that watches are anchored on and that may be present (a
        superset). When each has a required literal, a substring test per literal, or one
        pass of an RE2::Set of the literals when there are more than a few; else one pass of
        a small RE2::Set of just those regexes, the fields joined."""
        matcher = self._matcher
        literals = matcher._anchor_literals
        if literals is not None:
            literal_set = matcher._anchor_literal_set
            if literal_set is not None:
                indexes = literal_set.Match(self._joined_for_regexes())
                if not indexes:
                    return _EMPTY
                present: set[int] = set()
                for index in indexes:
                    present.update(literals[index][1])
                return present
            text = self.text
            source = self.source_text if matcher._regex_in_source else ""
            found: set[int] = set()
            for literal, regex_ids in literals:
                if literal in text or literal in source:
                    found.update(regex_ids)
            return found
        if not matcher._anchor_regex_joinable:
            return self.possible_regexes() & matcher._by_regex.keys()
        found_indexes = matcher._anchor_regex_set.Match(self._joined_for_regexes())
        if not found_indexes:
            return _EMPTY
        ids = matcher._anchor_regex_ids
        return {ids[index] for index in found_indexes}

    def possible_regexes(self) -> AbstractSet[int]:
        """Ids of the regexes that may be present in some field: a superset, usually empty.

        One RE2 pass over all fields joined, when that is exact enough (see
        :meth:`_Compiler.regexes_joinable`); else the union of the per-field passes.
        """
        possible = self._possible_regexes
        if possible is not None:
            return possible
        matcher = self._matcher
        if matcher._regex_joinable:
            found = matcher._regex_set.Match(self._joined_for_regexes())
            possible = frozenset(found) if found else _EMPTY
        else:
            possible = self._regexes_in(0) | self._regexes_in(1) | self._regexes_in(2)
            if matcher._regex_in_source:
                possible = possible | self._regexes_in(3)
        self._possible_regexes = possible
        return possible

    def _joined_for_regexes(self) -> bytes:
        """All fields in one text for an RE2 prefilter pass: the automaton's text (fields
        joined by " \\n ", which regexes see as they see the start or end of a field),
        plus the publisher name when some regex looks there."""
        joined = self._joined
        if joined is None:
            joined = self._encoded
            if self._matcher._regex_in_source:
                joined = f"{self.text}\n {self.source_text} ".encode()
            self._joined = joined
        return joined

    def regex(self, regex_id: int, field_code: int) -> bool:
        """Whether the regex is found in the field(s) of ``field_code``.

        A regex whose required literal (:func:`required_literal`) is not in the text cannot
        be there: a substring test (~0.3 µs) answers most questions. The first few regexes
        an article is asked about are searched for one by one (a search is ~1 µs a field);
        past that, one RE2::Set pass per field answers all.
        """
        answers = self._regex_answers
        if answers is None:
            answers = self._regex_answers = {}
        key = (regex_id, field_code)
        answer = answers.get(key)
        if answer is None:
            literal = self._matcher._regex_literals[regex_id]
            if literal is not None and literal not in (
                self.source_text if field_code == _SOURCE else self.text
            ):
                answer = False
            elif len(answers) < _SINGLE_REGEX_SEARCHES:
                regex = self._matcher._regexes[regex_id]
                answer = any(
                    regex.search(text) is not None for text in self._field_texts(field_code) if text
                )
            else:
                answer = self._regex_by_set(regex_id, field_code)
            answers[key] = answer
        return answer

    def _field_texts(self, field_code: int) -> tuple[str, ...]:
        texts = self.texts
        if field_code == _ANY:
            return texts[0], texts[1], texts[2]  # type: ignore[return-value]
        if field_code == _TITLE:
            return (texts[0],)  # type: ignore[return-value]
        if field_code == _SUMMARY:
            return texts[1], texts[2]  # type: ignore[return-value]
        return (self.source_text,)

    def _regex_by_set(self, regex_id: int, field_code: int) -> bool:
        if regex_id not in self.possible_regexes():
            return False
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
            text = self.source_text if field_index == 3 else self.texts[field_index]
            found = hits[field_index] = (
                frozenset(self._matcher._regex_set.Match(text.encode()) or ()) if text else _EMPTY
            )
        return found


_Check = Callable[[_Article], bool]


class _Watch:
    """A compiled watch that has to be looked at when it is a candidate.

    It matches when ``required <= present``, ``present`` is disjoint from ``forbidden``
    (the unfielded plain terms of a top-level AND and its ``-x`` parts, tested inline with
    set operations) and ``check`` holds for the rest. Identity-hashed (no ``__eq__``), so a
    candidate set of them costs one pointer hash each.
    """

    __slots__ = (
        "check",
        "fixed_match",
        "forbidden",
        "plain_ids",
        "plain_texts",
        "plain_unique",
        "positives",
        "required",
        "watch_id",
    )

    def __init__(
        self,
        watch_id: int,
        required: frozenset[int],
        forbidden: frozenset[int],
        check: _Check | None,
        positives: tuple[tuple[str, _Check], ...],
        plain: tuple[tuple[str, ...], tuple[int, ...]] | None,
    ) -> None:
        self.watch_id = watch_id
        self.required = required
        self.forbidden = forbidden
        # None when nothing is left to test: ``a AND b`` is all in ``required``, and an OR
        # of plain terms is a candidate exactly when one of them is present (all of them
        # are anchors), which proves the match.
        self.check = check
        # Positive terms in query order, each with its presence test. The same text may
        # come twice (``title:x OR x``); it is reported once, where it is first present.
        # Empty for a watch of plain terms, which ``plain_*`` describe in less memory.
        self.positives = positives
        # For a watch of unfielded plain terms only: texts (deduplicated) and term ids.
        self.plain_texts: tuple[str, ...] | None = plain[0] if plain is not None else None
        self.plain_ids: tuple[int, ...] | None = plain[1] if plain is not None else None
        # False when two texts share a term id (``tariff OR tariffs``): both are reported.
        self.plain_unique = plain is not None and len(set(plain[1])) == len(plain[1])
        # When every positive term is in ``required``, a match always reports all of them:
        # the Match is built once here.
        self.fixed_match: Match | None = None
        if plain is not None and required.issuperset(plain[1]):
            self.fixed_match = Match(watch_id, plain[0])

    def matched_terms(self, article: _Article) -> tuple[str, ...]:
        ids = self.plain_ids
        if ids is not None:
            assert self.plain_texts is not None
            present = article.any
            if len(ids) <= _FEW_TERMS:
                return tuple(compress(self.plain_texts, map(present.__contains__, ids)))
            # Few of a watch's terms are in one article: intersect in C, then put the few
            # found in query order (an OR of 150 words costs ~3 µs instead of ~15).
            found = present.intersection(ids)
            if self.plain_unique:
                return tuple(map(self.plain_texts.__getitem__, sorted(map(ids.index, found))))
            return tuple(compress(self.plain_texts, map(found.__contains__, ids)))
        matched: list[str] = []
        for text, check in self.positives:
            if text not in matched and check(article):
                matched.append(text)
        return tuple(matched)

    def present_terms(self, article: _Article) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(present positive terms, missing ones), each in query order."""
        if self.plain_texts is not None:
            present = self.matched_terms(article)
            return present, tuple(t for t in self.plain_texts if t not in present)
        found = [(text, check(article)) for text, check in self.positives]
        return tuple(t for t, ok in found if ok), tuple(t for t, ok in found if not ok)


# The set of term ids an article holds in each field code's field.
_FIELD_SETS: dict[int, Callable[[_Article], AbstractSet[int]]] = {
    _ANY: attrgetter("any"),
    _TITLE: attrgetter("title"),
    _SUMMARY: attrgetter("body"),
    _SOURCE: attrgetter("source"),
}
# An anchor is ``id << 2 | kind``: kind _IN_TEXT / _IN_SOURCE take a term id, _IN_REGEX a
# regex id (one int rather than a pair: a watch of 150 OR'ed words has 150 of them).
_Anchor = int
# Where an entry is filed besides the anchor kinds: a one-term watch's prebuilt Match, under
# its term id.
_DIRECT = 3
# New terms go into a small second automaton, rebuilt with each build that adds terms,
# until they outnumber an eighth of the big one (at least the floor, at most the cap: a
# rebuild of the small one stays a few milliseconds); then one automaton of all terms.
_DELTA_SHARE = 8
_DELTA_FLOOR = 1024
_DELTA_CAP = 16384
# Terms of removed watches stay in the compiler (ids are never reused) until there are
# more of them than live ones (and more than the floor): then the next build starts from
# a fresh compiler. A full build costs about the live terms, so this keeps both the
# garbage and the rebuilds' cost per removed term bounded.
_COMPACT_FLOOR = 256


@dataclass(frozen=True, slots=True, eq=False)
class _Automaton:
    """An Aho-Corasick automaton of term spellings (its keys) and each key's term id."""

    # UTF-8 text -> every key found, overlapping, as (start, end, key) in order of end
    find: Callable[[bytes], list[_Hit]]
    key_terms: list[int]  # key -> term id


# (automaton of term ids below the first int, automaton of those added since, their end)
_Automata = tuple[_Automaton | None, int, _Automaton | None, int]
_Direct = dict[int, tuple[Match, ...]]
_ByAnchor = dict[int, tuple[_Watch, ...]]
_Indexes = tuple[_Direct, _ByAnchor, _ByAnchor, _ByAnchor]


@dataclass(frozen=True, slots=True, eq=False)
class _Entry:
    """One watch compiled, with where it is filed: what a later build needs to reuse it as
    it is, or to take it out of the indexes again."""

    query_text: str
    watch: _Watch
    keys: tuple[_Anchor, ...]  # where it is filed: anchors, or its term id with _DIRECT
    direct: Match | None  # the prebuilt Match of a one-term watch (filed under _DIRECT)
    source_regex: bool  # holds a source:/regex/ (the publisher name must be searched)
    size: int  # its terms, for the compiler's count of dead ones once it is removed

    @property
    def always(self) -> bool:
        """Without anchors (only ``NOT NOT x`` shapes): looked at for every article."""
        return not self.keys


class Matcher:
    """All active watches compiled for matching; immutable. :meth:`build` with ``reuse``
    makes the next one from this one, recompiling only the watches that changed."""

    def __init__(
        self,
        compiler: _Compiler,
        entries: dict[int, _Entry],
        indexes: _Indexes,
        automata: _Automata,
        regexes: _Regexes,
    ) -> None:
        """Use :meth:`build`; this only stores what it compiled."""
        self._compiler = compiler
        self._entries = entries
        # Term id -> the prebuilt matches of the one-term watches it proves; term id ->
        # the watches it makes candidates; the same for a term id in the publisher name
        # and for a regex id. The first two are read with C-level map() over the present
        # terms, so a present term costs no Python bytecode.
        self._direct, self._by_term, self._by_source, self._by_regex = indexes
        self._direct_get = self._direct.get
        self._by_term_get = self._by_term.get
        # The automaton of term ids below _base_end, and one of the terms added since
        # (up to _delta_end), None when there are none.
        self._automaton, self._base_end, self._delta, self._delta_end = automata
        # Key -> term id for both: the second automaton's keys are numbered after the
        # first one's (see _with_delta).
        base_keys = self._automaton.key_terms if self._automaton is not None else []
        self._delta_offset = len(base_keys)
        self._key_terms = base_keys if self._delta is None else base_keys + self._delta.key_terms
        self._regex_parts = regexes
        self._regex_set = regexes.regex_set
        self._regexes = regexes.compiled  # regex id -> its own compiled RE2
        self._regex_literals = regexes.literals
        self._regex_joinable = regexes.joinable
        # Regex-only watches make their regexes worth looking for in every article: by
        # their required literals, else with a small RE2::Set of just those regexes.
        self._anchor_literals = regexes.anchor_literals
        self._anchor_literal_set = regexes.anchor_literal_set
        self._anchor_regex_set = regexes.anchor_set
        self._anchor_regex_ids = regexes.anchor_ids
        self._anchor_regex_joinable = regexes.anchor_joinable
        self._regex_in_source = any(entry.source_regex for entry in entries.values())
        self._watches = {watch_id: entry.watch for watch_id, entry in entries.items()}
        self._always = tuple(entry.watch for entry in entries.values() if entry.always)
        self._live_terms = sum(entry.size for entry in entries.values())
        self._source_memo: dict[str, AbstractSet[int]] = {}

    @classmethod
    def build(
        cls, watches: Iterable[tuple[int, Query]], *, reuse: Matcher | None = None
    ) -> Matcher:
        """Compile ``(watch_id, query)`` pairs. Watch ids must be unique.

        With ``reuse`` (the matcher this one replaces), watches whose query text is
        unchanged keep their compiled form, the indexes are updated rather than rebuilt,
        and new terms go into a small second automaton: adding one watch to thousands costs
        about what compiling that one watch costs. Every so often (when new or dead terms
        have piled up) it compiles everything afresh instead.
        """
        if reuse is None or reuse._compiler.dead_terms > max(reuse._live_terms, _COMPACT_FLOOR):
            compiler, reuse = _Compiler(), None
        else:
            compiler = reuse._compiler
        previous = reuse._entries if reuse is not None else {}
        entries: dict[int, _Entry] = {}
        added: list[_Entry] = []
        removed: list[_Entry] = []
        for watch_id, query in watches:
            if watch_id in entries:
                raise ValueError(f"duplicate watch id {watch_id}")
            old = previous.get(watch_id)
            if old is not None and old.query_text == query.text:
                entries[watch_id] = old
                continue
            entry = entries[watch_id] = compiler.compile_entry(watch_id, query)
            added.append(entry)
            if old is not None:
                removed.append(old)
        removed += [entry for watch_id, entry in previous.items() if watch_id not in entries]
        if reuse is not None and not added and not removed:
            return reuse
        indexes = _refiled(
            (reuse._direct, reuse._by_term, reuse._by_source, reuse._by_regex)
            if reuse
            else ({}, {}, {}, {}),
            removed,
            added,
        )
        automata = compiler.automata(
            (reuse._automaton, reuse._base_end, reuse._delta, reuse._delta_end) if reuse else None
        )
        regexes = compiler.regexes(indexes[3].keys(), reuse._regex_parts if reuse else None)
        compiler.dead_terms += sum(entry.size for entry in removed)
        log.debug(
            "matcher built",
            extra={
                "watches": len(entries),
                "compiled": len(added),
                "removed": len(removed),
                "terms": compiler.term_count,
            },
        )
        return cls(compiler, entries, indexes, automata, regexes)

    def __len__(self) -> int:
        return len(self._watches)

    def match(self, doc: MatchDocument) -> list[Match]:
        """Every watch the document matches, sorted by watch id."""
        article = self._article(doc)
        present = article.any
        matches = list(chain.from_iterable(filter(None, map(self._direct_get, present))))
        candidates = set(chain.from_iterable(filter(None, map(self._by_term_get, present))))
        if self._always:
            candidates.update(self._always)
        if self._by_source:
            by_source = self._by_source
            for term_id in article.source & by_source.keys():
                candidates.update(by_source[term_id])
        if self._by_regex:
            by_regex = self._by_regex
            for regex_id in article.anchor_regexes():
                candidates.update(by_regex[regex_id])
        for watch in candidates:
            if watch.required <= present and present.isdisjoint(watch.forbidden):
                check = watch.check
                if check is None or check(article):
                    matches.append(
                        watch.fixed_match or Match(watch.watch_id, watch.matched_terms(article))
                    )
        if len(matches) > 1:
            matches.sort(key=_WATCH_ID)
        return matches

    def explain_watch(
        self, watch_id: int, doc: MatchDocument
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(present positive terms, missing positive terms) of one compiled watch."""
        return self._watches[watch_id].present_terms(self._article(doc))

    def _article(self, doc: MatchDocument) -> _Article:
        # One text for one automaton pass: " title \n summary \n content ", folded. The
        # newlines between fields are in no key (keys are words and single spaces), so no
        # hit spans two fields, and the spaces pad the words either side of them. The
        # automaton reads UTF-8 (a str costs it a character offset table per call), so
        # offsets are in bytes: a hit ending at or before the first newline is in the title.
        content = doc.content
        if content:
            encoded = surface_fold_fields(doc.title, doc.summary, content)
        else:
            encoded = surface_fold_fields(doc.title, doc.summary)
        title_end = encoded.index(b"\n")
        automaton = self._automaton
        hits = automaton.find(encoded) if automaton is not None else []
        if self._delta is not None:
            hits = self._with_delta(hits, encoded)
        # The source is folded only if some watch looks at it (see _Article.source_text).
        return _Article(self, encoded, hits, self._key_terms, title_end, doc.source)

    def _with_delta(self, hits: list[_Hit], text: bytes) -> list[_Hit]:
        """``hits`` plus the second automaton's, its keys numbered after the first's."""
        assert self._delta is not None
        more = self._delta.find(text)
        if not more:
            return hits
        offset = self._delta_offset
        return hits + [(start, end, key + offset) for start, end, key in more]

    def _source_terms(self, source: str) -> AbstractSet[int]:
        """Term ids in a publisher name. A feed's articles all carry the same few names, so
        each is folded and searched once (the memo is dropped whole if it grows large)."""
        found = self._source_memo.get(source)
        if found is None:
            text = surface_fold(source)
            if not text:
                found = _EMPTY
            else:
                padded = f" {text} ".encode()
                automaton = self._automaton
                hits = automaton.find(padded) if automaton is not None else []
                if self._delta is not None:
                    hits = self._with_delta(hits, padded)
                found = frozenset(map(self._key_terms.__getitem__, map(_KEY, hits)))
            if len(self._source_memo) >= _SOURCE_MEMO_SIZE:
                self._source_memo.clear()
            self._source_memo[source] = found
        return found


def _refiled(indexes: _Indexes, removed: Iterable[_Entry], added: Iterable[_Entry]) -> _Indexes:
    """Copies of ``indexes`` without the ``removed`` entries and with the ``added`` ones;
    only the index keys those entries are filed under are touched."""
    direct, by_term = dict(indexes[0]), dict(indexes[1])
    by_source, by_regex = dict(indexes[2]), dict(indexes[3])
    by_kind: dict[int, dict[int, Any]] = {
        _DIRECT: direct,
        _IN_TEXT: by_term,
        _IN_SOURCE: by_source,
        _IN_REGEX: by_regex,
    }
    gone: dict[_Anchor, set[int]] = {}
    for entry in removed:
        for key in entry.keys:
            gone.setdefault(key, set()).add(entry.watch.watch_id)
    new: dict[_Anchor, list[_Entry]] = {}
    for entry in added:
        for key in entry.keys:
            new.setdefault(key, []).append(entry)
    for key in gone.keys() | new.keys():
        kind, anchor = key & 3, key >> 2
        dropped = gone.get(key, _EMPTY)
        fresh = new.get(key, ())
        index = by_kind[kind]
        added_items = (
            tuple(e.direct for e in fresh if e.direct)
            if kind == _DIRECT
            else tuple(e.watch for e in fresh)
        )
        kept = _without(index.get(anchor, ()), dropped) + added_items
        if kept:
            index[anchor] = kept
        else:
            del index[anchor]
    return direct, by_term, by_source, by_regex


def _without(items: tuple[Any, ...], watch_ids: AbstractSet[int]) -> tuple[Any, ...]:
    """``items`` (Matches or _Watches) except those of ``watch_ids``."""
    if not watch_ids:
        return items
    return tuple(item for item in items if item.watch_id not in watch_ids)


@dataclass(frozen=True, slots=True)
class _Regexes:
    """The RE2 side of a matcher: every regex compiled alone and in one set, and the
    anchor regexes' literals or set. Shared by the next matcher while nothing changed."""

    count: int  # regex ids covered (they are never reused)
    compiled: list[Any]
    literals: list[str | None]  # regex id -> its required literal (see required_literal)
    regex_set: Any
    joinable: bool
    anchor_ids: list[int]
    anchor_literals: tuple[tuple[str, tuple[int, ...]], ...] | None
    anchor_literal_set: Any  # RE2::Set of those literals (set index == position), or None
    anchor_set: Any
    anchor_joinable: bool


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
    """Assigns term ids, collects automaton keys and regexes, and turns ASTs into checks.

    Append-only: ids are never reused or reassigned, so watches compiled by it stay valid
    for every later matcher built with it (see :meth:`Matcher.build`).
    """

    def __init__(self) -> None:
        self._term_ids: dict[str, int] = {}  # folded term -> id
        self._terms: list[str] = []  # id -> folded term
        self._regex_ids: dict[str, int] = {}  # pattern -> id, the pattern's index in the set
        self._patterns: list[str] = []  # id -> pattern
        # Required literals of anchor regexes that are automaton keys: literal -> term id.
        self._literal_ids: dict[str, int] = {}
        self._literal_terms: set[int] = set()  # their term ids
        self.dead_terms = 0  # terms of watches removed since this compiler was new

    @property
    def term_count(self) -> int:
        return len(self._terms)

    def compile_entry(self, watch_id: int, query: Query) -> _Entry:
        """Compile one watch and work out where the indexes file it."""
        watch = self.compile_watch(watch_id, query)
        source_regex = any(term.is_regex and term.field == "source" for term in query.terms)
        root = query.root
        if isinstance(root, Term) and not root.is_regex and root.field is None:
            # Present term == match: hand out one prebuilt Match, never look at it again.
            direct = Match(watch_id, (root.text,))
            key = self.term_id(root) << 2 | _DIRECT
            return _Entry(query.text, watch, (key,), direct, source_regex, 1)
        anchors = self.anchors(root)
        if anchors is not None:
            anchors = self._literal_anchors(anchors, query)
        keys = tuple(sorted(anchors)) if anchors is not None else ()
        return _Entry(query.text, watch, keys, None, source_regex, len(query.terms))

    def automata(self, previous: _Automata | None) -> _Automata:
        """(automaton, its end id, delta automaton, its end id) covering every term: the
        previous big automaton kept while the terms added since are few enough for a small
        second one, else one automaton of all terms."""
        end = len(self._terms)
        if previous is not None:
            base, base_end, delta, delta_end = previous
            if end - base_end <= min(_DELTA_CAP, max(_DELTA_FLOOR, base_end // _DELTA_SHARE)):
                if delta_end != end:
                    delta = self.automaton(base_end, end)
                return base, base_end, delta, end
        return self.automaton(0, end), end, None, end

    def regexes(self, anchor_ids: Iterable[int], previous: _Regexes | None) -> _Regexes:
        """The RE2 side for the current regexes and anchor regexes, reusing ``previous``
        (built by this compiler) where nothing changed."""
        anchors = sorted(anchor_ids)
        count = len(self._patterns)
        if previous is not None and previous.count == count:
            if previous.anchor_ids == anchors:
                return previous
            compiled, regex_set, joinable = previous.compiled, previous.regex_set, previous.joinable
            literals = previous.literals
        else:
            done = previous.compiled if previous is not None else []
            fresh = self._patterns[len(done) :]
            compiled = done + [compile_regex(p) for p in fresh]
            literals = (previous.literals if previous is not None else []) + [
                required_literal(p) for p in fresh
            ]
            regex_set, joinable = self.regex_set(), self.regexes_joinable()
        only = frozenset(anchors)
        anchor_literals = self.literals_of(only)
        return _Regexes(
            count=count,
            compiled=compiled,
            literals=literals,
            regex_set=regex_set,
            joinable=joinable,
            anchor_ids=anchors,
            anchor_literals=anchor_literals,
            anchor_literal_set=(
                self.literal_set(anchor_literals)
                if anchor_literals is not None and len(anchor_literals) > _FEW_LITERALS
                else None
            ),
            anchor_set=self.regex_set(only) if anchor_literals is None else None,
            anchor_joinable=self.regexes_joinable(only),
        )

    def regex_set(self, only: AbstractSet[int] | None = None) -> Any:
        """One RE2::Set of all regexes (set index == regex id), or of those in ``only``
        (set index == position in sorted(only))."""
        patterns = [
            pattern
            for pattern, regex_id in self._regex_ids.items()
            if only is None or regex_id in only
        ]
        if not patterns:
            return None
        options = regex_options()
        options.max_mem = _REGEX_SET_MAX_MEM
        regex_set = re2.Set.SearchSet(options)
        for pattern in patterns:
            regex_set.Add(pattern)
        regex_set.Compile()
        return regex_set

    def literals_of(
        self, regex_ids: AbstractSet[int]
    ) -> tuple[tuple[str, tuple[int, ...]], ...] | None:
        """(required literal, regexes needing it) for ``regex_ids``, or None when one of
        them has no literal."""
        by_literal: dict[str, list[int]] = {}
        for pattern, regex_id in self._regex_ids.items():
            if regex_id in regex_ids:
                literal = required_literal(pattern)
                if literal is None:
                    return None
                by_literal.setdefault(literal, []).append(regex_id)
        return tuple((literal, tuple(ids)) for literal, ids in by_literal.items())

    @staticmethod
    def literal_set(literals: tuple[tuple[str, tuple[int, ...]], ...]) -> Any:
        """One RE2::Set of plain strings (set index == position in ``literals``). Folded
        text and literals are both lower case, so it matches case-sensitively."""
        options = re2.Options()
        options.literal = True
        options.log_errors = False
        options.never_capture = True
        options.max_mem = _REGEX_SET_MAX_MEM
        literal_set = re2.Set.SearchSet(options)
        for literal, _ in literals:
            literal_set.Add(literal)
        literal_set.Compile()
        return literal_set

    def regexes_joinable(self, only: AbstractSet[int] | None = None) -> bool:
        """Whether one pass over the fields joined by newlines finds every regex (of
        ``only``) that some field alone holds. Inside a field, \\b and \\B see the same
        neighbours either way (a newline is not a word character, like the start or end of
        the text); only start/end-of-text assertions differ."""
        return not any(
            marker in pattern
            for pattern, regex_id in self._regex_ids.items()
            if only is None or regex_id in only
            for marker in _POSITION_SENSITIVE
        )

    def automaton(self, start: int, end: int) -> _Automaton | None:
        """One Aho-Corasick automaton of every surface spelling of term ids start..end-1."""
        if start >= end:
            return None
        keys: dict[str, int] = {}
        for term_id, folded in enumerate(self._terms[start:end], start):
            if term_id in self._literal_terms:
                # A literal is found anywhere, inside words too; it is ASCII and has no
                # padding, so it is never the key of a term.
                assert keys.setdefault(folded, term_id) == term_id, folded
                continue
            left = "" if is_spaceless_char(folded[0]) else " "
            right = "" if is_spaceless_char(folded[-1]) else " "
            for spelling in surface_variants(folded):
                key = f"{left}{spelling}{right}"
                # A surface spelling folds to exactly one term, so keys never collide.
                assert keys.setdefault(key, term_id) == term_id, key
        # A double array: over 10,000 watches' keys its overlapping pass costs ~4.0 µs an
        # article where ahocorasick-rs's contiguous NFA costs ~6.1 µs, in about the same
        # memory once built. Overlapping: every key present is reported, ``rare earth`` and
        # ``earth`` alike. No prefilter: nearly every key starts with a space, which the
        # text is full of, so it only costs (~0.5 µs an article).
        automaton = daachorse.DoubleArrayAhoCorasick(
            [key.encode() for key in keys], use_prefilter=False
        )
        return _Automaton(automaton.find_overlapping, list(keys.values()))

    def term_id(self, term: Term) -> int:
        if term.is_regex:
            regex_id = self._regex_ids.get(term.folded)
            if regex_id is None:
                regex_id = self._regex_ids[term.folded] = len(self._patterns)
                self._patterns.append(term.folded)
            return regex_id
        term_id = self._term_ids.get(term.folded)
        if term_id is None:
            term_id = self._term_ids[term.folded] = len(self._terms)
            self._terms.append(term.folded)
        return term_id

    def anchors(self, node: Node) -> frozenset[_Anchor] | None:
        """Positive terms of which at least one must be present for ``node`` to hold, or None
        when no such set can be derived (a NOT with nothing positive beside it)."""
        if isinstance(node, Term):
            if node.is_regex:
                kind = _IN_REGEX
            else:
                kind = _IN_SOURCE if node.field == "source" else _IN_TEXT
            return frozenset({self.term_id(node) << 2 | kind})
        if isinstance(node, Not):
            # NOT NOT x holds exactly when x does.
            return self.anchors(node.child.child) if isinstance(node.child, Not) else None
        child_anchors = [self.anchors(child) for child in node.children]
        if isinstance(node, Or):
            if any(anchors is None for anchors in child_anchors):
                return None
            return frozenset().union(*child_anchors)  # type: ignore[arg-type]
        usable = [anchors for anchors in child_anchors if anchors is not None]
        if not usable:
            return None
        # Any one child's anchors will do for AND. Prefer plain terms over source: terms
        # (every article has a publisher, so those pick out a slice of all articles) over
        # regexes; then the fewest terms, then the most specific ones (more words, longer):
        # they occur in fewer articles.
        return min(
            usable,
            key=lambda a: (max(anchor & 3 for anchor in a), len(a), -self._specificity(a)),
        )

    def _literal_anchors(self, anchors: frozenset[_Anchor], query: Query) -> frozenset[_Anchor]:
        """``anchors`` with each regex that has a literal key (see _literal_term) replaced
        by that key, looked for where the query looks for the regex."""
        if all(anchor & 3 != _IN_REGEX for anchor in anchors):
            return anchors
        fields: dict[int, set[str | None]] = {}
        for term in query.terms:
            if term.is_regex:
                fields.setdefault(self.term_id(term), set()).add(term.field)
        converted: set[_Anchor] = set()
        for anchor in anchors:
            regex_id = anchor >> 2
            if anchor & 3 == _IN_REGEX and len(fields[regex_id]) == 1:
                literal_id = self._literal_term(self._patterns[regex_id])
                if literal_id is not None:
                    kind = _IN_SOURCE if fields[regex_id] == {"source"} else _IN_TEXT
                    converted.add(literal_id << 2 | kind)
                    continue
            converted.add(anchor)
        return frozenset(converted)

    def _literal_term(self, pattern: str) -> int | None:
        """The term id of the required literal of ``pattern`` as an automaton key, or None
        (no literal, too short, or too many keys of literals already)."""
        literal = required_literal(pattern)
        if literal is None or len(literal) < _MIN_KEY_LITERAL:
            return None
        term_id = self._literal_ids.get(literal)
        if term_id is None:
            if len(self._literal_ids) >= _MAX_KEY_LITERALS:
                return None
            term_id = self._literal_ids[literal] = len(self._terms)
            self._terms.append(literal)
            self._literal_terms.add(term_id)
        return term_id

    def _specificity(self, anchors: frozenset[_Anchor]) -> int:
        return min(
            self._weight(anchor >> 2) if anchor & 3 != _IN_REGEX else 0 for anchor in anchors
        )

    def _weight(self, term_id: int) -> int:
        """How specific a term is: more words, then more characters (worked out when asked,
        rather than kept for every term)."""
        if term_id in self._literal_terms:
            return 0
        folded = self._terms[term_id]
        return 100 * folded.count(" ") + len(folded)

    def compile_watch(self, watch_id: int, query: Query) -> _Watch:
        positives: tuple[tuple[str, _Check], ...] = ()
        plain: tuple[tuple[str, ...], tuple[int, ...]] | None = None
        if all(not term.is_regex and term.field is None for term in query.terms):
            by_text: dict[str, int] = {}
            for term in query.positive_terms:
                by_text.setdefault(term.text, self.term_id(term))
            plain = (tuple(by_text), tuple(by_text.values()))
        else:
            positives = tuple((t.text, self._term_check(t)) for t in query.positive_terms)
        root = query.root
        required: frozenset[int] = _EMPTY
        forbidden: frozenset[int] = _EMPTY
        check: _Check | None
        if isinstance(root, And):
            required, forbidden, rest = self._split_and(root)
            check = _all_of(rest) if rest else None
        elif isinstance(root, Or) and all(
            self._plain_any(child) is not None for child in root.children
        ):
            # Indexed under every one of its terms: a candidate is a match.
            check = None
        else:
            check = self._check(root)
        return _Watch(watch_id, required, forbidden, check, positives, plain)

    def _term_check(self, term: Term) -> _Check:
        term_id = self.term_id(term)
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
            return self.term_id(node)
        return None

    def _or_check(self, node: Or) -> _Check:
        # Plain terms are grouped by field and tested with one set operation per field.
        by_field: dict[int, set[int]] = {}
        others: list[_Check] = []
        for child in node.children:
            if isinstance(child, Term) and not child.is_regex:
                by_field.setdefault(_FIELD_CODES[child.field], set()).add(self.term_id(child))
            else:
                others.append(self._check(child))
        plain = frozenset(by_field.pop(_ANY, ()))
        if not others and not by_field:
            return lambda article: not article.any.isdisjoint(plain)
        fielded = tuple(
            (_FIELD_SETS[field_code], frozenset(ids)) for field_code, ids in by_field.items()
        )
        rest = tuple(others)

        def check(article: _Article) -> bool:
            if plain and not article.any.isdisjoint(plain):
                return True
            for field_set, ids in fielded:
                if not field_set(article).isdisjoint(ids):
                    return True
            for child_check in rest:  # noqa: SIM110 - a plain loop is cheaper than any()
                if child_check(article):
                    return True
            return False

        return check

    def _split_and(self, node: And) -> tuple[frozenset[int], frozenset[int], tuple[_Check, ...]]:
        """(plain terms required, plain terms forbidden, checks of the other children); the
        checks holding a regex come last, so RE2 runs only when the cheaper ones hold."""
        required: set[int] = set()
        forbidden: set[int] = set()
        cheap: list[_Check] = []
        costly: list[_Check] = []
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
        # Most watches forbid nothing: one shared empty frozenset (216 bytes each otherwise).
        return (
            frozenset(required) if required else _EMPTY,
            frozenset(forbidden) if forbidden else _EMPTY,
            tuple(cheap + costly),
        )

    def _and_check(self, node: And) -> _Check:
        required, forbidden, rest = self._split_and(node)
        if not rest and not forbidden:
            return lambda article: required <= article.any
        if not rest:
            return lambda article: required <= article.any and article.any.isdisjoint(forbidden)
        rest_check = _all_of(rest)

        def check(article: _Article) -> bool:
            present = article.any
            return required <= present and present.isdisjoint(forbidden) and rest_check(article)

        return check


def _all_of(checks: tuple[_Check, ...]) -> _Check:
    if len(checks) == 1:
        return checks[0]

    def check(article: _Article) -> bool:
        # A plain loop: all() over a generator costs ~0.3 µs more per watch evaluated.
        for child_check in checks:  # noqa: SIM110
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


# Characters a required literal is made of: what folded text holds, bar non-ASCII letters
# (RE2's case folding of those is not worth modelling; they just end a literal).
_LITERAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
_REPEAT = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")
_FLAG_GROUP = re.compile(r"\(\?[A-Za-z-]*\)")
_MIN_LITERAL = 3


def required_literal(pattern: str) -> str | None:
    """A lower-case string that every match of the RE2 ``pattern`` contains, or None.

    Folded text is lower case and a ``/regex/`` is case-insensitive, so when the automaton
    does not see this string in an article's text, the regex cannot match there and RE2
    need not run. Only runs of ASCII letters, digits and spaces outside any group count;
    a construct the scan does not know makes it give up (None: the regex always runs), so
    an answer is always safe and a missed one only costs an RE2 pass.
    """
    runs: list[str] = []
    run: list[str] = []
    depth = 0
    # Whether the last atom read is a plain character that ends runs[-1]: a quantifier
    # after it makes that character optional.
    tail_literal = False
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char in _LITERAL_CHARS:
            if depth == 0:
                run.append(char)
            i += 1
            continue
        flags = _FLAG_GROUP.match(pattern, i)
        if flags is not None:
            # (?i) and the like match nothing: a quantifier after one applies to the atom
            # before it, so the run goes on across it.
            i = flags.end()
            continue
        if run:
            runs.append("".join(run))
            run = []
            tail_literal = True
        repeat = _REPEAT.match(pattern, i) if char == "{" else None
        if char in "?*+" or repeat is not None:
            if tail_literal and char != "+":
                runs[-1] = runs[-1][:-1]
                tail_literal = False
            # After "+" the character stays required, unless another quantifier follows.
            i = repeat.end() if repeat is not None else i + 1
            continue
        tail_literal = False
        if char == "|" and depth == 0:
            return None  # top-level alternatives: nothing is required by all of them
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char == "[":
            i = _class_end(pattern, i)
            if i < 0:
                return None
            continue
        elif char == "\\":
            i = _escape_end(pattern, i)
            if i < 0:
                return None
            continue
        # Anything else ("." "^" "$", punctuation, a "{" that RE2 reads as plain text, other
        # scripts) just ends the run.
        i += 1
    if run:
        runs.append("".join(run))
    best = max((r.strip() for r in runs), key=len, default="")
    return best.lower() if len(best) >= _MIN_LITERAL else None


def _class_end(pattern: str, start: int) -> int:
    """Offset just past the ``[...]`` class starting at ``start``, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] == "^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1  # a "]" first in the class is a member
    while i < len(pattern):
        char = pattern[i]
        if char == "]":
            return i + 1
        if char == "\\":
            i += 2
        elif pattern.startswith("[:", i):
            close = pattern.find(":]", i + 2)
            i = close + 2 if close >= 0 else i + 1
        else:
            i += 1
    return -1


def _escape_end(pattern: str, start: int) -> int:
    """Offset just past the escape sequence starting at ``start`` (a backslash), or -1."""
    i = start + 1
    if i >= len(pattern):
        return -1
    char = pattern[i]
    if char == "Q":  # \Q...\E quotes a literal; skipped rather than read
        close = pattern.find("\\E", i + 1)
        return len(pattern) if close < 0 else close + 2
    if char in "pPx":
        if pattern.startswith("{", i + 1):
            close = pattern.find("}", i + 2)
            return -1 if close < 0 else close + 1
        return i + (3 if char == "x" else 2)
    if char.isdigit():
        j = i
        while j < len(pattern) and j < i + 3 and pattern[j].isdigit():
            j += 1
        return j
    return i + 1
