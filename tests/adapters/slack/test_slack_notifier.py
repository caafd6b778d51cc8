"""SlackNotifier and SlackWebhookNotifier against the fake Slack: pacing, 429, errors, resends."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.notifier import SlackNotifier, SlackWebhookNotifier
from bot.core.errors import PermanentDeliveryError, RejectedMessageError, RetryableDeliveryError
from bot.core.notices import PlainNotice
from tests.adapters.slack.test_slack_render import assert_within_limits, make_alert
from tests.fakes.slack import BOT_TOKEN, FakeSlack


class FakeTime:
    """Monotonic time that only moves when someone sleeps: pacing without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def timed_slack(fake_time: FakeTime) -> AsyncIterator[FakeSlack]:
    """A fake Slack stamping calls with the fake time (so pacing is visible in the record)."""
    async with FakeSlack(clock=fake_time.monotonic) as fake:
        yield fake


def make_notifier(fake: FakeSlack, fake_time: FakeTime, **kwargs: float) -> SlackNotifier:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake.base_url)
    return SlackNotifier(client, monotonic=fake_time.monotonic, sleep=fake_time.sleep, **kwargs)  # type: ignore[arg-type]


async def test_alert_is_posted_with_blocks_text_and_alert_id_metadata(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """send() posts one chat.postMessage carrying blocks, fallback text and the alert id."""
    notifier = make_notifier(timed_slack, fake_time)
    ts = await notifier.send("slack:C1", [make_alert(id=42)])
    (call,) = timed_slack.posts("C1")
    assert call.params["channel"] == "C1"
    assert call.params["metadata"] == {
        "event_type": "wirewatch_alert",
        "event_payload": {"alert_id": 42, "alert_ids": [42]},
    }
    assert call.params["blocks"][0]["text"]["text"].startswith("*<https://reuters.test/")
    assert call.params["text"] == "China curbs rare earth exports — Reuters"
    assert call.params["unfurl_links"] is False
    assert ts == timed_slack.messages["C1"][0]["ts"]


async def test_twenty_alert_burst_is_paced_one_per_second_per_channel(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """20 sends to one channel, fired at once, reach Slack in order at least 1 s apart;
    another channel is not held up by the first."""
    notifier = make_notifier(timed_slack, fake_time)
    sends = [notifier.send("slack:C1", [make_alert(id=i, title=f"Story {i}")]) for i in range(20)]
    other = notifier.send("slack:C2", [make_alert(id=99)])
    await asyncio.gather(*sends, other)
    c1 = timed_slack.posts("C1")
    assert [c.params["metadata"]["event_payload"]["alert_id"] for c in c1] == list(range(20))
    gaps = [b.at - a.at for a, b in itertools.pairwise(c1)]
    assert all(gap >= 1.0 for gap in gaps), gaps
    assert c1[-1].at - c1[0].at == pytest.approx(19.0)
    (c2,) = timed_slack.posts("C2")
    assert c2.at - c1[0].at < 1.0


async def test_429_with_retry_after_is_honoured_then_the_send_succeeds(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """A 429 with Retry-After: 2 makes the notifier wait 2 s (fake) and post again, once."""
    timed_slack.rate_limit("chat.postMessage", retry_after=2, times=1)
    notifier = make_notifier(timed_slack, fake_time)
    ts = await notifier.send("slack:C1", [make_alert()])
    assert ts
    assert len(timed_slack.posts("C1")) == 2
    assert len(timed_slack.messages["C1"]) == 1
    assert fake_time.sleeps == [pytest.approx(2.0)]


async def test_long_or_repeated_429_goes_back_to_the_outbox_with_retry_after(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """A Retry-After longer than the inline budget raises RetryableDeliveryError(retry_after)."""
    timed_slack.rate_limit("chat.postMessage", retry_after=30, times=1)
    notifier = make_notifier(timed_slack, fake_time)
    with pytest.raises(RetryableDeliveryError) as caught:
        await notifier.send("slack:C1", [make_alert()])
    assert caught.value.retry_after == 30
    assert fake_time.sleeps == []
    timed_slack.rate_limit("chat.postMessage", retry_after=1, times=2)
    with pytest.raises(RetryableDeliveryError):
        await notifier.send("slack:C1", [make_alert()])


async def test_server_errors_are_retryable(timed_slack: FakeSlack, fake_time: FakeTime) -> None:
    """A 503 from Slack is RetryableDeliveryError; the next attempt goes through."""
    timed_slack.server_error("chat.postMessage", 503)
    notifier = make_notifier(timed_slack, fake_time)
    with pytest.raises(RetryableDeliveryError, match="503"):
        await notifier.send("slack:C1", [make_alert()])
    assert await notifier.send("slack:C1", [make_alert()])


async def test_unreachable_slack_is_retryable(fake_time: FakeTime) -> None:
    """Connection refused becomes RetryableDeliveryError, never a crash."""
    async with FakeSlack() as fake:
        url = fake.base_url
    client = AsyncWebClient(token=BOT_TOKEN, base_url=url, retry_handlers=[])
    notifier = SlackNotifier(client, monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    with pytest.raises(RetryableDeliveryError, match="could not reach Slack"):
        await notifier.send("slack:C1", [make_alert()])


@pytest.mark.parametrize(
    ("error", "words"),
    [
        ("channel_not_found", "does not exist"),
        ("not_in_channel", "/invite @Wirewatch"),
        ("is_archived", "archived"),
        ("invalid_auth", "SLACK_BOT_TOKEN"),
        ("account_inactive", "deactivated"),
    ],
)
async def test_broken_channel_is_a_permanent_error_in_plain_words(
    timed_slack: FakeSlack, fake_time: FakeTime, error: str, words: str
) -> None:
    """channel_not_found & co. raise PermanentDeliveryError with a reason a person can act on;
    other channels keep working."""
    timed_slack.fail("chat.postMessage", error, channel="CBAD")
    notifier = make_notifier(timed_slack, fake_time)
    with pytest.raises(PermanentDeliveryError, match=words):
        await notifier.send("slack:CBAD", [make_alert()])
    assert await notifier.send("slack:C1", [make_alert()])


async def test_maybe_sent_resend_finds_the_earlier_message_instead_of_posting(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """After an unconfirmed attempt, a resend finds the alert id in history and returns its ts."""
    notifier = make_notifier(timed_slack, fake_time)
    first = await notifier.send("slack:C1", [make_alert(id=7)])
    await notifier.send("slack:C1", [make_alert(id=8)])
    again = await notifier.send("slack:C1", [make_alert(id=7)], maybe_sent=True)
    assert again == first
    assert len(timed_slack.posts("C1")) == 2
    (history,) = timed_slack.calls_to("conversations.history")
    assert history.params["channel"] == "C1" and int(history.params["limit"]) == 50


async def test_maybe_sent_posts_when_the_earlier_attempt_never_arrived(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """If history has no message with the alert id, the alert is posted (once)."""
    notifier = make_notifier(timed_slack, fake_time)
    ts = await notifier.send("slack:C1", [make_alert(id=9)], maybe_sent=True)
    assert [m["ts"] for m in timed_slack.messages["C1"]] == [ts]


async def test_refused_blocks_fall_back_to_plain_text(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """If Slack ever refuses our blocks (invalid_blocks), the alert still goes out as text."""
    timed_slack.fail("chat.postMessage", "invalid_blocks", times=1)
    notifier = make_notifier(timed_slack, fake_time)
    await notifier.send("slack:C1", [make_alert()])
    first, second = timed_slack.posts("C1")
    assert first.params.get("blocks") and not second.params.get("blocks")
    assert second.params["text"] == "China curbs rare earth exports — Reuters"


async def test_batch_of_ten_is_one_message_within_limits(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """A burst batch is one chat.postMessage whose blocks fit Slack's limits."""
    notifier = make_notifier(timed_slack, fake_time)
    await notifier.send("slack:C1", [make_alert(id=i, title="x" * 5000) for i in range(10)])
    (call,) = timed_slack.posts("C1")
    assert_within_limits(call.params["blocks"])
    assert call.params["metadata"]["event_payload"]["alert_ids"] == list(range(10))


async def test_notice_is_plain_escaped_text(timed_slack: FakeSlack, fake_time: FakeTime) -> None:
    """send_notice posts text only, with feed-supplied error text escaped."""
    notifier = make_notifier(timed_slack, fake_time)
    await notifier.send_notice("slack:C1", PlainNotice("Feed <!channel> is failing: HTTP 503"))
    (call,) = timed_slack.posts("C1")
    assert call.params["text"] == "Feed &lt;!channel&gt; is failing: HTTP 503"
    assert not call.params.get("blocks")


async def test_webhook_notifier_posts_blocks_and_retries_once_after_429(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """slack-webhook: destinations get the same blocks; a short 429 is waited out once."""
    notifier = SlackWebhookNotifier(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    timed_slack.webhook_fail(429, "rate_limited", retry_after=1)
    message_id = await notifier.send(
        f"slack-webhook:{timed_slack.webhook_url()}", [make_alert(id=5)]
    )
    assert message_id == "webhook:5"
    assert len(timed_slack.webhook_posts) == 2
    assert timed_slack.webhook_posts[-1].body["blocks"][0]["type"] == "section"
    assert fake_time.sleeps == [pytest.approx(1.0)]


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, "channel_not_found", PermanentDeliveryError),
        (410, "channel_is_archived", PermanentDeliveryError),
        (403, "action_prohibited", PermanentDeliveryError),
        (404, "no_service", PermanentDeliveryError),
        (500, "oops", RetryableDeliveryError),
    ],
)
async def test_webhook_errors_map_onto_the_error_tree(
    timed_slack: FakeSlack, fake_time: FakeTime, status: int, body: str, error: type[Exception]
) -> None:
    """Webhook failures become permanent (gone, archived, forbidden) or retryable (5xx)."""
    notifier = SlackWebhookNotifier(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    timed_slack.webhook_fail(status, body)
    with pytest.raises(error) as caught:
        await notifier.send(f"slack-webhook:{timed_slack.webhook_url()}", [make_alert()])
    assert "secret" not in str(caught.value)


async def test_destination_of_the_wrong_kind_is_refused(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """A malformed destination is a permanent error, not a crash."""
    notifier = make_notifier(timed_slack, fake_time)
    with pytest.raises(PermanentDeliveryError):
        await notifier.send("slack:", [make_alert()])


async def test_after_a_5xx_the_retry_checks_history_before_posting_again(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """A 5xx may hide a post that went through: the next attempt of the same alert looks
    for it in history first, even when the core does not flag it as maybe sent."""
    notifier = make_notifier(timed_slack, fake_time)
    timed_slack.server_error("chat.postMessage", 502)
    with pytest.raises(RetryableDeliveryError):
        await notifier.send("slack:C1", [make_alert(id=21)])
    # Pretend Slack had stored it despite the 502.
    timed_slack.messages["C1"].append(
        {
            "type": "message",
            "ts": "1.5",
            "metadata": {"event_type": "wirewatch_alert", "event_payload": {"alert_id": 21}},
        }
    )
    assert await notifier.send("slack:C1", [make_alert(id=21)]) == "1.5"
    assert len(timed_slack.posts("C1")) == 1


async def test_a_message_slack_refuses_also_as_text_fails_that_message_only(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """msg_too_long for the blocks and again for the plain text: the message is refused
    (dead-lettered by the sender), and the next message to the channel goes out."""
    notifier = make_notifier(timed_slack, fake_time)
    timed_slack.fail("chat.postMessage", "msg_too_long", times=2)
    with pytest.raises(RejectedMessageError, match="msg_too_long"):
        await notifier.send("slack:C1", [make_alert(id=1)])
    assert timed_slack.posts("C1")[-1].params.get("blocks") is None  # text was tried too
    await notifier.send("slack:C1", [make_alert(id=2)])
    assert len(timed_slack.messages["C1"]) == 1


async def test_a_webhook_400_after_the_text_resend_fails_that_message_only(
    timed_slack: FakeSlack, fake_time: FakeTime
) -> None:
    """An incoming webhook answering 400 to blocks and to text refuses this message."""
    notifier = SlackWebhookNotifier(monotonic=fake_time.monotonic, sleep=fake_time.sleep)
    timed_slack.webhook_fail(400, "invalid_payload", times=2)
    with pytest.raises(RejectedMessageError, match="invalid_payload"):
        await notifier.send(f"slack-webhook:{timed_slack.webhook_url()}", [make_alert()])
