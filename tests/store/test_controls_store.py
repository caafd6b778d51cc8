"""Channel controls in the database, on SQLite and on a real PostgreSQL: settings read back,
the gate's moves (hold, wait, release, mute) apply only to alerts still where they were
decided, and a flush re-queues held alerts as one summary in reading order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time, timedelta

import pytest

from bot.core.controls import (
    ChannelControls,
    Digest,
    GateDecision,
    Hold,
    WatchControls,
    gate,
)
from bot.store import ingest
from bot.store.store import Store
from tests.store.articles import NOW, add_article

DEST = "slack:C1"


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    s = await Store.open(store_url)
    yield s
    await s.close()


async def test_settings_read_back_and_volume_rows_go_when_cleared(store: Store) -> None:
    controls = ChannelControls(
        digest=Digest.DAILY,
        digest_at=time(8, 30),
        digest_tz="Asia/Shanghai",
        quiet_start=time(22),
        quiet_end=time(7),
        snoozed_until=NOW + timedelta(hours=2),
        threads=True,
        template="{{ title }}",
    )
    await store.controls.set_channel(DEST, controls, by="slack:U1", now=NOW)
    assert await store.controls.channel(DEST) == controls
    assert (await store.controls.channel("slack:C2")).default
    watch = await store.add_watch(query="lithium", name=None, origin="chat", now=NOW)
    await store.controls.set_watch(watch, DEST, WatchControls(max_per_hour=2), now=NOW)
    assert await store.controls.watches(DEST) == {watch: WatchControls(max_per_hour=2)}
    await store.controls.set_watch(watch, DEST, WatchControls(), now=NOW)
    assert await store.controls.watches(DEST) == {}


async def test_gate_moves_and_a_flush_in_reading_order(store: Store) -> None:
    lithium = await store.add_watch(query="lithium", name=None, origin="chat", now=NOW)
    cobalt = await store.add_watch(query="cobalt", name=None, origin="chat", now=NOW)
    older = await add_article(store, "https://a.test/1", "s1", NOW - timedelta(hours=2), "Reuters")
    newer = await add_article(store, "https://a.test/2", "s2", NOW - timedelta(hours=1), "AP")
    other = await add_article(store, "https://a.test/3", "s3", NOW - timedelta(minutes=5), "AP")
    ids = await store.queue_alerts(
        [
            ingest.AlertRow(lithium, DEST, "s1", older, ("lithium",)),
            ingest.AlertRow(lithium, DEST, "s2", newer, ("lithium",)),
            ingest.AlertRow(cobalt, DEST, "s3", other, ("cobalt",)),
        ],
        NOW,
    )
    quiet = ChannelControls(quiet_start=time(11), quiet_end=time(13))
    await store.controls.set_channel(DEST, quiet, by=None, now=NOW)
    assert await store.controls.controlled() == {DEST}
    candidates, waiting, held, sent, muted = await store.controls.gate_inputs(DEST, NOW)
    assert [c.id for c in candidates] == ids and not waiting and not held and not muted
    decision = gate(candidates, waiting, quiet, {}, sent, NOW)
    assert set(decision.hold.values()) == {Hold.QUIET}
    await store.controls.apply(DEST, decision, NOW)
    # Applying the same decision again moves nothing: the alerts are no longer pending.
    await store.controls.apply(DEST, decision, NOW)
    _, _, held, _, _ = await store.controls.gate_inputs(DEST, NOW)
    assert sorted(h.id for h in held) == ids
    assert await store.pending_destinations(NOW) == []

    queued = await store.controls.flush(
        DEST, [h.id for h in held], "While quiet hours were on", NOW
    )
    assert queued == 3
    claimed, _ = await store.claim_outbox(
        destination=DEST,
        owner="me",
        now=NOW,
        lease=timedelta(minutes=1),
        batch=1,
        burst_threshold=5,
        digest_batch=10,
    )
    # The newest story's watch leads; each watch's stories newest first; one summary.
    assert [a.story_key for a in claimed] == ["s3", "s2", "s1"]
    assert {a.digest for a in claimed} == {"While quiet hours were on"}


async def test_muted_stories_and_feedback_are_per_channel(store: Store) -> None:
    lithium = await store.add_watch(query="lithium", name=None, origin="chat", now=NOW)
    article = await add_article(store, "https://a.test/1", "s1", NOW, "Reuters")
    (alert,) = await store.queue_alerts([ingest.AlertRow(lithium, DEST, "s1", article, ())], NOW)
    assert await store.controls.alert_here(DEST, alert) == ("s1", lithium, "Title of s1")
    assert await store.controls.alert_here("slack:C2", alert) is None
    await store.controls.mute_story(DEST, "s1", by="slack:U1", now=NOW)
    await store.controls.mute_story(DEST, "s1", by="slack:U2", now=NOW)  # idempotent
    assert await store.controls.muted(DEST, ["s1", "s2"]) == {"s1"}
    assert await store.controls.muted("slack:C2", ["s1"]) == set()
    candidates, waiting, held, sent, muted = await store.controls.gate_inputs(DEST, NOW)
    decision = gate(candidates, waiting, ChannelControls(), {}, sent, NOW, held, muted)
    assert decision.muted == [alert]
    await store.controls.apply(DEST, decision, NOW)
    assert await store.pending_destinations(NOW) == []

    first = await store.controls.record_feedback(
        DEST, lithium, "s1", user="slack:U1", verdict="irrelevant", now=NOW
    )
    again = await store.controls.record_feedback(
        DEST, lithium, "s1", user="slack:U1", verdict="irrelevant", now=NOW
    )
    assert (first, again) == (True, False)
    await store.controls.record_feedback(
        DEST, lithium, "s1", user="slack:U2", verdict="irrelevant", now=NOW
    )
    assert await store.controls.not_relevant(DEST) == {lithium: 1}  # one story
    assert await store.controls.not_relevant("slack:C2") == {}
    assert GateDecision().empty


async def test_stories_here_are_a_channels_own_newest_first_each_once(store: Store) -> None:
    """What `story mute HEADLINE WORDS` chooses among: the stories alerted in this channel,
    newest first, one row per story however many watches alerted it, marked when muted."""
    lithium = await store.add_watch(query="lithium", name=None, origin="chat", now=NOW)
    cobalt = await store.add_watch(query="cobalt", name=None, origin="chat", now=NOW)
    one = await add_article(store, "https://a.test/1", "s1", NOW - timedelta(hours=2), "Reuters")
    two = await add_article(store, "https://a.test/2", "s2", NOW - timedelta(hours=1), "AP")
    elsewhere = await add_article(store, "https://a.test/3", "s3", NOW, "AP")
    await store.queue_alerts(
        [
            ingest.AlertRow(lithium, DEST, "s1", one, ()),
            ingest.AlertRow(lithium, DEST, "s2", two, ()),
            ingest.AlertRow(cobalt, DEST, "s2", two, ()),
            ingest.AlertRow(lithium, "slack:C2", "s3", elsewhere, ()),
        ],
        NOW,
    )
    await store.controls.mute_story(DEST, "s1", by="slack:U1", now=NOW)
    here = await store.controls.stories_here(DEST, 10)
    assert [(s.story_key, s.title, s.muted) for s in here] == [
        ("s2", "Title of s2", False),
        ("s1", "Title of s1", True),
    ]
    assert [s.story_key for s in await store.controls.stories_here(DEST, 1)] == ["s2"]
    assert [s.story_key for s in await store.controls.stories_here("slack:C2", 10)] == ["s3"]
