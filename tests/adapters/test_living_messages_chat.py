"""Issue-level check of living messages on both platforms: a story carried by three
outlets over three polls is ONE message in the channel, edited twice (Slack chat.update,
Discord message PATCH) to list the new outlets; a materially re-titled item edits it
again, marked updated. Real core on SQLite, real notifiers, fake Slack and Discord."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.slack.app import SlackAdapter
from bot.app import Core
from tests.adapters.slack.conftest import _PROXY_VARS, slack_settings
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

HEADLINE = "China expands rare earth export controls to five more elements"
OUTLETS = ("reuters", "scmp", "nikkei")


class Channel:
    """What one chat channel shows, whatever the platform."""

    def __init__(self, platform: str, fake: Any) -> None:
        self.platform, self.fake = platform, fake

    @property
    def destination(self) -> str:
        return "slack:C1" if self.platform == "slack" else f"discord:{CHANNEL_ID}"

    def messages(self) -> list[dict[str, Any]]:
        if self.platform == "slack":
            return list(self.fake.messages.get("C1", []))
        return list(self.fake.messages.get(CHANNEL_ID, []))

    def edits(self) -> int:
        if self.platform == "slack":
            return len(self.fake.calls_to("chat.update"))
        return len(self.fake.edited)

    @staticmethod
    def text(message: dict[str, Any]) -> str:
        parts = [str(message.get("text") or message.get("content") or "")]
        for block in message.get("blocks") or []:
            parts.append(str(block.get("text", {}).get("text", "")))
            parts.extend(str(e.get("text", "")) for e in block.get("elements") or [])
        for embed in message.get("embeds") or []:
            parts.append(str(embed.get("title", "")))
            parts.extend(f"{f['name']}: {f['value']}" for f in embed.get("fields") or [])
            parts.append(str((embed.get("footer") or {}).get("text", "")))
        return "\n".join(parts)


@pytest.fixture(params=["slack", "discord"])
async def setup(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Core, Channel, FeedServer, FakeClock]]:
    clock = FakeClock()
    for var in _PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    async with contextlib.AsyncExitStack() as stack:
        feeds = await stack.enter_async_context(FeedServer())
        for outlet in OUTLETS:
            feeds.set_feed(f"/{outlet}.rss", rss([], title=outlet.upper()))
        if request.param == "slack":
            fake: Any = await stack.enter_async_context(FakeSlack())
            adapter: Any = SlackAdapter(core=None, settings=slack_settings(fake), pace_seconds=0)  # type: ignore[arg-type]
        else:
            fake = await stack.enter_async_context(FakeDiscord())
            adapter = DiscordAdapter(core=None, settings=fake.settings(), gateway=False)  # type: ignore[arg-type]
            await adapter.start()
            stack.push_async_callback(adapter.stop)
        channel = Channel(request.param, fake)
        settings = make_settings(
            tmp_path,
            feeds=[feeds.url(f"/{o}.rss") for o in OUTLETS],
            watches=[
                {"query": '"rare earth"', "name": "rare earths", "channels": [channel.destination]},
                {"query": "holmium", "channels": [channel.destination]},
            ],
        )
        core = await stack.enter_async_context(core_for(settings, clock=clock))
        for notifier in adapter.notifiers():
            core.add_notifier(notifier)
        await core.poll(due_only=False)  # seeds silently
        yield core, channel, feeds, clock


def item(outlet: str, clock: FakeClock, title: str = HEADLINE) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://{outlet}.test/rare-earth-controls",
        "guid": f"{outlet}-1",
        "description": "Beijing added holmium and four other elements to its export list.",
        "pubDate": clock.now() - timedelta(minutes=5),
    }


async def test_one_message_per_story_edited_as_outlets_join_and_the_headline_changes(
    setup: tuple[Core, Channel, FeedServer, FakeClock],
) -> None:
    core, channel, feeds, clock = setup
    for n, outlet in enumerate(OUTLETS):
        clock.advance(minutes=10)
        feeds.set_feed(f"/{outlet}.rss", rss([item(outlet, clock)], title=outlet.upper()))
        await core.poll(due_only=False)
        await core.deliverer.deliver_once()
        assert len(channel.messages()) == 1, "a story is never posted twice"
        assert channel.edits() == n
    (message,) = channel.messages()
    text = channel.text(message)
    # Two watches matched: one headline listing both (Slack adds its notification text).
    assert text.count(HEADLINE) == (2 if channel.platform == "slack" else 1)
    assert "watch #1 (rare earths)" in text and "watch #2" in text
    assert "SCMP" in text and "NIKKEI" in text and "https://scmp.test/rare-earth-controls" in text

    clock.advance(minutes=10)
    retitled = item("reuters", clock, "China expands rare earth export controls to seven elements")
    feeds.set_feed("/reuters.rss", rss([retitled], title="REUTERS"))
    await core.poll(due_only=False)
    await core.deliverer.deliver_once()
    (message,) = channel.messages()
    assert channel.edits() == 3
    text = channel.text(message)
    assert "seven elements" in text and "updated" in text


async def test_the_outlets_own_follow_up_shows_by_its_headline(
    setup: tuple[Core, Channel, FeedServer, FakeClock],
) -> None:
    # An outlet's second article on a story is never an "also reported by" name: before,
    # it joined the story and the message showed nothing of it.
    core, channel, feeds, clock = setup
    clock.advance(minutes=10)
    first = item("reuters", clock)
    feeds.set_feed("/reuters.rss", rss([first], title="REUTERS"))
    await core.poll(due_only=False)
    await core.deliverer.deliver_once()
    clock.advance(minutes=10)
    follow_up = {
        **item("reuters", clock, "China's expanded rare earth export controls add holmium"),
        "link": "https://reuters.test/rare-earth-holmium",
        "guid": "reuters-2",
        "description": "Holmium and four other elements now need an export licence, Beijing said.",
    }
    feeds.set_feed("/reuters.rss", rss([follow_up, first], title="REUTERS"))
    await core.poll(due_only=False)
    await core.deliverer.deliver_once()
    (message,) = channel.messages()
    assert channel.edits() == 1
    text = channel.text(message)
    assert "China's expanded rare earth export controls add holmium" in text
    assert "https://reuters.test/rare-earth-holmium" in text
    assert "more on this story" in text.lower()
