"""Fixtures for the Discord adapter: a fake Discord, a real core on temp SQLite, the bot."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# discord.py imports the stdlib audioop (deprecated in 3.11, for voice we never use); the
# suite turns warnings into errors, so import it once here with that one warning silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord  # noqa: F401

from typing import TYPE_CHECKING

from bot.adapters.discord.client import DiscordAdapter
from tests.adapters.discord.memcore import MemoryCore
from tests.fakes.discord import FakeDiscord

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


@pytest.fixture
async def core(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Core]:
    """A real core (store, poller, API) on a temp SQLite file."""
    from tests.support import core_for, make_settings

    settings = make_settings(tmp_path, watches=WATCHES)
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
