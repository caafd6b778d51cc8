"""The composition root: config sync into the store, Google News feeds from watches,
default destinations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import app
from bot.app import open_core
from bot.core.api import Caller
from bot.core.errors import ConfigError, NotFoundError, PermissionDeniedError
from bot.core.search_feeds import previous_google_news_url
from tests.support import make_settings


async def test_a_watchs_google_news_feed_searches_its_query(tmp_path: Path) -> None:
    """`google_news = true` adds a search feed carrying the query's words, phrases,
    exclusions and groups, written as Google reads them."""
    query = 'Greer -"Germaine Greer" AND (tariff OR duty) OR Bessent'
    settings = make_settings(tmp_path, watches=[{"query": query, "google_news": True}])
    async with open_core(settings) as core:
        [feed] = await core.api.list_feeds(Caller.console())
    parts = urlsplit(feed.url)
    assert parts.netloc == "news.google.com" and parts.path == "/rss/search"
    q = parse_qs(parts.query)["q"][0]
    assert q == '(Greer -"Germaine Greer" (tariff OR duty)) OR Bessent when:7d'


async def test_a_config_watchs_search_goes_to_the_configured_edition_and_is_listed(
    tmp_path: Path,
) -> None:
    edition = "https://news.google.com/rss/search?q={q}&hl=en-GB&gl=GB&ceid=GB:en"
    settings = make_settings(
        tmp_path,
        watches=[{"query": "tariff", "google_news": True}, {"query": "duty"}],
        fetch={"google_news_url": edition},
    )
    async with open_core(settings) as core:
        [feed] = await core.api.list_feeds(Caller.console())
        watches = {w.query: w.google_news for w in await core.api.list_watches(Caller.console())}
    assert feed.url.endswith("&hl=en-GB&gl=GB&ceid=GB:en")
    assert parse_qs(urlsplit(feed.url).query)["q"][0] == "tariff when:7d"
    assert watches == {"tariff": True, "duty": False}


async def test_an_upgrade_moves_a_search_feed_to_its_new_address_with_what_it_saw(
    tmp_path: Path,
) -> None:
    """Versions before wrote a grouped query's search without its groups. After the
    upgrade that feed is polled at the new address as the same feed: what it has seen
    stays seen (nothing alerts again) and it is no new feed whose first poll is silent;
    its validators, which belonged to the old address, are dropped."""
    query = "tariff AND (China OR Beijing) OR Bessent"
    old_url = previous_google_news_url(query)
    before = make_settings(
        tmp_path,
        feeds=[{"url": old_url, "name": "Google News: tariffs"}],
        watches=[{"query": query, "name": "tariffs"}],
    )
    async with open_core(before):
        pass
    db = tmp_path / "wirewatch.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE feeds SET seeded = 1, etag = '\"v7\"', body_hash = 'ab12'")
        [(feed_id,)] = conn.execute("SELECT id FROM feeds").fetchall()
        conn.execute(
            "INSERT INTO seen_items (feed_id, key, seen_at) VALUES (?, 'p:0123456789abcdef', ?)",
            (feed_id, "2026-12-01 10:00:00.000000"),
        )

    after = make_settings(
        tmp_path, watches=[{"query": query, "name": "tariffs", "google_news": True}]
    )
    async with open_core(after) as core:
        [feed] = await core.api.list_feeds(Caller.console())
    assert feed.id == feed_id
    assert parse_qs(urlsplit(feed.url).query)["q"][0] == (
        "(tariff (China OR Beijing)) OR Bessent when:7d"
    )
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT seeded, etag, body_hash, active FROM feeds").fetchone()
        seen = conn.execute("SELECT count(*) FROM seen_items WHERE feed_id = ?", (feed_id,))
        assert row == (1, None, None, 1)
        assert seen.fetchone() == (1,)


async def test_config_sync_adds_updates_and_retires_config_items(tmp_path: Path) -> None:
    """Restarting with a changed config retires removed watches/feeds, keeps chat-made
    ones, and never re-subscribes a channel that unsubscribed."""
    first = make_settings(
        tmp_path,
        feeds=["https://a.test/rss", "https://b.test/rss"],
        watches=[
            {"query": '"rare earth"', "name": "rare earth", "google_news": True},
            {"query": "Bessent", "channels": ["slack:C1"]},
        ],
    )
    async with open_core(first) as core:
        await core.api.add_watch(Caller("discord:9", None, can_manage=True), "magnets", name="mine")
        await core.api.unsubscribe(Caller("slack:C1", None, can_manage=True), ["Bessent"])
        feeds = {f.url for f in await core.api.list_feeds(Caller.console())}
        assert "https://a.test/rss" in feeds
        assert any(u.startswith("https://news.google.com/rss/search") for u in feeds)

    second = make_settings(
        tmp_path,
        feeds=["https://a.test/rss"],
        watches=[{"query": "Bessent", "channels": ["slack:C1"]}],
    )
    async with open_core(second) as core:
        watches = {w.query: w for w in await core.api.list_watches(Caller.console())}
        assert set(watches) == {"Bessent", "magnets"}
        assert watches["Bessent"].destinations == ()  # the unsubscribe stuck
        assert watches["magnets"].destinations == ("discord:9",)
        assert {f.url for f in await core.api.list_feeds(Caller.console())} == {
            "https://a.test/rss"
        }


async def test_watches_without_channels_go_to_the_console_only_without_chat(tmp_path: Path) -> None:
    """Default destinations: console when no chat adapter runs, nothing implicit otherwise."""
    settings = make_settings(tmp_path, watches=['"rare earth"'])
    async with open_core(settings) as core:
        assert core.default_destinations() == ["console"]
        core.chat_enabled = True
        assert core.default_destinations() == []
    configured = make_settings(
        tmp_path, watches=['"rare earth"'], delivery={"default_destinations": ["slack:C9"]}
    )
    async with open_core(configured) as core:
        assert core.default_destinations() == ["slack:C9"]


async def test_a_database_that_never_answers_is_reported_once_the_wait_is_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that takes the connection and never speaks (a stuck proxy, a half-open
    firewall): start-up gives up after the connect timeout with one plain reason, instead
    of waiting for asyncpg's own minute per attempt."""
    silent: list[asyncio.StreamWriter] = []

    def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # kept open, never answered

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    monkeypatch.setattr(app, "DATABASE_CONNECT_TIMEOUT", 0.5)
    url = f"postgresql+asyncpg://wirewatch@127.0.0.1:{port}/wirewatch"
    try:
        with pytest.raises(ConfigError) as refused:
            await app.open_store(make_settings(tmp_path, db_url=url))
    finally:
        server.close()
        for writer in silent:
            writer.close()
    assert silent, "the connection was made"
    assert str(refused.value) == (
        f"cannot open the database postgresql+asyncpg://wirewatch@127.0.0.1:{port}/wirewatch: "
        "no answer (timed out)"
    )


async def test_config_feeds_and_watches_are_removed_in_the_file_not_from_the_cli(
    tmp_path: Path,
) -> None:
    """Removed from the command line, a config feed or watch came back at the next start
    while the command said "removed": the answer now says where it lives. What the command
    line added it removes; a name two watches share is refused, not taken as the first."""
    settings = make_settings(
        tmp_path,
        feeds=["https://a.test/rss"],
        watches=[{"query": "lithium", "name": "metals"}, {"query": "cobalt", "name": "metals"}],
    )
    console = Caller.console()
    async with open_core(settings) as core:
        with pytest.raises(PermissionDeniedError, match="comes from the config file"):
            await core.api.remove_feed(console, "https://a.test/rss")
        with pytest.raises(PermissionDeniedError, match="comes from the config file"):
            await core.api.remove_watch(console, "1")
        with pytest.raises(NotFoundError, match=r"2 watches here answer to 'metals' \(#1, #2\)"):
            await core.api.remove_watch(console, "metals")
        added = await core.api.add_watch(console, "nickel", name="nickel")
        assert (await core.api.remove_watch(console, "nickel")).id == added.id
    async with open_core(settings) as core:
        feeds = [f.url for f in await core.api.list_feeds(console)]
        watches = sorted(w.query for w in await core.api.list_watches(console))
    assert feeds == ["https://a.test/rss"] and watches == ["cobalt", "lithium"]


def test_the_demo_reads_the_launch_pack_with_or_without_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An install from the wheel (the Docker image) has no config/default.toml: the demo
    uses the same pack, built in (it failed with a traceback)."""
    from bot import demo

    from_file = [(w.name, w.query) for w in demo.pack_watches()]
    assert from_file == list(demo.PACK)
    monkeypatch.setattr(demo, "DEFAULT_CONFIG", tmp_path / "absent.toml")
    assert [(w.name, w.query) for w in demo.pack_watches()] == list(demo.PACK)
