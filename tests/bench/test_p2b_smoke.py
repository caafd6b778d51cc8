"""bench/p2b_pathological.py runs end to end at a tiny size and prints its figures (no
timing thresholds: the figures only have to exist and be positive)."""

from __future__ import annotations

import subprocess
import sys

from tests.bench.test_bench_smoke import BENCH, ROOT, _result


def test_p2b_prints_build_memory_matching_incremental_and_regex_figures() -> None:
    """Both watch sets are measured; incremental builds beat a build from scratch."""
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "p2b_pathological.py"),
            *("--watches", "300", "--words", "20", "--articles", "5", "--changes", "3"),
            *("--regex-chars", "16"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = _result(done.stdout)
    for key in ("build_s", "per_article_ms", "add_ms", "baseline_build_s", "regex_highlight_ms"):
        assert result[key] > 0, key
    assert "baseline: 300 watches" in done.stdout
    assert "pathological: 300 watches, 20.0 terms each" in done.stdout
    assert "pathological regex" in done.stdout
