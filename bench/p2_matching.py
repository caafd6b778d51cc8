"""P2: matching many watches must cost about the same as matching one.

Builds ``--watches`` watch queries in the full query language (words, phrases, AND/OR/NOT,
``-``, fields, a few RE2 regexes) and ``--articles`` synthetic articles of ~670 characters
(title + summary + publisher) from a Zipf-weighted vocabulary that includes real trade
terms, all from a fixed seed. Then it reports:

* articles/s through :class:`bot.core.matcher.Matcher` (one Aho-Corasick pass over the
  text fields; the median of ``--repeat`` passes over all articles), and how that
  splits: folding the text alone, folding plus the automaton pass (the floor no change to
  the Python around it can go below), the rest;
* articles/s of the naive baseline, one compiled ``re`` regex per watch (``\\b(?:t1|t2)\\b``
  over its positive terms, case-insensitive), measured on ``--baseline-sample`` articles
  and extrapolated: the naive loop is far too slow to run over all of them;
* matches per article and the Matcher/baseline speed ratio;
* the share of each watch shape, the CPU count and the load average before and after;
* how much the process's resident memory grew over ``Matcher.build`` (the matcher's size).

Times are CPU seconds of this process (``time.process_time``), so other work on a shared
machine does not distort them much; it still slows a memory-bound loop like the automaton
pass (shared caches), which is why the load average is printed beside the figures.

The workload is the one the P2 issue was measured on (same seed, same articles, same
watches); nothing was made easier. Its shares: one-term watches 45 %, AND of two words
23 %, OR group AND phrase 10 %, negations 13 %, fielded 7 %, regexes 2 % plus five
regex-only watches; a watch names mid- and low-frequency words or trade terms, never
stopwords.

Usage: ``python bench/p2_matching.py [--watches 10000] [--articles 100000]``
(the defaults are the P2 target size and finish in well under three minutes).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import statistics
import string
import sys
import time
from collections import Counter
from itertools import accumulate
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.core.matcher import MatchDocument, Matcher
from bot.core.query import Query, parse_query
from bot.core.textfold import surface_fold_fields

TRADE_TERMS = [
    "tariff",
    "tariffs",
    "trade",
    "talks",
    "China",
    "U.S.",
    "Beijing",
    "Washington",
    "Bessent",
    "Greer",
    "Lifeng",
    "export",
    "exports",
    "ban",
    "controls",
    "rare",
    "earth",
    "earths",
    "magnet",
    "magnets",
    "chip",
    "chips",
    "semiconductor",
    "semiconductors",
    "Nvidia",
    "soybean",
    "soybeans",
    "steel",
    "aluminium",
    "aluminum",
    "duties",
    "customs",
    "sanctions",
    "Malaysia",
    "Kuala",
    "Lumpur",
    "Geneva",
    "London",
    "truce",
    "deal",
    "summit",
    "minister",
    "treasury",
    "commerce",
    "ministry",
    "yuan",
    "dollar",
    "markets",
    "stocks",
    "shares",
    "investors",
    "inflation",
    "economy",
    "factory",
    "factories",
    "supply",
    "chain",
    "shipping",
    "port",
    "ports",
    "lithium",
    "gallium",
    "germanium",
]
STOPWORDS = [
    "the",
    "a",
    "of",
    "to",
    "in",
    "and",
    "for",
    "on",
    "with",
    "as",
    "at",
    "by",
    "from",
    "that",
    "is",
    "was",
    "will",
    "has",
    "said",
    "its",
]
N_WORDS = 100
PUBLISHERS = [
    f"{name} {kind}"
    for name in (
        "Reuters",
        "Bloomberg",
        "Nikkei",
        "Caixin",
        "Guardian",
        "Times",
        "Post",
        "Herald",
        "Daily",
        "Global",
    )
    for kind in ("News", "Asia", "Wire", "Online", "Business")
]


def make_vocabulary(rng: random.Random, size: int) -> list[str]:
    words = set(TRADE_TERMS)
    while len(words) < size:
        length = rng.choice((4, 5, 6, 7, 8, 9, 10))
        words.add("".join(rng.choice(string.ascii_lowercase) for _ in range(length)))
    vocabulary = sorted(words)
    rng.shuffle(vocabulary)
    return vocabulary


def make_articles(rng: random.Random, vocabulary: list[str], count: int) -> list[MatchDocument]:
    weights = list(accumulate(1.0 / (rank + 10) for rank in range(len(vocabulary))))
    trade = [word for word in TRADE_TERMS]
    articles = []
    for _ in range(count):
        words = rng.choices(vocabulary, cum_weights=weights, k=N_WORDS)
        for i in range(0, N_WORDS, 3):
            words[i] = rng.choice(STOPWORDS)
        if rng.random() < 0.3:  # about a third of the articles are about trade
            for i in rng.sample(range(N_WORDS), rng.randint(1, 4)):
                words[i] = rng.choice(trade)
        if rng.random() < 0.3:
            words[rng.randrange(100)] += "-" + rng.choice(vocabulary)
        if rng.random() < 0.2:
            words[rng.randrange(100)] = "“" + rng.choice(vocabulary) + "’s”"
        title = " ".join(words[:10]).capitalize()
        summary = (
            ". ".join(" ".join(words[i : i + 15]).capitalize() for i in range(10, N_WORDS, 15))
            + "."
        )
        articles.append(
            MatchDocument(title=title, summary=summary, content="", source=rng.choice(PUBLISHERS))
        )
    return articles


def make_queries(rng: random.Random, vocabulary: list[str], count: int) -> list[tuple[str, str]]:
    """(shape, query text) pairs."""
    # Watches name specific things: mid- and low-frequency words, plus the trade terms.
    pool = vocabulary[500:] + TRADE_TERMS * 5

    def word() -> str:
        return rng.choice(pool)

    def phrase() -> str:
        return f'"{word()} {word()}"'

    shapes = [
        (30, "word", lambda: word()),
        (15, "phrase", lambda: phrase()),
        (15, "a AND b", lambda: f"{word()} AND {word()}"),
        (8, "a b", lambda: f"{word()} {word()}"),
        (
            10,
            "(a OR b OR c) AND phrase",
            lambda: f"({word()} OR {word()} OR {word()}) AND {phrase()}",
        ),
        (6, 'a -"b c"', lambda: f'{word()} -"{word()} {word()}"'),
        (5, "a NOT b", lambda: f"{word()} NOT {word()}"),
        (4, "title:a OR summary:phrase", lambda: f"title:{word()} OR summary:{phrase()}"),
        (3, "a source:x", lambda: f"{word()} source:{rng.choice(PUBLISHERS).split()[0].lower()}"),
        (2, "a /regex/", lambda: f"{word()} /{word()[:4]}\\w* (on|in) \\w+/"),
        (2, "(a OR b) -c", lambda: f"({word()} OR {word()}) -{word()}"),
    ]
    cum = list(accumulate(weight for weight, _, _ in shapes))
    queries = []
    for _ in range(count - 5):
        _, name, make = rng.choices(shapes, cum_weights=cum)[0]
        queries.append((name, make()))
    # A handful of regex-only watches: an RE2 pass looks for these in every article.
    queries += [("/regex/ alone", f"/{word()[:5]}\\w*s (to|from) \\w+/") for _ in range(5)]
    return queries


def baseline_regexes(queries: list[Query]) -> list[re.Pattern[str]]:
    regexes = []
    for query in queries:
        alternatives = (
            "|".join(re.escape(term.text) for term in query.positive_terms if not term.is_regex)
            or "(?!)"
        )
        regexes.append(re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE))
    return regexes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument(
        "--vocabulary", type=int, default=50_000, help="distinct words articles are drawn from"
    )
    parser.add_argument("--baseline-sample", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="passes of the whole matcher")
    parser.add_argument("--seed", type=int, default=20_260_723)
    args = parser.parse_args()

    print(
        f"machine: {os.cpu_count()} CPUs, load average {_load()} (other processes share it), "
        f"Python {sys.version.split()[0]}"
    )
    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, args.vocabulary)
    started = time.perf_counter()
    articles = make_articles(rng, vocabulary, args.articles)
    shaped = make_queries(rng, vocabulary, args.watches)
    queries = [parse_query(text) for _, text in shaped]
    mean_chars = sum(len(a.title) + len(a.summary) + len(a.source) for a in articles) / len(
        articles
    )
    print(
        f"setup: {len(queries):,} watches, {len(articles):,} articles of {mean_chars:.0f} chars "
        f"(generated and parsed in {time.perf_counter() - started:.1f} s)"
    )
    shares = Counter(name for name, _ in shaped)
    print(
        "watch shapes: "
        + ", ".join(f"{name} {count / len(shaped):.0%}" for name, count in shares.most_common())
    )

    rss_before = _rss_mb()
    started = time.perf_counter()
    matcher = Matcher.build(enumerate(queries))
    print(
        f"Matcher.build: {time.perf_counter() - started:.2f} s, "
        f"resident memory +{_rss_mb() - rss_before:.1f} MB"
    )

    # CPU time, not wall time: other processes share this machine and the loop is
    # single-threaded, so CPU seconds are what a core would spend.
    started = time.process_time()
    for article in articles:
        surface_fold_fields(article.title, article.summary)
    fold_rate = len(articles) / (time.process_time() - started)

    # The matcher's first stage on its own: folding plus the one automaton pass.
    started = time.process_time()
    for article in articles:
        matcher._article(article)
    floor_rate = len(articles) / (time.process_time() - started)

    # The whole matcher, --repeat times over the same articles: on a shared machine one
    # pass moves by 10-15 % from run to run, so the median of several is the figure.
    rates = []
    for _ in range(args.repeat):
        started = time.process_time()
        total_matches = 0
        for article in articles:
            total_matches += len(matcher.match(article))
        rates.append(len(articles) / (time.process_time() - started))
    matcher_rate = statistics.median(rates)
    print(
        f"Matcher: {matcher_rate:,.0f} articles/s, the median of {len(rates)} passes over "
        f"{len(articles):,} articles ({', '.join(f'{rate:,.0f}' for rate in rates)}); "
        f"{total_matches / len(articles):.2f} matches per article"
    )
    print(
        f"  folding the text alone runs at {fold_rate:,.0f} articles/s, folding plus the "
        f"automaton pass at {floor_rate:,.0f} articles/s; per article: "
        f"fold {1e6 / fold_rate:.1f} µs, automaton {1e6 / floor_rate - 1e6 / fold_rate:.1f} µs, "
        f"candidates and checks {1e6 / matcher_rate - 1e6 / floor_rate:.1f} µs"
    )

    sample = articles[: args.baseline_sample]
    regexes = baseline_regexes(queries)
    started = time.process_time()
    baseline_hits = 0
    for article in sample:
        text = f"{article.title}\n{article.summary}"
        for regex in regexes:
            if regex.search(text) is not None:
                baseline_hits += 1
    elapsed = time.process_time() - started
    baseline_rate = len(sample) / elapsed
    print(
        f"baseline, one compiled re regex per watch (measured on {len(sample)} articles, "
        f"extrapolated): {baseline_rate:,.1f} articles/s"
    )
    print(f"Matcher / baseline: {matcher_rate / baseline_rate:,.0f}x")
    print(f"load average at the end: {_load()}")


def _rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 1e6


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
