from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.schedule import (
    DEFAULT_INTERVAL,
    FAILING_AFTER,
    HINT_CAP,
    MAX_BACKOFF,
    MAX_INTERVAL,
    MIN_GAP_FRACTION,
    MIN_INTERVAL,
    backoff_delay,
    effective_interval,
    is_failing,
    next_poll_at,
    slot_offset,
)

NOW = datetime(2025, 3, 1, 12, 0, 7, tzinfo=UTC)
URL = "https://example.test/feed.xml"


def _seconds_after(now: datetime, later: datetime) -> float:
    return (later - now).total_seconds()


# --- effective_interval ------------------------------------------------------------------


def test_interval_without_hints_is_the_configured_one() -> None:
    """No publisher hints: the configured interval is used as is."""
    assert effective_interval(300, ttl_seconds=None, max_age=None) == 300


def test_configured_interval_is_clamped_to_global_bounds() -> None:
    """Nobody can poll faster than MIN_INTERVAL or slower than MAX_INTERVAL."""
    assert effective_interval(5, ttl_seconds=None, max_age=None) == MIN_INTERVAL
    assert effective_interval(10 * 86400, ttl_seconds=None, max_age=None) == MAX_INTERVAL


def test_hints_shorter_than_configured_never_speed_polling_up() -> None:
    """A publisher asking for 60 s cannot make a 300 s feed poll faster."""
    assert effective_interval(300, ttl_seconds=60, max_age=30) == 300


def test_zero_hints_are_ignored() -> None:
    """max-age=0 (common on dynamic feeds) is no hint at all."""
    assert effective_interval(300, ttl_seconds=0, max_age=0) == 300


def test_longer_hint_slows_polling_down() -> None:
    """A 15-minute <ttl> on a 5-minute feed stretches it to 15 minutes."""
    assert effective_interval(300, ttl_seconds=900, max_age=None) == 900


def test_the_larger_of_ttl_and_max_age_wins() -> None:
    """Both hints given: the slower one counts."""
    assert effective_interval(300, ttl_seconds=600, max_age=800) == 800
    assert effective_interval(300, ttl_seconds=800, max_age=600) == 800


def test_hint_stretch_is_capped_at_four_times_configured() -> None:
    """WordPress' default 'hourly' cannot make a 5-minute feed hourly: 4x at most."""
    assert effective_interval(300, ttl_seconds=3600, max_age=None) == 1200


def test_hint_stretch_is_capped_at_one_hour() -> None:
    """A day-long CDN max-age on a 30-minute feed stops at HINT_CAP."""
    assert effective_interval(1800, ttl_seconds=None, max_age=86400) == HINT_CAP


def test_configured_interval_above_hint_cap_is_kept() -> None:
    """The cap limits hints, not what the operator configured."""
    assert effective_interval(7200, ttl_seconds=86400, max_age=None) == 7200


# --- slot_offset ------------------------------------------------------------------------


def test_slot_offset_is_deterministic_and_inside_interval() -> None:
    """Same URL, same phase (across processes: no salted hash()); always in [0, interval)."""
    first = slot_offset(URL, DEFAULT_INTERVAL)
    assert first == slot_offset(URL, DEFAULT_INTERVAL)
    assert 0 <= first < DEFAULT_INTERVAL
    assert slot_offset("https://other.test/rss", DEFAULT_INTERVAL) != first


def test_slot_offsets_of_many_feeds_spread_roughly_uniformly() -> None:
    """10,000 URLs over a 300 s interval fill 10 buckets within ±10 % of 1,000 each."""
    buckets = [0] * 10
    for i in range(10_000):
        offset = slot_offset(f"https://news{i % 97}.test/feeds/{i}.rss", 300)
        assert 0 <= offset < 300
        buckets[int(offset // 30)] += 1
    assert all(900 <= b <= 1100 for b in buckets), buckets


# --- next_poll_at: healthy feeds ----------------------------------------------------------


def test_healthy_feed_polls_at_its_slot() -> None:
    """The next poll lands on the feed's phase of the interval grid."""
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=0)
    assert at.timestamp() % 300 == pytest.approx(slot_offset(URL, 300), abs=1e-3)
    assert 300 * MIN_GAP_FRACTION <= _seconds_after(NOW, at) <= 300 * (1 + MIN_GAP_FRACTION)


def test_polling_from_slot_to_slot_keeps_exact_interval() -> None:
    """Polls that run on time are exactly one interval apart."""
    first = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=0)
    second = next_poll_at(now=first, url=URL, interval=300, consecutive_failures=0)
    on_time = second + timedelta(seconds=3)
    third = next_poll_at(now=on_time, url=URL, interval=300, consecutive_failures=0)
    assert _seconds_after(first, second) == pytest.approx(300, abs=1e-3)
    assert _seconds_after(second, third) == pytest.approx(300, abs=1e-3)


def test_late_poll_does_not_run_again_moments_later() -> None:
    """A poll finishing just before its next slot skips that slot rather than re-polling."""
    slot = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=0)
    late = slot - timedelta(seconds=1)
    at = next_poll_at(now=late, url=URL, interval=300, consecutive_failures=0)
    assert _seconds_after(late, at) >= 300 * MIN_GAP_FRACTION


def test_next_poll_keeps_the_callers_timezone() -> None:
    """Aware datetimes in, the same zone out (the store compares them)."""
    tz = timezone(timedelta(hours=2))
    at = next_poll_at(now=NOW.astimezone(tz), url=URL, interval=300, consecutive_failures=0)
    assert at.tzinfo == tz


# --- next_poll_at: failures ---------------------------------------------------------------


@pytest.mark.parametrize("failures", [1, 2, 3, 4, 5])
def test_failures_back_off_exponentially(failures: int) -> None:
    """After n failures the wait is interval * 2**(n-1), rounded up to the feed's slot."""
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=failures)
    wait = _seconds_after(NOW, at)
    expected = 300 * 2 ** (failures - 1)
    assert expected <= wait < expected + 300


def test_backoff_is_capped() -> None:
    """A feed failing for weeks is still tried every MAX_BACKOFF (6 h), no overflow."""
    assert backoff_delay(300, 10_000) == MAX_BACKOFF
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=50)
    assert _seconds_after(NOW, at) == pytest.approx(MAX_BACKOFF, abs=1e-3)


def test_retry_after_longer_than_backoff_is_honoured() -> None:
    """429 with Retry-After: 3600 on the first failure waits the full hour."""
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=1, retry_after=3600)
    assert 3600 <= _seconds_after(NOW, at) < 3900


def test_retry_after_shorter_than_backoff_does_not_shorten_it() -> None:
    """Backoff already waits longer than the server asked: keep the backoff."""
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=4, retry_after=10)
    assert _seconds_after(NOW, at) >= 2400


def test_retry_after_is_capped() -> None:
    """A server asking for a week gets MAX_BACKOFF at most."""
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=1, retry_after=7 * 86400)
    assert _seconds_after(NOW, at) == pytest.approx(MAX_BACKOFF, abs=1e-3)


def test_retry_after_without_failure_count_is_still_honoured() -> None:
    """Retry-After counts even if the caller did not count the response as a failure."""
    at = next_poll_at(now=NOW, url=URL, interval=300, consecutive_failures=0, retry_after=1000)
    assert 1000 <= _seconds_after(NOW, at) < 1300


def test_feeds_failing_together_come_back_spread_out() -> None:
    """After a shared outage, retries follow each feed's slot, not one common instant."""
    times = {
        next_poll_at(now=NOW, url=f"https://f{i}.test/", interval=300, consecutive_failures=2)
        for i in range(200)
    }
    assert len(times) == 200


# --- is_failing ---------------------------------------------------------------------------


def test_feed_is_failing_after_three_consecutive_failures() -> None:
    """Two failures are a blip; the third marks the feed failing."""
    assert FAILING_AFTER == 3
    assert not is_failing(0)
    assert not is_failing(2)
    assert is_failing(3)
    assert is_failing(30)
