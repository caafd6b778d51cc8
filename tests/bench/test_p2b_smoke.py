"""bench/p2b_pathological.py runs end to end at a tiny size and prints its figures (no
timing thresholds: the figures only have to exist and be positive)."""

from __future__ import annotations

from tests.bench.runbench import run_bench
from tests.bench.test_bench_smoke import _result


def test_p2b_prints_build_memory_matching_incremental_and_regex_figures() -> None:
    """Both watch sets are measured; incremental builds beat a build from scratch."""
    out = run_bench(
        "p2b_pathological.py",
        *("--watches", "300", "--words", "20", "--articles", "5", "--changes", "3"),
        *("--regex-chars", "16"),
    )
    result = _result(out)
    for key in ("build_s", "per_article_ms", "add_ms", "baseline_build_s", "regex_highlight_ms"):
        assert result[key] > 0, key
    assert "baseline: 300 watches" in out
    assert "pathological: 300 watches, 20.0 terms each" in out
    assert "pathological regex" in out
