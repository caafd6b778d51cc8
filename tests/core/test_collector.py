"""Frozen survivors between cycles (bot.collector): later collections skip them, and
nothing they drop is kept for good."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

from bot.collector import settle
from tests.feedserver import FeedServer, rss
from tests.support import core_for, make_settings


class Node:
    """An object that can sit in a reference cycle (freed only by the collector)."""

    def __init__(self) -> None:
        self.me: Node | None = None


def test_a_settle_freezes_survivors_and_the_next_one_frees_what_they_dropped() -> None:
    state = Node()
    state.me = state  # a cycle: refcounting alone never frees it
    alive = weakref.ref(state)
    settle()
    assert gc.get_freeze_count() > 0

    del state  # the process lets go of part of its state...
    gc.collect()
    assert alive() is not None  # ...frozen, an ordinary collection leaves it alone

    settle()
    assert alive() is None  # the next settle collects it


async def test_a_poll_cycle_ends_with_its_survivors_frozen(tmp_path: Path) -> None:
    async with FeedServer() as server:
        server.set_feed("/f.rss", rss([{"title": "Rare earth quotas", "link": "https://x.test/1"}]))
        settings = make_settings(tmp_path, feeds=[server.url("/f.rss")])
        async with core_for(settings) as core:
            gc.unfreeze()
            report = await core.poll(due_only=False)
            assert report.feeds == 1
            assert gc.get_freeze_count() > 0
