"""`latest` and `watch test` list stories, not articles: a story five outlets carry is one
line, led by its first report (as its alert was), naming the other outlets and its news of
its own, listed by its latest activity, and never an outlet the asking workspace may not
read. Articles are written straight into a real SQLite store,
each with the story key and feed the test gives it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection

from bot.app import Core
from bot.core.api import Caller
from bot.core.articles import Article
from bot.store import ingest
from tests.support import rare_earth_core

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
A = Caller("slack:CA", "slack:TA", "slack:UA", can_manage=True)
B = Caller("slack:CB", "slack:TB", "slack:UB", can_manage=True)


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    async with rare_earth_core(tmp_path, NOW, feed="https://wire.example/rss") as opened:
        yield opened


async def feed_ids(core: Core) -> tuple[int, int]:
    """The operator's feed, and a feed only workspace A reads (its own)."""
    [operator] = await core.store.list_feeds()
    own = await core.store.upsert_feed(
        "https://a-only.example/rss", name=None, interval=300, source="user", now=NOW,
        tenant=A.tenant,
    )  # fmt: skip
    return operator.id, own.id


async def store(core: Core, *rows: tuple[str, str, str, int, int], seen: datetime = NOW) -> None:
    """(outlet, headline, story key, feed id, minutes before NOW) articles, first seen at
    ``seen``."""

    def write(conn: Connection) -> None:
        ingest.insert_articles(
            conn,
            [
                (
                    Article(
                        url=f"https://{outlet.lower()}.test/{minutes}",
                        title=title,
                        summary=title,
                        content="",
                        source=outlet,
                        published=NOW - timedelta(minutes=minutes),
                        published_known=True,
                        identity_keys=(f"u:{outlet}:{minutes}",),
                    ),
                    story,
                    None,
                    feed_id,
                )
                for outlet, title, story, feed_id, minutes in rows
            ],
            now=seen,
        )

    await core.store.run_write(write)


async def test_a_story_of_many_outlets_is_one_line_and_the_others_still_fill_the_list(
    core: Core,
) -> None:
    feed, _ = await feed_ids(core)
    # The newest thirty articles are one story: `latest 3` must read past them.
    outlets = [f"Outlet{i}" for i in range(30)]
    await store(
        core,
        *[
            (o, f"China widens rare earth curbs ({o})", "s-curbs", feed, 30 - i)
            for i, o in enumerate(outlets)
        ],
        ("Desk", "Soybean futures steady", "s-soy", feed, 40),
        ("Desk", "Port fees rise at Long Beach", "s-port", feed, 50),
        ("Desk", "Lithium prices slide again", "s-lithium", feed, 60),
    )
    found = await core.api.latest(Caller.console(), limit=3)
    assert [a.story_key for a in found.articles] == ["s-curbs", "s-soy", "s-port"]
    lead = found.articles[0]
    assert lead.source == "Outlet0" and lead.title.endswith("(Outlet0)")  # the first report
    assert lead.also_reported_by == tuple(outlets[1:])  # first-seen order, all of them
    assert dict(lead.coverage)["Outlet29"] == "https://outlet29.test/1"
    assert found.articles[1].also_reported_by == ()

    matched = await core.api.test_query(Caller.console(), '"rare earth" OR lithium', limit=5)
    assert [a.story_key for a in matched.articles] == ["s-curbs", "s-lithium"]
    assert matched.articles[0].matched == ("rare earth",)
    assert len(matched.articles[0].also_reported_by) == 29


async def test_a_story_is_led_by_its_first_report_and_listed_by_its_latest_activity(
    core: Core,
) -> None:
    # The Wire reported the curbs an hour ago, the soybeans came half an hour ago, then the
    # Wire's own follow-up and another outlet's rewrite of the curbs.
    feed, _ = await feed_ids(core)
    first = "China widens rare earth curbs"
    follow_up = "Holmium joins China's export list"
    await store(core, ("Wire", first, "s-curbs", feed, 60), seen=NOW - timedelta(minutes=59))
    await store(core, ("Desk", "Soybean futures steady", "s-soy", feed, 30))
    await store(
        core,
        ("Wire", follow_up, "s-curbs", feed, 10),
        ("Other", "China widens curbs on rare earths", "s-curbs", feed, 5),
    )

    found = await core.api.latest(Caller.console(), limit=5)
    assert [a.story_key for a in found.articles] == ["s-curbs", "s-soy"]
    lead = found.articles[0]
    assert (lead.source, lead.title, lead.url) == ("Wire", first, "https://wire.test/60")
    assert lead.published == NOW - timedelta(minutes=60)
    # Listed above a story of 30 minutes ago by its coverage of 5 minutes ago: said so.
    assert lead.latest_at == NOW - timedelta(minutes=5)
    assert lead.as_json()["latest_activity"] == "2026-11-25T11:55:00Z"
    assert found.articles[1].latest_at is None  # one article: its own date says it
    assert lead.also_reported_by == ("Other",)
    assert lead.further == (("Wire", follow_up, "https://wire.test/10"),)
    assert lead.as_json()["further"] == [
        {"source": "Wire", "title": follow_up, "url": "https://wire.test/10"}
    ]

    # A query leads with the first article it matches, and names the first report too.
    [matched] = (await core.api.test_query(Caller.console(), "holmium")).articles
    assert (matched.title, matched.matched) == (follow_up, ("holmium",))
    assert matched.also_reported_by == ("Other",)
    assert matched.further == (
        ("Wire", first, "https://wire.test/60"),
        ("Other", "China widens curbs on rare earths", "https://other.test/5"),  # no rewrite
    )


async def test_an_outlet_only_one_workspace_reads_is_named_to_that_workspace_only(
    core: Core,
) -> None:
    feed, own = await feed_ids(core)
    await store(
        core,
        ("Wire", "China widens rare earth curbs", "s-curbs", feed, 30),
        ("PrivateDesk", "China widens curbs on rare earths", "s-curbs", own, 20),
    )
    seen_by_a = await core.api.latest(A, limit=5)
    assert [(a.source, a.also_reported_by) for a in seen_by_a.articles] == [
        ("Wire", ("PrivateDesk",))
    ]
    for search in (await core.api.latest(B, limit=5), await core.api.test_query(B, "curbs")):
        [shown] = search.articles
        assert (shown.source, shown.also_reported_by, shown.coverage) == ("Wire", (), ())


async def test_why_names_only_the_outlets_the_asking_workspace_reads(core: Core) -> None:
    # Workspace A's own feed carried the story first; workspace B asks about the
    # operator's article of it.
    feed, own = await feed_ids(core)
    await store(
        core,
        ("PrivateDesk", "Scoop: China to widen rare earth curbs", "s-curbs", own, 40),
        ("Wire", "China widens rare earth curbs", "s-curbs", feed, 30),
    )
    told_b = "\n".join((await core.api.why(B, "https://wire.test/30")).lines)
    assert "PrivateDesk" not in told_b and "Scoop" not in told_b
    told_a = "\n".join((await core.api.why(A, "https://wire.test/30")).lines)
    assert "Same story as “Scoop: China to widen rare earth curbs” from PrivateDesk" in told_a


async def both_workspaces_follow(core: Core) -> tuple[int, int, int]:
    """A's and B's channels follow the operator's watch: (its id, the operator's feed,
    A's own feed)."""
    for caller in (A, B):
        await core.api.subscribe(caller, ["rare earth"])
    [watch] = await core.store.watch_infos()
    feed, own = await feed_ids(core)
    return watch.id, feed, own


async def alert_both_workspaces(core: Core, watch_id: int) -> list[int]:
    """Queue the watch's alert of story "s-curbs" (the wire's article) for A and B."""

    def queue(conn: Connection) -> list[int]:
        wire = ingest.articles_by_url(conn, ["https://wire.test/30"])["https://wire.test/30"]
        rows = [
            ingest.AlertRow(watch_id, caller.destination, "s-curbs", wire.id, ("rare earth",))
            for caller in (A, B)
        ]
        return [alert_id for alert_id, _ in ingest.insert_alerts(conn, rows, NOW)]

    return await core.store.run_write(queue)


async def test_an_alerts_coverage_names_only_what_its_channels_workspace_reads(
    core: Core,
) -> None:
    # Both workspaces' channels follow the operator's watch; the story's first outlet is
    # workspace A's own feed. B's alert must not carry A's outlet, its link or headline.
    watch_id, feed, own = await both_workspaces_follow(core)
    await store(
        core,
        ("PrivateDesk", "Scoop: China to widen rare earth curbs", "s-curbs", own, 40),
        ("Wire", "China widens rare earth curbs, adding licences", "s-curbs", feed, 30),
    )

    ids = await alert_both_workspaces(core, watch_id)
    by_channel = {a.destination: a for a in await core.store.alerts_by_ids(ids)}
    for_b = by_channel[B.destination]
    assert for_b.also_reported_by == () and for_b.coverage == () and for_b.further == ()
    for_a = by_channel[A.destination]
    assert for_a.also_reported_by == ("PrivateDesk",)
    assert for_a.coverage == (("PrivateDesk", "https://privatedesk.test/40"),)


async def test_a_story_grown_by_a_workspaces_own_feed_edits_only_that_workspaces_message(
    core: Core,
) -> None:
    # Both workspaces' channels got the operator feed's alert of one story. Workspace A's
    # own feed then carries it: A's message grows (it names A's outlet); B's would show
    # nothing new, and an edit would still tell B that something moved.
    watch_id, feed, own = await both_workspaces_follow(core)
    await store(
        core, ("Wire", "China widens rare earth curbs, adding licences", "s-curbs", feed, 30)
    )

    ids = await alert_both_workspaces(core, watch_id)
    for alert_id, message in zip(ids, ("m-a", "m-b"), strict=True):
        await core.store.mark_sent([alert_id], message_id=message, now=NOW)

    async def due() -> set[str]:
        return set(await core.store.edit_destinations(NOW + timedelta(minutes=1)))

    assert await due() == set()
    marked = await core.store.run_write(lambda conn: ingest.touch_posts(conn, [("s-curbs", own)]))
    assert marked == 1 and await due() == {A.destination}
    # The operator's feed growing it reaches both.
    marked = await core.store.run_write(lambda conn: ingest.touch_posts(conn, [("s-curbs", feed)]))
    assert marked == 2 and await due() == {A.destination, B.destination}
