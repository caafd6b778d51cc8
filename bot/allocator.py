"""Keeping the long-running process's memory down where the C allocator decides it.

Two glibc knobs, both no-ops elsewhere (musl, macOS) or when libc cannot be loaded:

* One malloc arena. glibc gives each thread that allocates its own arena (up to 8 per
  core); the SQLite writer thread and aiosqlite's thread then keep freed blocks in arenas
  the event loop never reuses. Python holds the GIL for nearly all allocations, so the
  lock one arena needs is rarely contended. Must be set before those threads start.
* ``malloc_trim(0)`` after a burst of work (the config sync, a poll cycle): freed pages in
  the middle of the heap go back to the system instead of staying in the RSS until the
  next burst reuses them.
"""

from __future__ import annotations

import ctypes
import functools
import os

# mallopt(3): M_ARENA_MAX.
_M_ARENA_MAX = -8


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    try:
        # The C library this process runs on (not the one the interpreter was built for).
        running = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    if not running.startswith("glibc"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def use_one_malloc_arena() -> bool:
    """Make threads started from now on share the main malloc arena. True if applied."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, 1))


def return_free_memory() -> bool:
    """Give the heap's free pages back to the system. True if glibc released some."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
