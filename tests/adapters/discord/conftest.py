"""Fixtures for the Discord adapter: a fake Discord, a real core on temp SQLite, the bot."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

# discord.py imports the stdlib audioop (deprecated in 3.11, for voice we never use); the
# suite turns warnings into errors, so import it once here with that one warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from typing import TYPE_CHECKING

from bot.adapters.discord.client import DiscordAdapter
from tests.coredouble import MemoryCore
from tests.fakes.discord import FakeDiscord
from tests.feedserver import FeedServer, rss

if TYPE_CHECKING:
    from bot.app import Core
    from tests.support import FakeClock

WATCHES = [{"query": '"rare earth"', "name": "rare earth"}, {"query": "lithium", "name": "lithium"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
def clock() -> FakeClock:
    from tests.support import FakeClock

    return FakeClock()


def news_item(
    slug: str, title: str, clock: FakeClock, *, age_minutes: int = 30, **extra: Any
) -> dict[str, Any]:
    """One RSS item published ``age_minutes`` before the test clock's now."""
    item = {
        "title": title,
        "link": f"https://reuters.test/{slug}",
        "guid": f"reuters-{slug}",
        "description": extra.pop("description", f"{title}. More to follow."),
        "pubDate": clock.now() - timedelta(minutes=age_minutes),
    }
    item.update(extra)
    return item


FIRST_ITEMS = [
    ("seed-1", "China tightens rare earth export rules"),
    ("seed-2", "Lithium prices slide on oversupply"),
    ("seed-3", "Markets open higher"),
]


@pytest.fixture
async def feeds(clock: FakeClock) -> AsyncIterator[FeedServer]:
    """A local feed server with one feed (/news.rss) of three recent items."""
    async with FeedServer() as server:
        items = [
            news_item(slug, title, clock, age_minutes=60 - i)
            for i, (slug, title) in enumerate(FIRST_ITEMS)
        ]
        server.set_feed("/news.rss", rss(items, title="Reuters test"))
        yield server


@pytest.fixture
async def core(tmp_path: Path, clock: FakeClock, feeds: FeedServer) -> AsyncIterator[Core]:
    """A real core (store, poller, API) on a temp SQLite file, polling ``feeds``."""
    from tests.support import core_for, make_settings

    settings = make_settings(tmp_path, feeds=[feeds.url("/news.rss")], watches=WATCHES)
    async with core_for(settings, clock=clock) as opened:
        yield opened


@pytest.fixture
def memcore() -> MemoryCore:
    return MemoryCore()


@pytest.fixture
async def membot(fake: FakeDiscord, memcore: MemoryCore) -> AsyncIterator[DiscordAdapter]:
    """The real Discord adapter against the fake and an in-memory core."""
    adapter = DiscordAdapter(core=memcore, settings=fake.settings(), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()


@pytest.fixture
async def bot(fake: FakeDiscord, core: Core) -> AsyncIterator[DiscordAdapter]:
    """The real Discord adapter, started against the fake and the real core."""
    adapter = DiscordAdapter(core=core.api, settings=fake.settings(), guild_ready_timeout=0.05)
    await adapter.start()
    try:
        yield adapter
    finally:
        await adapter.stop()
