"""Delivery to Discord channels and webhooks against the fake Discord: payloads, nonce,
mentions, rate limits, failures sorted into retry-later and stop-for-this-channel."""

from __future__ import annotations

import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.discord.notifier import ChannelPacer, DiscordNotifier, DiscordWebhookNotifier
from bot.core.errors import PermanentDeliveryError, RetryableDeliveryError
from bot.core.notices import PlainNotice
from tests.adapters.discord.test_discord_render import make_alert
from tests.coredouble import MemoryCore
from tests.fakes.discord import (
    CHANNEL_ID,
    OTHER_CHANNEL_ID,
    TOKEN,
    WEBHOOK_ID,
    WEBHOOK_URL,
    Failure,
    FakeDiscord,
)

DEST = f"discord:{CHANNEL_ID}"


def notifier_of(bot: DiscordAdapter) -> DiscordNotifier:
    (notifier,) = bot.notifiers()
    assert isinstance(notifier, DiscordNotifier)
    return notifier


async def test_alert_is_posted_as_an_embed_with_nonce_and_no_pings(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """One alert -> POST /channels/{id}/messages with the embed, nonce "ww<id>",
    enforce_nonce, allowed_mentions parsing nothing, and the bot's token."""
    message_id = await notifier_of(membot).send(DEST, [make_alert(42)])
    (post,) = fake.message_posts(CHANNEL_ID)
    assert post.authorization == f"Bot {TOKEN}"
    assert post.body["nonce"] == "ww42"
    assert post.body["enforce_nonce"] is True
    assert post.body["allowed_mentions"] == {"parse": []}
    (embed,) = post.body["embeds"]
    assert embed["title"] == "China tightens rare earth export rules"
    assert embed["url"] == "https://reuters.test/rare-earth-42"
    assert embed["footer"] == {"text": "matched: rare earth · watch #3"}
    assert embed["author"] == {"name": "Reuters"}
    assert embed["timestamp"].startswith("2025-03-01T09:30:00")
    assert message_id == fake.messages[CHANNEL_ID][0]["id"]


async def test_resend_of_an_unconfirmed_batch_returns_the_first_message(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """A retry with maybe_sent=True carries the same nonce, so Discord answers with the
    message it already posted: one message in the channel, same id both times."""
    notifier = notifier_of(membot)
    first = await notifier.send(DEST, [make_alert(7)])
    again = await notifier.send(DEST, [make_alert(7)], maybe_sent=True)
    assert again == first
    assert len(fake.messages[CHANNEL_ID]) == 1
    assert len(fake.message_posts(CHANNEL_ID)) == 2


async def test_a_burst_goes_out_as_one_message_with_one_embed_per_alert(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """Four alerts for one channel -> one message, four embeds, nonce of the first."""
    await notifier_of(membot).send(DEST, [make_alert(i) for i in range(10, 14)])
    (post,) = fake.message_posts(CHANNEL_ID)
    assert len(post.body["embeds"]) == 4
    assert post.body["nonce"] == "ww10"


async def test_mentions_in_feed_text_are_neutralised_and_only_the_watch_role_pings(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """@everyone and role/user mentions in a headline are broken in the embed, and
    allowed_mentions lets through only the role the watch was configured with."""
    hostile = make_alert(
        5,
        title="@everyone <@&1500000000000000009> <@1400000000000000009> free money",
        summary="@here rare earth",
        mention="1500000000000000001",
    )
    await notifier_of(membot).send(DEST, [hostile])
    (post,) = fake.message_posts(CHANNEL_ID)
    assert post.body["content"] == "<@&1500000000000000001>"
    assert post.body["allowed_mentions"] == {"parse": [], "roles": [1500000000000000001]}
    embed = post.body["embeds"][0]
    for text in (embed["title"], embed["description"]):
        assert "@everyone" not in text and "@here" not in text
        assert "<@&1500000000000000009>" not in text and "<@1400000000000000009>" not in text


async def test_rate_limit_is_waited_out_then_the_message_is_sent(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """A 429 with Via and retry_after (Discord's own limiter) is retried by discord.py."""
    fake.fail_channel(CHANNEL_ID, Failure.rate_limited(0.05))
    message_id = await notifier_of(membot).send(DEST, [make_alert(1)])
    assert [p.status for p in fake.message_posts(CHANNEL_ID)] == [429, 200]
    assert message_id == fake.messages[CHANNEL_ID][0]["id"]


async def test_long_rate_limit_becomes_retry_later_with_the_wait(fake: FakeDiscord) -> None:
    """A 429 asking for longer than max_ratelimit_timeout is handed to the outbox as
    retryable with retry_after, instead of blocking the sender (discord.py's floor for
    the limit is 30 s)."""
    adapter = DiscordAdapter(
        core=MemoryCore(), settings=fake.settings(), guild_ready_timeout=0.05,
        max_ratelimit_timeout=30.0,
    )  # fmt: skip
    await adapter.start()
    try:
        fake.fail_channel(CHANNEL_ID, Failure.rate_limited(45.0))
        with pytest.raises(RetryableDeliveryError) as caught:
            await notifier_of(adapter).send(DEST, [make_alert(1)])
        assert caught.value.retry_after == 45.0
    finally:
        await adapter.stop()


async def test_cloudflare_style_429_without_via_is_retryable(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """A 429 without Via (a Cloudflare ban) is not retried in place: retry later."""
    fake.fail_channel(CHANNEL_ID, Failure.rate_limited(2.0, via=False))
    with pytest.raises(RetryableDeliveryError) as caught:
        await notifier_of(membot).send(DEST, [make_alert(1)])
    assert caught.value.retry_after == 2.0


async def test_server_error_is_retryable(fake: FakeDiscord, membot: DiscordAdapter) -> None:
    """A 503 means try later; nothing is marked broken."""
    fake.fail_channel(CHANNEL_ID, Failure.server_error(503))
    with pytest.raises(RetryableDeliveryError, match="503"):
        await notifier_of(membot).send(DEST, [make_alert(1)])


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (Failure.missing_access(), "Missing Access: the bot cannot see this channel"),
        (Failure.missing_permissions(), "Missing Permissions: the bot may not post here"),
        (Failure.unknown_channel(), "Unknown Channel: the channel was deleted"),
    ],
)
async def test_access_errors_are_permanent_with_a_reason_in_plain_words(
    fake: FakeDiscord, membot: DiscordAdapter, failure: Failure, words: str
) -> None:
    """403 50001 / 403 50013 / 404 10003 stop delivery to that channel, saying why."""
    fake.fail_channel(CHANNEL_ID, failure)
    with pytest.raises(PermanentDeliveryError) as caught:
        await notifier_of(membot).send(DEST, [make_alert(1)])
    assert caught.value.reason.startswith(words)


async def test_a_failing_channel_does_not_block_others_and_recovers(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """While one channel answers 403, another still gets alerts; once access is back
    the same channel takes the next send."""
    notifier = notifier_of(membot)
    fake.fail_channel(CHANNEL_ID, Failure.missing_access())
    with pytest.raises(PermanentDeliveryError):
        await notifier.send(DEST, [make_alert(1)])
    await notifier.send(f"discord:{OTHER_CHANNEL_ID}", [make_alert(2)])
    assert len(fake.messages[OTHER_CHANNEL_ID]) == 1

    fake.clear_failures(CHANNEL_ID)
    await notifier.send(DEST, [make_alert(1)])
    assert len(fake.messages[CHANNEL_ID]) == 1


async def test_notice_is_plain_text_that_pings_nobody(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """send_notice posts content only, defused, with allowed_mentions none."""
    await notifier_of(membot).send_notice(DEST, PlainNotice("Feed “@everyone daily” is failing"))
    (post,) = fake.message_posts(CHANNEL_ID)
    assert post.body["content"] == "Feed “@\u200beveryone daily” is failing"
    assert post.body["allowed_mentions"] == {"parse": []}
    assert "embeds" not in post.body or post.body["embeds"] == []


async def test_a_destination_of_another_kind_is_refused(membot: DiscordAdapter) -> None:
    """A malformed destination is a permanent error, not a crash."""
    with pytest.raises(PermanentDeliveryError):
        await notifier_of(membot).send("discord:general", [make_alert(1)])


async def test_webhook_delivery_needs_no_bot_and_carries_name_and_avatar(
    fake: FakeDiscord,
) -> None:
    """A channel webhook URL alone delivers: custom name and avatar, no Authorization."""
    notifier = DiscordWebhookNotifier.from_settings(
        fake.settings(token=None), username="Wirewatch", avatar_url="https://img.test/ww.png"
    )
    try:
        message_id = await notifier.send(f"discord-webhook:{WEBHOOK_URL}", [make_alert(3)])
    finally:
        await notifier.aclose()
    (post,) = fake.calls("POST", f"/webhooks/{WEBHOOK_ID}/")
    assert post.authorization is None
    assert post.query.get("wait") in ("1", "true")
    assert post.body["username"] == "Wirewatch"
    assert post.body["avatar_url"] == "https://img.test/ww.png"
    assert post.body["allowed_mentions"] == {"parse": []}
    assert post.body["embeds"][0]["url"] == "https://reuters.test/rare-earth-3"
    assert message_id == fake.webhook_messages[WEBHOOK_ID][0]["id"]


async def test_webhook_thread_id_posts_into_the_thread(fake: FakeDiscord) -> None:
    """``?thread_id=`` on the webhook URL is passed on to Discord."""
    notifier = DiscordWebhookNotifier.from_settings(fake.settings(token=None))
    try:
        await notifier.send(f"discord-webhook:{WEBHOOK_URL}?thread_id=1800000000000000001",
                            [make_alert(3)])  # fmt: skip
    finally:
        await notifier.aclose()
    (post,) = fake.calls("POST", f"/webhooks/{WEBHOOK_ID}/")
    assert post.query["thread_id"] == "1800000000000000001"


async def test_deleted_webhook_is_permanent_and_a_bad_url_is_refused(fake: FakeDiscord) -> None:
    """Unknown Webhook (404 10015) stops that destination; a non-Discord URL never posts."""
    notifier = DiscordWebhookNotifier.from_settings(fake.settings(token=None))
    fake.fail_webhook(WEBHOOK_ID, Failure.unknown_webhook())
    try:
        with pytest.raises(PermanentDeliveryError, match="Unknown Webhook"):
            await notifier.send(f"discord-webhook:{WEBHOOK_URL}", [make_alert(3)])
        with pytest.raises(PermanentDeliveryError, match="not a Discord webhook URL"):
            await notifier.send("discord-webhook:https://evil.test/hook", [make_alert(3)])
    finally:
        await notifier.aclose()


async def test_webhook_rate_limit_is_waited_out(fake: FakeDiscord) -> None:
    """A webhook 429 with Via is retried in place and the alert arrives once."""
    notifier = DiscordWebhookNotifier.from_settings(fake.settings(token=None))
    fake.fail_webhook(WEBHOOK_ID, Failure.rate_limited(0.05))
    try:
        await notifier.send(f"discord-webhook:{WEBHOOK_URL}", [make_alert(3)])
    finally:
        await notifier.aclose()
    assert [c.status for c in fake.calls("POST", f"/webhooks/{WEBHOOK_ID}/")] == [429, 200]
    assert len(fake.webhook_messages[WEBHOOK_ID]) == 1


class ManualClock:
    """A monotonic clock that moves only when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_pacer_allows_five_per_five_seconds_per_channel() -> None:
    """The sixth send to one channel waits until the first leaves the 5 s window; another
    channel is not held up."""
    clock = ManualClock()
    pacer = ChannelPacer(5, 5.0, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        await pacer.wait_turn("discord:1")
    assert clock.sleeps == []
    await pacer.wait_turn("discord:2")
    assert clock.sleeps == []
    clock.now = 1.0
    await pacer.wait_turn("discord:1")
    assert clock.sleeps == [4.0]
    assert clock.now == 5.0


async def test_notifier_paces_a_channel_with_the_injected_clock(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """Seven quick sends to one channel: the last two wait for the window (fake time)."""
    clock = ManualClock()
    notifier = DiscordNotifier(membot.client, pacer=ChannelPacer(clock=clock, sleep=clock.sleep))
    for i in range(7):
        await notifier.send(DEST, [make_alert(100 + i)])
    assert len(fake.messages[CHANNEL_ID]) == 7
    assert clock.sleeps == [5.0]  # the sixth waited; the seventh fit the new window
