"""From feed to channel: a real poll of a local feed server, the real core and outbox, the
Slack adapter's notifier, and the fake Slack recording the chat.postMessage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.slack.render import EVENT_TYPE
from bot.app import Core
from tests.adapters.slack.conftest import StartAdapter
from tests.adapters.slack.test_slack_render import assert_within_limits
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings


def _alert_post(params: dict[str, Any]) -> bool:
    """Whether a chat.postMessage carried alerts (a notice carries metadata of its own)."""
    return bool((params.get("metadata") or {}).get("event_type") == EVENT_TYPE)


ADMIN = "UADMIN"


def item(
    slug: str, title: str, clock: FakeClock, *, minutes: int = 5, **extra: Any
) -> dict[str, Any]:
    data = {
        "title": title,
        "link": f"https://reuters.test/{slug}",
        "guid": f"reuters-{slug}",
        "description": f"{title}. More to follow.",
        "pubDate": clock.now() - timedelta(minutes=minutes),
    }
    data.update(extra)
    return data


@dataclass
class Pipeline:
    core: Core
    slack: FakeSlack
    feeds: FeedServer
    clock: FakeClock
    seed: list[dict[str, Any]]

    async def publish(self, *items: dict[str, Any]) -> None:
        """Put new items on top of the feed and poll it."""
        self.clock.advance(minutes=10)
        self.seed = [*items, *self.seed]
        self.feeds.set_feed("/r.rss", rss(self.seed, title="Reuters test"))
        await self.core.poll(due_only=False)


@pytest.fixture
async def pipeline(
    tmp_path: Path, fake_slack: FakeSlack, start_adapter: StartAdapter
) -> AsyncIterator[Pipeline]:
    clock = FakeClock()
    fake_slack.users[ADMIN] = {"is_admin": True}
    watches = [
        {
            "query": '"rare earth"',
            "name": "rare earth",
            "channels": ["slack:C1"],
            "mention": "S0ANALYSTS",
        },
    ]
    async with FeedServer() as feeds:
        seed = [item("seed", "Markets open quietly", clock, minutes=60)]
        feeds.set_feed("/r.rss", rss(seed, title="Reuters test"))
        settings = make_settings(tmp_path, feeds=[feeds.url("/r.rss")], watches=watches)
        async with core_for(settings, clock=clock) as core:
            adapter = await start_adapter(core.api)
            for notifier in adapter.notifiers():
                core.add_notifier(notifier)
            await core.poll(due_only=False)  # a new feed's existing items are recorded silently
            yield Pipeline(core, fake_slack, feeds, clock, seed)


async def test_alert_from_a_real_poll_arrives_as_block_kit_with_metadata(
    pipeline: Pipeline,
) -> None:
    """A matching new item becomes one chat.postMessage with the headline link, Slack date,
    bold match, context line, buttons, the watch's user-group mention and the alert id."""
    await pipeline.publish(
        item(
            "re",
            "China curbs rare earth exports",
            pipeline.clock,
            description="Beijing tightened rare earth rules.",
        )
    )
    report = await pipeline.core.deliverer.deliver_once()
    assert report.sent == 1
    (post,) = pipeline.slack.posts("C1")
    blocks = post.params["blocks"]
    assert (
        blocks[0]["text"]["text"]
        == "<!subteam^S0ANALYSTS> *<https://reuters.test/re|China curbs rare earth exports>*"
    )
    assert "<!date^" in blocks[1]["elements"][0]["text"]
    assert "tightened *rare earth* rules" in blocks[2]["text"]["text"]
    assert blocks[3]["elements"][0]["text"].startswith("matched: rare earth · watch #")
    assert [e["text"]["text"] for e in blocks[4]["elements"]] == [
        "Open article",
        "Mute this story",
        "Not relevant",
        "Pause watch 24h",
        "Mute this watch here",
    ]
    assert post.params["text"].startswith("<!subteam^S0ANALYSTS> China curbs rare earth exports")
    alert_id = post.params["metadata"]["event_payload"]["alert_id"]
    (alert,) = await pipeline.core.store.alerts_by_ids([alert_id])
    assert alert.destination == "slack:C1"
    assert (await pipeline.core.deliverer.deliver_once()).sent == 0  # sent once, recorded


async def test_mentions_in_feed_text_are_neutralised_end_to_end(pipeline: Pipeline) -> None:
    """A headline with <!channel> / @here pings nobody; only the configured group is mentioned."""
    await pipeline.publish(
        item("evil", "<!channel> rare earth @here shock <@U0BOSS>", pipeline.clock,
             description="@everyone rare earth <!here>")
    )  # fmt: skip
    await pipeline.core.deliverer.deliver_once()
    (post,) = pipeline.slack.posts("C1")
    everything = str(post.params["blocks"]) + post.params["text"]
    for ping in ("<!channel>", "<!here>", "<@U0BOSS>", "@here", "@everyone"):
        assert ping not in everything
    assert everything.count("<!subteam^") == 2  # headline block and notification text


async def test_channel_subscribed_by_command_receives_its_new_watch_alerts(
    pipeline: Pipeline,
) -> None:
    """The user story: `/wirewatch watch add lithium` in C7, a lithium item appears, the
    alert lands in C7."""
    ack = await pipeline.slack.send_slash_command(
        "watch add lithium", user_id=ADMIN, channel_id="C7"
    )
    assert "added" in ack["text"]
    await pipeline.publish(item("li", "Lithium prices slide again", pipeline.clock))
    await pipeline.core.deliverer.deliver_once()
    (post,) = [p for p in pipeline.slack.posts("C7") if _alert_post(p.params)]
    assert "Lithium prices slide again" in post.params["blocks"][0]["text"]["text"]


async def test_bot_not_in_channel_marks_it_failing_then_delivers_after_invite(
    pipeline: Pipeline,
) -> None:
    """not_in_channel fails that destination with the reason (shown by status) and keeps
    the alert; once the bot is invited the same alert is delivered. Nothing is lost."""
    pipeline.slack.fail("chat.postMessage", "not_in_channel", channel="C1", times=1)
    await pipeline.publish(item("re2", "Rare earth magnets in short supply", pipeline.clock))
    report = await pipeline.core.deliverer.deliver_once()
    assert report.sent == 0 and "invite" in report.failed_destinations["slack:C1"]
    status = await pipeline.slack.send_slash_command("status", user_id="UMEMBER")
    assert "not a member of this channel" in str(status["blocks"])
    pipeline.clock.advance(minutes=30)
    assert (await pipeline.core.deliverer.deliver_once()).sent == 1
    delivered = [p for p in pipeline.slack.posts("C1") if _alert_post(p.params)]
    alert, notice = pipeline.slack.messages["C1"]
    assert len(delivered) == 2 and "metadata" in alert
    assert "can post here again" in notice["text"]  # told once, after the invite


async def test_a_burst_arrives_condensed_and_within_limits(pipeline: Pipeline) -> None:
    """Seven matching items at once (over the burst threshold of 5) reach the channel as
    condensed listings, never seven separate posts, each within Slack's limits."""
    await pipeline.publish(
        *[
            item(f"b{i}", f"Rare earth update number {i}", pipeline.clock, minutes=i + 1)
            for i in range(7)
        ]
    )
    report = await pipeline.core.deliverer.deliver_once()
    assert report.sent == 7
    posts = [p for p in pipeline.slack.posts("C1") if _alert_post(p.params)]
    assert len(posts) < 7
    listing = posts[0].params["blocks"]
    assert listing[0]["text"]["text"].endswith("new stories* for watch #1 (rare earth)")
    assert_within_limits(listing)
    ids = [i for p in posts for i in p.params["metadata"]["event_payload"]["alert_ids"]]
    assert len(ids) == len(set(ids)) == 7


async def test_failing_feed_notice_reaches_the_channel_once(pipeline: Pipeline) -> None:
    """When the feed starts failing, the subscribed channel gets one plain-text notice,
    not one per failed poll."""
    pipeline.feeds.set_feed("/r.rss", "gone", status=503, content_type="text/plain")
    for _ in range(5):
        pipeline.clock.advance(minutes=10)
        await pipeline.core.poll(due_only=False)
        await pipeline.core.deliverer.deliver_once()
    notices = [p for p in pipeline.slack.posts("C1") if not _alert_post(p.params)]
    assert len(notices) == 1
    assert "failing" in notices[0].params["text"] and not notices[0].params.get("blocks")
