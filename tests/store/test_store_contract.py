"""The store contract: one suite, run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.core.decide import HELD_FIRST_POLL
from bot.core.listing import listing_rank
from bot.core.models import Article
from bot.store import ingest
from bot.store.schema import alerts
from bot.store.store import Store

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store(store_url: str):  # type: ignore[no-untyped-def]
    s = await Store.open(store_url)
    yield s
    await s.close()


def _article(url: str, title: str = "Rare earth talks") -> Article:
    return Article(
        url=url,
        title=title,
        summary="s",
        content="",
        source="Reuters",
        published=NOW,
        published_known=True,
        identity_keys=(f"u:{url}",),
    )


async def _queue_alert(store: Store, watch_id: int, dest: str, story: str, url: str) -> int | None:
    def write(conn: Connection) -> int | None:
        existing = ingest.articles_by_url(conn, [url])
        if url in existing:
            art_id = existing[url].id
        else:
            art_id = ingest.insert_articles(conn, [(_article(url), story, None, None)], now=NOW)[
                url
            ].id
        row = ingest.AlertRow(watch_id, dest, story, art_id, ("rare earth",))
        created = ingest.insert_alerts(conn, [row], NOW)
        return created[0][0] if created else None

    return await store.run_write(write)


async def test_migrations_are_idempotent_on_reopen(store_url: str) -> None:
    """Opening an already-migrated database again applies nothing and keeps data."""
    s = await Store.open(store_url)
    await s.upsert_feed("https://a.test/rss", name="A", interval=300, source="config", now=NOW)
    await s.close()
    s2 = await Store.open(store_url)
    assert [f.url for f in await s2.list_feeds()] == ["https://a.test/rss"]
    await s2.close()


async def test_feed_claim_takes_due_feeds_once_until_the_lease_expires(store: Store) -> None:
    """Two claimers never get the same feed while a lease lives; an expired lease is taken over."""
    for i in range(5):
        await store.upsert_feed(
            f"https://f{i}.test/", name=None, interval=300, source="config", now=NOW
        )
    a = await store.claim_feeds(owner="A", now=NOW, lease=timedelta(minutes=5), limit=3)
    b = await store.claim_feeds(owner="B", now=NOW, lease=timedelta(minutes=5), limit=10)
    assert len(a) == 3 and len(b) == 2
    assert not {f.id for f in a} & {f.id for f in b}
    later = NOW + timedelta(minutes=6)
    c = await store.claim_feeds(owner="C", now=later, lease=timedelta(minutes=5), limit=10)
    assert len(c) == 5  # A and B died: their leases expired


async def test_alert_is_unique_per_watch_destination_and_story(store: Store) -> None:
    """The same story never queues twice for one watch and destination."""
    watch = await store.add_watch(query="rare earth", name=None, origin="config", now=NOW)
    first = await _queue_alert(store, watch, "slack:C1", "s-1", "https://a.test/1")
    again = await _queue_alert(store, watch, "slack:C1", "s-1", "https://b.test/other-outlet")
    other_dest = await _queue_alert(store, watch, "discord:9", "s-1", "https://a.test/1")
    assert first is not None and again is None and other_dest is not None


async def test_outbox_claims_in_order_and_condenses_a_burst(store: Store) -> None:
    """One alert at a time normally; a backlog over the threshold is claimed as one batch."""
    watch = await store.add_watch(query="q", name=None, origin="config", now=NOW)
    ids = [
        await _queue_alert(store, watch, "slack:C1", f"s-{i}", f"https://a.test/{i}")
        for i in range(3)
    ]
    got, maybe = await store.claim_outbox(
        destination="slack:C1",
        owner="A",
        now=NOW,
        lease=timedelta(minutes=1),
        batch=10,
        burst_threshold=5,
    )
    assert [a.id for a in got] == ids[:1] and maybe is False
    # The oldest is leased by A: nobody may send the second before the first (order).
    none, _ = await store.claim_outbox(
        destination="slack:C1",
        owner="B",
        now=NOW,
        lease=timedelta(minutes=1),
        batch=10,
        burst_threshold=5,
    )
    assert none == []
    await store.mark_sent([ids[0]], message_id="m1", now=NOW)
    for i in range(3, 10):
        await _queue_alert(store, watch, "slack:C1", f"s-{i}", f"https://a.test/{i}")
    burst, _ = await store.claim_outbox(
        destination="slack:C1",
        owner="A",
        now=NOW,
        lease=timedelta(minutes=1),
        batch=10,
        burst_threshold=5,
    )
    assert len(burst) == 9 and [a.id for a in burst] == sorted(a.id for a in burst)


async def test_unknown_outcome_is_reported_as_maybe_sent(store: Store) -> None:
    """An attempt that never confirmed makes the next claim say 'maybe sent'."""
    watch = await store.add_watch(query="q", name=None, origin="config", now=NOW)
    alert_id = await _queue_alert(store, watch, "discord:1", "s-1", "https://a.test/1")
    assert alert_id is not None
    got, _ = await store.claim_outbox(
        destination="discord:1",
        owner="A",
        now=NOW,
        lease=timedelta(minutes=1),
        batch=10,
        burst_threshold=5,
    )
    await store.mark_attempt([alert_id], "A")
    # A crashes here. After the lease, B claims and must check the platform first.
    later = NOW + timedelta(minutes=2)
    got, maybe = await store.claim_outbox(
        destination="discord:1",
        owner="B",
        now=later,
        lease=timedelta(minutes=1),
        batch=10,
        burst_threshold=5,
    )
    assert [a.id for a in got] == [alert_id] and maybe is True


async def test_expired_alerts_become_dead_letters(store: Store) -> None:
    """Alerts older than the dead-letter age leave the queue and are counted, per
    destination; the dead letters are listed newest first."""
    watch = await store.add_watch(query="q", name=None, origin="config", now=NOW)
    await _queue_alert(store, watch, "slack:C1", "s-1", "https://a.test/1")
    moved = await store.dead_letter_expired(created_before=NOW + timedelta(hours=7))
    depth, oldest, dead = await store.outbox_stats()
    assert (moved, depth, oldest, dead) == ([("slack:C1", 1, None)], 0, None, 1)
    (letter,) = await store.dead_letters(destinations_=["slack:C1"])
    assert letter.destination == "slack:C1"
    assert await store.dead_letters(destinations_=["slack:C2"]) == []


async def test_destination_failure_and_recovery(store: Store) -> None:
    """A permanent error marks the destination failing at once; success clears it."""
    count, newly = await store.destination_failed(
        "slack:C1", reason="channel not found", now=NOW, permanent=True
    )
    assert (count, newly) == (1, True)
    [status] = await store.destination_statuses()
    assert status.state.value == "failing" and status.last_error == "channel not found"
    assert await store.destination_ok("slack:C1", now=NOW) == (NOW, "channel not found")
    [status] = await store.destination_statuses()
    assert status.state.value == "ok"


async def test_failures_of_one_channel_on_two_instances_at_once_are_all_counted(
    store_url: str,
) -> None:
    """Two instances failing the same channel at the same moment (its adapter missing on
    both, a platform outage) each count their failure: none is refused as a duplicate
    row, none is lost, and exactly one of them turns the channel failing; the same once
    the channel has recovered and fails again."""
    first, second = await Store.open(store_url), await Store.open(store_url)

    async def fail_on_both(reason: str) -> list[tuple[int, bool]]:
        return await asyncio.gather(
            *(
                (first if i % 2 else second).destination_failed(
                    "slack:C1", reason=reason, now=NOW, permanent=False
                )
                for i in range(8)
            )
        )

    try:
        got = await fail_on_both("no slack adapter")  # the channel's first failures
        assert sorted(count for count, _ in got) == list(range(1, 9))
        assert [count for count, newly in got if newly] == [first.failing_after]
        [status] = await first.destination_statuses()
        assert (status.state.value, status.last_error) == ("failing", "no slack adapter")
        assert status.failing_since == NOW
        assert await second.destination_ok("slack:C1", now=NOW) == (NOW, "no slack adapter")
        got = await fail_on_both("timeout")  # its row is there now, reset
        assert sorted(count for count, _ in got) == list(range(1, 9))
        assert [count for count, newly in got if newly] == [first.failing_after]
    finally:
        await first.close()
        await second.close()


async def test_unsubscribe_survives_a_config_resync(store: Store) -> None:
    """A config resync subscribes its channels once, never undoing a later unsubscribe,
    and retires config feeds and watches that left the file."""
    config = {"watches_": [("q", None, None, False, ["slack:C1"], False)], "now": NOW}
    await store.sync_config(feeds_=[("https://a.test/rss", "A", 300)], **config)
    [row] = await store.watch_rows()
    assert row.destinations == ("slack:C1",)
    assert await store.set_subscription(row.id, "slack:C1", False, NOW) is True
    await store.sync_config(feeds_=[("https://b.test/rss", None, 300)], **config)
    [row] = await store.watch_rows()
    assert row.destinations == ()
    assert [f.url for f in await store.list_feeds()] == ["https://b.test/rss"]


async def test_a_config_watch_records_whether_it_searches_google_news(store: Store) -> None:
    watches = [("q", None, None, True, [], True), ("r", None, None, True, [], False)]
    await store.sync_config(feeds_=[], watches_=watches, now=NOW)
    assert {w.query: w.google_news for w in await store.watch_infos()} == {"q": True, "r": False}
    turned = [("q", None, None, True, [], False), ("r", None, None, True, [], True)]
    await store.sync_config(feeds_=[], watches_=turned, now=NOW)
    assert {w.query: w.google_news for w in await store.watch_rows()} == {"q": False, "r": True}


async def test_a_watch_search_claim_goes_alone_and_leaves_a_feed_added_by_hand(
    store: Store,
) -> None:
    """A workspace that owns a feed as its watches' search gives it up with them (the
    feed stops when nobody else owns it); a workspace that added the feed itself keeps it
    whatever its watches do."""
    url = "https://news.google.test/rss/search?q=tariffs"
    search = await store.upsert_feed(url, name="Google News: tariffs", interval=300,
                                     source="user", now=NOW, tenant="slack:TA",
                                     watch_search=True)  # fmt: skip
    await store.upsert_feed(url, name=None, interval=300, source="user", now=NOW,
                            tenant="slack:TB")  # fmt: skip
    assert await store.count_tenant_feeds("slack:TA") == 1  # the search counts in its quota
    assert await store.remove_feed_owner(search.id, "slack:TB", watch_search_only=True) is False
    assert await store.feed_tenants(search.id) == ["slack:TA", "slack:TB"]
    assert await store.remove_feed_owner(search.id, "slack:TA", watch_search_only=True) is False
    assert await store.feed_tenants(search.id) == ["slack:TB"]
    assert await store.find_feed(url) is not None  # still read for the other workspace
    await store.remove_feed_owner(search.id, "slack:TB")
    assert await store.find_feed(url) is None
    again = await store.upsert_feed(url, name=None, interval=300, source="user", now=NOW,
                                    tenant="slack:TA", watch_search=True)  # fmt: skip
    assert again.id == search.id
    assert await store.remove_feed_owner(search.id, "slack:TA", watch_search_only=True) is True
    assert await store.find_feed(url) is None and await store.feed_tenants(search.id) == []


async def test_a_renamed_config_feed_keeps_its_row(store: Store) -> None:
    """A config feed renamed at sync keeps its id (and so what it has seen); a rename onto
    an address another feed holds changes nothing."""
    config = {"watches_": [], "now": NOW}
    await store.sync_config(
        feeds_=[("https://old.test/q", "G", 300), ("https://taken.test/q", "T", 300)], **config
    )
    ids = {f.url: f.id for f in await store.list_feeds()}
    await store.sync_config(
        feeds_=[("https://new.test/q", "G", 300), ("https://taken.test/q", "T", 300)],
        renamed={
            "https://old.test/q": "https://new.test/q",
            "https://x.test/q": "https://taken.test/q",
        },
        **config,
    )
    after = {f.url: f.id for f in await store.list_feeds()}
    assert after == {
        "https://new.test/q": ids["https://old.test/q"],
        "https://taken.test/q": ids["https://taken.test/q"],
    }


async def test_times_come_back_as_utc(store: Store) -> None:
    """SQLite stores naive text; the store hands back timezone-aware UTC either way."""
    watch = await store.add_watch(query="q", name=None, origin="config", now=NOW)
    await _queue_alert(store, watch, "slack:C1", "s-1", "https://a.test/1")
    async with store.engine.connect() as conn:
        created = (await conn.execute(select(alerts.c.created_at))).scalar_one()
    assert created == NOW and created.tzinfo is not None


async def test_notices_are_claimed_once_retried_and_marked_sent(store: Store) -> None:
    """Queued notices are leased by one sender at a time, retried when asked, then done."""
    await store.queue_notices([("slack:C1", "feed failing"), ("discord:9", "feed failing")], NOW)
    first = await store.claim_notices(owner="A", now=NOW, lease=timedelta(minutes=1))
    again = await store.claim_notices(owner="B", now=NOW, lease=timedelta(minutes=1))
    assert [n.destination for n in first] == ["slack:C1", "discord:9"] and again == []
    await store.notice_done(first[0].id, sent=True)
    await store.notice_done(
        first[1].id, sent=False, error="503", retry_at=NOW + timedelta(seconds=30)
    )
    later = await store.claim_notices(
        owner="B", now=NOW + timedelta(seconds=31), lease=timedelta(minutes=1)
    )
    assert [(n.destination, n.attempts) for n in later] == [("discord:9", 2)]


async def test_inserting_an_article_another_feed_already_stored_reuses_it(store: Store) -> None:
    """Two feeds carrying the same URL at once: the second insert keeps the first row."""
    same, new = _article("https://a.test/same"), _article("https://a.test/new")
    first = await store.run_write(
        lambda c: ingest.insert_articles(c, [(same, "s-1", None, None)], now=NOW)
    )
    second = await store.run_write(
        lambda c: ingest.insert_articles(
            c, [(same, "s-2", None, None), (new, "s-3", None, None)], now=NOW
        )
    )
    assert second["https://a.test/same"] == first["https://a.test/same"]
    assert second["https://a.test/new"].story_key == "s-3"


async def test_kept_story_articles_are_those_a_workspace_may_see(store: Store) -> None:
    """Each story's articles first seen first, within the window, and only from feeds the
    asking workspace may read."""
    shared = await store.upsert_feed("https://wire.test/rss", name=None, interval=300,
                                     source="config", now=NOW)  # fmt: skip
    own = await store.upsert_feed("https://a.test/rss", name=None, interval=300,
                                  source="user", now=NOW, tenant="slack:TA")  # fmt: skip
    wire = replace(_article("https://wire.test/1"), source="Wire", content="Body")
    rows = [
        (wire, "s-1", None, shared.id),
        (replace(_article("https://a.test/1"), source="Desk A"), "s-1", None, own.id),
        (replace(_article("https://wire.test/2"), source="Wire"), "s-2", None, shared.id),
    ]
    await store.run_write(lambda c: ingest.insert_articles(c, rows[:1], now=NOW))
    await store.run_write(lambda c: ingest.insert_articles(c, rows[1:], now=NOW))
    old = (replace(_article("https://old.test/1"), source="Old"), "s-1", None, shared.id)
    await store.run_write(lambda c: ingest.insert_articles(c, [old], now=NOW - timedelta(days=20)))
    since = NOW - timedelta(days=14)
    keys = ["s-1", "s-2", "s-none"]

    async def outlets(visible_to: str) -> dict[str, list[tuple[str, str]]]:
        found = await store.kept_story_articles(keys, since=since, visible_to=visible_to)
        return {key: [(r.source, r.url) for r in rows] for key, rows in found.items()}

    assert await outlets("slack:TA") == {
        "s-1": [("Wire", "https://wire.test/1"), ("Desk A", "https://a.test/1")],
        "s-2": [("Wire", "https://wire.test/2")],
    }
    assert await outlets("slack:TB") == {
        "s-1": [("Wire", "https://wire.test/1")],
        "s-2": [("Wire", "https://wire.test/2")],
    }
    assert await store.kept_story_articles([], since=since) == {}
    # The content (for matching) only when asked for: a big story's is large.
    whole = await store.kept_story_articles(["s-1"], since=since)
    brief = await store.kept_story_articles(["s-1"], since=since, content=False)
    assert [r.content for r in whole["s-1"]] == ["Body", ""]
    assert [r.content for r in brief["s-1"]] == ["", ""]
    assert [r._asdict() | {"content": ""} for r in whole["s-1"]] == [
        r._asdict() for r in brief["s-1"]
    ]


async def test_latest_reads_a_days_arrivals_yet_finds_the_newest_published(store: Store) -> None:
    """``recent_articles`` and ``recent_article_ids`` bound their read by the articles seen
    last; whatever those are (an item dated almost a day ahead of its arrival, an old
    backlog imported a minute ago), they return what sorting the whole window would."""
    rng = random.Random(7)
    n = 0
    kept: list[tuple[datetime, int]] = []  # (published, id) of every article stored

    async def arrive(seen: datetime, dates: list[datetime]) -> None:
        def write(conn: Connection) -> None:
            nonlocal n
            rows = []
            for published in dates:
                n += 1
                article = replace(_article(f"https://a.test/{n}"), published=published)
                rows.append((article, f"s{n}", None, None))
            stored = ingest.insert_articles(conn, rows, now=seen)
            kept.extend((a.published, stored[a.url].id) for a, *_ in rows)

        await store.run_write(write)

    async def check() -> None:
        since = NOW - timedelta(days=14)
        every = [article_id for _, article_id in sorted(kept, reverse=True)]
        for limit in (1, 2, 5, 20, 60, 200):
            found = await store.recent_articles(since=since, limit=limit)
            assert [r.id for r in found] == every[:limit], limit
            assert await store.recent_article_ids(since=since, limit=limit) == every[:limit]

    for day in range(10, 0, -1):  # ten days of arrivals, each published minutes before
        seen = NOW - timedelta(days=day)
        await arrive(seen, [seen - timedelta(minutes=rng.randint(0, 90)) for _ in range(8)])
    # Seen a day ago, dated 23h55m ahead of that: newer than anything seen since.
    await arrive(NOW - timedelta(days=1), [NOW - timedelta(minutes=5)])
    await arrive(NOW - timedelta(minutes=10), [NOW - timedelta(minutes=60)])
    await check()
    # A new feed's backlog, seen last: published days to weeks ago.
    await arrive(
        NOW - timedelta(minutes=1), [NOW - timedelta(days=rng.randint(2, 20)) for _ in range(30)]
    )
    await check()


async def test_a_new_feeds_undated_backlog_is_listed_below_every_dated_article(
    store: Store,
) -> None:
    """Items a new feed's first poll recorded without a date rank below all others (in the
    feed's order among themselves), whenever they were read; an undated item a known feed
    carried later ranks at its first sight, and the bound by the articles seen last still
    finds the dated ones under a backlog read last. The order is the core's listing_rank."""

    async def arrive(
        seen: datetime, slug: str, published: datetime | None, held: str | None
    ) -> None:
        article = replace(
            _article(f"https://a.test/{slug}"),
            published=published or seen,
            published_known=published is not None,
        )
        await store.run_write(
            lambda c: ingest.insert_articles(c, [(article, f"s-{slug}", held, None)], now=seen)
        )

    for day in (3, 2, 1):  # dated news, first polls' dated backlog
        seen = NOW - timedelta(days=day)
        await arrive(seen, f"news{day}", seen - timedelta(minutes=5), None)
        await arrive(seen, f"dated-backlog{day}", seen - timedelta(days=30), HELD_FIRST_POLL)
    for i in range(4):  # a new feed's undated backlog, read a minute ago, in its order
        await arrive(NOW - timedelta(minutes=1), f"undated-backlog{i}", None, HELD_FIRST_POLL)
    await arrive(NOW - timedelta(hours=2), "undated-news", None, None)
    await arrive(NOW - timedelta(hours=3), "undated-backlog-early", None, HELD_FIRST_POLL)

    since = NOW - timedelta(days=14)
    found = await store.recent_articles(since=since, limit=100)
    assert [r.url.rsplit("/", 1)[1] for r in found] == [
        "undated-news",
        "news1",
        "news2",
        "news3",
        "dated-backlog1",
        "dated-backlog2",
        "dated-backlog3",
        "undated-backlog0",
        "undated-backlog1",
        "undated-backlog2",
        "undated-backlog3",
        "undated-backlog-early",
    ]
    assert [r.id for r in found] == [r.id for r in sorted(found, key=listing_rank, reverse=True)]
    for limit in (1, 2, 3, 5, 9):
        assert [r.id for r in await store.recent_articles(since=since, limit=limit)] == [
            r.id for r in found[:limit]
        ]
        assert await store.recent_article_ids(since=since, limit=limit) == [
            r.id for r in found[:limit]
        ]


async def test_recent_article_ids_and_their_rows_in_pages(store: Store) -> None:
    """The ids come in ``recent_articles``' order (newest published first, the id breaking
    ties); fetched a page at a time they give the same rows in the same order."""
    when = [NOW - timedelta(minutes=m) for m in (5, 1, 3, 3, 3, 2, 4, 3)]

    def write(conn: Connection) -> None:
        rows = [
            (replace(_article(f"https://a.test/{i}"), published=t), f"s{i}", None, None)
            for i, t in enumerate(when)
        ]
        ingest.insert_articles(conn, rows, now=NOW)

    await store.run_write(write)
    since = NOW - timedelta(days=1)
    whole = await store.recent_articles(since=since, limit=100)
    ids = await store.recent_article_ids(since=since, limit=100)
    assert ids == [r.id for r in whole]
    assert await store.recent_article_ids(since=since, limit=3) == ids[:3]
    paged = [
        r for start in (0, 3, 6) for r in await store.articles_with_ids(ids[start : start + 3])
    ]
    assert [(r.url, r.feed_url) for r in paged] == [(r.url, r.feed_url) for r in whole]
    assert await store.articles_with_ids([]) == []


async def test_a_workspaces_feed_quota_is_counted_where_the_feed_is_written(store: Store) -> None:
    """The owner row is written only while the workspace owns fewer than its quota (one
    it already owns may be added again); PostgreSQL instances take turns per workspace."""
    from bot.core.errors import QuotaError

    for n in range(2):
        await store.upsert_feed(
            f"https://f{n}.test/rss", name=None, interval=300, source="user", now=NOW,
            tenant="slack:TA", tenant_max=2,
        )  # fmt: skip
    with pytest.raises(QuotaError, match="has 2 feeds"):
        await store.upsert_feed(
            "https://f9.test/rss", name=None, interval=300, source="user", now=NOW,
            tenant="slack:TA", tenant_max=2,
        )  # fmt: skip
    again = await store.upsert_feed(
        "https://f0.test/rss", name=None, interval=300, source="user", now=NOW,
        tenant="slack:TA", tenant_max=2,
    )  # fmt: skip
    assert again.url == "https://f0.test/rss"
    assert await store.count_tenant_feeds("slack:TA") == 2


async def test_the_watches_stamp_moves_with_every_change_of_watches_or_subscriptions(
    store: Store,
) -> None:
    """Every instance reads the watches again when the stamp moved (a chat command reached
    another instance); it moves with each change that alters what matches or where it
    goes, and not with what does not."""
    seen = [await store.watches_stamp()]

    def moved() -> bool:
        return seen[-1] != seen[-2]

    watch = await store.add_watch(query="lithium", name=None, origin="chat", now=NOW)
    seen.append(await store.watches_stamp())
    assert moved()
    await store.update_watch(watch, query="lithium OR cobalt")
    seen.append(await store.watches_stamp())
    assert moved()
    assert await store.set_subscription(watch, "slack:C1", True, NOW)
    seen.append(await store.watches_stamp())
    assert moved()
    assert not await store.set_subscription(watch, "slack:C1", True, NOW)  # no change
    seen.append(await store.watches_stamp())
    assert not moved()
    assert await store.set_subscription(watch, "slack:C1", False, NOW)
    seen.append(await store.watches_stamp())
    assert moved()
    await store.sync_config(feeds_=[], watches_=[("tariffs", None, None, True, [], False)], now=NOW)
    seen.append(await store.watches_stamp())
    assert moved()
