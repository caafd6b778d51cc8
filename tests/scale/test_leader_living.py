"""Living messages through the leader-elected Discord adapter, as `run` holds it on
PostgreSQL (the docker compose deployment): a story's message is edited as outlets join,
and in thread mode answered in its thread, as with a plain adapter. Real core on a
throwaway PostgreSQL database, the real Discord notifier, the fake Discord."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.discord.client import DiscordAdapter
from bot.core.ports import MessageEditor, ThreadReplier
from bot.leader import gateway_lock_key, with_gateway_leadership
from tests.fakes.discord import CHANNEL_ID, FakeDiscord
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

pytestmark = pytest.mark.postgres

HEADLINE = "China expands rare earth export controls to five more elements"
OUTLETS = ("reuters", "scmp")


async def test_a_story_grows_in_one_message_through_the_leader_elected_adapter(
    postgres_url: str, tmp_path: Path
) -> None:
    """The adapter's notifier, forwarding to whichever client is current, edits and
    replies like the client's own (it only sent: a story carried by two outlets stayed
    the first outlet's message, never edited)."""
    clock = FakeClock()
    destination = f"discord:{CHANNEL_ID}"
    async with FeedServer() as feeds, FakeDiscord() as fake:
        for outlet in OUTLETS:
            feeds.set_feed(f"/{outlet}.rss", rss([], title=outlet.upper()))
        settings = make_settings(
            tmp_path,
            feeds=[feeds.url(f"/{o}.rss") for o in OUTLETS],
            watches=[{"query": '"rare earth"', "channels": [destination]}],
            db_url=postgres_url,
        )
        async with core_for(settings, clock=clock) as core:
            adapter: Any = with_gateway_leadership(
                lambda gateway: DiscordAdapter(core=None, settings=fake.settings(), gateway=False),  # type: ignore[arg-type]
                core.store.engine,
                key=gateway_lock_key(None),
                instance="i1",
            )
            await adapter.start()
            try:
                (notifier,) = adapter.notifiers()
                assert isinstance(notifier, MessageEditor)
                assert isinstance(notifier, ThreadReplier)
                core.add_notifier(notifier)
                await core.poll(due_only=False)  # seeds silently
                for n, outlet in enumerate(OUTLETS):
                    clock.advance(minutes=10)
                    item = {
                        "title": HEADLINE,
                        "link": f"https://{outlet}.test/rare-earth-controls",
                        "guid": f"{outlet}-1",
                        "description": "Beijing added holmium to its export list.",
                        "pubDate": clock.now() - timedelta(minutes=5),
                    }
                    feeds.set_feed(f"/{outlet}.rss", rss([item], title=outlet.upper()))
                    await core.poll(due_only=False)
                    await core.deliverer.deliver_once()
                    assert len(fake.messages.get(CHANNEL_ID, [])) == 1
                    assert len(fake.edited) == n
                (message,) = fake.messages[CHANNEL_ID]
                assert "SCMP" in str(message.get("embeds"))
            finally:
                await adapter.stop()
