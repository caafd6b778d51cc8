"""P2b: a pathological watch set against the matcher, beside the P2 set in the same run.

The pathological set is what a hostile or careless user can type without any quota:
``--watches`` watches (default 10,000), each an OR of ``--words`` (default 150) distinct
words drawn from the ``--top`` (default 2,000) most frequent words of the article
vocabulary, so nearly every article matches nearly every watch. The baseline is P2's
realistic 10,000-watch set (bench/p2_matching.py, same seed and articles).

For each set, in a fresh process of its own (so one set's memory does not hide in the
other's figures), it prints:

* parsing all queries, and ``Matcher.build`` from scratch: wall seconds and the growth of
  the process's resident memory over the build;
* matching: mean milliseconds per article over ``--articles`` articles, matches per article;
* incremental builds (``Matcher.build(..., reuse=previous)``): adding one watch with new
  words, changing one, removing one (median of ``--changes`` each), and adding
  ``--changes`` watches one at a time, against the from-scratch build each used to cost.

Then the pathological/baseline ratios, and the pathological regex of issue 9:
``/china|(\\w+\\s?)+zzz/`` highlighted in a 45-character sentence by the core highlighter
(RE2), against Python's backtracking ``re`` (what the Discord renderer used to run) on
ever longer prefixes of the same sentence, extrapolated to the whole sentence.

Times are wall seconds on a machine other work may share (the load average is printed);
ratios measured in one run are what to quote.

Usage: ``python bench/p2b_pathological.py [--watches 10000] [--words 150] [--articles 200]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psutil
from p2_matching import make_articles, make_queries, make_vocabulary

from bot.core.highlight import highlight_spans
from bot.core.matcher import Matcher
from bot.core.query import Query, parse_query


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / 1e6


def measure(args: argparse.Namespace) -> dict[str, float]:
    """All figures for one watch set (run in its own process)."""
    rng = random.Random(args.seed)
    vocabulary = make_vocabulary(rng, args.vocabulary)
    articles = make_articles(rng, vocabulary, args.articles)
    if args.set == "baseline":
        texts = [text for _, text in make_queries(rng, vocabulary, args.watches)]
    else:
        top = vocabulary[: args.top]
        texts = [" OR ".join(rng.sample(top, args.words)) for _ in range(args.watches)]

    started = time.perf_counter()
    queries = {watch_id: parse_query(text) for watch_id, text in enumerate(texts, 1)}
    parse_s = time.perf_counter() - started

    before = rss_mb()
    started = time.perf_counter()
    matcher = Matcher.build(queries.items())
    build_s = time.perf_counter() - started
    build_mb = rss_mb() - before

    started = time.perf_counter()
    matches = sum(len(matcher.match(article)) for article in articles)
    per_article_ms = (time.perf_counter() - started) * 1000 / len(articles)

    def new_query(i: int) -> Query:
        # Words no article holds yet: each one is a new term for the automaton.
        words = [f"zq{i}x{j}" for j in range(min(args.words, 150))]
        return parse_query(" OR ".join(words) if args.set != "baseline" else words[0])

    def timed_build(watches: dict[int, Query], previous: Matcher) -> tuple[float, Matcher]:
        started = time.perf_counter()
        built = Matcher.build(watches.items(), reuse=previous)
        return time.perf_counter() - started, built

    add, change, remove = [], [], []
    current = matcher
    next_id = len(queries) + 1
    for i in range(args.changes):
        queries[next_id] = new_query(i)
        elapsed, current = timed_build(queries, current)
        add.append(elapsed)
        next_id += 1
    sequence_s = sum(add)
    for i in range(args.changes):
        queries[1 + i] = new_query(args.changes + i)
        elapsed, current = timed_build(queries, current)
        change.append(elapsed)
    for i in range(args.changes):
        del queries[next_id - 1 - i]
        elapsed, current = timed_build(queries, current)
        remove.append(elapsed)
    return {
        "watches": len(texts),
        "terms": sum(len(q.terms) for q in queries.values()) / len(queries),
        "parse_s": parse_s,
        "build_s": build_s,
        "build_mb": build_mb,
        "per_article_ms": per_article_ms,
        "matches_per_article": matches / len(articles),
        "add_ms": statistics.median(add) * 1000,
        "change_ms": statistics.median(change) * 1000,
        "remove_ms": statistics.median(remove) * 1000,
        "sequence_s": sequence_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=150, help="OR'ed words per watch")
    parser.add_argument("--top", type=int, default=2_000, help="most frequent words drawn from")
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--changes", type=int, default=20, help="incremental builds measured")
    parser.add_argument("--vocabulary", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20_260_723)
    parser.add_argument(
        "--regex-chars", type=int, default=28, help="longest text given to Python's re"
    )
    parser.add_argument("--set", choices=("baseline", "pathological"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.set:
        print(json.dumps(measure(args)))
        return

    print(
        f"machine: {os.cpu_count()} CPUs, load average {_load()} (other processes share it), "
        f"Python {sys.version.split()[0]}"
    )
    figures = {}
    for name in ("baseline", "pathological"):
        argv = [sys.executable, __file__, "--set", name]
        for option in ("watches", "words", "top", "articles", "changes", "vocabulary", "seed"):
            argv += [f"--{option}", str(getattr(args, option))]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        figures[name] = json.loads(out.splitlines()[-1])
        _report(name, figures[name], args.changes)
    base, bad = figures["baseline"], figures["pathological"]
    print(
        "pathological / baseline: "
        f"build x{bad['build_s'] / base['build_s']:.1f}, "
        f"memory x{bad['build_mb'] / max(base['build_mb'], 1.0):.1f}, "
        f"per article x{bad['per_article_ms'] / base['per_article_ms']:.0f}, "
        f"adding one watch x{bad['add_ms'] / base['add_ms']:.1f}"
    )
    regex_ms, backtracking = pathological_regex(args.regex_chars)
    growth = (backtracking[-1][1] / backtracking[-2][1]) ** (1 / 4)
    print(
        f"pathological regex {CATASTROPHIC}: core highlighter (RE2) on the 45-character "
        f"sentence {regex_ms:.3f} ms; Python re on its first "
        + ", ".join(f"{n} chars {ms:,.0f} ms" for n, ms in backtracking)
        + f" (x{backtracking[-1][1] / regex_ms:,.0f} at {backtracking[-1][0]} chars, "
        f"x{growth:.1f} with each further character: 45 characters would take "
        f"~{backtracking[-1][1] * growth ** (45 - backtracking[-1][0]) / 1000:,.0f} s)"
    )
    print(f"load average at the end: {_load()}")
    print(
        "RESULT "
        + " ".join(
            f"{key}={value:.4f}"
            for key, value in (
                ("build_s", bad["build_s"]),
                ("build_mb", bad["build_mb"]),
                ("per_article_ms", bad["per_article_ms"]),
                ("add_ms", bad["add_ms"]),
                ("full_over_add", bad["build_s"] * 1000 / bad["add_ms"]),
                ("baseline_build_s", base["build_s"]),
                ("regex_highlight_ms", regex_ms),
            )
        )
    )


CATASTROPHIC = "/china|(\\w+\\s?)+zzz/"
SENTENCE = "China aaaaa bbbbb ccccc ddddd eeeee fffff ggg"  # 45 characters


def pathological_regex(max_chars: int) -> tuple[float, list[tuple[int, float]]]:
    """(ms for the core highlighter on SENTENCE, [(prefix length, ms for Python re)])."""
    started = time.perf_counter()
    spans = highlight_spans(SENTENCE, [CATASTROPHIC])
    regex_ms = (time.perf_counter() - started) * 1000
    assert spans == [(0, 5)], spans
    pattern = re.compile(CATASTROPHIC.strip("/"), re.IGNORECASE)
    backtracking = []
    for chars in range(max_chars - 8, max_chars + 1, 4):
        text = SENTENCE[6 : 6 + chars]  # the part without "China": no early match
        started = time.perf_counter()
        assert pattern.search(text) is None
        backtracking.append((chars, (time.perf_counter() - started) * 1000))
    return regex_ms, backtracking


def _report(name: str, f: dict[str, float], changes: int) -> None:
    print(
        f"{name}: {f['watches']:,.0f} watches, {f['terms']:.1f} terms each; "
        f"parse {f['parse_s']:.2f} s; build from scratch {f['build_s']:.2f} s, "
        f"+{f['build_mb']:.0f} MB resident"
    )
    print(
        f"  matching: {f['per_article_ms']:.3f} ms per article, "
        f"{f['matches_per_article']:,.1f} matches per article"
    )
    print(
        f"  incremental build (median of {changes}): add one watch {f['add_ms']:.1f} ms, "
        f"change one {f['change_ms']:.1f} ms, remove one {f['remove_ms']:.1f} ms "
        f"(from scratch: {f['build_s'] * 1000:.0f} ms, x{f['build_s'] * 1000 / f['add_ms']:.0f}); "
        f"{changes} watches added one at a time: {f['sequence_s']:.2f} s "
        f"(rebuilding from scratch each time: ~{f['build_s'] * changes:.1f} s)"
    )


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
