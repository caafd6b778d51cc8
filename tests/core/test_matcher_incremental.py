"""Incremental matcher builds: a matcher built from the previous one (``reuse=``) answers
exactly as one compiled from scratch, while recompiling only the watches that changed."""

from __future__ import annotations

import random

from bot.core.matcher import MatchDocument, Matcher
from bot.core.query import Query, parse_query

WORDS = ["tariff", "china", "rare earth", "chip", "export ban", "yuan", "steel", "talks"]
SHAPES = [
    "{a}",
    '"{a}"',
    "{a} AND {b}",
    "{a} OR {b}",
    "{a} -{b}",
    "title:{a} OR summary:{b}",
    "{a} source:reuters",
    "/{c}s? (on|in) \\w+/",
    "{a} /{c}\\w*/",
    "NOT NOT {a}",
    "({a} OR {b}) -source:xinhua",
]
DOCS = [
    MatchDocument("China tariffs on steel", "Talks on rare-earth exports", "", "Reuters"),
    MatchDocument("Chips export ban widens", "Yuan falls; tariff talks stall", "", "Xinhua"),
    MatchDocument("Steel in focus", "nothing on china here", "chip tariffs in detail", "AP"),
    MatchDocument("Unrelated news", "weather", "", "Reuters"),
    MatchDocument("新 rare earths", "export bans on chips", "", "Nikkei"),
]


def random_query(rng: random.Random, fresh: int) -> Query:
    """A watch query in one of the shapes; ``fresh`` adds a never-seen word (a new term)."""
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    if fresh:
        b = f"novel{fresh}"
    c = rng.choice(["tariff", "chip", "export", "talk"])
    return parse_query(rng.choice(SHAPES).format(a=a, b=b, c=c))


def answers(matcher: Matcher) -> list[list[tuple[int, tuple[str, ...]]]]:
    return [[(m.watch_id, m.matched) for m in matcher.match(doc)] for doc in DOCS]


def test_a_matcher_built_step_by_step_answers_like_one_built_from_scratch() -> None:
    """200 random steps of adding, changing and removing watches (with new terms and
    regexes): after each, the reused build and a fresh build give the same matches."""
    rng = random.Random(7)
    watches: dict[int, Query] = {}
    matcher = Matcher.build([])
    next_id = 1
    for step in range(200):
        action = rng.random()
        if action < 0.5 or not watches:
            watches[next_id] = random_query(rng, fresh=step if rng.random() < 0.3 else 0)
            next_id += 1
        elif action < 0.75:
            watches[rng.choice(list(watches))] = random_query(rng, fresh=0)
        else:
            del watches[rng.choice(list(watches))]
        matcher = Matcher.build(watches.items(), reuse=matcher)
        assert answers(matcher) == answers(Matcher.build(watches.items())), step
        assert len(matcher) == len(watches)


def test_unchanged_watches_are_not_recompiled() -> None:
    """The same watches give back the same matcher; one more watch keeps the others'
    compiled forms and the big automaton, and puts its new term in a small second one."""
    queries = {i: parse_query(f"term{i} OR common") for i in range(1, 301)}
    first = Matcher.build(queries.items())
    assert Matcher.build(queries.items(), reuse=first) is first

    queries[301] = parse_query("brandnew AND common")
    second = Matcher.build(queries.items(), reuse=first)
    assert second._automaton is first._automaton
    assert second._delta is not None
    assert all(second._entries[i] is first._entries[i] for i in range(1, 301))
    doc = MatchDocument("A brandnew and common story")
    assert [m.watch_id for m in second.match(doc)] == list(range(1, 302))
    assert [m.matched for m in second.match(doc)][-1] == ("brandnew", "common")


def test_the_second_automaton_is_folded_in_once_it_grows() -> None:
    """Past a share of new terms, one automaton of all terms is built again."""
    queries = {i: parse_query(f"base{i}") for i in range(100)}
    matcher = Matcher.build(queries.items())
    for i in range(100, 3000, 100):
        queries.update({j: parse_query(f"added{j}") for j in range(i, i + 100)})
        matcher = Matcher.build(queries.items(), reuse=matcher)
    assert matcher._delta is None or matcher._delta_end - matcher._base_end <= 1024
    assert [m.watch_id for m in matcher.match(MatchDocument("added2999 and base5"))] == [5, 2999]


def test_dead_terms_are_dropped_by_a_fresh_build_after_enough_churn() -> None:
    """Watches replaced over and over leave dead terms behind only until the compiler has
    doubled: then a build starts from a fresh one, and the answers stay right."""
    matcher = Matcher.build([(1, parse_query("keep"))])
    compilers = {id(matcher._compiler)}
    for i in range(600):
        matcher = Matcher.build(
            [(1, parse_query("keep")), (2, parse_query(f"gone{i}"))], reuse=matcher
        )
        compilers.add(id(matcher._compiler))
    assert len(compilers) > 1
    assert matcher._compiler.term_count < 600
    assert [m.watch_id for m in matcher.match(MatchDocument("keep gone599 gone5"))] == [1, 2]
