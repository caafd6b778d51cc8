"""Discord's 400 "Not a well formed URL": links are encoded so it does not happen, and when
Discord refuses a message anyway only that message fails (dead letter), not the channel."""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.adapters.discord.notifier import ChannelPacer, DiscordNotifier, delivery_error
from bot.core.api import Caller
from bot.core.errors import RejectedMessageError
from tests.adapters.discord.test_discord_render import make_alert
from tests.core.test_delivery import _queue, _setup
from tests.fakes.discord import CHANNEL_ID, Failure, FakeDiscord
from tests.feedserver import FeedServer
from tests.support import FakeClock, core_for

DEST = f"discord:{CHANNEL_ID}"


async def test_the_fake_refuses_a_malformed_url_as_discord_does(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """An embed URL with a space gets 400, code 50035, which is a refusal of this message."""
    channel = membot.client.get_partial_messageable(CHANNEL_ID)
    with pytest.raises(discord.HTTPException) as caught:
        await channel.send(embed=discord.Embed(title="t", url="https://news.test/a story"))
    assert (caught.value.status, caught.value.code) == (400, 50035)
    error = delivery_error(caught.value)
    assert isinstance(error, RejectedMessageError)
    assert "Not a well formed URL" in error.reason
    assert fake.messages.get(CHANNEL_ID, []) == []


async def test_links_with_spaces_and_non_ascii_are_delivered_encoded(
    fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """The alert that used to be refused (a link with spaces) now goes out, encoded."""
    alert = make_alert(
        1, url="https://news.test/a story [live]", image_url="https://img.test/ü pic.jpg"
    )
    await DiscordNotifier(membot.client).send(DEST, [alert])
    (message,) = fake.messages[CHANNEL_ID]
    (embed,) = message["embeds"]
    assert embed["url"] == "https://news.test/a%20story%20%5Blive%5D"
    assert embed["thumbnail"]["url"] == "https://img.test/%C3%BC%20pic.jpg"


async def test_a_refused_message_is_dead_lettered_and_the_channel_carries_on(
    tmp_path: Path, fake: FakeDiscord, membot: DiscordAdapter
) -> None:
    """Seven alerts queued: Discord refuses the burst and then the first alert alone; that
    alert is dead-lettered with Discord's reason, the other six arrive, the channel is ok."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = await _setup(tmp_path, server, clock, 7, [DEST])
        async with core_for(settings, clock=clock) as core:
            core.add_notifier(DiscordNotifier(membot.client, pacer=ChannelPacer(limit=100)))
            ids = sorted(await _queue(core, server, clock, 7))
            fake.fail_channel(CHANNEL_ID, Failure(400, 50035, "Invalid Form Body", times=2))
            await core.deliverer.deliver_once()

            posted = [len(m["embeds"]) for m in fake.messages[CHANNEL_ID]]
            assert sum(posted) == 6
            (dead,) = await core.store.dead_letters()
            assert dead.id == ids[0]
            assert "Discord refused this message (HTTP 400): Invalid Form Body" in dead.last_error
            status = await core.api.status(Caller.console())
            assert status.outbox_depth == 0 and status.dead_letters == 1
            assert all(d.state.value == "ok" for d in status.destinations)
