"""The benchmark scripts run end to end at a tiny size and print their figures.

No timing thresholds: the figures only have to exist and be positive. P1 and P4 run as
subprocesses side by side (each starts its own feed farm process) to keep this file fast.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _result(output: str) -> dict[str, float]:
    match = re.search(r"^RESULT (.+)$", output, re.MULTILINE)
    assert match, f"no RESULT line in:\n{output}"
    return {k: float(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


def test_p1_and_p4_print_positive_figures_at_a_tiny_size() -> None:
    """P1 prints cycle time, feeds/s, ceiling and ratio; P4 prints peak RSS and a clean exit."""
    p1 = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "p1_poll_cycle.py"),
            "--feeds",
            "40",
            "--watches",
            "20",
            "--changed",
            "0.25",
            "--ports",
            "2",
            "--held-stories",
            "100",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    p4 = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "p4_memory.py"),
            "--feeds",
            "40",
            "--watches",
            "40",
            "--seen",
            "2000",
            "--cycles",
            "1",
            "--ports",
            "2",
            "--timeout",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    out1, _ = p1.communicate(timeout=120)
    out4, _ = p4.communicate(timeout=120)
    assert p1.returncode == 0, out1
    assert p4.returncode == 0, out4

    r1 = _result(out1)
    assert r1["feeds_per_s"] > 0
    assert r1["cycle_s"] > 0
    assert r1["ceiling_feeds_per_s"] > 0
    assert r1["ratio"] > 0
    assert "cores" in out1 and "Python" in out1
    # The story index was filled before the first poll, as in a running bot.
    held = re.search(r"story index: ([\d,]+) headlines held before the first poll", out1)
    assert held and int(held.group(1).replace(",", "")) > 0, out1
    # The measured cycle saw the bumped feeds change and the rest answer 304.
    cycle2 = re.search(
        r"measured pipeline cycle: .*?(\d+) changed, (\d+) not modified, (\d+) failed", out1
    )
    assert cycle2, out1
    assert int(cycle2.group(1)) == 10 and int(cycle2.group(2)) == 30, out1
    assert int(cycle2.group(3)) == 0, out1

    r4 = _result(out4)
    assert r4["peak_rss_mb"] > 0
    assert r4["exit_code"] == 0
