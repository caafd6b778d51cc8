"""A watch's Google News search: the query in Google's syntax, finding at least what the
watch matches (Google binds OR tighter than AND, the reverse of ours)."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from bot.core.query import Term, evaluate, parse_query
from bot.core.search_feeds import (
    google_news_query,
    google_news_url,
    previous_google_news_url,
)


@pytest.mark.parametrize(
    ("query", "search"),
    [
        ('"rare earth"', '"rare earth"'),
        ('Greer -"Germaine Greer"', 'Greer -"Germaine Greer"'),
        ("tariff AND (China OR Chinese OR Beijing)", "tariff (China OR Chinese OR Beijing)"),
        (
            '(chip OR Nvidia) AND ("export ban" OR "export controls")',
            '(chip OR Nvidia) ("export ban" OR "export controls")',
        ),
        # Ours: a OR (b AND c). Unbracketed, Google would read (a OR b) AND c.
        ("a OR b c", "a OR (b c)"),
        ("title:(chip OR chips) Nvidia", "(intitle:chip OR intitle:chips) Nvidia"),
        ('title:"rare earth" -title:magnet', 'intitle:"rare earth" -intitle:magnet'),
        ('summary:"trade war"', '"trade war"'),
        # What Google cannot say is left out, finding more, never less.
        ('title:"rare earth" -source:"Daily Mail"', 'intitle:"rare earth"'),
        ("source:reuters tariff", "tariff"),
        ("a (b OR /c+/)", "a"),
        ("NOT (a OR b) c", "c"),
        ("NOT NOT a b", "a b"),
        ("“He Lifeng”", '"He Lifeng"'),
        ("稀土 出口", "稀土 出口"),
        # Nothing Google could search for: no search feed.
        ("/tariffs? (on|against) china/", None),
        ("/x+/ -foo", None),
        ("source:reuters", None),
    ],
)
def test_a_query_in_googles_syntax(query: str, search: str | None) -> None:
    assert google_news_query(parse_query(query)) == search


def test_the_search_feed_url_carries_the_query_and_the_recent_window() -> None:
    url = google_news_url(parse_query("a OR b c"))
    assert url == (
        "https://news.google.com/rss/search?q=a+OR+%28b+c%29+when%3A7d&hl=en-US&gl=US&ceid=US:en"
    )
    assert google_news_url(parse_query("/x+/")) is None
    # The address earlier versions built, for moving their feed to this one.
    assert previous_google_news_url("a OR b c") == (
        "https://news.google.com/rss/search?q=a+OR+b+c+when%3A7d&hl=en-US&gl=US&ceid=US:en"
    )


# --- Google's reading of a search, to check "at least what the watch matches" -----------

_TOKEN = re.compile(r'\(|\)|-?(?:intitle:)?"[^"]*"|[^\s()]+')


def google_matches(search: str, title: list[str], body: list[str]) -> bool:
    """Google's boolean reading: OR binds adjacent terms, a space is AND, ``-`` excludes,
    ``intitle:`` looks in the headline only, quotes make a phrase."""
    tokens = _TOKEN.findall(search)
    pos = 0

    def contains(words: list[str], phrase: list[str]) -> bool:
        n = len(phrase)
        return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))

    def term(token: str) -> bool:
        in_title = token.startswith("intitle:")
        text = token.removeprefix("intitle:").strip('"').split()
        return contains(title, text) or (not in_title and contains(body, text))

    def atom() -> bool:
        nonlocal pos
        token = tokens[pos]
        pos += 1
        if token == "(":
            value = conjunction()
            assert tokens[pos] == ")"
            pos += 1
            return value
        if token.startswith("-"):
            return not term(token[1:])
        return term(token)

    def disjunction() -> bool:
        nonlocal pos
        value = atom()
        while pos < len(tokens) and tokens[pos] == "OR":
            pos += 1
            value = atom() or value
        return value

    def conjunction() -> bool:
        value = True
        while pos < len(tokens) and tokens[pos] != ")":
            value = disjunction() and value
        return value

    result = conjunction()
    assert pos == len(tokens)
    return result


def watch_matches(query: str, title: list[str], body: list[str]) -> bool:
    def present(t: Term) -> bool:
        if t.is_regex:
            return bool(re.search(t.text.strip("/"), " ".join(title + body)))
        words = t.text.split()
        n = len(words)

        def inside(seq: list[str]) -> bool:
            return any(seq[i : i + n] == words for i in range(len(seq) - n + 1))

        if t.field == "title":
            return inside(title)
        if t.field == "source":
            return False
        return inside(title) or inside(body)

    return evaluate(parse_query(query), present)


WORDS = ["a", "b", "c", "d"]
QUERIES = [
    "a OR b c",
    "a b OR c",
    "(a OR b) c",
    "a (b OR c) -d",
    "a OR b OR c d",
    "title:a OR b c",
    '"a b" OR c d',
    "a OR (b c) OR d",
    "NOT (a OR b) c",
    "a (b OR /c+/)",
    "(a b) OR (c d)",
    "a -title:b OR c",
]


@pytest.mark.parametrize("query", QUERIES)
def test_the_search_finds_every_article_the_watch_matches(query: str) -> None:
    """Over every small headline and body, whatever the watch matches, Google's reading
    of the search finds too."""
    search = google_news_query(parse_query(query))
    assert search is not None
    rng = random.Random(query)
    documents = [
        (list(title), rng.sample(WORDS, rng.randint(0, 3)))
        for size in range(4)
        for title in itertools.permutations(WORDS, size)
    ]
    matched = [d for d in documents if watch_matches(query, *d)]
    assert matched
    missed = [d for d in matched if not google_matches(search, *d)]
    assert missed == []


def test_the_old_search_missed_what_the_watch_matches() -> None:
    """The search written before (AND and parentheses dropped) read "a OR b c" as
    "(a OR b) AND c": an article with "a" alone, which the watch matches, was never found."""
    old = "a OR b c"
    assert watch_matches(old, ["a"], [])
    assert not google_matches(old, ["a"], [])
    assert google_matches(google_news_query(parse_query(old)) or "", ["a"], [])
