"""From a feed item to a Discord message: real poll of a local feed server, the real core
and outbox, the real bot, the fake Discord recording what the channel would show."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.adapters.discord.client import DiscordAdapter
from bot.app import Core
from tests.adapters.discord.conftest import FIRST_ITEMS, news_item
from tests.fakes.discord import CHANNEL_ID, Failure, FakeDiscord
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock

DEST = f"discord:{CHANNEL_ID}"


def wire(core: Core, bot: DiscordAdapter) -> None:
    """What ``wirewatch run`` does: a chat adapter is on (so no console default), and its
    notifiers serve their destinations."""
    core.chat_enabled = True
    for notifier in bot.notifiers():
        core.add_notifier(notifier)


def publish(feeds: FeedServer, clock: FakeClock, *new: tuple[str, str, str]) -> None:
    """Put new items (slug, title, description) on top of the feed's first items."""
    items = [
        news_item(slug, title, clock, age_minutes=2, description=text) for slug, title, text in new
    ]
    items += [news_item(slug, title, clock, age_minutes=60) for slug, title in FIRST_ITEMS]
    feeds.set_feed("/news.rss", rss(items, title="Reuters test"))


async def test_a_matching_item_arrives_in_the_channel_as_an_embed(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer, clock: FakeClock
) -> None:
    """/subscribe in the channel, a first (silent) poll, a new rare-earth item, a poll and
    a delivery pass: the channel gets one message with the expected embed, sent with the
    alert's nonce and no pings."""
    wire(core, bot)
    await fake.slash("subscribe")
    await core.poll(due_only=False)
    assert (await core.deliverer.deliver_once()).sent == 0

    clock.advance(minutes=10)
    publish(feeds, clock, ("re-1", "Rare earth exports slump as curbs bite",
                           "Shipments of rare-earth magnets fell 20% @everyone."))  # fmt: skip
    report = await core.poll(due_only=False)
    assert len(report.alert_ids) == 1
    delivered = await core.deliverer.deliver_once()
    assert delivered.sent == 1

    (message,) = fake.messages[CHANNEL_ID]
    (post,) = fake.message_posts(CHANNEL_ID)
    assert post.body["nonce"] == f"ww{report.alert_ids[0]}"
    assert post.body["enforce_nonce"] is True
    assert post.body["allowed_mentions"] == {"parse": []}
    (embed,) = message["embeds"]
    assert embed["title"] == "Rare earth exports slump as curbs bite"
    assert embed["url"] == "https://reuters.test/re-1"
    assert embed["description"] == ("Shipments of **rare-earth** magnets fell 20% @\u200beveryone.")
    assert embed["footer"]["text"] == "matched: rare earth · watch #1 (rare earth)"
    assert embed["author"]["name"] == "Reuters test"
    assert datetime.fromisoformat(embed["timestamp"]) == clock.now() - timedelta(minutes=2)

    # Nothing is sent twice: another poll and delivery pass post nothing new.
    await core.poll(due_only=False)
    await core.deliverer.deliver_once()
    assert len(fake.messages[CHANNEL_ID]) == 1


async def test_lost_access_marks_the_channel_failing_and_delivery_resumes_when_back(
    fake: FakeDiscord, bot: DiscordAdapter, core: Core, feeds: FeedServer, clock: FakeClock
) -> None:
    """403 Missing Access: the destination is failing with the reason (seen in /status),
    other work goes on; once access is back the held alert is delivered, once."""
    wire(core, bot)
    await fake.slash("subscribe")
    await core.poll(due_only=False)
    clock.advance(minutes=10)
    publish(feeds, clock, ("li-1", "Lithium miners cut output", "Lithium output cut."))
    await core.poll(due_only=False)

    fake.fail_channel(CHANNEL_ID, Failure.missing_access())
    report = await core.deliverer.deliver_once()
    assert report.sent == 0
    assert report.failed_destinations[DEST].startswith("Missing Access")
    status = await fake.slash("status")
    assert "**This channel:** ⚠️ failing since" in status.text
    assert "Missing Access: the bot cannot see this channel" in status.text

    fake.clear_failures(CHANNEL_ID)
    clock.advance(minutes=10)  # past the probe delay for a permanently failing destination
    assert (await core.deliverer.deliver_once()).sent == 1
    alert, notice = fake.messages[CHANNEL_ID]
    assert alert["embeds"][0]["title"] == "Lithium miners cut output"
    assert "can post here again" in notice["content"]  # told once, when access returned
    status = await fake.slash("status")
    assert "This channel:" not in status.text and "Wirewatch status" in status.text
