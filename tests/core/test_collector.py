"""Frozen survivors between cycles (bot.collector): later collections skip them, and
nothing they drop is kept longer than FULL_EVERY."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from bot import collector
from bot.app import open_core
from bot.collector import FULL_EVERY, settle
from tests.feedserver import FeedServer, rss
from tests.support import core_for, make_settings


class Node:
    """An object that can sit in a reference cycle (freed only by the collector)."""

    def __init__(self) -> None:
        self.me: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    node = Node()
    node.me = node  # refcounting alone never frees it
    return node, weakref.ref(node)


def test_survivors_are_frozen_and_a_full_settle_frees_what_they_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "_collector", collector._Collector())
    assert settle(now=0.0) is True  # the first one walks everything
    state, alive = cycle()
    assert settle(now=1.0) is False
    assert gc.get_freeze_count() > 0

    del state  # the process lets go of part of its state...
    gc.collect()
    assert alive() is not None  # ...frozen, ordinary collections leave it alone
    assert settle(now=2.0) is False
    assert alive() is not None

    assert settle(now=1.0 + FULL_EVERY) is True
    assert alive() is None  # the next full settle collects it


def test_a_settle_collects_what_came_after_the_last_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector, "_collector", collector._Collector())
    settle(now=0.0)
    garbage, alive = cycle()
    del garbage  # a cycle's leftovers, not state
    assert settle(now=1.0) is False
    assert alive() is None


async def test_a_poll_cycle_ends_with_its_survivors_frozen(tmp_path: Path) -> None:
    async with FeedServer() as server:
        server.set_feed("/f.rss", rss([{"title": "Rare earth quotas", "link": "https://x.test/1"}]))
        settings = make_settings(tmp_path, feeds=[server.url("/f.rss")])
        async with core_for(settings) as core:
            gc.unfreeze()
            report = await core.poll(due_only=False)
            assert report.feeds == 1
            assert gc.get_freeze_count() > 0


async def test_only_a_polling_process_settles_its_start_up_state(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, feeds=[])
    gc.unfreeze()
    async with open_core(settings):  # a one-shot command (`feed list`): no full walk
        assert gc.get_freeze_count() == 0
    async with open_core(settings, polls=True):  # `run`, `poll`
        assert gc.get_freeze_count() > 0
    gc.unfreeze()
