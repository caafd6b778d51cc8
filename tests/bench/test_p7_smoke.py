"""bench/p7_latest.py runs end to end on a small store and prints both figures.

No thresholds on speed: the figures only have to exist. The bench itself checks that the
bounded read returns what the whole-window sort does; tests/store/test_store_contract.py
checks it on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

from tests.bench.runbench import run_bench


def test_p7_prints_the_bounded_read_against_the_whole_window_sort() -> None:
    out = run_bench("p7_latest.py", "--articles", "3000", "--backlog", "100", "--repeat", "1")
    lines = re.findall(r"bounded ([\d.,]+) ms, whole-window sort ([\d.,]+) ms \(x[\d.]+\)", out)
    assert len(lines) == 4, out
    assert all(float(a.replace(",", "")) > 0 for pair in lines for a in pair)
