"""The composition root: config sync into the store, Google News feeds from watches,
default destinations."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import app
from bot.app import google_news_url, open_core
from bot.core.api import Caller
from bot.core.errors import ConfigError
from tests.support import make_settings


def test_google_news_feed_is_built_from_the_watch_query() -> None:
    """The search feed carries the query's words, phrases and exclusions (not AND/parens)."""
    url = google_news_url('Greer -"Germaine Greer" AND (tariff OR duty)')
    parts = urlsplit(url)
    assert parts.netloc == "news.google.com" and parts.path == "/rss/search"
    q = parse_qs(parts.query)["q"][0]
    assert q == 'Greer -"Germaine Greer" tariff OR duty when:7d'


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
