"""A changed feed's old entries are known from the last body recorded for it.

Most of a changed feed's ~50 entries were in its previous body. Each recorded body's
entry prints (raw key plus headline note, a few bytes each) are stored with the feed, in
the transaction that records the body; the next body's entries with a print found there
stay in the parsing worker, and only the rest are looked up among the seen keys. These
tests drive the real core against a local feed server and a real SQLite file, and check
that nothing is lost: new items alert, a changed headline is still noticed, the prints
survive a restart, and they are those of the body recorded last, by whichever instance,
in a transaction that committed.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select, update

from bot.app import Core
from bot.core.decide import PRINT_SIZE
from bot.core.prepare import PrepareJob, prepare_body
from bot.core.stories import story_features
from bot.settings import Settings
from bot.store.schema import articles, feeds
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

WATCHES = [{"query": '"rare earth"', "name": "rare earth"}]


def item(slug: str, title: str, clock: FakeClock, age_minutes: int = 30) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://wire.test/{slug}",
        "guid": f"wire-{slug}",
        "description": f"{title}. More to follow.",
        "pubDate": clock.now() - timedelta(minutes=age_minutes),
    }


def backlog(clock: FakeClock, n: int = 20) -> list[dict[str, Any]]:
    return [item(f"old{i}", f"Rare earth market note number {i}", clock, 60 + i) for i in range(n)]


class KeysAsked:
    """Counts the keys each poll asks the store about (raw and identity keys)."""

    def __init__(self, core: Core) -> None:
        self.count = 0
        inner = core.store.seen_keys

        async def seen_keys(keys_by_feed: Mapping[int, Sequence[str]]) -> Any:
            self.count += sum(len(keys) for keys in keys_by_feed.values())
            return await inner(keys_by_feed)

        core.store.seen_keys = seen_keys  # type: ignore[method-assign]

    def take(self) -> int:
        n, self.count = self.count, 0
        return n


async def poll_alerts(core: Core) -> list[str]:
    report = await core.poll(due_only=False)
    return [a.title for a in await core.store.alerts_by_ids(report.alert_ids)]


class Seeded(NamedTuple):
    core: Core
    server: FeedServer
    clock: FakeClock
    old: list[dict[str, Any]]  # the feed's items at its (silent) first poll
    asked: KeysAsked  # seen-key lookups from then on

    def serve(self, *items: dict[str, Any]) -> None:
        self.server.set_feed("/w.rss", rss(list(items)))


def serve_backlog(server: FeedServer, tmp_path: Path, clock: FakeClock) -> Settings:
    """The feed of 20 items at /w.rss, and settings that poll it."""
    server.set_feed("/w.rss", rss(backlog(clock)))
    return make_settings(tmp_path, feeds=[server.url("/w.rss")], watches=WATCHES)


@asynccontextmanager
async def seeded_feed(tmp_path: Path) -> AsyncIterator[Seeded]:
    """One feed of 20 items, polled once (silently) by a real core that stays open."""
    clock = FakeClock()
    old = backlog(clock)
    async with FeedServer() as server:
        settings = serve_backlog(server, tmp_path, clock)
        async with core_for(settings, clock=clock) as core:
            asked = KeysAsked(core)
            assert await poll_alerts(core) == []  # the first poll is silent
            asked.take()
            clock.advance(minutes=10)
            yield Seeded(core, server, clock, old, asked)


async def test_old_entries_skip_the_lookup_and_new_or_retitled_ones_do_not(
    tmp_path: Path,
) -> None:
    async with seeded_feed(tmp_path) as f:
        old = f.old
        fresh = item("new1", "Rare earth exports slump as curbs bite", f.clock, 1)
        retitled = {**old[3], "title": "Rare earth market note number 3 lifts curbs"}
        f.serve(fresh, *old[:3], retitled, *old[4:])
        assert await poll_alerts(f.core) == ["Rare earth exports slump as curbs bite"]
        # The raw keys of the two entries not in the last body, then the new item's
        # two identity keys (guid, URL; its guid makes a headline key needless): not all
        # 21 entries'.
        assert f.asked.take() == 2 + 2

        async with f.core.store.transaction() as conn:
            title = (
                await conn.execute(select(articles.c.title).where(articles.c.url == old[3]["link"]))
            ).scalar_one()
        assert title == "Rare earth market note number 3 lifts curbs"

        f.clock.advance(minutes=10)
        fresh2 = item("new2", "Rare earth quotas raised", f.clock, 1)
        f.serve(fresh2, fresh, *old[:3], retitled, *old[4:])
        assert await poll_alerts(f.core) == ["Rare earth quotas raised"]
        assert f.asked.take() == 1 + 2


async def test_a_restarted_poller_knows_the_old_entries_from_the_stored_prints(
    tmp_path: Path,
) -> None:
    """The prints are stored with the feed: after a restart, the first change of a feed
    already looks up only its new entries."""
    clock = FakeClock()
    old = backlog(clock)
    async with FeedServer() as server:
        settings = serve_backlog(server, tmp_path, clock)
        async with core_for(settings, clock=clock) as core:
            assert await poll_alerts(core) == []
        clock.advance(minutes=10)
        server.set_feed("/w.rss", rss([item("new1", "Rare earth curbs bite", clock, 1), *old]))
        async with core_for(settings, clock=clock) as core:  # a new process
            asked = KeysAsked(core)
            assert await poll_alerts(core) == ["Rare earth curbs bite"]
            assert asked.take() == 1 + 2


async def test_the_prints_another_instance_stored_are_the_ones_used(tmp_path: Path) -> None:
    """Another instance recorded the feed since: the prints stored with that body, not
    those of the body this poller saw, say which entries are known."""
    async with seeded_feed(tmp_path) as f:
        url = f.server.url("/w.rss")
        theirs = prepare_body(
            PrepareJob(rss(f.old[:10]).encode(), url, None, url, None, f.clock.now(), False)
        ).prints
        async with f.core.store.transaction() as conn:
            await conn.execute(
                update(feeds).values(
                    body_hash="another-instance", entry_prints=b64encode(theirs).decode()
                )
            )
        f.serve(item("new1", "Rare earth exports slump as curbs bite", f.clock, 1), *f.old)
        assert await poll_alerts(f.core) == ["Rare earth exports slump as curbs bite"]
        # The raw keys of the 10 old entries that body did not hold and of the new one,
        # then the new one's two identity keys.
        assert f.asked.take() == 10 + 1 + 2


async def test_a_batch_that_did_not_commit_leaves_its_entries_unknown(tmp_path: Path) -> None:
    """After a failed write the same new item still alerts on the next poll: the prints
    are stored in the batch's transaction, so the old body's stay."""
    async with seeded_feed(tmp_path) as f:
        f.serve(item("new1", "Rare earth exports slump as curbs bite", f.clock, 1), *f.old)
        store = f.core.store
        inner = store.apply_ingest

        async def failing(*args: Any, **kwargs: Any) -> Any:
            raise OSError("disk full")

        store.apply_ingest = failing  # type: ignore[method-assign]
        assert await poll_alerts(f.core) == []
        store.apply_ingest = inner  # type: ignore[method-assign]

        f.clock.advance(minutes=10)
        assert await poll_alerts(f.core) == ["Rare earth exports slump as curbs bite"]
        f.clock.advance(minutes=10)
        assert await poll_alerts(f.core) == []  # a 304 now: nothing twice


@pytest.mark.parametrize("clean", [False, True])
def test_prepare_leaves_out_entries_whose_print_is_known(clean: bool) -> None:
    clock = FakeClock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    old = backlog(clock, 5)
    url = "https://wire.test/feed.rss"

    def job(body: bytes, known: bytes = b"", *, clean: bool = False) -> PrepareJob:
        return PrepareJob(body, url, None, url, None, clock.now(), clean, known=known)

    first = prepare_body(job(rss(old).encode(), clean=clean))
    assert len(first.prints) == PRINT_SIZE * len(old)

    retitled = {**old[1], "title": "Rare earth market note number 1, revised"}
    fresh = item("new", "A new rare earth item", clock, 1)
    second = prepare_body(job(rss([fresh, old[0], retitled, *old[2:]]).encode(), first.prints))
    # What remains is cleaned in the worker, story features and all.
    assert second.entries == []
    assert second.cleaned is not None
    assert [c.article.title for c in second.cleaned if c.article] == [
        fresh["title"],
        retitled["title"],
    ]
    assert [c.features for c in second.cleaned] == [
        story_features(c.article.title, c.article.summary) for c in second.cleaned if c.article
    ]
    assert second.skipped == len(old) - 1
    assert len(second.prints) == PRINT_SIZE * (len(old) + 1)

    # Nothing is left out, nor cleaned, without the last body's prints.
    unknown = prepare_body(job(rss(old).encode()))
    assert len(unknown.entries) == len(old) and unknown.cleaned is None
