"""bench/p6_stories.py runs end to end at a tiny window and prints its figures.

No thresholds on speed: the figures only have to exist; the quality floor is asserted by
tests/core/test_stories.py on the same labelled data.
"""

from __future__ import annotations

import re

from tests.bench.runbench import run_bench


def test_p6_prints_quality_for_both_rules_and_positive_throughput() -> None:
    """Gold, held-out and silver figures for the new and the old rule, then articles/s."""
    out = run_bench("p6_stories.py", "--window", "400", "--articles", "200", "--held", "300")
    for name in (
        "gold (development)",
        "dev2 (development, rewrites and decoys)",
        "dev3 (development, event frames, roles and reactions)",
        "dev4 (development, verbs, background clauses, reactions)",
        "gold (held out)",
        "cjk (Chinese and Japanese)",
        "silver (our Google-News-like",
    ):
        assert name in out, out
    assert len(re.findall(r"^  new : P=", out, re.M)) >= 5, out
    assert len(re.findall(r"^  old : P=", out, re.M)) >= 5, out
    # Each set is also clustered among other news: the farm's headlines always, the real
    # ones of ../shared/feeds only when present (else a line says it was skipped).
    assert len(re.findall(r"^  new, 300 farm headlines held: P=", out, re.M)) >= 5, out
    assert re.search(r"^  new, [\d,]+ real headlines held: P=", out, re.M) or (
        "real headlines held: skipped, ../shared/feeds absent" in out
    ), out
    result = re.search(r"^RESULT (.+)$", out, re.M)
    assert result, out
    figures = {k: float(v) for k, v in (pair.split("=") for pair in result.group(1).split())}
    assert figures["articles_per_s"] > 0
    assert figures["baseline_articles_per_s"] > 0
    assert 0 < figures["gold_p"] <= 1
    assert 0 < figures["dev2_r"] <= 1
    assert 0 < figures["dev3_p"] <= 1
    assert 0 < figures["dev4_r"] <= 1
    assert 0 < figures["cjk_r"] <= 1


def test_p6_dev_never_runs_the_held_out_set_and_lists_development_misses() -> None:
    """--dev --misses: development and silver figures with their wrong pairs, no held-out."""
    out = run_bench("p6_stories.py", "--dev", "--misses", "--no-speed", "--held", "300")
    assert "held out" not in out
    assert "holdout" not in out
    assert "dev2 (development, rewrites and decoys)" in out
    assert "dev4 (development, verbs, background clauses, reactions)" in out
    assert re.search(r"^  [-+] [gdef]\d{3} ", out, re.M), out
