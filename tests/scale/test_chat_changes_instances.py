"""What chat changes on one instance, every instance acts on: a watch added, or a channel
unsubscribed, through one replica's chat is matched (or no longer alerted) by a replica
that polls the feed, from its next cycle on."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import open_core
from bot.core.api import Caller
from bot.settings import Settings, WatchConfig
from tests.feedserver import FeedServer, rss

pytestmark = pytest.mark.postgres

CHANNEL = Caller("slack:C1", "slack:T1", user="slack:U1", can_manage=True)


def _item(n: int, title: str) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://wire.test/{n}",
        "guid": f"wire-{n}",
        "pubDate": datetime.now(UTC),
    }


async def test_a_watch_changed_in_chat_on_one_instance_is_matched_by_another(
    postgres_url: str,
) -> None:
    async with FeedServer() as server:
        server.set_feed("/wire.rss", rss([], title="Wire"))
        settings = Settings(
            database={"url": postgres_url},
            fetch={"allow_private_addresses": True},
            poll={"backfill": 0},
            health={"enabled": False},
            watches=[WatchConfig(query="tariff", channels=["console"])],
            feeds=[{"url": server.url("/wire.rss")}],
        )
        async with contextlib.AsyncExitStack() as stack:
            chatting, polling = [
                await stack.enter_async_context(open_core(settings, instance_id=f"node-{n}"))
                for n in range(2)
            ]
            await polling.poll(due_only=False)  # seeds the feed, and its watches are known
            added = await chatting.api.add_watch(CHANNEL, "cobalt")

            server.set_feed("/wire.rss", rss([_item(1, "Cobalt prices jump")], title="Wire"))
            await polling.poll(due_only=False)
            async with polling.store.transaction() as conn:
                alerted = (
                    await conn.execute(text("SELECT watch_id, destination FROM alerts"))
                ).all()
            assert [tuple(r) for r in alerted] == [(added.id, "slack:C1")]

            await chatting.api.unsubscribe(CHANNEL, ["cobalt"])
            server.set_feed(
                "/wire.rss",
                rss([_item(2, "Cobalt mine reopens"), _item(1, "Cobalt prices jump")]),
            )
            report = await polling.poll(due_only=False)
            assert report.new_articles == 1
            async with polling.store.transaction() as conn:
                count = (await conn.execute(text("SELECT COUNT(*) FROM alerts"))).scalar_one()
            assert count == 1, "an unsubscribed channel was alerted by another instance"
