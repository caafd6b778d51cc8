"""The channel-control decisions, pure: reading times and durations, quiet hours across
midnight and daylight-saving changes, the gate and the flush."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from bot.core.controls import (
    WAIT_FOR_OUTLETS,
    Candidate,
    ChannelControls,
    ControlError,
    Digest,
    Held,
    Hold,
    Waiting,
    WatchControls,
    flushable,
    gate,
    in_quiet,
    next_digest,
    parse_clock,
    parse_digest,
    parse_quiet,
    parse_tz,
    parse_until,
    quiet_ends,
    summary_heading,
    with_volume,
)

MONDAY_10 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("08:00", time(8)), ("8:30", time(8, 30)), ("0730", time(7, 30)), ("7pm", time(19)),
     ("12am", time(0)), ("23:59", time(23, 59))],
)  # fmt: skip
def test_clock_times_read_as_people_write_them(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["24:00", "8:60", "noonish", "13pm", ""])
def test_impossible_times_are_refused(text: str) -> None:
    with pytest.raises(ControlError):
        parse_clock(text)


def test_time_zones_are_iana_names() -> None:
    assert parse_tz("Europe/London") == "Europe/London"
    assert parse_tz(None) == parse_tz("utc") == "UTC"
    with pytest.raises(ControlError, match="IANA"):
        parse_tz("Mars/Olympus")
    with pytest.raises(ControlError):
        parse_tz("../../etc/passwd")


def test_durations_and_until() -> None:
    assert parse_until("2h", MONDAY_10) == MONDAY_10 + timedelta(hours=2)
    assert parse_until("1d 12h", MONDAY_10) == MONDAY_10 + timedelta(days=1, hours=12)
    # Parts may touch, as the help says ("1d12h" once read as not a duration).
    assert parse_until("1d12h", MONDAY_10) == MONDAY_10 + timedelta(days=1, hours=12)
    assert parse_until("2h30m", MONDAY_10) == MONDAY_10 + timedelta(hours=2, minutes=30)
    assert parse_until("90 minutes", MONDAY_10) == MONDAY_10 + timedelta(minutes=90)
    # "until monday" on a Monday is next week's, at its start in the channel's zone.
    assert parse_until("until monday", MONDAY_10) == datetime(2026, 3, 9, tzinfo=UTC)
    assert parse_until("until fri", MONDAY_10) == datetime(2026, 3, 6, tzinfo=UTC)
    assert parse_until("until 08:00", MONDAY_10) == datetime(2026, 3, 3, 8, tzinfo=UTC)
    assert parse_until("until 08:00", MONDAY_10, "America/New_York") == datetime(
        2026, 3, 2, 13, tzinfo=UTC
    )
    # Thousands of typed digits are no duration (int() refuses over 4,300 of them).
    for bad in ("forever", "2 parsecs", "5h and then some", "40d", "3 months", "9" * 5000 + "h"):
        with pytest.raises(ControlError):
            parse_until(bad, MONDAY_10)


def test_a_zone_folder_or_a_huge_duration_is_refused_with_a_reason() -> None:
    """ "Europe" is a folder of tzdata, not a zone; 999999 weeks lies past the calendar's
    end: each is a plain refusal, where both once raised out of the parser."""
    for folder in ("Europe", "America", "US", "Etc"):
        with pytest.raises(ControlError, match="is not a time zone"):
            parse_tz(folder)
    for huge in ("999999w", "999999d 1h"):
        with pytest.raises(ControlError, match="at most 30 days"):
            parse_until(huge, MONDAY_10)


def test_until_a_day_at_a_time() -> None:
    """ "until monday 08:00" is that Monday at 08:00 (it once meant Monday 00:00, eight hours
    early); a weekday is its name or three letters or more of it, nothing else."""
    friday = datetime(2025, 3, 28, 10, 0, tzinfo=UTC)  # BST starts on Sunday 30 March
    london = "Europe/London"
    assert parse_until("until monday 08:00", friday, london) == datetime(
        2025, 3, 31, 7, 0, tzinfo=UTC
    )
    assert parse_until("until mon 9am", friday, london) == datetime(2025, 3, 31, 8, tzinfo=UTC)
    assert parse_until("until thurs", friday) == datetime(2025, 4, 3, tzinfo=UTC)
    assert parse_until("until tomorrow 07:30", friday) == datetime(2025, 3, 29, 7, 30, tzinfo=UTC)
    # Said on a Monday: today's 08:00 when it is still ahead, else next week's.
    assert parse_until("until monday 11:00", MONDAY_10) == MONDAY_10 + timedelta(hours=1)
    assert parse_until("until monday 09:00", MONDAY_10) == datetime(2026, 3, 9, 9, tzinfo=UTC)
    for bad in ("until monkey", "until mo", "until friday noonish", "until midnight 08:00"):
        with pytest.raises(ControlError):
            parse_until(bad, friday)


def test_an_hourly_digest_typed_on_one_line_takes_its_zone_second() -> None:
    """`digest hourly Europe/London` (Slack's one line of text): the second word is the
    zone, as the usage line says (it was read as a time, and refused)."""
    assert parse_digest("hourly", "Europe/London", None) == (
        Digest.HOURLY,
        None,
        "Europe/London",
    )
    with pytest.raises(ControlError, match="only daily digests take a time"):
        parse_digest("hourly", "08:00", None)


def test_quiet_hours_cross_midnight_in_the_channels_zone() -> None:
    start, end = parse_quiet("22:00-07:00")
    quiet = ChannelControls(quiet_start=start, quiet_end=end, quiet_tz="Asia/Shanghai")
    # 22:00 in Shanghai is 14:00 UTC.
    assert not in_quiet(quiet, datetime(2026, 3, 2, 13, 59, tzinfo=UTC))
    assert in_quiet(quiet, datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    assert in_quiet(quiet, datetime(2026, 3, 2, 22, 59, tzinfo=UTC))
    assert not in_quiet(quiet, datetime(2026, 3, 2, 23, 0, tzinfo=UTC))
    assert quiet_ends(quiet, datetime(2026, 3, 2, 15, 0, tzinfo=UTC)) == datetime(
        2026, 3, 2, 23, 0, tzinfo=UTC
    )
    with pytest.raises(ControlError):
        parse_quiet("22:00")


def test_a_daily_digest_keeps_its_wall_time_across_daylight_saving() -> None:
    london = ChannelControls(digest=Digest.DAILY, digest_at=time(8), digest_tz="Europe/London")
    # Clocks go forward on 29 March 2026: 08:00 is 08:00 UTC before, 07:00 UTC after.
    assert next_digest(london, datetime(2026, 3, 28, 9, tzinfo=UTC)) == datetime(
        2026, 3, 29, 7, tzinfo=UTC
    )
    assert next_digest(london, datetime(2026, 3, 27, 9, tzinfo=UTC)) == datetime(
        2026, 3, 28, 8, tzinfo=UTC
    )
    hourly = ChannelControls(digest=Digest.HOURLY)
    assert next_digest(hourly, MONDAY_10 + timedelta(minutes=20)) == MONDAY_10 + timedelta(hours=1)


def _c(alert_id: int, watch: int = 1, outlets: int = 1) -> Candidate:
    return Candidate(alert_id, watch, f"s{alert_id}", outlets, MONDAY_10)


def test_gate_caps_a_watch_per_hour_counting_what_it_already_sent() -> None:
    watches = {1: WatchControls(max_per_hour=2)}
    decision = gate(
        [_c(1), _c(2), _c(3, watch=2)], [], ChannelControls(), watches, {1: 1}, MONDAY_10
    )
    assert decision.hold == {2: Hold.RATE}  # one sent already, #1 makes two, #2 waits


def test_gate_waits_for_outlets_then_releases_or_lets_go() -> None:
    watches = {1: WatchControls(min_outlets=3)}
    decision = gate([_c(1, outlets=2)], [], ChannelControls(), watches, {}, MONDAY_10)
    assert decision.wait == [1] and not decision.hold
    waiting = [
        Waiting(2, 1, 3, MONDAY_10 - timedelta(hours=1)),
        Waiting(3, 1, 1, MONDAY_10 - WAIT_FOR_OUTLETS - timedelta(minutes=1)),
        Waiting(4, 1, 1, MONDAY_10),
    ]
    decision = gate([], waiting, ChannelControls(), watches, {}, MONDAY_10)
    assert decision.release == [2] and decision.drop == [3]


def test_gate_reasons_in_order_of_precedence() -> None:
    snoozed = ChannelControls(snoozed_until=MONDAY_10 + timedelta(hours=1))
    assert gate([_c(1)], [], snoozed, {}, {}, MONDAY_10).hold == {1: Hold.SNOOZE}
    watch_snoozed = {1: WatchControls(snoozed_until=MONDAY_10 + timedelta(hours=1))}
    hourly = ChannelControls(digest=Digest.HOURLY)
    assert gate([_c(1), _c(2, watch=2)], [], hourly, watch_snoozed, {}, MONDAY_10).hold == {
        1: Hold.WATCH_SNOOZE,
        2: Hold.DIGEST,
    }
    assert gate([_c(1)], [], ChannelControls(), {}, {}, MONDAY_10).empty


def test_a_story_that_reached_its_outlets_still_waits_for_the_channels_controls() -> None:
    """Released from waiting for outlets inside quiet hours, during a snooze, in a digest
    channel or over the hourly cap, an alert is held like any alert due then (it once went
    straight out)."""
    watches = {1: WatchControls(min_outlets=2, max_per_hour=1)}
    ready = [Waiting(7, 1, 2, MONDAY_10 - timedelta(minutes=10))]
    quiet = ChannelControls(quiet_start=time(9), quiet_end=time(11))
    assert gate([], ready, quiet, watches, {}, MONDAY_10).hold == {7: Hold.QUIET}
    hourly = ChannelControls(digest=Digest.HOURLY)
    assert gate([], ready, hourly, watches, {}, MONDAY_10).hold == {7: Hold.DIGEST}
    capped = gate([], ready, ChannelControls(), watches, {1: 1}, MONDAY_10)
    assert capped.hold == {7: Hold.RATE} and capped.release == []
    # Let through, it counts against the cap of what comes after it.
    decision = gate([_c(8, outlets=3)], ready, ChannelControls(), watches, {}, MONDAY_10)
    assert decision.release == [7] and decision.hold == {8: Hold.RATE}


def test_a_snoozed_watch_holds_its_alerts_whatever_held_them_first() -> None:
    """Held for quiet hours or the channel's snooze, an alert of a watch snoozed beyond
    them stays held until the watch's snooze ends too."""
    watch_snoozed = {1: WatchControls(snoozed_until=MONDAY_10 + timedelta(hours=2))}
    held = [Held(1, 1, Hold.QUIET, MONDAY_10), Held(2, 1, Hold.SNOOZE, MONDAY_10)]
    assert flushable(held, ChannelControls(), watch_snoozed, MONDAY_10 + timedelta(hours=1)) == []
    assert flushable(held, ChannelControls(), watch_snoozed, MONDAY_10 + timedelta(hours=2)) == [
        1,
        2,
    ]


def test_flush_waits_for_the_end_of_what_held_it() -> None:
    later = MONDAY_10 + timedelta(minutes=30)
    held = [
        Held(1, 1, Hold.RATE, MONDAY_10),
        Held(2, 2, Hold.WATCH_SNOOZE, MONDAY_10),
        Held(3, 1, Hold.QUIET, MONDAY_10),
    ]
    snoozed_watch = {2: WatchControls(snoozed_until=MONDAY_10 + timedelta(hours=2))}
    assert flushable(held, ChannelControls(), snoozed_watch, later) == [3]
    assert flushable(held, ChannelControls(), {}, MONDAY_10 + timedelta(hours=1)) == [1, 2, 3]
    quiet = ChannelControls(quiet_start=time(10), quiet_end=time(11))
    assert flushable(held, quiet, {}, later) == [], "nothing leaves during quiet hours"
    daily = ChannelControls(digest=Digest.DAILY, digest_at=time(8))
    assert flushable(held, daily, {}, later) == []
    assert flushable(held, daily, {}, datetime(2026, 3, 3, 8, tzinfo=UTC)) == [1, 2, 3]
    assert summary_heading({Hold.QUIET}, ChannelControls()) == "While quiet hours were on"
    assert summary_heading({Hold.QUIET, Hold.RATE}, daily) == "Daily digest"


def test_volume_settings_are_bounded_and_zero_removes() -> None:
    capped = with_volume(WatchControls(), 5, 2)
    assert capped == WatchControls(max_per_hour=5, min_outlets=2)
    assert with_volume(capped, 0, None) == WatchControls(min_outlets=2)
    with pytest.raises(ControlError):
        with_volume(capped, 1000, None)
