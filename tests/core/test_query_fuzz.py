"""Fuzzing the query parser, the matcher and the highlighter with hypothesis (a few seconds).

* Any text at all either parses or is refused with a QuerySyntaxError: never another
  exception, a RecursionError or an endless loop.
* Every query that parses matches a document exactly when a plain reference says so: the
  query evaluated over "is this term in the folded field text" (whole words, plurals
  folded, CJK inside words, regexes by RE2 over the surface-folded fields).
* The highlighter finds a plain term in a title exactly when the matcher matches it there,
  and never fails on any text and any terms.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.errors import QuerySyntaxError
from bot.core.highlight import highlight_spans
from bot.core.matcher import MatchDocument, Matcher, match_one
from bot.core.query import Query, Term, compile_regex, evaluate, parse_query
from bot.core.textfold import fold, is_spaceless_char, surface_fold, surface_fold_fields

FUZZ = settings(
    max_examples=300,
    deadline=None,  # no timing in tests: a slow example on a busy machine is not a failure
    database=None,  # nothing written next to the tests
    suppress_health_check=[HealthCheck.too_slow],
)

# Syntax characters, operators and words that fold in interesting ways.
QUERY_PIECES = [
    "(", ")", '"', "\u201c", "\u201d", "\u00ab", "\u00bb", "-", "/", "\\", " ", ":", "|",
    "AND", "OR", "NOT", "title:", "summary:", "source:", "and", "x", "tariff", "tariffs",
    "rare", "earth", "U.S.", "稀土", "china", "*", "+", "?", "[", "]", "{2}", "\\w", ".",
]  # fmt: skip
WORDS = [
    "tariff", "tariffs", "rare", "earth", "earths", "rare-earth", "China", "China's",
    "U.S.", "US", "taxes", "tax", "city", "cities", "news", "Béssent", "bessent", "稀土",
    "中国稀土出口", "ＣＨＩＮＡ", "export", "ban", "Reuters", "Xinhua",
]  # fmt: skip
TERMS = [
    "tariff", '"rare earth"', "rare-earth", "china", "US", "tax", "city", "news",
    "bessent", "稀土", "export", '"export ban"', "/tariffs? on/", "/ch[a-z]+a/",
    "/^rare/", "reuters",
]  # fmt: skip
FIELDS = ["", "title:", "summary:", "source:"]


@st.composite
def queries(draw: st.DrawFn, depth: int = 0) -> str:
    """Query text from the grammar: terms, fields, NOT/-, AND/juxtaposition, OR, groups."""
    if depth > 3 or draw(st.booleans()):
        return draw(st.sampled_from(FIELDS)) + draw(st.sampled_from(TERMS))
    kind = draw(st.sampled_from(["not", "-", "and", "juxt", "or", "group", "field"]))
    if kind in ("not", "-"):
        prefix = "NOT " if kind == "not" else "-"
        return f"{prefix}{draw(queries(depth + 1))}"
    if kind == "group":
        return f"({draw(queries(depth + 1))})"
    if kind == "field":
        return f"{draw(st.sampled_from(FIELDS))}({draw(queries(depth + 1))})"
    joiner = {"and": " AND ", "juxt": " ", "or": " OR "}[kind]
    parts = draw(st.lists(queries(depth + 1), min_size=2, max_size=3))
    return joiner.join(parts)


documents = st.builds(
    MatchDocument,
    title=st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
    summary=st.lists(st.sampled_from([*WORDS, ",", "-", "—"]), max_size=8).map(" ".join),
    content=st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join),
    source=st.sampled_from(["Reuters", "Xinhua News", "AP"]),
)


# Field text with what the one-pass fold of joined fields must not be confused by: newlines
# and NULs of the text's own, acronyms and possessives at a field's edge, curly quotes.
FIELD_PIECES = [*WORDS, " ", ",", ".", "'s", "\u2019s", "U.S.", "\n", "\x00", "—", "\u00ad"]
field_texts = st.lists(st.sampled_from(FIELD_PIECES), max_size=8).map("".join)


@FUZZ
@given(st.lists(field_texts, min_size=1, max_size=3))
def test_fields_folded_in_one_pass_read_back_as_each_folded_alone(fields: list[str]) -> None:
    """The matcher folds title, summary and content in one pass; what it reads between
    the newlines is exactly each field folded on its own, padded by spaces."""
    parts = surface_fold_fields(*fields).decode().split("\n")
    assert [part.strip() for part in parts] == [surface_fold(field) for field in fields]
    assert all(part[:1] == " " and part[-1:] == " " for part in parts)


def reference_present(term: Term, doc: MatchDocument) -> bool:
    """Whether ``term`` occurs in ``doc`` by the documented rules, without the matcher."""
    if term.field == "title":
        texts = [doc.title]
    elif term.field == "summary":
        texts = [doc.summary, doc.content]
    elif term.field == "source":
        texts = [doc.source]
    else:
        texts = [doc.title, doc.summary, doc.content]
    if term.is_regex:
        regex = compile_regex(term.folded)
        return any(regex.search(surface_fold(t)) is not None for t in texts if surface_fold(t))
    left = "" if is_spaceless_char(term.folded[0]) else " "
    right = "" if is_spaceless_char(term.folded[-1]) else " "
    key = f"{left}{term.folded}{right}"
    return any(key in f" {fold(t)} " for t in texts)


@FUZZ
@given(st.lists(st.sampled_from(QUERY_PIECES), max_size=40).map("".join))
def test_any_text_parses_or_is_refused_with_a_query_error(text: str) -> None:
    """Nothing but a Query or a QuerySyntaxError comes out of the parser."""
    try:
        query = parse_query(text)
    except QuerySyntaxError as e:
        assert 0 <= e.position <= len(text)
        return
    assert query.positive_terms


@FUZZ
@given(st.text(max_size=60))
def test_any_unicode_text_parses_or_is_refused_with_a_query_error(text: str) -> None:
    """Arbitrary Unicode (control characters, other scripts) never breaks the parser."""
    try:
        query = parse_query(text)
    except QuerySyntaxError as e:
        assert 0 <= e.position <= len(text)
        return
    assert query.positive_terms


@FUZZ
@given(queries(), st.lists(documents, min_size=1, max_size=4))
def test_the_matcher_agrees_with_the_reference_on_every_parsed_query(
    text: str, docs: list[MatchDocument]
) -> None:
    """One-watch and many-watch matchers say what the reference evaluation says."""
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return  # e.g. only negative terms
    together = Matcher.build([(1, query), (2, parse_query("tariff OR china"))])
    for doc in docs:
        expected = evaluate(query, lambda term, d=doc: reference_present(term, d))  # type: ignore[misc]
        assert (match_one(query, doc) is not None) == expected, (text, doc)
        assert (1 in {m.watch_id for m in together.match(doc)}) == expected, (text, doc)


@FUZZ
@given(st.sampled_from(TERMS[:12]), st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join))
def test_highlighting_finds_a_term_exactly_where_the_matcher_matches_it(
    term: str, title: str
) -> None:
    """The bolded spans and the matcher never disagree about a plain term in a title."""
    query: Query = parse_query(term)
    matched = match_one(query, MatchDocument(title=title))
    spans = highlight_spans(title, [t.text for t in query.terms])
    assert bool(spans) == (matched is not None), (term, title, spans)


@FUZZ
@given(st.text(max_size=80), st.lists(st.text(max_size=12), max_size=4))
def test_highlighting_never_fails_and_spans_stay_inside_the_text(
    text: str, terms: list[str]
) -> None:
    """Any text, any terms (also broken regexes): sorted, disjoint spans within the text."""
    spans = highlight_spans(text, terms)
    previous_end = -1
    for start, end in spans:
        assert previous_end < start < end <= len(text)
        previous_end = end
