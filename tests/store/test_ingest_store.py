"""The ingest part of the store port, on SQLite and on a real PostgreSQL: seen keys are
looked up by (feed, key) pair, and a batch's plan is recorded all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.intents import (
    FeedUpdateIntent,
    IngestPlan,
    Placement,
    PlacementFacts,
    SeenKey,
)
from bot.store.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await Store.open(store_url)
    yield s
    await s.close()


async def _feeds(store: Store, n: int) -> list[int]:
    ids = []
    for i in range(n):
        info = await store.upsert_feed(
            f"https://news{i}.example/rss", name=None, interval=600, source="config", now=NOW
        )
        ids.append(info.id)
    return ids


def _nothing_placed(facts: PlacementFacts) -> Placement:
    return Placement()


async def test_a_key_seen_on_one_feed_is_not_seen_on_another(store: Store) -> None:
    a, b = await _feeds(store, 2)
    plan = IngestPlan(now=NOW, seen=(SeenKey(a, "k1", "note1"), SeenKey(a, "k2", None)))
    await store.apply_ingest(plan, _nothing_placed)
    found = await store.seen_keys({a: ["k1", "k2", "k3"], b: ["k1"]})
    assert found == {(a, "k1"): "note1", (a, "k2"): None}


async def test_many_feeds_keys_are_looked_up_at_once(store: Store) -> None:
    ids = await _feeds(store, 30)
    seen = tuple(SeenKey(f, f"key-{f}-{i}", None) for f in ids for i in range(0, 900, 2))
    await store.apply_ingest(IngestPlan(now=NOW, seen=seen), _nothing_placed)
    wanted = {f: [f"key-{f}-{i}" for i in range(900)] for f in ids}
    found = await store.seen_keys(wanted)
    assert set(found) == {(s.feed_id, s.key) for s in seen}


async def test_a_plan_that_fails_midway_records_nothing(store: Store) -> None:
    (feed,) = await _feeds(store, 1)
    update = FeedUpdateIntent(
        feed_id=feed,
        fetched_at=NOW,
        status=200,
        next_poll_at=NOW + timedelta(minutes=10),
        consecutive_failures=0,
        failing_notified=False,
    )
    plan = IngestPlan(now=NOW, feeds=(update,), seen=(SeenKey(feed, "k1", None),))

    def broken(facts: PlacementFacts) -> Placement:
        raise RuntimeError("placement failed")

    with pytest.raises(RuntimeError):
        await store.apply_ingest(plan, broken)
    assert await store.seen_keys({feed: ["k1"]}) == {}
    (info,) = await store.list_feeds()
    assert info.last_success_at is None
