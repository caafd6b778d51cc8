#!/usr/bin/env python3
"""Kill ``wirewatch run`` with SIGKILL many times and check every alert was posted exactly
once per channel (fake Slack and fake Discord on 127.0.0.1, a local feed server).

    .venv/bin/python scripts/crash_test.py --kills 50

Prints expected / delivered / lost / duplicated; exits 1 if anything was lost or posted
twice (or a process did not stop cleanly at the end). The work directory keeps the
database, the config and one log per process life (``--workdir``, default a temp dir).
See tests/fakes/standalone.py for how the kills are placed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.standalone import run_crash_test  # noqa: E402 - needs the repo on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs before the final check")
    parser.add_argument("--seed", type=int, default=1, help="random seed (kill modes, timings)")
    parser.add_argument("--workdir", type=Path, help="keep the database and logs here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="wirewatch-crash-"))
    print(f"work directory: {workdir}", flush=True)
    result = asyncio.run(
        run_crash_test(
            workdir, kills=args.kills, seed=args.seed, log=lambda line: print(line, flush=True)
        )
    )
    print(result.summary())
    print("RESULT: " + ("PASS" if result.ok else "FAIL"))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
