"""Worker processes that start lean: without running the program's main script again.

The parsing workers start with "spawn": a fresh interpreter that first re-runs the
parent's main module (so that functions defined there can be unpickled). Run as the
``wirewatch`` console script, that module is the script file, whose one import is the
whole command line: the app, SQLAlchemy, aiohttp, the chat clients. Each worker then
spent ~0.6 s of CPU and ~50 MB on modules it never uses (81 MB against 29 MB measured
here), on every pool start (the pool stops after 10 idle minutes).

``python -m bot`` does not have the problem: multiprocessing skips a main module named
``<package>.__main__``. The console script is exactly that program, so it says so.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["lean_worker_start"]


def lean_worker_start() -> bool:
    """Let processes spawned from now on skip re-running ``__main__``. True if applied
    (False when the main module is already a package's ``__main__``, or there is none).

    Call it only from a main module that defines nothing a worker needs, as the console
    script and the benchmarks."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return False
    main.__spec__ = importlib.util.find_spec("bot.__main__")
    return main.__spec__ is not None
