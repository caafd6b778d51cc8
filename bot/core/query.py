"""The watch query language: parse once, evaluate against "which terms are present".

Query language
==============

A watch is a query over an article's title, summary and full text.

Terms
    ``tariff``              a bare word
    ``"export ban"``        a phrase: its words in this order, nothing between them but
                            spaces or punctuation (“curly quotes” work too)
    ``/tariffs? on \\w+/``  a regular expression (RE2 syntax, no backreferences), see below
    ``rare-earth``          a hyphenated word is the phrase ``"rare earth"``

Operators, strongest first
    ``NOT x`` or ``-x``     x must not occur
    ``x AND y`` or ``x y``  both (putting terms side by side means AND)
    ``x OR y``              either
    ``( ... )``             grouping

    Only upper-case ``AND``, ``OR``, ``NOT`` are operators; lower-case ``and``/``or``/``not``
    are ordinary words (quote an upper-case one, ``"OR"``, to search for it).
    So ``a OR b c`` means ``a OR (b AND c)``, and ``-a b`` means ``(NOT a) AND b``.

Fields
    ``title:x``             only in the title
    ``summary:x``           only in the summary or full text (not the title)
    ``source:x``            in the publisher's name, e.g. ``source:reuters``
    A field applies to a word, a phrase, a regex or a group: ``title:(chip OR chips)``.
    Terms without a field look in title, summary and full text, never the publisher name.

How text matches
    Case, accents and character width do not matter (``Béssent`` = ``bessent``,
    ``ＣＨＩＮＡ`` = ``china``); hyphens, dashes, punctuation, NBSP and runs of spaces all
    count as one space (``"rare earth"`` matches ``rare-earth``); ``U.S.`` = ``US``;
    ``China's`` = ``China``. Whole words only: ``"rare earth"`` never matches
    ``rare earthquake``. English plurals fold on both sides: ``tariff`` matches
    ``tariffs``, ``tax`` matches ``taxes``, ``"rare earths"`` matches ``rare earth``
    (irregular plurals such as men/mice do not).
    Chinese, Japanese, Korean, Thai (scripts without spaces) match anywhere inside the
    text: ``稀土`` matches ``中国稀土出口``.
    A ``/regex/`` is matched case-insensitively by RE2 against the folded text: lower-case,
    accents stripped, punctuation turned into single spaces, plurals NOT folded. So
    ``/tariffs? (on|against) china/`` works, ``/U\\.S\\./`` does not (write ``/\\bus\\b/``).

A query must be able to match only when at least one of its positive terms is present:
``-sports`` alone, or ``a OR -b``, is refused ("needs at least one positive term").

Limits: at most 2,000 characters, 200 terms and 32 levels of nesting (parentheses, NOT or
``-``, and field prefixes counted together); past them the query is refused with the
place and the reason, like any other malformed query.

Examples
    ``Greer -"Germaine Greer"``
    ``(tariff OR tariffs) AND China``
    ``"He Lifeng"``
    ``(chip OR chips OR semiconductor) AND "export ban"``
    ``title:"rare earth" -source:"Daily Mail"``
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

from bot.core.errors import QuerySyntaxError
from bot.core.textfold import (
    MAX_TERM_VARIANTS,
    fold_pattern_letters,
    fold_term,
    has_spaceless,
    variant_count,
)

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "And",
    "Node",
    "Not",
    "Or",
    "Query",
    "Term",
    "compile_regex",
    "evaluate",
    "parse_query",
    "regex_options",
]

FIELDS = ("title", "summary", "source")
Field = Literal["title", "summary", "source"]
# Limits that keep one query cheap to parse, compile and match, and every recursive walk
# over it far from Python's recursion limit: a watch is written by a person, and 32
# levels of parentheses or 200 terms are far past what a person writes.
MAX_QUERY_LENGTH = 2000
MAX_DEPTH = 32  # nested parentheses, NOT / - and field prefixes, counted together
MAX_TERMS = 200


@dataclass(frozen=True, slots=True)
class Term:
    """One searchable term. ``text`` is as written (no quotes or field prefix; a regex keeps
    its slashes) and is what alerts show as "matched"."""

    text: str
    field: str | None
    folded: str  # fold_term(text); for a regex, the pattern itself
    is_regex: bool = False
    is_cjk: bool = False  # contains characters of a script without spaces
    position: int = 0  # offset of the term in the query text

    @property
    def key(self) -> tuple[str, str | None, bool]:
        """What makes two terms search the same thing (``tariffs`` and ``tariff`` share one)."""
        return (self.folded, self.field, self.is_regex)


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed watch query. ``terms`` are all terms in query order; ``positive_terms`` those
    not negated (an odd number of NOTs above them)."""

    text: str
    root: Node = field(repr=False)
    terms: tuple[Term, ...] = field(repr=False)
    positive_terms: tuple[Term, ...] = field(repr=False)


def evaluate(query: Query | Node, present: Callable[[Term], bool]) -> bool:
    """Whether the query holds when exactly the terms for which ``present`` is true occur.

    Short-circuits left to right, so ``present`` is not called for terms that cannot change
    the answer (the matcher relies on this to run regexes only when needed).
    """
    node = query.root if isinstance(query, Query) else query
    if isinstance(node, Term):
        return present(node)
    if isinstance(node, Not):
        return not evaluate(node.child, present)
    if isinstance(node, And):
        return all(evaluate(child, present) for child in node.children)
    return any(evaluate(child, present) for child in node.children)


def regex_options() -> Any:
    """RE2 options for ``/regex/`` terms: case-insensitive, no capture groups, quiet."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # the error reaches the user as a QuerySyntaxError instead
    options.never_capture = True
    return options


def compile_regex(pattern: str) -> Any:
    """Compile a ``/regex/`` term's pattern with RE2. Raises ``re2.error``."""
    return re2.compile(pattern, regex_options())


def parse_query(text: str) -> Query:
    """Parse a watch query (grammar in the module docstring). Raises QuerySyntaxError."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"query is too long ({len(text)} characters, at most {MAX_QUERY_LENGTH})",
            text,
            MAX_QUERY_LENGTH,
        )
    tokens = list(_tokenize(text))
    if not tokens:
        raise QuerySyntaxError("empty query", text, 0)
    parser = _Parser(text, tokens)
    root = parser.parse()
    terms = tuple(_walk_terms(root, negated=False))
    if len(terms) > MAX_TERMS:
        raise QuerySyntaxError(
            f"too many terms ({len(terms)}, at most {MAX_TERMS}): split it into several watches",
            text,
            terms[MAX_TERMS][0].position,
        )
    positive = tuple(term for term, negated in terms if not negated)
    if not positive or evaluate(root, lambda _term: False):
        raise QuerySyntaxError(
            "needs at least one positive term (a query of only NOT terms would match "
            "almost every article)",
            text,
            0,
        )
    return Query(
        text=text,
        root=root,
        terms=tuple(term for term, _ in terms),
        positive_terms=positive,
    )


def _walk_terms(node: Node, *, negated: bool) -> Iterator[tuple[Term, bool]]:
    if isinstance(node, Term):
        yield node, negated
    elif isinstance(node, Not):
        yield from _walk_terms(node.child, negated=not negated)
    else:
        for child in node.children:
            yield from _walk_terms(child, negated=negated)


# ---------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Literal["(", ")", "AND", "OR", "NOT", "-", "WORD", "PHRASE", "REGEX", "FIELD"]
    value: str
    position: int


_OPEN_QUOTES = {'"': '"', "\u201c": "\u201d", "\u201e": "\u201d", "\u00ab": "\u00bb"}
_CLOSE_QUOTES = frozenset({'"', "\u201d", "\u201c", "\u00bb"})
_FIELD_PREFIX = re.compile(r"([A-Za-z]+):(?=\S)")
_WORD = re.compile('[^\\s()"\u201c\u201d\u201e\u00ab\u00bb]+')


def _tokenize(text: str) -> Iterator[_Token]:
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            yield _Token(char, char, i)  # type: ignore[arg-type]
            i += 1
        elif char in _OPEN_QUOTES:
            end = _find_closing_quote(text, i + 1, _OPEN_QUOTES[char])
            if end < 0:
                raise QuerySyntaxError("unterminated quote", text, i)
            yield _Token("PHRASE", text[i + 1 : end], i)
            i = end + 1
        elif char == "/":
            end = _find_regex_end(text, i)
            yield _Token("REGEX", text[i + 1 : end], i)
            i = end + 1
        elif char == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != "-":
            yield _Token("-", char, i)
            i += 1
        else:
            field_match = _FIELD_PREFIX.match(text, i)
            if field_match is not None:
                name = field_match.group(1)
                if name.lower() not in FIELDS:
                    raise QuerySyntaxError(
                        f"unknown field '{name}:' (fields are title:, summary:, source:; "
                        "put the word in quotes to search for it)",
                        text,
                        i,
                    )
                yield _Token("FIELD", name.lower(), i)
                i = field_match.end()
                continue
            start = i
            run = _WORD.match(text, i)
            if run is None:
                # Only a closing quote without its opening one stops a word at its start.
                raise QuerySyntaxError(f"{char} closes a quote that was never opened", text, i)
            i = run.end()
            word = text[start:i]
            if word in ("AND", "OR", "NOT"):
                yield _Token(word, word, start)  # type: ignore[arg-type]
            elif word.endswith(":") and word[:-1].isalpha() and word[:-1].lower() in FIELDS:
                raise QuerySyntaxError(f"field '{word}' needs a term after it", text, start)
            else:
                yield _Token("WORD", word, start)


def _find_closing_quote(text: str, start: int, expected: str) -> int:
    for j in range(start, len(text)):
        # Any closing mark ends a phrase: an editor that curls only one end of "a b”
        # leaves mixed quotes.
        if text[j] == expected or text[j] in _CLOSE_QUOTES:
            return j
    return -1


def _find_regex_end(text: str, start: int) -> int:
    j = start + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == "/":
            return j
        j += 1
    raise QuerySyntaxError("unterminated /regex/ (no closing '/')", text, start)


# ---------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent: or_expr := and_expr (OR and_expr)*; and_expr := unary (AND? unary)*;
    unary := (NOT | -) unary | primary; primary := FIELD? ( '(' or_expr ')' | term )."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0
        self.field_stack: list[str | None] = [None]
        self.depth = 0

    def descend(self, token: _Token) -> None:
        """Enter one level of nesting (a group, a NOT, a field), refusing past MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                f"nested too deeply (more than {MAX_DEPTH} levels of parentheses, NOT or fields)",
                token.position,
            )

    def error(self, message: str, position: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.text, position)

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            # Only a stray ')' can stop or_expr early: everything else starts or joins a term.
            raise self.error("unbalanced ')': no '(' opened before it", token.position)
        return node

    def or_expr(self) -> Node:
        children = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            self.expect_operand(token)
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def and_expr(self) -> Node:
        children = [self.unary()]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
                self.expect_operand(token)
            children.append(self.unary())
        return children[0] if len(children) == 1 else And(tuple(children))

    def expect_operand(self, operator: _Token) -> None:
        """An operator must be followed by something that can start a term."""
        token = self.peek()
        if token is None or token.kind in ("AND", "OR", ")"):
            raise self.error(f"{operator.value} needs a term after it", operator.position)

    def unary(self) -> Node:
        token = self.peek()
        if token is None:  # pragma: no cover - callers check before descending
            raise self.error("query ends where a term was expected", len(self.text))
        if token.kind in ("NOT", "-"):
            self.take()
            self.expect_operand(token)
            self.descend(token)
            node = Not(self.unary())
            self.depth -= 1
            return node
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind in ("AND", "OR"):
            raise self.error(f"{token.value} needs a term before it", token.position)
        if token.kind == ")":
            raise self.error("unbalanced ')': no '(' opened before it", token.position)
        if token.kind == "FIELD":
            nxt = self.peek()
            if nxt is None or nxt.kind not in ("(", "WORD", "PHRASE", "REGEX"):
                raise self.error(f"field '{token.value}:' needs a term after it", token.position)
            self.descend(token)
            self.field_stack.append(token.value)
            node = self.primary()
            self.field_stack.pop()
            self.depth -= 1
            return node
        if token.kind == "(":
            nxt = self.peek()
            if nxt is None:
                raise self.error("unclosed '('", token.position)
            if nxt.kind == ")":
                raise self.error("empty parentheses", token.position)
            self.descend(token)
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.error("unclosed '('", token.position)
            self.take()
            self.depth -= 1
            return node
        return self.term(token)

    def term(self, token: _Token) -> Term:
        field_name = self.field_stack[-1]
        if token.kind == "REGEX":
            if not token.value:
                raise self.error("empty /regex/", token.position)
            # It reads folded text: its own letters are folded the same way.
            pattern = fold_pattern_letters(token.value)
            try:
                compile_regex(pattern)
            except re2.error as exc:
                reason = (
                    exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
                )
                raise self.error(f"bad regex: {reason}", token.position) from exc
            return Term(
                text=f"/{token.value}/",
                field=field_name,
                folded=pattern,
                is_regex=True,
                position=token.position,
            )
        written = token.value.strip()
        folded = fold_term(written)
        if not folded:
            what = "phrase" if token.kind == "PHRASE" else "term"
            raise self.error(f"{what} has no letters or digits to search for", token.position)
        if variant_count(folded) > MAX_TERM_VARIANTS:
            raise self.error("phrase is too long to match (use fewer words)", token.position)
        return Term(
            text=written,
            field=field_name,
            folded=folded,
            is_cjk=has_spaceless(folded),
            position=token.position,
        )
