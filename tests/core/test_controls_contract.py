"""The channel-control calls of the CoreAPI contract, on the real core and the double:
only managers change them, a channel controls only watches that deliver to it, and the
settings read back as set."""

from __future__ import annotations

from datetime import time

import pytest

from bot.core.api import CoreAPI
from bot.core.controls import ControlError, Digest, WatchControls
from bot.core.errors import NotFoundError, PermissionDeniedError
from tests.core.test_core_contract import A_MEMBER, A, B, core  # noqa: F401  (fixture)


async def test_channel_controls_read_back_as_set(core: CoreAPI) -> None:  # noqa: F811
    report = await core.channel_settings(A)
    assert report.controls.default and report.watches == ()
    await core.set_digest(A, "daily", "7:30", "Asia/Shanghai")
    await core.set_quiet(A, "22:00-06:00", "Europe/London")
    report = await core.channel_settings(A)
    assert report.controls.digest is Digest.DAILY and report.controls.digest_at == time(7, 30)
    assert report.controls.digest_tz == "Asia/Shanghai"
    assert (report.controls.quiet_start, report.controls.quiet_end) == (time(22), time(6))
    assert (await core.channel_settings(B)).controls.default, "another channel is untouched"
    off = await core.set_quiet(A, "off")
    assert not off.quiet and off.digest is Digest.DAILY


async def test_only_managers_change_controls(core: CoreAPI) -> None:  # noqa: F811
    with pytest.raises(PermissionDeniedError):
        await core.set_digest(A_MEMBER, "hourly")
    with pytest.raises(PermissionDeniedError):
        await core.snooze(A_MEMBER, "channel", "2h")
    assert (await core.channel_settings(A_MEMBER)).controls.default


async def test_snooze_and_volume_apply_to_this_channels_watches_only(core: CoreAPI) -> None:  # noqa: F811
    await core.subscribe(A)
    watch, until = await core.snooze(A, "lithium", "2h")
    assert watch is not None and watch.query == "lithium" and until is not None
    mine = await core.add_watch(B, "Bessent", name="bessent")
    with pytest.raises(NotFoundError):
        await core.snooze(A, str(mine.id), "2h")
    with pytest.raises(NotFoundError):
        await core.set_volume(A, "bessent", per_hour=3)
    _, volume = await core.set_volume(A, "1", per_hour=3, min_outlets=2)
    assert volume == WatchControls(max_per_hour=3, min_outlets=2)
    report = await core.channel_settings(A)
    by_query = {w.query: v for w, v in report.watches}
    assert by_query['"rare earth"'].max_per_hour == 3
    assert by_query["lithium"].snoozed_until == until
    _, ended = await core.snooze(A, "lithium", "off")
    assert ended is None
    with pytest.raises(ControlError):
        await core.snooze(A, "channel", "a fortnight or so")


async def test_alert_buttons_name_only_this_channels_alerts(core: CoreAPI) -> None:  # noqa: F811
    # No alert was sent anywhere: every reference is refused, whoever asks.
    with pytest.raises(NotFoundError):
        await core.mute_story(A, "1")
    with pytest.raises(NotFoundError):
        await core.not_relevant(B, "#1")
    with pytest.raises(PermissionDeniedError):
        await core.mute_story(A_MEMBER, "1")
    with pytest.raises(NotFoundError):
        await core.not_relevant(A, "not-a-number")


async def test_story_mute_by_words_finds_only_this_channels_stories(core: CoreAPI) -> None:  # noqa: F811
    # No alert was sent anywhere: words name no story, and a member is refused first.
    assert await core.stories_here(A) == []
    assert await core.mute_story_named(A, "rare earth") == ()
    with pytest.raises(PermissionDeniedError):
        await core.mute_story_named(A_MEMBER, "rare earth")
