"""Python's cyclic garbage collector, kept to what a poll cycle allocates.

A full (oldest-generation) collection walks every object the process tracks, and
CPython starts one whenever enough objects have outlived the younger collections. A poll
cycle keeps thousands of articles in flight, so it set off full walks of everything the
process holds besides: the imported modules, the watches, the story index. Measured
with 10,000 feeds: 6 full walks in a cycle with 1,000 changed feeds, ~0.4 s of its ~4 s
of CPU (~0.6 s with the younger collections); 69 walks, 4.9 s of 43 s, in the first
poll of all of them.

What lives between cycles is the process's state, and it stays until replaced. So after
start-up and after each cycle, :func:`settle` collects what is new and freezes what
survived (``gc.freeze``): later collections leave it out and walk only what came after.
Every :data:`FULL_EVERY` seconds a settle unfreezes everything first and walks it all,
so what the state let go of meanwhile (a replaced matcher, a pruned story) is collected
then: kept for at most that long, never for good.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

__all__ = ["FULL_EVERY", "settle"]

# A full walk costs ~30 ms in a process holding only the app's modules (~120,000 objects),
# more with a full story index: once in 10 minutes, not after every cycle.
FULL_EVERY = 600.0


@dataclass
class _Collector:
    last_full: float | None = None  # time.monotonic() of the last full settle


# The collector is one per process, and so is what it knows.
_collector = _Collector()


def settle(now: float | None = None) -> bool:
    """Collect what is not frozen (everything, every :data:`FULL_EVERY` seconds), then
    keep the survivors out of later collections. ``now``: ``time.monotonic()`` by
    default. Returns whether this settle walked everything."""
    now = time.monotonic() if now is None else now
    last = _collector.last_full
    full = last is None or now - last >= FULL_EVERY
    if full:
        gc.unfreeze()
        _collector.last_full = now
    gc.collect()
    gc.freeze()
    return full
