"""What the platforms answer when they misbehave, driven through the real Slack and Discord
clients against the fakes: an answer that is an error although the post went through, a
history lookup that is itself refused, edits of living messages that keep failing. Each
alert ends in its channel exactly once, or waits with its reason; nothing hammers a
platform that keeps failing."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.discord.notifier import DiscordWebhookNotifier
from bot.adapters.slack.notifier import SlackNotifier, SlackWebhookNotifier
from bot.app import Core
from bot.cli import cmd_status
from bot.core.api import Caller
from bot.core.commands.handlers import status_reply
from bot.core.commands.reply import reply_text
from bot.core.delivery import EDIT_TRIES
from bot.core.models import DestinationState
from bot.logs import setup_logging
from tests.core.test_delivery import _queue, _setup
from tests.delivery.conftest import DISCORD, SLACK, Rig, chat_notifiers, story_site
from tests.delivery.test_faults import status_of
from tests.fakes.discord import (
    CHANNEL_ID,
    WEBHOOK_ID,
    WEBHOOK_TOKEN,
    WEBHOOK_URL,
    Failure,
    FakeDiscord,
)
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.fakes.standalone import Hold
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for


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


@pytest.mark.parametrize("retry_after", [0.05, 90.0])
async def test_discord_global_rate_limit_is_waited_out_and_the_channel_stays_ok(
    rig: Rig, retry_after: float
) -> None:
    """Discord's bot-wide limit (global: true, X-RateLimit-Global): a short one is waited
    out by discord.py in place; a long one goes back to the outbox for its Retry-After.
    Either way the alerts arrive once, in order, and the channel is never failing."""
    rig.discord.fail_channel(CHANNEL_ID, Failure.rate_limited(retry_after, global_=True, times=2))
    urls = rig.publish(2)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    assert await status_of(rig, DISCORD) is DestinationState.OK
    await rig.deliver_all(step=100)
    await rig.assert_exactly_once_in_order(urls)
    assert rig.notices(DISCORD) == []


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


# --- living messages: edits that keep failing ----------------------------------------------

HEADLINE = "China expands rare earth export controls to five more elements"
OUTLETS = ("reuters", "scmp")


@dataclass
class Living:
    """One channel (Slack or Discord) whose story message grows as a second outlet joins."""

    destination: str
    core: Core
    clock: FakeClock
    slack: FakeSlack
    discord: FakeDiscord
    feeds: FeedServer

    async def publish(self, outlet: str) -> None:
        self.clock.advance(minutes=10)
        item = {
            "title": HEADLINE,
            "link": f"https://{outlet}.test/rare-earth-controls",
            "guid": f"{outlet}-1",
            "description": "Beijing added holmium and four other elements to its export list.",
            "pubDate": self.clock.now() - timedelta(minutes=5),
        }
        self.feeds.set_feed(f"/{outlet}.rss", rss([item], title=outlet.upper()))
        await self.core.poll(due_only=False)

    def messages(self) -> list[dict[str, Any]]:
        if self.destination == SLACK:
            return list(self.slack.messages.get("C1", []))
        return list(self.discord.messages.get(CHANNEL_ID, []))

    def edit_attempts(self) -> int:
        if self.destination == SLACK:
            return len(self.slack.calls_to("chat.update"))
        return len(self.discord.calls("PATCH", f"/channels/{CHANNEL_ID}/messages/"))

    def fail_edits(self, status: int) -> None:
        if self.destination == SLACK:
            self.slack.server_error("chat.update", status, times=None)
        else:
            self.discord.fail_channel(CHANNEL_ID, Failure.server_error(status, times=None))

    def lose_access(self) -> None:
        """The bot was removed from the channel (or its token revoked) for a while."""
        if self.destination == SLACK:
            self.slack.fail("chat.update", "not_in_channel", channel="C1")
        else:
            self.discord.fail_channel(CHANNEL_ID, Failure.missing_access())

    def delete_message(self) -> None:
        """A moderator deleted the story's message."""
        (message,) = self.messages()
        if self.destination == SLACK:
            self.slack.messages["C1"].remove(message)
        else:
            self.discord.delete_message(CHANNEL_ID, message["id"])

    def heal(self) -> None:
        self.slack.clear_faults()
        self.discord.clear_failures()


@pytest.fixture(params=[SLACK, DISCORD])
async def living(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Living]:
    async with story_site(tmp_path, monkeypatch, request.param, OUTLETS) as site:
        time, clock, slack, fake_discord, feeds, settings = site
        async with (
            core_for(settings, clock=clock) as core,
            chat_notifiers(core, slack, fake_discord, time),
        ):
            await core.poll(due_only=False)  # the empty feeds are seeded
            yield Living(request.param, core, clock, slack, fake_discord, feeds)


async def test_an_edit_that_keeps_failing_backs_off_then_lands(living: Living) -> None:
    """The story's message is posted; a second outlet joins while every edit answers 503.
    Ten minutes of delivery passes five seconds apart try the edit a handful of times,
    further and further apart (not at every pass); when the platform answers again the
    message is edited to show the new outlet. It is never posted twice."""
    await living.publish("reuters")
    assert (await living.core.deliverer.deliver_once()).sent == 1
    living.fail_edits(503)
    await living.publish("scmp")
    for _ in range(120):
        living.clock.advance(seconds=5)
        await living.core.deliverer.deliver_once()
    assert 3 <= living.edit_attempts() <= 12  # every pass would be 120
    living.heal()
    living.clock.advance(minutes=10)
    await living.core.deliverer.deliver_once()
    (message,) = living.messages()
    assert "SCMP" in json.dumps(message)


@pytest.mark.parametrize("living", [SLACK], indirect=True)
async def test_slack_trouble_answering_an_edit_is_retried_not_given_up(
    living: Living,
) -> None:
    """chat.update answered internal_error (Slack's own passing trouble, in a 200): the
    edit is tried again and lands, rather than taken as a refusal of the message."""
    await living.publish("reuters")
    await living.core.deliverer.deliver_once()
    living.slack.fail("chat.update", "internal_error", channel="C1", times=1)
    await living.publish("scmp")
    await living.core.deliverer.deliver_once()
    living.clock.advance(minutes=1)
    await living.core.deliverer.deliver_once()
    (message,) = living.messages()
    assert "SCMP" in json.dumps(message) and living.edit_attempts() == 2


async def test_a_thread_reply_the_platform_took_behind_a_5xx_is_not_posted_twice(
    living: Living,
) -> None:
    """A channel that takes a story's growth as thread replies: the platform stores the
    reply and answers 503. The retry finds it (Slack: the thread's replies, by the
    reply's metadata; Discord: the reply's nonce) instead of replying again."""
    here = Caller(destination=living.destination, tenant=None, can_manage=True)
    await living.core.api.set_updates(here, "thread")
    await living.publish("reuters")
    await living.core.deliverer.deliver_once()
    if living.destination == SLACK:
        living.slack.server_error("chat.postMessage", 503, channel="C1", applied=True)
    else:
        living.discord.fail_channel(CHANNEL_ID, Failure.server_error(503, applied=True))
    await living.publish("scmp")
    for _ in range(5):
        await living.core.deliverer.deliver_once()
        living.clock.advance(minutes=1)
    story, reply = living.messages()
    assert "SCMP" in json.dumps(reply) and "SCMP" not in json.dumps(story)


async def test_an_edit_into_a_channel_that_lost_access_lands_once_access_is_back(
    living: Living,
) -> None:
    """The story's message is posted, then the bot loses access to the channel (Slack
    not_in_channel, Discord 403 Missing Access) just as a second outlet joins. The edit
    waits for access, tried now and then, not dropped: once the bot is back in, the
    message shows the new outlet."""
    await living.publish("reuters")
    assert (await living.core.deliverer.deliver_once()).sent == 1
    living.lose_access()
    await living.publish("scmp")
    for _ in range(10):
        living.clock.advance(seconds=30)
        await living.core.deliverer.deliver_once()
    assert 1 <= living.edit_attempts() <= 6  # probed about once a minute, not every pass
    living.heal()
    living.clock.advance(minutes=10)
    await living.core.deliverer.deliver_once()
    (message,) = living.messages()
    assert "SCMP" in json.dumps(message)


async def test_an_edit_into_a_channel_gone_for_good_is_given_up_after_a_while(
    living: Living,
) -> None:
    """Access never comes back: after EDIT_TRIES failed edits (about an hour and a half)
    the message keeps what it shows, and its channel is asked no more."""
    await living.publish("reuters")
    await living.core.deliverer.deliver_once()
    living.lose_access()
    await living.publish("scmp")
    for _ in range(150):
        living.clock.advance(seconds=60)
        await living.core.deliverer.deliver_once()
    assert living.edit_attempts() == EDIT_TRIES


async def test_an_edit_of_a_deleted_message_is_given_up_at_once(living: Living) -> None:
    """A moderator deleted the story's message: the platform's "no such message" ends its
    updates at the first try (the story is not posted again either)."""
    await living.publish("reuters")
    assert (await living.core.deliverer.deliver_once()).sent == 1
    living.delete_message()
    await living.publish("scmp")
    for _ in range(10):
        living.clock.advance(seconds=30)
        await living.core.deliverer.deliver_once()
    assert living.edit_attempts() == 1
    assert living.messages() == []


# --- secrets: a webhook URL is its own credential -------------------------------------------

SLACK_HOOK_SECRET = "Xq7RsT2vW9yZa4Bc6De8Fg1H"  # the third part of a hooks.slack.com URL


@pytest.mark.parametrize("kind", ["discord-webhook", "slack-webhook"])
async def test_a_failing_webhook_never_writes_its_secret_to_the_log(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    """A webhook URL carries the credential to post with (Discord's token, Slack's last
    part). The webhook was deleted: delivery fails and says so in the log, with the
    destination, but the log the operator collects (JSON lines) never holds the secret."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", root.handlers[:])
    monkeypatch.setattr(root, "level", root.level)
    clock = FakeClock()
    async with FakeDiscord() as fake_discord, FakeSlack() as slack, FeedServer() as server:
        if kind == "discord-webhook":
            destination, secret = f"discord-webhook:{WEBHOOK_URL}", WEBHOOK_TOKEN
            fake_discord.fail_webhook(WEBHOOK_ID, Failure.unknown_webhook())
        else:
            hook = slack.webhook_url(f"T0AAAAAAA/B0BBBBBBB/{SLACK_HOOK_SECRET}")
            destination, secret = f"slack-webhook:{hook}", SLACK_HOOK_SECRET
            slack.webhook_fail(404, "no_service", times=None)
        settings = await _setup(tmp_path, server, clock, 1, [destination])
        discord_hooks = DiscordWebhookNotifier.from_settings(fake_discord.settings())
        try:
            async with core_for(settings, clock=clock) as core:
                core.add_notifier(discord_hooks)
                core.add_notifier(SlackWebhookNotifier(pace_seconds=0))
                await _queue(core, server, clock, 1)
                setup_logging("INFO", "json")
                try:
                    report = await core.deliverer.deliver_once()
                finally:
                    for name in ("discord", "slack_bolt", "slack_sdk", "aiohttp.access"):
                        logging.getLogger(name).setLevel(logging.NOTSET)
        finally:
            await discord_hooks.aclose()
    assert destination in report.failed_destinations
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    failed = [line for line in lines if line["msg"].startswith("delivery failed")]
    assert failed and failed[0]["destination"].startswith(f"{kind}:http")
    assert [line for line in lines if secret in json.dumps(line)] == []


# --- one hung platform, the other channels ---------------------------------------------------


async def test_a_channel_whose_platform_stops_answering_holds_up_no_other(rig: Rig) -> None:
    """Discord takes a post and then never answers (a hung connection, which only the
    client's five-minute timeout would end). Meanwhile two more alerts are queued: Slack's
    channel gets them at once, not after Discord's hang. When Discord answers, its channel
    gets the rest; every alert once, in order, in both channels."""
    hold = Hold()
    rig.discord.post_faults = [hold]
    stop = asyncio.Event()
    sender = asyncio.create_task(rig.core.deliverer.run(stop, idle=0.05))
    try:
        urls = rig.publish(1)
        await rig.core.poll(due_only=False)
        rig.core.deliverer.wake()
        await asyncio.wait_for(hold.held.wait(), 5)
        await rig.slack.wait_for(lambda: len(rig.posted(SLACK)) == 1)
        urls += rig.publish(2)
        await rig.core.poll(due_only=False)
        rig.core.deliverer.wake()
        await rig.slack.wait_for(lambda: len(rig.posted(SLACK)) == 3)
        hold.released.set()
        await rig.discord.wait_for(lambda: len(rig.posted(DISCORD)) == 3)
    finally:
        hold.released.set()
        stop.set()
        await sender
    await rig.assert_exactly_once_in_order(urls)


# --- rate limits are pacing, not failure -----------------------------------------------------


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_a_rate_limited_channel_is_paced_not_failing_and_not_told_it_recovered(
    rig: Rig, destination: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The platform's own limiter answers 429 three times in a row, each asking for longer
    than is waited out in place. Each wait is honoured; the channel is not marked failing
    (no error for the operator), gets no "can post here again" notice (it never stopped
    being reachable), and the alert arrives once."""
    if destination == SLACK:
        rig.slack.rate_limit("chat.postMessage", retry_after=30, times=3, channel="C1")
    else:
        rig.discord.fail_channel(CHANNEL_ID, Failure.rate_limited(90.0, times=3))
    urls = rig.publish(1)
    await rig.poll()
    for _ in range(3):
        await rig.core.deliverer.deliver_once()
        assert rig.posted(destination) == []  # still inside the wait it was asked for
        assert await status_of(rig, destination) is DestinationState.OK
        rig.clock.advance(seconds=95)
    await rig.deliver_all()
    await rig.core.deliverer.deliver_once()
    await rig.assert_exactly_once_in_order(urls)
    assert rig.notices(destination) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_slack_trouble_opening_a_direct_message_is_retried_not_a_broken_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's own watch delivers to their DM, which conversations.open finds first.
    Slack answers that 503 once: the alert is retried and arrives; the DM is not marked
    failing (with an empty reason), nor told afterwards that Wirewatch can post again."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(var, raising=False)
    clock = FakeClock()
    async with FakeSlack() as slack, FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 1, ["slack-dm:U0READER"])
        async with core_for(settings, clock=clock) as core:
            client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.base_url, retry_handlers=[])
            core.add_notifier(SlackNotifier(client, pace_seconds=0))
            await _queue(core, server, clock, 1)
            slack.server_error("conversations.open", 503)
            report = await core.deliverer.deliver_once()
            assert report.sent == 0 and not report.failed_destinations
            statuses = (await core.api.status(Caller.console())).destinations
            assert all(d.state is DestinationState.OK for d in statuses)
            clock.advance(minutes=1)
            assert (await core.deliverer.deliver_once()).sent == 1
            await core.deliverer.deliver_once()
    (message,) = slack.messages["DU0READER"]
    assert "metadata" in message  # the alert, and no notice beside it


@pytest.mark.parametrize("destination", [SLACK, DISCORD])
async def test_a_channel_back_after_its_alerts_were_set_aside_is_not_promised_them(
    rig: Rig, destination: str
) -> None:
    """The bot lost access to a channel for longer than alerts are kept (6 h): the
    alert queued early is moved to the dead-letter list, one queued late waits. When
    access is back, the late alert arrives and the channel's "can post here again"
    notice says the early one was not posted, instead of promising it."""
    if destination == SLACK:
        rig.slack.fail("chat.postMessage", "not_in_channel", channel="C1")
    else:
        rig.discord.fail_channel(CHANNEL_ID, Failure.missing_access())
    early = rig.publish(1)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    rig.clock.advance(hours=5)
    late = rig.publish(1)
    await rig.poll()
    rig.clock.advance(hours=1, minutes=5)
    assert (await rig.core.deliverer.deliver_once()).dead_lettered == 1
    rig.slack.clear_faults()
    rig.discord.clear_failures()
    await rig.deliver_all(step=120)
    posted = [u for m in rig.posted(destination) for u in m]
    assert posted == late and early[0] not in posted
    (notice,) = rig.notices(destination)
    assert "can post here again" in notice
    assert "1 alert" in notice and "were not posted" in notice.replace("was not", "were not")


async def test_a_notice_stuck_on_a_hung_platform_holds_up_no_other_channels_notices(
    rig: Rig,
) -> None:
    """The feed fails: each channel is told. Discord takes its notice and never answers.
    The feed then works again: Slack's channel is told so at once, not after Discord's
    hang; once Discord answers, its channel gets its own two notices, once each."""
    hold = Hold()
    rig.discord.post_faults = [hold]
    rig.feeds.set_feed("/news.rss", "upstream trouble", status=500, content_type="text/plain")
    stop = asyncio.Event()
    sender = asyncio.create_task(rig.core.deliverer.run(stop, idle=0.05))
    try:
        for _ in range(2):
            await rig.core.poll(due_only=False)
            rig.clock.advance(minutes=10)
        rig.core.deliverer.wake()
        await asyncio.wait_for(hold.held.wait(), 5)
        await rig.slack.wait_for(lambda: len(rig.notices(SLACK)) == 1)
        rig.publish(1)  # serves the feed again
        await rig.core.poll(due_only=False)
        rig.core.deliverer.wake()
        await rig.slack.wait_for(lambda: len(rig.notices(SLACK)) == 2)
        hold.released.set()
        await rig.discord.wait_for(lambda: len(rig.notices(DISCORD)) == 2)
    finally:
        hold.released.set()
        stop.set()
        await sender
    assert "works again" in rig.notices(SLACK)[1] and "works again" in rig.notices(DISCORD)[1]


async def test_status_and_the_log_name_each_set_aside_alert_with_its_channel_and_reason(
    rig: Rig, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Discord refuses one alert's message (400 Invalid Form Body): dead-lettered at once,
    the channel fine. Slack's channel is archived and stays so past the dead-letter age:
    the alert is set aside. `wirewatch status` names each, with its channel, headline and
    why; the log line at the dead-letter age says which channel and why, not only how
    many."""
    rig.slack.fail("chat.postMessage", "is_archived", channel="C1")
    rig.discord.fail_channel(CHANNEL_ID, Failure(400, 50035, "Invalid Form Body", times=1))
    rig.publish(1)
    await rig.poll()
    await rig.core.deliverer.deliver_once()
    rig.clock.advance(hours=6, minutes=1)
    await rig.core.deliverer.deliver_once()
    (expired,) = [
        r
        for r in caplog.records
        if "dead-letter list" in r.getMessage() and "refused" not in r.getMessage()
    ]
    assert getattr(expired, "destination", None) == SLACK
    assert "the channel is archived" in expired.getMessage()
    capsys.readouterr()
    await cmd_status(rig.core, show_all=False)
    out = capsys.readouterr().out
    assert "2 dead letters" in out
    (title,) = {str(item["title"]) for item in rig.items}
    dead = [line for line in out.splitlines() if title in line]
    assert len(dead) == 2
    assert any(SLACK in line and "the channel is archived" in line for line in dead)
    assert any(DISCORD in line and "Invalid Form Body" in line for line in dead)
    # A channel's own status in chat names its own, and no other channel's.
    here = Caller(destination=DISCORD, tenant="discord:g:1", user="discord:1")
    text = reply_text(status_reply(await rig.core.api.status(here), DISCORD))
    assert f"Not delivered: {title} — Discord refused this message" in text
    assert "archived" not in text


@pytest.mark.parametrize("error", ["internal_error", "fatal_error"])
async def test_a_slack_error_that_may_have_posted_is_checked_before_posting_again(
    rig: Rig, error: str
) -> None:
    """Slack answers internal_error / fatal_error, which it says may come after part of
    the call succeeded: here the post is in the channel. The retry looks for it first and
    finds it; the alert is in the channel once."""
    rig.slack.fail("chat.postMessage", error, channel="C1", times=1, applied=True)
    urls = rig.publish(1)
    await rig.poll()
    await rig.deliver_all()
    await rig.assert_exactly_once_in_order(urls)
