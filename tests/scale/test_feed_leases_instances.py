"""Feed leases with several instances on one PostgreSQL database: a feed claimed late in a
long cycle is leased for the whole lease from its claim, so another instance does not
take it over (and fetch it a second time in the same interval) while it is still being
fetched."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from bot.app import Core, open_core
from bot.settings import Settings
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock

pytestmark = pytest.mark.postgres

FEEDS = ("first", "second", "third")


async def test_a_feed_claimed_late_in_a_long_cycle_is_not_taken_over_while_fetched(
    postgres_url: str,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    lease = timedelta(minutes=5)
    async with FeedServer() as server:
        for name in FEEDS:
            server.set_feed(f"/{name}.rss", rss([], title=name))
        settings = Settings(
            database={"url": postgres_url},
            fetch={"allow_private_addresses": True},
            poll={"backfill": 0},
            health={"enabled": False},
            feeds=[{"url": server.url(f"/{name}.rss"), "name": name} for name in FEEDS],
        )
        async with contextlib.AsyncExitStack() as stack:
            slow, other = [
                await stack.enter_async_context(
                    open_core(settings, clock=clock, instance_id=f"node-{n}")
                )
                for n in range(2)
            ]
            # One feed at a time: each claim waits for the feed before it (a long cycle
            # over a large feed list, in small).
            slow.poller.batch_size = 1
            slow.poller.in_flight = 1
            answered = rss([], title="answer")
            others_cycles: list[Core] = []

            async def first(request: web.Request) -> web.Response:
                clock.advance(minutes=4)  # the cycle's first feeds take most of the lease
                return web.Response(body=answered, content_type="application/rss+xml")

            async def third(request: web.Request) -> web.Response:
                # The slow instance claimed this feed a moment ago, four minutes into its
                # cycle; its fetch takes two minutes, and the other instance polls then.
                if not others_cycles:
                    others_cycles.append(other)
                    clock.advance(minutes=2)
                    await other.poll()
                return web.Response(body=answered, content_type="application/rss+xml")

            server.set_handler("/first.rss", first)
            server.set_handler("/third.rss", third)
            assert slow.poller.lease == lease
            report = await slow.poll()
            assert report.fetched + report.not_modified == len(FEEDS)
    assert others_cycles, "the other instance never polled during the slow cycle"
    assert server.hits("/third.rss") == 1, "a feed was fetched twice in one interval"
