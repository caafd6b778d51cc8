"""Exactly-once in effect across crashes: the real ``wirewatch run`` killed with SIGKILL
(tests/fakes/standalone.py), and the crash windows replayed step by step in-process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.delivery.conftest import DISCORD, SLACK, Rig
from tests.fakes.standalone import run_crash_test


@pytest.mark.slow
async def test_sigkill_at_random_moments_loses_nothing_and_posts_nothing_twice(
    tmp_path: Path,
) -> None:
    """The real process, killed 8 times (while a post is unanswered, mid-fetch, right after
    a fetch, at a random moment) and restarted, posts every published item exactly once
    in the Slack channel and in the Discord channel, and the outbox ends empty."""
    lines: list[str] = []
    result = await run_crash_test(tmp_path, kills=8, seed=5, log=lines.append)
    print("\n".join(lines) + "\n" + result.summary())
    assert result.kills == 8
    assert result.expected > 100
    assert (result.lost, result.duplicated, result.unexpected) == (0, 0, 0), result.summary()
    assert result.delivered == result.expected
    assert result.problems == []
    assert set(result.outbox) == {"sent"}


# --- the crash windows, replayed in-process ---------------------------------------------


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_crash_after_the_platform_accepted_resends_nothing(
    rig: Rig, destination: str
) -> None:
    """Killed after the platform took the post but before it was recorded: after the
    restart the resend finds the earlier message (Slack metadata, Discord nonce) and the
    channel still has it once."""
    urls = rig.publish(1)
    await rig.poll()
    await rig.crash_mid_send(destination)
    await rig.restart()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_crash_before_the_post_left_sends_it_after_restart(
    rig: Rig, destination: str
) -> None:
    """Killed after the attempt was marked but before the post left: the restart checks,
    finds nothing, and posts it once."""
    urls = rig.publish(2)
    await rig.poll()
    await rig.crash_mid_send(destination, reached_platform=False)
    await rig.restart()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_crash_resend_while_more_alerts_queued_meanwhile_loses_none(
    rig: Rig, destination: str
) -> None:
    """One alert was posted (unrecorded) when the process died; by the restart a burst is
    queued behind it. The resend of the first must not swallow the burst: every item is in
    the channel exactly once, in order."""
    first = rig.publish(1)
    await rig.poll()
    await rig.crash_mid_send(destination)
    burst = rig.publish(8)
    await rig.poll()
    await rig.restart()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(first + burst)


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_two_crashes_in_a_row_on_the_same_alert_lose_none(rig: Rig, destination: str) -> None:
    """Posted and unrecorded, then killed again in the very next attempt (after a burst
    queued) before anything left: still every item exactly once, in order."""
    first = rig.publish(1)
    await rig.poll()
    await rig.crash_mid_send(destination)
    burst = rig.publish(7)
    await rig.poll()
    await rig.restart()
    await rig.crash_mid_send(destination, reached_platform=False)
    await rig.restart()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(first + burst)


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_crash_after_a_condensed_burst_was_accepted_resends_nothing(
    rig: Rig, destination: str
) -> None:
    """A condensed message of many alerts accepted, then the kill: after the restart the
    whole batch is recognised as posted."""
    urls = rig.publish(12)
    await rig.poll()
    await rig.crash_mid_send(destination)
    await rig.restart()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)


async def test_stop_finishes_the_send_in_flight_and_leaves_the_rest_queued(rig: Rig) -> None:
    """SIGTERM (the sender's stop) while a backlog is going out: the batch being sent is
    finished and recorded, nothing more is claimed, the rest waits in the outbox; the next
    start sends it, each alert once."""
    urls = rig.publish(4)
    await rig.poll()
    stop = asyncio.Event()
    # The first message on either platform stops the sender. The two destinations send
    # side by side, so which one gets there first is the scheduler's to say; either way
    # each finishes the send it has in flight (one message at most) and claims no more.
    rig.slack.on_post = rig.discord.on_post = lambda _platform: stop.set()
    await asyncio.wait_for(rig.core.deliverer.run(stop, idle=0.01), timeout=10)
    slack, discord = len(rig.posted(SLACK)), len(rig.posted(DISCORD))
    assert slack <= 1 and discord <= 1 and slack + discord >= 1
    depth, _, _ = await rig.core.store.outbox_stats()
    assert depth == 8 - slack - discord
    await rig.restart()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)


async def test_slack_resend_check_works_when_history_hides_metadata_by_default(
    rig: Rig,
) -> None:
    """As real Slack does, the fake leaves metadata out of conversations.history unless
    include_all_metadata is asked for: the resend after a crash still finds its message."""
    rig.slack.history_metadata_opt_in = True
    urls = rig.publish(1)
    await rig.poll()
    await rig.crash_mid_send(SLACK)
    await rig.restart()
    await rig.deliver_all()
    assert [u for m in rig.posted(SLACK) for u in m] == urls
