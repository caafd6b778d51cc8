"""The CoreAPI contract: the same suite against the real core (temp SQLite) and the one
test double (``tests/coredouble.py``), so adapter tests on the double test real
behaviour. Includes what tenancy guarantees: a channel sees the operator's watches and
its own, never another channel's; a workspace's feeds are its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.api import Caller, CoreAPI
from bot.core.errors import (
    BlockedAddressError,
    DuplicateError,
    NotFoundError,
    PermissionDeniedError,
    QuerySyntaxError,
    UnsearchableQueryError,
)
from bot.core.models import FeedInfo
from tests.coredouble import MemoryCore
from tests.support import core_for, make_settings

WATCHES = [{"query": '"rare earth"', "name": "rare earth"}, {"query": "lithium", "name": "lithium"}]

A = Caller("slack:CA", "slack:T1", "slack:UA", can_manage=True)
A_MEMBER = Caller("slack:CA", "slack:T1", "slack:UM", can_manage=False)
B = Caller("slack:CB", "slack:T2", "slack:UB", can_manage=True)


@pytest.fixture(params=["real", "double"])
async def core(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[CoreAPI]:
    if request.param == "double":
        yield MemoryCore()
        return
    # Private addresses are NOT allowed here: chat feeds must never reach them anyway.
    settings = make_settings(
        tmp_path,
        feeds=["https://news.example/rss"],
        watches=WATCHES,
        fetch={"allow_private_addresses": False},
    )
    async with core_for(settings) as opened:
        yield opened.api


def queries(watches: object) -> list[str]:
    assert isinstance(watches, list | tuple)
    return sorted(w.query for w in watches)


async def test_subscribe_takes_the_operator_watches_once(core: CoreAPI) -> None:
    first = await core.subscribe(A)
    assert queries(first.changed) == ['"rare earth"', "lithium"]
    again = await core.subscribe(A)
    assert again.changed == () and queries(again.unchanged) == ['"rare earth"', "lithium"]
    assert queries(await core.list_watches(A)) == ['"rare earth"', "lithium"]
    assert await core.list_watches(B) == []


async def test_only_managers_change_a_channel(core: CoreAPI) -> None:
    with pytest.raises(PermissionDeniedError):
        await core.subscribe(A_MEMBER)
    with pytest.raises(PermissionDeniedError):
        await core.add_watch(A_MEMBER, "tariffs")
    assert await core.list_watches(A_MEMBER) == []


async def test_a_channels_watch_is_its_own(core: CoreAPI) -> None:
    mine = await core.add_watch(A, "Bessent AND tariffs", name="bessent")
    assert mine.owner == "slack:CA"
    assert queries(await core.list_watches(A)) == ["Bessent AND tariffs"]
    # Another workspace can neither see it nor subscribe to it by id or name.
    assert mine.id not in {w.id for w in await core.available_watches(B)}
    result = await core.subscribe(B, [str(mine.id), "bessent"])
    assert result.changed == () and result.unknown == (str(mine.id), "bessent")
    assert await core.list_watches(B) == []
    with pytest.raises(NotFoundError):
        await core.remove_watch(B, str(mine.id))


async def test_bad_and_duplicate_watches_are_refused(core: CoreAPI) -> None:
    with pytest.raises(QuerySyntaxError):
        await core.add_watch(A, '"rare earth')
    await core.add_watch(A, "tariffs")
    with pytest.raises(DuplicateError):
        await core.add_watch(A, "TARIFFS")
    # The same query in another channel is that channel's own watch.
    await core.add_watch(B, "tariffs")


async def test_remove_deletes_own_watches_and_mutes_operator_ones(core: CoreAPI) -> None:
    await core.subscribe(A)
    own = await core.add_watch(A, "chips")
    assert (await core.remove_watch(A, str(own.id))).id == own.id
    removed = await core.remove_watch(A, "lithium")
    assert removed.query == "lithium"
    assert queries(await core.list_watches(A)) == ['"rare earth"']
    # The operator's watch still exists for everyone else.
    assert "lithium" in queries(await core.available_watches(B))
    with pytest.raises(NotFoundError):
        await core.remove_watch(A, "no-such-watch")


async def test_unsubscribe_all_empties_the_channel(core: CoreAPI) -> None:
    await core.subscribe(A)
    await core.add_watch(A, "chips")
    result = await core.unsubscribe(A)
    assert queries(result.changed) == ['"rare earth"', "chips", "lithium"]
    assert await core.list_watches(A) == []


async def test_a_watchs_google_news_search_is_its_workspaces_feed_while_it_searches(
    core: CoreAPI,
) -> None:
    def searches(feeds: list[FeedInfo]) -> list[str]:
        return [f.url for f in feeds if f.url.startswith("https://news.google.com/rss/search")]

    with pytest.raises(UnsearchableQueryError):
        await core.add_watch(A, "/export(s|ed)? bans?/", google_news=True)
    assert await core.list_watches(A) == [] and searches(await core.list_feeds(A)) == []
    watch = await core.add_watch(A, "gallium", google_news=True)
    assert watch.google_news
    (search,) = searches(await core.list_feeds(A))
    assert "q=gallium" in search
    assert searches(await core.list_feeds(B)) == [], "never another workspace's"
    with pytest.raises(PermissionDeniedError):
        await core.remove_feed(A, search)
    with pytest.raises(UnsearchableQueryError):
        await core.edit_watch(A, str(watch.id), query="source:reuters")
    off = await core.edit_watch(A, str(watch.id), google_news=False)
    assert not off.google_news and searches(await core.list_feeds(A)) == []
    await core.edit_watch(A, str(watch.id), google_news=True)
    assert searches(await core.list_feeds(A)) == [search]
    await core.remove_watch(A, str(watch.id))
    assert searches(await core.list_feeds(A)) == []


async def test_chat_feeds_cannot_reach_private_addresses(core: CoreAPI) -> None:
    with pytest.raises(BlockedAddressError):
        await core.add_feed(A, "http://127.0.0.1:9/rss")


async def test_the_operators_feed_is_listed_but_not_removable_from_chat(core: CoreAPI) -> None:
    feeds = await core.list_feeds(A)
    assert [f.url for f in feeds] == ["https://news.example/rss"]
    with pytest.raises(PermissionDeniedError):
        await core.remove_feed(A, str(feeds[0].id))
    with pytest.raises(DuplicateError):
        await core.add_feed(A, "https://news.example/rss")
    with pytest.raises(NotFoundError):
        await core.remove_feed(A, "999")


async def test_status_lists_this_channels_watches(core: CoreAPI) -> None:
    await core.subscribe(A, ["lithium"])
    report = await core.status(A)
    assert queries(report.subscriptions) == ["lithium"]
    assert [f.url for f in report.feeds] == ["https://news.example/rss"]


async def test_why_for_an_unknown_article_says_it_was_not_seen(core: CoreAPI) -> None:
    report = await core.why(A, "https://nowhere.example/story")
    assert not report.found and "not seen" in report.lines[0]


async def test_latest_and_test_check_the_query(core: CoreAPI) -> None:
    assert (await core.latest(A, limit=5)).articles == ()
    with pytest.raises(QuerySyntaxError):
        await core.test_query(A, "(unclosed")


LOCAL_AND_KNOWN = b"""<opml version="2.0"><head><title>Mine</title></head><body>
<outline text="Local" xmlUrl="http://127.0.0.1:9/rss"/>
<outline text="Known" xmlUrl="https://news.example/rss"/>
</body></opml>"""


async def test_import_is_for_managers_and_refuses_private_feeds(core: CoreAPI) -> None:
    with pytest.raises(PermissionDeniedError):
        await core.import_feeds(A_MEMBER, document=LOCAL_AND_KNOWN)
    result = await core.import_feeds(A, document=LOCAL_AND_KNOWN)
    assert result.title == "Mine" and result.listed == 2
    assert result.added == () and result.present == ("https://news.example/rss",)
    ((url, reason),) = result.refused
    assert url == "http://127.0.0.1:9/rss" and "127.0.0.1" in reason
    with pytest.raises(BlockedAddressError):
        await core.import_feeds(A, url="http://127.0.0.1:9/feeds.opml")


async def test_backfill_is_for_managers_and_needs_watches_here(core: CoreAPI) -> None:
    with pytest.raises(PermissionDeniedError):
        await core.backfill(A_MEMBER, 5)
    empty = await core.backfill(A, 5)
    assert empty.watches == 0 and empty.queued == ()


async def test_trend_of_a_visible_watch_only(core: CoreAPI) -> None:
    data = await core.trend(A, "lithium", 7)
    assert len(data.days) == 7 and data.total == 0
    theirs = await core.add_watch(B, "Bessent")
    with pytest.raises(NotFoundError):
        await core.trend(A, str(theirs.id), 7)
