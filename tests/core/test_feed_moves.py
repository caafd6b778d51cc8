"""A feed whose URL permanently redirects (every hop a 301 or 308) is polled where it
moved, without the extra hop each poll, and keeps working when the old address stops
redirecting. It keeps its URL and identity: nothing it carried alerts again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web

from bot.core.api import Caller
from bot.core.commands.handlers import feed_line
from bot.core.errors import DuplicateError
from bot.core.models import FeedHealth
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings


def story(slug: str, title: str, clock: FakeClock) -> dict[str, object]:
    return {
        "title": title,
        "link": f"https://wire.test/{slug}",
        "guid": f"wire-{slug}",
        "pubDate": clock.now() - timedelta(minutes=10),
    }


async def test_a_permanently_moved_feed_is_polled_where_it_moved(tmp_path: Path) -> None:
    clock = FakeClock()
    async with FeedServer() as server:

        async def moved(request: web.Request) -> web.StreamResponse:
            return web.Response(status=301, headers={"Location": "/new.rss"})

        server.set_handler("/old.rss", moved)
        seed = story("seed", "Markets open higher", clock)
        server.set_feed("/new.rss", rss([seed]))
        settings = make_settings(tmp_path, feeds=[server.url("/old.rss")], watches=['"rare earth"'])
        async with core_for(settings, clock=clock) as core:
            await core.poll(due_only=False)
            [feed] = await core.api.list_feeds(Caller.console())
            assert (feed.url, feed.moved_to) == (server.url("/old.rss"), server.url("/new.rss"))
            assert f"moved to {server.url('/new.rss')}" in "".join(map(str, feed_line(feed)))

            # Polled at the new address directly: the old one is not asked again.
            news = story("quota", "China cuts rare earth export quota", clock)
            server.set_feed("/new.rss", rss([news, seed]))
            clock.advance(minutes=10)
            report = await core.poll(due_only=False)
            assert len(report.alert_ids) == 1
            assert (server.hits("/old.rss"), server.hits("/new.rss")) == (1, 2)

            # The new address goes away and the old one serves the feed again: the feed
            # goes home, and what it already carried does not alert again.
            server.remove("/new.rss")
            clock.advance(minutes=10)
            await core.poll(due_only=False)
            [feed] = await core.api.list_feeds(Caller.console())
            assert feed.health is FeedHealth.RETRYING and feed.moved_to is None
            server.remove("/old.rss")
            server.set_feed("/old.rss", rss([news, seed]))
            clock.advance(minutes=10)
            report = await core.poll(due_only=False)
            [feed] = await core.api.list_feeds(Caller.console())
    assert report.alert_ids == [] and feed.health is FeedHealth.OK
    assert server.hits("/old.rss") == 2


async def test_a_feed_added_at_an_address_that_moved_is_added_where_it_moved(
    tmp_path: Path,
) -> None:
    """A new feed has no items keyed by its old address: it is stored where it moved,
    and adding the old address again says which feed already reads it."""
    clock = FakeClock()
    async with FeedServer() as server:

        async def moved(request: web.Request) -> web.StreamResponse:
            return web.Response(status=308, headers={"Location": "/new.rss"})

        server.set_handler("/old.rss", moved)
        server.set_feed("/new.rss", rss([story("seed", "Markets open higher", clock)]))
        async with core_for(make_settings(tmp_path), clock=clock) as core:
            added = await core.api.add_feed(Caller.console(), server.url("/old.rss"))
            assert (added.url, added.moved_to) == (server.url("/new.rss"), None)
            with pytest.raises(DuplicateError) as again:
                await core.api.add_feed(Caller.console(), server.url("/old.rss"))
    assert str(again.value) == (
        f"feed #{added.id} already reads {server.url('/new.rss')}, where "
        f"{server.url('/old.rss')} leads"
    )
