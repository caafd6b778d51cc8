"""Operational notices on both platforms, each in its own command syntax.

A manager adds a feed from chat and a watch here; the feed fails, the channel is told
once, naming the command that removes it as THIS platform types it (Slack
``/news feeds remove 2`` with the app's configured slash command, Discord ``/feeds remove
feed:2``); the feed recovers and the channel is told once; typing the named command removes
the feed. The operator's feed failing asks for the operator, naming no command the
channel could not run. Text rows queued before notices were data are posted as written.
Driven as a user would: slash commands through the real slack-bolt app and the real
discord.py client, the real core on SQLite polling the local feed server, the real
notifiers posting to fake Slack and Discord."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.slack.app import SlackAdapter
from bot.adapters.slack.render import EVENT_TYPE
from bot.app import Core
from bot.core.api import Caller
from bot.store.schema import notices
from tests.adapters.slack.conftest import _PROXY_VARS, slack_settings
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

ADMIN = "UADMIN"
SLASH = "/news"  # not the default: the notice must follow the app's configured command
CODE = re.compile(r"`([^`]+)`")


class Channel:
    """One channel on one platform, as its members see it."""

    platform: str
    core: Core
    feeds: FeedServer
    clock: FakeClock

    async def run(self, words: str) -> str:
        """Type a command (``feeds add URL``) as this platform takes it; return the answer."""
        raise NotImplementedError

    async def type_as_shown(self, shown: str) -> str:
        """Type a command exactly as a notice showed it."""
        raise NotImplementedError

    def notices(self) -> list[str]:
        """Messages here that carry no alert, as posted (platform markup included)."""
        raise NotImplementedError

    async def fail_then_recover(self, path: str, polls: int) -> None:
        self.feeds.set_feed(path, "upstream trouble", status=500, content_type="text/plain")
        for _ in range(polls):
            self.clock.advance(hours=1)
            await self.core.poll(due_only=False)
            await self.core.deliverer.deliver_notices()


class SlackChannel(Channel):
    platform = "slack"

    def __init__(self, fake: FakeSlack) -> None:
        self.fake = fake

    async def run(self, words: str) -> str:
        responses = len(self.fake.responses)
        ack = await self.fake.send_slash_command(
            words, user_id=ADMIN, channel_id="C1", command=SLASH
        )
        message = ack
        if not ack.get("blocks"):  # slow: the answer follows through response_url
            await self.fake.wait_for(lambda: len(self.fake.responses) > responses)
            message = self.fake.responses[-1].body
        blocks = message.get("blocks") or []
        return "\n".join(b["text"]["text"] for b in blocks if b.get("text")) or str(
            message.get("text", "")
        )

    async def type_as_shown(self, shown: str) -> str:
        command, _, words = shown.partition(" ")
        assert command == SLASH, f"{shown!r} is not this app's command"
        return await self.run(words)

    def notices(self) -> list[str]:
        return [
            str(m.get("text", ""))
            for m in self.fake.messages.get("C1", [])
            if (m.get("metadata") or {}).get("event_type") != EVENT_TYPE and not m.get("blocks")
        ]


class DiscordChannel(Channel):
    platform = "discord"

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    async def _slash(self, group: str, leaf: str, options: dict[str, Any]) -> str:
        call = await self.fake.slash(group, options, subcommand=leaf)
        if call.callback_type == 5:  # deferred: an edit, or (a private answer) a followup
            await self.fake.wait_for(lambda: bool(call.edits or call.followups))
        if call.followups:
            return str(call.followups[-1].get("content") or "")
        return call.text

    async def run(self, words: str) -> str:
        group, leaf, rest = words.split(" ", 2)
        option = {"feeds add": "url", "watch add": "query", "feeds remove": "feed"}
        return await self._slash(group, leaf, {option[f"{group} {leaf}"]: rest})

    async def type_as_shown(self, shown: str) -> str:
        slash_group, leaf, option = shown.split(" ")
        assert slash_group.startswith("/"), f"{shown!r} is not a Discord slash command"
        name, _, value = option.partition(":")
        return await self._slash(slash_group[1:], leaf, {name: value})

    def notices(self) -> list[str]:
        return [
            str(m.get("content") or "")
            for m in self.fake.messages.get(CHANNEL_ID, [])
            if not m.get("embeds")
        ]


@pytest.fixture(params=["slack", "discord"])
async def channel(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Channel]:
    for var in _PROXY_VARS:  # slack_sdk ignores NO_PROXY: 127.0.0.1 must go direct
        monkeypatch.delenv(var, raising=False)
    clock = FakeClock()
    async with contextlib.AsyncExitStack() as stack:
        feeds = await stack.enter_async_context(FeedServer())
        feeds.set_feed("/ops.rss", rss([], title="Ops wire"))
        feeds.set_feed("/desk.rss", rss([], title="Desk feed"))
        settings = make_settings(
            tmp_path,
            feeds=[{"url": feeds.url("/ops.rss"), "name": "Ops wire"}],
            poll={"failing_after": 2},
            # The feed server is on 127.0.0.1: chat may reach it only through the allow-list.
            fetch={"chat_private_allowlist": ["127.0.0.1"]},
        )
        core = await stack.enter_async_context(core_for(settings, clock=clock))
        chan: Channel
        if request.param == "slack":
            fake_slack = await stack.enter_async_context(FakeSlack())
            fake_slack.users[ADMIN] = {"is_admin": True}
            adapter: Any = SlackAdapter(
                core=core.api,
                settings=slack_settings(fake_slack, command=SLASH),
                pace_seconds=0.0,
                http_host="127.0.0.1",
            )
            chan = SlackChannel(fake_slack)
        else:
            fake = await stack.enter_async_context(FakeDiscord())
            adapter = DiscordAdapter(
                core=core.api, settings=fake.settings(), guild_ready_timeout=0.05
            )
            chan = DiscordChannel(fake)
        await adapter.start()
        stack.push_async_callback(adapter.stop)
        for notifier in adapter.notifiers():
            core.add_notifier(notifier)
        chan.core, chan.feeds, chan.clock = core, feeds, clock
        yield chan


def _plain(text: str) -> str:
    for mark in ("*", "\\"):
        text = text.replace(mark, "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


async def test_a_chat_feed_failing_and_recovering_is_told_in_this_platforms_syntax(
    channel: Channel,
) -> None:
    added = _plain(await channel.run(f"feeds add {channel.feeds.url('/desk.rss')}"))
    feed_id = re.search(r"#(\d+)", added)
    assert feed_id is not None, added
    assert "Watch" in _plain(await channel.run('watch add "rare earth"'))
    # Another workspace's channel subscribes too: this workspace's feed is none of its news.
    other = Caller("slack:C9", "slack:TOTHER", can_manage=True)
    await channel.core.api.add_watch(other, "lithium")
    await channel.core.poll(due_only=False)  # seeds silently

    await channel.fail_then_recover("/desk.rss", polls=3)
    (failing,) = channel.notices()
    assert "⚠️ Feed “Desk feed” is failing since" in _plain(failing)
    assert "HTTP 500" in failing and channel.feeds.url("/desk.rss") in failing
    shown = CODE.findall(failing)
    if channel.platform == "slack":
        assert shown == [f"{SLASH} feeds remove {feed_id[1]}"]
    else:
        assert shown == [f"/feeds remove feed:{feed_id[1]}"]
    assert "wirewatch feed" not in failing  # never the command line's words in chat

    channel.feeds.set_feed("/desk.rss", rss([], title="Desk feed"))
    channel.clock.advance(hours=1)
    await channel.core.poll(due_only=False)
    await channel.core.deliverer.deliver_notices()
    assert len(channel.notices()) == 2
    assert _plain(channel.notices()[1]) == "✅ Feed “Desk feed” works again; alerts from it resume."

    # The command the notice named does what it said, typed exactly as shown.
    answer = _plain(await channel.type_as_shown(shown[0]))
    assert f"#{feed_id[1]}" in answer and "removed" in answer
    assert [f.url for f in await channel.core.api.list_feeds(Caller.console())] == [
        channel.feeds.url("/ops.rss")
    ]
    async with channel.core.store.engine.connect() as conn:
        told = {r[0] for r in await conn.execute(select(notices.c.destination))}
    assert "slack:C9" not in told


async def test_the_operators_feed_failing_names_no_command_the_channel_cannot_run(
    channel: Channel,
) -> None:
    await channel.run('watch add "rare earth"')
    await channel.core.poll(due_only=False)
    await channel.fail_then_recover("/ops.rss", polls=2)
    (failing,) = channel.notices()
    assert "⚠️ Feed “Ops wire” is failing since" in _plain(failing)
    assert _plain(failing).endswith("ask the operator to remove it.")
    assert CODE.findall(failing) == []


async def test_text_queued_before_notices_were_data_is_posted_as_written(
    channel: Channel,
) -> None:
    """A row holding only text (what 0005 and earlier queued) goes out unchanged apart from
    the escaping every untrusted text gets: no mention, no markup."""
    destination = "slack:C1" if channel.platform == "slack" else f"discord:{CHANNEL_ID}"
    old = "⚠️ Feed “@everyone <!channel>” is failing. Remove it with `feeds remove`."
    await channel.core.store.queue_notices([(destination, old)], channel.clock.now())
    assert await channel.core.deliverer.deliver_notices() == 1
    (posted,) = channel.notices()
    if channel.platform == "slack":
        assert posted == (
            "⚠️ Feed “@\u200deveryone &lt;!channel&gt;” is failing. Remove it with `feeds remove`."
        )
    else:
        # Markdown escaped too: such text holds a feed's title and a server's error text,
        # which must not bring a masked link or a spoiler of their own.
        assert posted == (
            "⚠️ Feed “@\u200beveryone \\<!channel\\>” is failing. Remove it with \\`feeds remove\\`."
        )
