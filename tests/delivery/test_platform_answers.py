"""What the platforms answer when they misbehave, driven through the real Slack and Discord
clients against the fakes: an answer that is an error although the post went through, a
history lookup that is itself refused, edits of living messages that keep failing. Each
alert ends in its channel exactly once, or waits with its reason; nothing hammers a
platform that keeps failing."""

from __future__ import annotations

import pytest

from tests.delivery.conftest import DISCORD, SLACK, Rig
from tests.fakes.discord import CHANNEL_ID, Failure


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_a_5xx_after_the_platform_took_the_post_then_a_burst_loses_none(
    rig: Rig, destination: str
) -> None:
    """The platform stores the message and answers 503 anyway; before the retry a burst is
    queued behind it. The retry must stand for the one alert it sent (Discord returns the
    first message for the nonce), never swallow the burst: every item once, in order."""
    if destination == SLACK:
        rig.slack.server_error("chat.postMessage", 503, channel="C1", applied=True)
    else:
        rig.discord.fail_channel(CHANNEL_ID, Failure.server_error(503, applied=True))
    first = rig.publish(1)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    burst = rig.publish(8)
    await rig.poll()
    rig.clock.advance(minutes=1)
    await rig.deliver_all()
    order = await rig.queued_order(destination)
    flat = [u for message in rig.posted(destination) for u in message]
    assert sorted(order) == sorted(first + burst)
    assert flat == order


@pytest.mark.parametrize("trouble", ["ratelimited", "5xx"])
async def test_slack_history_unreadable_at_the_resend_posts_nothing_twice(
    rig: Rig, trouble: str
) -> None:
    """Slack stored a post but answered 500; when the retry looks for it in the channel's
    history, that lookup is rate limited (Retry-After 30) or fails with a 5xx. Posting
    blind then would put the alert in the channel twice: the retry waits and looks again."""
    rig.slack.server_error("chat.postMessage", 500, channel="C1", applied=True)
    if trouble == "ratelimited":
        rig.slack.rate_limit("conversations.history", retry_after=30, channel="C1")
    else:
        rig.slack.server_error("conversations.history", 503, channel="C1")
    urls = rig.publish(1)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)
