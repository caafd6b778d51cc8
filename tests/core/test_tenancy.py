"""Tenancy end to end through the real core: a feed a workspace added in chat reaches only
that workspace's channels, even for a watch every workspace subscribes to; the operator's
feeds reach everyone; chat limits hold."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.api import Caller
from bot.core.errors import QuotaError
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

A = Caller("slack:CA", "slack:TA", "slack:UA", can_manage=True)
B = Caller("discord:77", "discord:g:9", "discord:5", can_manage=True)


def item(slug: str, title: str, clock: FakeClock) -> dict[str, object]:
    return {
        "title": title,
        "link": f"https://news.test/{slug}",
        "guid": slug,
        "pubDate": clock.now() - timedelta(minutes=5),
    }


async def test_a_workspaces_feed_reaches_only_its_channels(tmp_path: Path) -> None:
    clock = FakeClock()
    async with FeedServer() as server:
        server.set_feed("/operator.rss", rss([], title="Operator"))
        server.set_feed("/private.rss", rss([], title="A's desk"))
        settings = make_settings(
            tmp_path,
            feeds=[server.url("/operator.rss")],
            watches=[{"query": "tariffs", "name": "tariffs"}],
            fetch={"chat_private_allowlist": ["127.0.0.1"]},
        )
        async with core_for(settings, clock=clock) as core:
            await core.api.subscribe(A)
            await core.api.subscribe(B)
            await core.api.add_feed(A, server.url("/private.rss"))
            assert [f.url for f in await core.api.list_feeds(B)] == [server.url("/operator.rss")]
            await core.poll(due_only=False)  # seeds both feeds silently
            clock.advance(minutes=10)
            server.set_feed(
                "/private.rss", rss([item("p1", "Desk scoop: tariffs on magnets", clock)])
            )
            server.set_feed(
                "/operator.rss", rss([item("o1", "Wire: tariffs on steel doubled", clock)])
            )
            report = await core.poll(due_only=False)
            rows = await core.store.alerts_by_ids(report.alert_ids)
    got = sorted((a.destination, a.title) for a in rows if a.destination != "console")
    assert got == [
        ("discord:77", "Wire: tariffs on steel doubled"),
        ("slack:CA", "Desk scoop: tariffs on magnets"),
        ("slack:CA", "Wire: tariffs on steel doubled"),
    ]


async def test_chat_limits_hold_and_the_operator_is_exempt(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, limits={"watches_per_channel": 2, "terms_per_watch": 3})
    async with core_for(settings) as core:
        await core.api.add_watch(A, "tariffs")
        await core.api.add_watch(A, "magnets")
        with pytest.raises(QuotaError, match="the most allowed; remove one first"):
            await core.api.add_watch(A, "chips")
        # Turned off here, the channel's own watches still count, and the refusal says
        # which ones `watch list` no longer shows.
        await core.api.unsubscribe(A, ["magnets"])
        with pytest.raises(QuotaError, match=r"1 of them no longer post here.*'watch remove 2'"):
            await core.api.add_watch(A, "chips")
        with pytest.raises(QuotaError, match="at most 3"):
            await core.api.add_watch(B, "a OR b OR c OR d")
        operator = Caller("slack:CA", None, "cli", can_manage=True)
        await core.api.add_watch(operator, "a OR b OR c OR d OR e")


async def test_a_workspace_joining_a_feed_keeps_the_name_another_gave_it(tmp_path: Path) -> None:
    """B reads a feed under its own name; A adding the same feed (naming it, or taking
    the feed's title) renamed it for B too, and B's alerts then showed A's name as their
    source, even after A left."""
    async with FeedServer() as server:
        server.set_feed("/desk.rss", rss([], title="Desk wire"))
        settings = make_settings(tmp_path, fetch={"chat_private_allowlist": ["127.0.0.1"]})
        async with core_for(settings) as core:
            url = server.url("/desk.rss")
            await core.api.add_feed(B, url, name="B's M&A desk")
            await core.api.add_feed(A, url, name="FAKE NEWS WIRE")
            await core.api.remove_feed(A, url)
            names = [f.name for f in await core.api.list_feeds(B)]
    assert names == ["B's M&A desk"]


async def test_feeds_added_at_once_cannot_pass_the_workspaces_quota(tmp_path: Path) -> None:
    """Ten `feeds add` at once, each fetch taking a second: all ten were added under a
    quota of two (each counted before its fetch, none after). The count is taken again
    where the feed is written."""
    import asyncio

    async with FeedServer() as server:
        server.delay = 0.5
        for n in range(10):
            server.set_feed(f"/f{n}.rss", rss([], title=f"Feed {n}"))
        settings = make_settings(
            tmp_path,
            fetch={"chat_private_allowlist": ["127.0.0.1"]},
            limits={"feeds_per_workspace": 2},
        )
        async with core_for(settings) as core:
            results = await asyncio.gather(
                *(core.api.add_feed(A, server.url(f"/f{n}.rss")) for n in range(10)),
                return_exceptions=True,
            )
            owned = await core.store.count_tenant_feeds("slack:TA")
    assert owned == 2
    refused = [r for r in results if isinstance(r, QuotaError)]
    assert len(refused) == 8 and "the most allowed" in str(refused[0])
