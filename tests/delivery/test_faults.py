"""Delivery through platform trouble: the real Slack and Discord notifiers and the real
core against fakes that answer 429 with Retry-After, fail with 5xx for a stretch, drop the
connection after accepting a post, and stall. Afterwards everything is in each channel
exactly once, in order, at no more than the platform's pace (Slack about 1 message per
second per channel, Discord 5 per 5 seconds), measured on the fakes' clock."""

from __future__ import annotations

import itertools

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.notifier import SlackNotifier
from bot.core.api import Caller
from bot.core.models import DestinationState
from tests.delivery.conftest import DISCORD, SLACK, Rig, Stall
from tests.fakes.discord import CHANNEL_ID, Failure
from tests.fakes.slack import BOT_TOKEN


def assert_slack_pace(times: list[float]) -> None:
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 1.0 - 1e-9 for g in gaps), f"Slack posts closer than 1 s: {gaps}"


def assert_discord_pace(times: list[float]) -> None:
    windows = [b - a for a, b in zip(times, times[5:], strict=False)]
    assert all(w >= 5.0 - 1e-9 for w in windows), f"more than 5 posts in 5 s: {windows}"


async def status_of(rig: Rig, destination: str) -> DestinationState:
    statuses = {
        d.destination: d for d in (await rig.core.api.status(Caller.console())).destinations
    }
    return statuses[destination].state if destination in statuses else DestinationState.OK


async def test_slack_429_retry_after_is_honoured_then_all_go_out_in_order(rig: Rig) -> None:
    """Slack rate-limits three posts in a row (Retry-After 2 s): no post comes sooner than
    Slack asked, none faster than one a second, and every alert arrives once, in order."""
    rig.slack.rate_limit("chat.postMessage", retry_after=2, times=3, channel="C1")
    urls = rig.publish(4)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)
    limited = [c.at for c in rig.slack.posts("C1")][:3]
    assert rig.slack.post_times[0] >= limited[-1] + 2
    assert_slack_pace(rig.slack.post_times)


async def test_discord_429_short_and_long_then_all_go_out_within_5_per_5s(rig: Rig) -> None:
    """A short Discord 429 is waited out in place; a long one (past discord.py's
    max_ratelimit_timeout) holds the channel in the outbox until Retry-After passed. Then
    nine alerts go out once each, in order, never more than 5 in 5 seconds."""
    rig.discord.fail_channel(
        CHANNEL_ID,
        Failure.rate_limited(0.02, times=1),
        Failure.rate_limited(120.0, times=1),
    )
    first = rig.publish(5)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    assert rig.posted(DISCORD) == []  # the long 429 left everything queued
    rig.clock.advance(seconds=100)
    await rig.core.deliverer.deliver_once()
    assert rig.posted(DISCORD) == []  # still inside Retry-After
    rig.clock.advance(seconds=21)
    await rig.deliver_all()
    later = rig.publish(4)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(first + later)
    assert len(rig.discord.post_times) == 9
    assert_discord_pace(rig.discord.post_times)


async def test_a_stretch_of_5xx_marks_the_destination_failing_then_all_is_delivered(
    rig: Rig,
) -> None:
    """Both platforms answer 503 for a stretch: the destinations show as failing in
    status meanwhile, nothing is posted twice when they come back, and all arrives in
    order; status is ok again afterwards."""
    rig.slack.server_error("chat.postMessage", 503, times=4, channel="C1")
    rig.discord.fail_channel(CHANNEL_ID, Failure.server_error(503, times=4))
    urls = rig.publish(3)
    await rig.poll()
    for _ in range(3):
        await rig.core.deliverer.deliver_once()
        rig.clock.advance(seconds=30)
    assert await status_of(rig, SLACK) is DestinationState.FAILING
    assert await status_of(rig, DISCORD) is DestinationState.FAILING
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)
    assert await status_of(rig, SLACK) is DestinationState.OK
    assert await status_of(rig, DISCORD) is DestinationState.OK
    assert_slack_pace(rig.slack.post_times)
    assert_discord_pace(rig.discord.post_times)


async def test_connection_dropped_after_the_platform_accepted_posts_nothing_twice(
    rig: Rig,
) -> None:
    """The platform takes a post and the connection drops before the answer, twice: the
    retry finds the message (Slack history, Discord nonce) instead of posting again."""
    rig.slack.post_faults = ["drop", "drop"]
    rig.discord.post_faults = ["drop", "drop"]
    urls = rig.publish(4)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)
    assert_discord_pace(rig.discord.post_times)


async def test_a_post_whose_answer_was_lost_still_counts_toward_slack_pace(rig: Rig) -> None:
    """Slack took a post and the connection dropped: that message is in the channel, so
    the next post still waits its second."""
    rig.slack.post_faults = ["drop"]
    rig.publish(2)
    await rig.poll()
    await rig.deliver_all()
    assert len(rig.slack.post_times) == 2
    assert_slack_pace(rig.slack.post_times)


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_dropped_post_then_a_burst_queued_before_the_retry_loses_none(
    rig: Rig, destination: str
) -> None:
    """A post accepted but unanswered, and before the retry a burst is queued behind it:
    the retry must not swallow the burst. Every item once, in order."""
    faults = rig.slack.post_faults if destination == SLACK else rig.discord.post_faults
    faults.append("drop")
    first = rig.publish(1)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    burst = rig.publish(8)
    await rig.poll()
    rig.clock.advance(minutes=5)
    await rig.deliver_all()
    order = await rig.queued_order(destination)
    flat = [u for message in rig.posted(destination) for u in message]
    assert sorted(order) == sorted(first + burst)
    assert flat == order


async def test_stalled_answers_are_waited_out_or_timed_out_and_posted_once(rig: Rig) -> None:
    """Slack stalls past the client's timeout after taking the post; Discord stalls
    briefly. Each alert is in each channel once, in order."""
    client = AsyncWebClient(
        token=BOT_TOKEN,
        base_url=rig.slack.base_url,
        retry_handlers=[],
        timeout=0.2,  # type: ignore[arg-type]  # aiohttp takes fractions of a second
    )
    rig.core.add_notifier(SlackNotifier(client, monotonic=rig.time.monotonic, sleep=rig.time.sleep))
    rig.slack.post_faults = [Stall(0.5)]
    rig.discord.post_faults = [Stall(0.2)]
    urls = rig.publish(3)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)


async def test_a_burst_under_rate_limits_is_condensed_and_paced(rig: Rig) -> None:
    """Twenty-three alerts at once, with a 429 and a 503 on the way: condensed into few
    messages per channel, in order, each once, within both platforms' pace."""
    rig.slack.rate_limit("chat.postMessage", retry_after=1, times=1, channel="C1")
    rig.discord.fail_channel(CHANNEL_ID, Failure.server_error(503, times=1))
    urls = rig.publish(23)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)
    # Each platform's own limit: Slack's listing carries all 23; Discord's 10 embeds go
    # 10 + 10, then the last three one by one (no longer a burst).
    assert [len(m) for m in rig.posted(SLACK)] == [23]
    assert len(rig.posted(DISCORD)) == 5
    assert_slack_pace(rig.slack.post_times)
    assert_discord_pace(rig.discord.post_times)


async def test_alerts_older_than_the_dead_letter_age_are_listed_not_dropped(rig: Rig) -> None:
    """A channel that stays broken past the dead-letter age: its alerts leave the queue
    for the dead-letter list that status shows; the healthy channel got everything."""
    rig.slack.fail("chat.postMessage", "channel_not_found", channel="C1")
    urls = rig.publish(2)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    rig.clock.advance(hours=6, minutes=1)
    report = await rig.core.deliverer.deliver_once()
    assert report.dead_lettered == 2
    status = await rig.core.api.status(Caller.console())
    assert (status.outbox_depth, status.dead_letters) == (0, 2)
    assert [u for m in rig.posted(DISCORD) for u in m] == await rig.queued_order(DISCORD)
    assert sorted(await rig.queued_order(DISCORD)) == sorted(urls)
    assert rig.posted(SLACK) == []


async def test_unchanged_feed_after_delivery_sends_nothing_more(rig: Rig) -> None:
    """Polling the same items again after they were delivered adds nothing to the outbox."""
    rig.publish(2)
    await rig.poll()
    await rig.deliver_all()
    assert await rig.poll() == []
    rig.clock.advance(minutes=10)
    assert await rig.poll() == []
    assert len(rig.posted(SLACK)) == 2 and len(rig.posted(DISCORD)) == 2


# --- told, not silent: notices -----------------------------------------------------------


async def test_failing_feed_is_announced_once_and_its_recovery_once_in_each_channel(
    rig: Rig,
) -> None:
    """A feed failing five polls in a row, then working again: each channel gets exactly
    one "failing" notice (after the second failure) and one "works again" notice, and the
    feed's new items are delivered after it recovered."""
    rig.feeds.set_feed("/news.rss", "upstream trouble", status=500, content_type="text/plain")
    for n in range(5):
        await rig.poll()
        rig.clock.advance(minutes=10)
        expected = 0 if n == 0 else 1
        assert len(rig.notices(SLACK)) == expected
        assert len(rig.notices(DISCORD)) == expected
    urls = rig.publish(2)  # serves the feed again
    await rig.poll()
    await rig.poll()
    await rig.deliver_all()
    for dest in (SLACK, DISCORD):
        failing, recovered = rig.notices(dest)
        assert "is failing since" in failing and rig.feed_url in failing
        assert "works again" in recovered
    await rig.assert_exactly_once_in_order(urls)


async def test_a_restart_while_a_feed_fails_does_not_announce_it_again(rig: Rig) -> None:
    """The failing notice is remembered in the database: after a restart more failures
    say nothing new, and the recovery is announced once."""
    rig.feeds.set_feed("/news.rss", "gone", status=404, content_type="text/plain")
    for _ in range(3):
        await rig.poll()
    await rig.restart()
    for _ in range(3):
        await rig.poll()
    rig.publish(1)
    await rig.poll()
    assert [len(rig.notices(d)) for d in (SLACK, DISCORD)] == [2, 2]


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_a_channel_that_lost_access_is_told_once_when_it_recovers(
    rig: Rig, destination: str
) -> None:
    """The bot loses access to one channel for a stretch (a permanent error each try):
    status shows it failing, the other channel gets everything meanwhile; when access is
    back the held alerts arrive once, in order, after one "can post here again" notice."""
    if destination == SLACK:
        rig.slack.fail("chat.postMessage", "not_in_channel", channel="C1", times=3)
    else:
        rig.discord.fail_channel(CHANNEL_ID, Failure(403, 50001, "Missing Access", times=3))
    urls = rig.publish(3)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    assert await status_of(rig, destination) is DestinationState.FAILING
    await rig.deliver_all(step=120)
    await rig.assert_exactly_once_in_order(urls)
    notices = rig.notices(destination)
    assert len(notices) == 1 and "can post here again" in notices[0]
    other = DISCORD if destination == SLACK else SLACK
    assert rig.notices(other) == []


async def test_a_failing_feed_notice_that_meets_a_5xx_is_posted_later(rig: Rig) -> None:
    """The channel answers 503 just when the "feed failing" notice goes out: the notice
    still reaches the channel once the channel works again."""
    rig.feeds.set_feed("/news.rss", "upstream trouble", status=500, content_type="text/plain")
    await rig.poll()
    rig.slack.server_error("chat.postMessage", 503, times=1, channel="C1")
    await rig.poll()  # the second failure: the notice goes out, into the 503
    for _ in range(3):
        rig.clock.advance(minutes=10)
        await rig.poll()
        await rig.core.deliverer.deliver_once()
    assert len(rig.notices(SLACK)) == 1
