"""The watch query language: grammar, precedence, fields and every syntax error."""

from __future__ import annotations

import pytest

from bot.core.errors import QuerySyntaxError
from bot.core.query import And, Not, Or, Term, evaluate, parse_query


def shape(node: object) -> object:
    """A compact picture of the AST: terms as 'field:folded', operators as tuples."""
    if isinstance(node, Term):
        prefix = f"{node.field}:" if node.field else ""
        return f"{prefix}/{node.folded}/" if node.is_regex else f"{prefix}{node.folded}"
    if isinstance(node, Not):
        return ("NOT", shape(node.child))
    if isinstance(node, And):
        return ("AND", *(shape(c) for c in node.children))
    assert isinstance(node, Or)
    return ("OR", *(shape(c) for c in node.children))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('Greer -"Germaine Greer"', ("AND", "greer", ("NOT", "germaine greer"))),
        ("(tariff OR tariffs) AND China", ("AND", ("OR", "tariff", "tariff"), "china")),
        ('"He Lifeng"', "he lifeng"),
        (
            '(chip OR chips OR semiconductor) AND "export ban"',
            ("AND", ("OR", "chip", "chip", "semiconductor"), "export ban"),
        ),
    ],
)
def test_launch_config_examples_parse(text: str, expected: object) -> None:
    """The queries from the launch config parse into the intended trees."""
    assert shape(parse_query(text).root) == expected


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    """Precedence is NOT > AND > OR: `a OR b AND NOT c` is `a OR (b AND (NOT c))`."""
    assert shape(parse_query("a OR b AND NOT c").root) == (
        "OR",
        "a",
        ("AND", "b", ("NOT", "c")),
    )


def test_juxtaposition_means_and() -> None:
    """Terms side by side are ANDed, and bind tighter than OR."""
    assert shape(parse_query("a OR b c").root) == ("OR", "a", ("AND", "b", "c"))


def test_parentheses_override_precedence() -> None:
    """Grouping changes what OR applies to."""
    assert shape(parse_query("(a OR b) c").root) == ("AND", ("OR", "a", "b"), "c")


def test_lowercase_and_or_not_are_plain_words() -> None:
    """Only upper-case AND/OR/NOT are operators; lower-case ones are searched for."""
    assert shape(parse_query("salt and pepper or not").root) == (
        "AND",
        "salt",
        "and",
        "pepper",
        "or",
        "not",
    )


def test_quoted_operator_is_a_word() -> None:
    """`"OR"` searches for the word or."""
    assert shape(parse_query('"OR" gate').root) == ("AND", "or", "gate")


def test_leading_minus_negates_the_next_term_or_group() -> None:
    """`-x` is NOT x, for words, phrases and groups."""
    assert shape(parse_query("a -b -(c OR d)").root) == (
        "AND",
        "a",
        ("NOT", "b"),
        ("NOT", ("OR", "c", "d")),
    )


def test_hyphen_inside_a_word_makes_a_phrase_not_a_negation() -> None:
    """`rare-earth` is the phrase "rare earth"; only a leading minus negates."""
    assert shape(parse_query("rare-earth").root) == "rare earth"


def test_fields_apply_to_words_phrases_and_groups() -> None:
    """title:, summary:, source: restrict a word, a phrase or every term of a group."""
    query = parse_query('title:"rare earth" summary:china source:reuters title:(a OR b)')
    assert shape(query.root) == (
        "AND",
        "title:rare earth",
        "summary:china",
        "source:reuter",  # plurals fold in every field, consistently on both sides
        ("OR", "title:a", "title:b"),
    )


def test_field_names_are_case_insensitive() -> None:
    """`Title:x` is title:x."""
    assert shape(parse_query("Title:x").root) == "title:x"


def test_curly_quotes_make_a_phrase() -> None:
    """Chat clients turn "x" into “x”; both quote a phrase, and so do mixed ends (an
    editor that curls only one of them)."""
    assert shape(parse_query("“export ban” china").root) == ("AND", "export ban", "china")
    assert shape(parse_query('"export ban” china').root) == ("AND", "export ban", "china")
    assert shape(parse_query('“export ban" china').root) == ("AND", "export ban", "china")


def test_term_text_is_as_written_without_quotes_or_field() -> None:
    """Term.text is what alerts show: the words as typed, minus quotes and field prefix."""
    query = parse_query('title:"Rare Earths" /tariffs? on/ 稀土')
    assert [t.text for t in query.terms] == ["Rare Earths", "/tariffs? on/", "稀土"]
    assert [t.field for t in query.terms] == ["title", None, None]
    assert [t.is_regex for t in query.terms] == [False, True, False]
    assert [t.is_cjk for t in query.terms] == [False, False, True]
    assert query.terms[0].folded == "rare earth"


def test_positive_terms_leave_out_negated_ones_in_query_order() -> None:
    """positive_terms are the terms under an even number of NOTs, in query order."""
    query = parse_query('Greer -"Germaine Greer" (x OR NOT (NOT y))')
    assert [t.text for t in query.positive_terms] == ["Greer", "x", "y"]
    assert [t.text for t in query.terms] == ["Greer", "Germaine Greer", "x", "y"]


def test_regex_term_keeps_its_pattern() -> None:
    """A /regex/ term carries its pattern unfolded (RE2 syntax)."""
    (term,) = parse_query(r"/tariffs? (on|against) \w+/").terms
    assert term.is_regex
    assert term.folded == r"tariffs? (on|against) \w+"
    assert term.text == r"/tariffs? (on|against) \w+/"


def test_escaped_slash_inside_regex() -> None:
    r"""`\/` does not end a regex."""
    (term,) = parse_query(r"/a\/b/").terms
    assert term.folded == r"a\/b"


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "empty query", 0),
        ("   ", "empty query", 0),
        ("(a OR b", "unclosed '('", 0),
        ("a (b", "unclosed '('", 2),
        ("a OR b)", "unbalanced ')'", 6),
        ("()", "empty parentheses", 0),
        ("a AND", "AND needs a term after it", 2),
        ("OR b", "OR needs a term before it", 0),
        ("a OR OR b", "OR needs a term after it", 2),
        ("a (b OR ) c", "OR needs a term after it", 5),
        ("a NOT", "NOT needs a term after it", 2),
        ("a - b", "term has no letters or digits", 2),
        ('a "export ban', "unterminated quote", 2),
        ("a /tariffs?", "unterminated /regex/", 2),
        ("a /(tariff/", "bad regex", 2),
        ("a //", "empty /regex/", 2),
        ("author:smith", "unknown field 'author:'", 0),
        ("china title:", "field 'title:' needs a term after it", 6),
        ("title:)", "field 'title:' needs a term after it", 0),
        ("NOT china", "needs at least one positive term", 0),
        ("-china -tariff", "needs at least one positive term", 0),
        ("china OR -tariff", "needs at least one positive term", 0),
        ('"..."', "phrase has no letters or digits", 0),
    ],
)
def test_syntax_errors_say_where_and_why(text: str, message: str, position: int) -> None:
    """Each malformed query raises QuerySyntaxError with a reason and the offending offset."""
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.query == text


def test_syntax_error_pointer_puts_a_caret_under_the_problem() -> None:
    """pointer() renders the query with a caret at the error offset (for chat replies)."""
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query("china AND")
    assert caught.value.pointer() == "china AND\n      ^"


def test_a_long_querys_pointer_shows_the_part_around_the_fault() -> None:
    """A query past the pointer's width is shown around its fault, cut with "…" on the
    side(s) left out, the caret under the same character (it was the whole query, and a
    caret under its 990th character, which chat messages cut off)."""
    text = "tariff " * 141 + "(b OR"
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text)
    shown, caret = caught.value.pointer(width=30).split("\n")
    assert shown.startswith("…") and shown.endswith("tariff tariff (b OR")
    assert len(shown) == 31 and caret.index("^") == shown.index("OR")
    first = QuerySyntaxError("x", "a(" + "b " * 50, 1).pointer(width=20)
    assert first == "a(b b b b b b b b b …\n ^"
    multiline = QuerySyntaxError("x", "a\nb OR", 5).pointer()
    assert multiline == "a b OR\n     ^"


def test_overlong_phrase_is_refused() -> None:
    """A phrase with too many plural spellings to index is refused, not matched loosely."""
    with pytest.raises(QuerySyntaxError, match="too long"):
        parse_query('"' + " ".join(f"word{i}" for i in range(14)) + '"')


def test_evaluate_follows_boolean_logic() -> None:
    """evaluate() answers the query for a given set of present terms."""
    query = parse_query('Greer -"Germaine Greer"')

    def present_in(words: set[str]) -> bool:
        return evaluate(query, lambda term: term.folded in words)

    assert present_in({"greer"})
    assert not present_in({"greer", "germaine greer"})
    assert not present_in(set())


def test_evaluate_short_circuits_left_to_right() -> None:
    """Terms that cannot change the answer are not asked about (regexes rely on this)."""
    asked: list[str] = []

    def present(term: Term) -> bool:
        asked.append(term.folded)
        return term.folded == "a"

    assert evaluate(parse_query("a OR b"), present)
    assert asked == ["a"]
    asked.clear()
    assert not evaluate(parse_query("b AND a"), present)
    assert asked == ["b"]


@pytest.mark.parametrize(
    "text",
    [
        "(" * 250 + "a" + ")" * 250,
        "NOT " * 40 + "a b",
        "b " + "-(" * 20 + "a" + ")" * 20,
        "title:(" * 20 + "a" + ")" * 20,
        "a AND " + "(b OR " * 33 + "c" + ")" * 33,
    ],
)
def test_deep_nesting_is_a_query_error_not_a_recursion_error(text: str) -> None:
    """Past 32 levels of parentheses / NOT / fields the query is refused with a reason."""
    with pytest.raises(QuerySyntaxError, match="nested too deeply"):
        parse_query(text)


def test_nesting_up_to_the_limit_parses_and_evaluates() -> None:
    """32 levels still parse, and the matcher can compile and run them."""
    from bot.core.matcher import MatchDocument, match_one
    from bot.core.query import MAX_DEPTH

    query = parse_query("(" * MAX_DEPTH + "tariff" + ")" * MAX_DEPTH)
    assert shape(query.root) == "tariff"
    query = parse_query("NOT " * (MAX_DEPTH - 1) + "(a OR b) c")
    assert match_one(query, MatchDocument(title="c")) is not None


def test_too_many_terms_and_too_long_queries_are_refused() -> None:
    """200 terms parse; 201 do not; nor do queries over 2000 characters."""
    from bot.core.query import MAX_TERMS

    words = [f"w{i}" for i in range(MAX_TERMS + 1)]
    assert len(parse_query(" OR ".join(words[:-1])).terms) == MAX_TERMS
    with pytest.raises(QuerySyntaxError, match="too many terms") as caught:
        parse_query(" OR ".join(words))
    assert caught.value.position == caught.value.query.index(words[-1])
    with pytest.raises(QuerySyntaxError, match="too long"):
        parse_query("a " * 1001)


@pytest.mark.parametrize("text", ["a \u201d b", "tariff \u00bb", "x\u201d", "title:\u201d"])
def test_a_stray_closing_quote_is_an_error_not_an_endless_loop(text: str) -> None:
    """A closing curly quote without its opening one used to make the tokenizer spin
    forever on the same character; it is refused with its place instead."""
    with pytest.raises(QuerySyntaxError, match="closes a quote that was never opened"):
        parse_query(text)
