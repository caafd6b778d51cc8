"""A batch's articles and seen keys are written in bulk (straight to the driver on SQLite):
what is read back is exactly what was planned, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.core.intents import (
    FeedUpdateIntent,
    FeedValidators,
    IngestPlan,
    Placement,
    PlacementFacts,
    SeenKey,
)
from bot.core.models import Article
from bot.store import ingest
from bot.store.schema import articles, feeds, seen_items
from bot.store.store import Store

NOW = datetime(2026, 11, 25, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await Store.open(store_url)
    yield s
    await s.close()


def _nothing_placed(facts: PlacementFacts) -> Placement:
    return Placement()


def _article(n: int, *, known: bool = True, image: str | None = None) -> Article:
    return Article(
        url=f"https://outlet.example/{n}",
        title=f"Headline {n} — with “quotes” & ünïcode",
        summary=f"Summary {n}",
        content="" if n % 2 else f"Content {n}",
        source="Outlet",
        published=NOW - timedelta(hours=n, microseconds=n),
        published_known=known,
        identity_keys=(f"u:{n}",),
        image_url=image,
        guid=None if n % 3 else f"guid-{n}",
    )


async def test_bulk_articles_read_back_as_written(store: Store) -> None:
    info = await store.upsert_feed(
        "https://outlet.example/rss", name=None, interval=600, source="config", now=NOW
    )
    # The first batch holds one URL the second repeats.
    first = await store.run_write(
        lambda conn: ingest.insert_articles(conn, [(_article(0), "s-old", None, info.id)], now=NOW)
    )
    batch = [
        (
            _article(n, known=n % 2 == 0, image="https://img.example/x.jpg" if n == 3 else None),
            f"s-{n}",
            "first poll" if n % 2 else None,
            info.id,
        )
        for n in range(0, 1200)  # more than one statement's worth of parameters
    ]
    batch.append((_article(5), "s-dup", None, info.id))  # a repeat inside the batch
    stored = await store.run_write(lambda conn: ingest.insert_articles(conn, batch, now=NOW))
    assert set(stored) == {a.url for a, _, _, _ in batch}
    assert stored[_article(0).url] == first[_article(0).url]  # kept, with its story
    assert stored[_article(5).url].story_key == "s-5"  # the batch's first copy wins

    async with store.transaction() as conn:
        rows = {r.url: r for r in (await conn.execute(select(articles))).all()}
    assert len(rows) == 1200
    assert rows[_article(0).url].story_key == "s-old"
    for article, story, held, _ in batch[1:1200]:
        row = rows[article.url]
        assert row.id == stored[article.url].id
        assert (row.title, row.summary, row.content, row.source) == (
            article.title,
            article.summary,
            article.content,
            article.source,
        )
        assert row.published == article.published and row.published.tzinfo is not None
        assert row.published_known is article.published_known
        assert row.first_seen_at == NOW
        assert (row.story_key, row.held_reason) == (story, held)
        assert (row.image_url, row.guid, row.feed_id) == (article.image_url, article.guid, info.id)


async def test_bulk_seen_keys_keep_their_notes(store: Store) -> None:
    info = await store.upsert_feed(
        "https://outlet.example/rss", name=None, interval=600, source="config", now=NOW
    )
    seen = tuple(SeenKey(info.id, f"k{i}", f"n{i}" if i % 2 else None) for i in range(3000))
    await store.apply_ingest(IngestPlan(now=NOW, seen=seen), _nothing_placed)
    # Recording a key twice keeps the first.
    await store.apply_ingest(
        IngestPlan(now=NOW + timedelta(days=1), seen=(SeenKey(info.id, "k1", "other"),)),
        _nothing_placed,
    )
    async with store.transaction() as conn:
        rows = (await conn.execute(select(seen_items))).all()
    assert {(r.feed_id, r.key, r.note) for r in rows} == {(s.feed_id, s.key, s.note) for s in seen}
    assert {r.seen_at for r in rows} == {NOW}


async def test_bulk_feed_states_read_back_as_written(store: Store) -> None:
    ids = []
    for i in range(3):
        info = await store.upsert_feed(
            f"https://outlet{i}.example/rss", name=None, interval=600, source="config", now=NOW
        )
        ids.append(info.id)
    later = NOW + timedelta(minutes=10)
    ok = FeedValidators(
        etag='W/"e\\u00e9"', last_modified=None, body_hash="h", ttl_seconds=60, max_age=None
    )
    intents = (
        FeedUpdateIntent(ids[0], NOW, 200, later, 0, False, validators=ok),
        FeedUpdateIntent(ids[1], NOW, 304, later, 0, False),
        FeedUpdateIntent(ids[2], NOW, 503, later, 4, True, error="HTTP 503", error_since=NOW),
    )
    await store.apply_ingest(IngestPlan(now=NOW, feeds=intents), _nothing_placed)
    async with store.transaction() as conn:
        rows = {r.id: r for r in (await conn.execute(select(feeds))).all()}
    first, second, third = (rows[i] for i in ids)
    assert (first.etag, first.last_modified, first.body_hash, first.ttl_seconds) == (
        'W/"e\\u00e9"',
        None,
        "h",
        60,
    )
    assert first.seeded is True and second.seeded is False
    assert first.next_poll_at == later and first.last_success_at == NOW
    assert (second.last_status, second.last_fetch_at, second.lease_owner) == (304, NOW, None)
    assert (third.last_error, third.error_since, third.consecutive_failures) == ("HTTP 503", NOW, 4)
    assert third.failing_notified is True and third.last_success_at is None


def test_sqlite_times_are_written_as_sqlalchemy_writes_them() -> None:
    # Rows written straight to the driver must compare (as text, in SQL) with rows
    # written through SQLAlchemy: the same naive-UTC text, microseconds always present.
    from sqlalchemy import create_engine

    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        bind = ingest._bound(conn, articles.c.published)
        for value in (
            NOW,
            datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=8, minutes=45))),
        ):
            assert ingest._sqlite_time(value) == bind(value)
    with pytest.raises(ValueError, match="naive"):
        ingest._sqlite_time(datetime(2026, 1, 2))


async def test_feed_states_sharing_some_columns_read_back_per_feed(store: Store) -> None:
    """Rows of one shape (here three 304s and two 200s) bind the columns they share once and
    carry the others per row: each feed still reads back its own values."""
    ids = []
    for i in range(5):
        info = await store.upsert_feed(
            f"https://shared{i}.example/rss", name=None, interval=600, source="config", now=NOW
        )
        ids.append(info.id)
    intents = tuple(
        FeedUpdateIntent(
            ids[i], NOW + timedelta(seconds=i), 304, NOW + timedelta(minutes=i), 0, False
        )
        for i in range(3)
    ) + tuple(
        FeedUpdateIntent(
            ids[i],
            NOW,
            200,
            NOW + timedelta(minutes=10),
            0,
            False,
            validators=FeedValidators(f'"e{i}"', None, "same-hash", None, None),
        )
        for i in range(3, 5)
    )
    await store.apply_ingest(IngestPlan(now=NOW, feeds=intents), _nothing_placed)
    async with store.transaction() as conn:
        rows = {r.id: r for r in (await conn.execute(select(feeds))).all()}
    for i in range(3):
        row = rows[ids[i]]
        assert (row.last_status, row.last_fetch_at, row.next_poll_at) == (
            304,
            NOW + timedelta(seconds=i),
            NOW + timedelta(minutes=i),
        )
        assert row.last_success_at == NOW + timedelta(seconds=i) and row.seeded is False
    for i in range(3, 5):
        row = rows[ids[i]]
        assert (row.etag, row.body_hash, row.last_status, row.seeded) == (
            f'"e{i}"',
            "same-hash",
            200,
            True,
        )


async def test_entry_prints_are_stored_with_a_new_body_and_claimed_with_the_feed(
    store: Store,
) -> None:
    """A new body's entry prints (any bytes) are stored with its validators and come back
    when the feed is claimed; a 304 and a body recorded without prints leave them; a feed
    never recorded has none."""
    ids = []
    for i in range(3):
        info = await store.upsert_feed(
            f"https://prints{i}.example/rss", name=None, interval=600, source="config", now=NOW
        )
        ids.append(info.id)
    prints = bytes(range(256)) * 2
    later = NOW + timedelta(minutes=10)
    first = (
        FeedUpdateIntent(
            ids[0], NOW, 200, NOW, 0, False,
            validators=FeedValidators('"a"', None, "h0", None, None, entry_prints=prints),
        ),
        FeedUpdateIntent(
            ids[1], NOW, 200, NOW, 0, False,
            validators=FeedValidators('"b"', None, "h1", None, None, entry_prints=b"\x00b1"),
        ),
    )  # fmt: skip
    await store.apply_ingest(IngestPlan(now=NOW, feeds=first), _nothing_placed)
    then = (
        FeedUpdateIntent(ids[0], later, 304, NOW, 0, False),
        FeedUpdateIntent(
            ids[1], later, 200, NOW, 0, False,
            validators=FeedValidators('"c"', None, "h2", None, None),
        ),
    )  # fmt: skip
    await store.apply_ingest(IngestPlan(now=later, feeds=then), _nothing_placed)
    claimed = await store.claim_feeds(
        owner="me", now=later, lease=timedelta(minutes=5), limit=10, due_only=False
    )
    by_id = {row.id: row for row in claimed}
    assert by_id[ids[0]].entry_prints == prints and by_id[ids[0]].body_hash == "h0"
    assert by_id[ids[1]].entry_prints == b"\x00b1" and by_id[ids[1]].body_hash == "h2"
    assert by_id[ids[2]].entry_prints == b""
