"""The store queries behind backfill and trend, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.store import ingest
from bot.store.store import Store
from tests.store.articles import NOW, add_article


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await Store.open(store_url)
    yield s
    await s.close()


async def test_queued_alerts_are_what_a_backfill_must_skip(store: Store) -> None:
    watch = await store.add_watch(query="lithium", name=None, origin="chat", now=NOW)
    first = await add_article(store, "https://a.test/1", "s1", NOW)
    second = await add_article(store, "https://a.test/2", "s2", NOW)
    rows = [
        ingest.AlertRow(watch, "slack:C1", "s1", first, ("lithium",)),
        ingest.AlertRow(watch, "slack:C1", "s2", second, ("lithium",)),
    ]
    created = await store.queue_alerts(rows, NOW)
    assert len(created) == 2 and created == sorted(created)  # queued in the order given
    assert await store.queue_alerts(rows[:1], NOW) == []  # never twice
    assert await store.stories_alerted_in("slack:C1", ["s1", "s2", "s3"]) == {"s1", "s2"}
    assert await store.stories_alerted_in("slack:C2", ["s1"]) == set()


async def test_the_oldest_article_kept_is_when_stored_history_starts(store: Store) -> None:
    assert await store.oldest_article_seen_at() is None
    for day in range(3):
        await add_article(store, f"https://a.test/{day}", f"s{day}", NOW - timedelta(days=day))
    # add_article records every article as first seen at NOW, whatever its date.
    assert await store.oldest_article_seen_at() == NOW
