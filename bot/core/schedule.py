"""When to poll a feed next: pure decisions over numbers and times, no clock reads, no I/O.

Policy, in one place:

* **Never faster than asked.** The configured interval is the floor (itself at least
  ``MIN_INTERVAL``). Publisher hints (RSS ``<ttl>``, ``sy:updatePeriod``, HTTP
  ``Cache-Control: max-age``) may only slow polling down.
* **Hints are capped.** WordPress says "hourly" on every feed by default and CDNs put
  day-long max-ages on feeds that change every minute; a news-alert bot that believed them
  would be late. A hint can stretch the interval to at most ``HINT_FACTOR`` times the
  configured one and never past ``HINT_CAP`` (unless the configured interval is longer).
* **Slots, not timers.** Each feed polls at a fixed phase inside its interval, derived from
  a hash of its URL, so ten thousand feeds on a 5-minute interval arrive evenly (about 33 a
  second) instead of in a burst after every restart.
* **Failing feeds back off** exponentially (``interval * 2**(n-1)``) up to ``MAX_BACKOFF``,
  and a server's ``Retry-After`` is honoured when it asks for longer, within the same cap.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

MIN_INTERVAL = 60
DEFAULT_INTERVAL = 300
MAX_INTERVAL = 6 * 3600

HINT_FACTOR = 4  # a publisher hint may stretch the configured interval at most this much
HINT_CAP = 3600  # ...and never beyond an hour
MAX_BACKOFF = 6 * 3600  # failing feeds are still tried at least this often
# After a poll, the next one is at least this fraction of the interval away, so a poll that
# ran late (just before its next slot) does not run again moments later.
MIN_GAP_FRACTION = 0.1

FAILING_AFTER = 3  # consecutive failures before a feed is marked failing


def clamp_interval(seconds: int) -> int:
    """``seconds`` held inside [MIN_INTERVAL, MAX_INTERVAL]."""
    return max(MIN_INTERVAL, min(MAX_INTERVAL, int(seconds)))


def effective_interval(configured: int, *, ttl_seconds: int | None, max_age: int | None) -> int:
    """The interval to poll at, given the configured one and the publisher's hints.

    Never below ``configured`` (clamped to the global bounds). The larger hint can slow
    polling down to ``min(HINT_FACTOR * configured, HINT_CAP)``; hints shorter than the
    configured interval, zero or missing change nothing.
    """
    base = clamp_interval(configured)
    hints = [h for h in (ttl_seconds, max_age) if h is not None and h > 0]
    if not hints:
        return base
    ceiling = min(HINT_FACTOR * base, HINT_CAP)
    return max(base, min(max(hints), ceiling))


def slot_offset(url: str, interval: int) -> float:
    """The feed's fixed phase inside ``interval``, in seconds, in [0, interval).

    Derived from SHA-1 of the URL rather than ``hash()``, which is salted per process and
    would reshuffle every feed on each restart.
    """
    digest = hashlib.sha1(url.encode("utf-8")).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2**64
    return fraction * max(1, interval)


def backoff_delay(interval: int, consecutive_failures: int) -> float:
    """Seconds to wait after the n-th consecutive failure: ``interval * 2**(n-1)``, capped."""
    if consecutive_failures <= 0:
        return float(interval)
    # Cap the exponent before computing so a feed failing for months cannot overflow.
    exponent = min(consecutive_failures - 1, 32)
    return float(min(interval * 2**exponent, max(MAX_BACKOFF, interval)))


def next_poll_at(
    *,
    now: datetime,
    url: str,
    interval: int,
    consecutive_failures: int,
    retry_after: float | None = None,
) -> datetime:
    """When to poll ``url`` next, given that a poll just finished at ``now``.

    Healthy feeds go to their next slot (see ``slot_offset``) at least
    ``MIN_GAP_FRACTION * interval`` away. After failures the wait is ``backoff_delay`` or
    the server's ``retry_after`` if longer, capped at ``MAX_BACKOFF``, then rounded up to
    the feed's slot (so feeds that failed together during an outage do not all come back
    in the same second), never past the cap.
    """
    interval = max(1, int(interval))
    now_ts = now.timestamp()
    cap = float(max(MAX_BACKOFF, interval))
    if consecutive_failures <= 0 and not retry_after:
        earliest = now_ts + interval * MIN_GAP_FRACTION
        latest = math.inf
    else:
        delay = max(backoff_delay(interval, consecutive_failures), retry_after or 0.0)
        earliest = now_ts + min(delay, cap)
        latest = now_ts + cap
    offset = slot_offset(url, interval)
    # Slots sit at k * interval + offset on the Unix time line; take the first >= earliest.
    k = math.ceil((earliest - offset) / interval)
    slot = k * interval + offset
    chosen = min(slot, latest)
    return now + timedelta(seconds=chosen - now_ts)


def is_failing(consecutive_failures: int) -> bool:
    """True once a feed has failed ``FAILING_AFTER`` times in a row (status shows it failing)."""
    return consecutive_failures >= FAILING_AFTER
