"""Stories, not articles: a story posted in a channel is ONE message, edited as coverage
grows (another outlet, another watch), never posted again. Driven through the real core
(feeds on a local server, SQLite) with the console notifier, which prints an edit as an
"[updated …]" block; the Slack and Discord edits have their own fake-server tests."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.adapters.console import ConsoleNotifier
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

HEADLINE = "China expands rare earth export controls to five more elements"


def story(outlet: str, clock: FakeClock, title: str = HEADLINE) -> dict[str, Any]:
    return {
        "title": title,
        "link": f"https://{outlet}.test/rare-earth-controls",
        "guid": f"{outlet}-1",
        "description": "Beijing added holmium and four other elements to its export list.",
        "pubDate": clock.now() - timedelta(minutes=5),
    }


async def test_three_outlets_over_three_polls_make_one_message_edited_twice(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    out = io.StringIO()
    outlets = ("reuters", "scmp", "nikkei")
    async with FeedServer() as server:
        for outlet in outlets:
            server.set_feed(f"/{outlet}.rss", rss([], title=outlet.upper()))
        settings = make_settings(
            tmp_path,
            feeds=[server.url(f"/{o}.rss") for o in outlets],
            watches=[
                {"query": '"rare earth"', "name": "rare earths", "channels": ["console"]},
                {"query": "holmium", "name": "holmium", "channels": ["console"]},
            ],
        )
        async with core_for(settings, clock=clock, console=ConsoleNotifier(out)) as core:
            await core.poll(due_only=False)  # first poll of each feed: seeded, nothing sent
            for i, outlet in enumerate(outlets):
                clock.advance(minutes=10)
                server.set_feed(f"/{outlet}.rss", rss([story(outlet, clock)], title=outlet.upper()))
                await core.poll(due_only=False)
                report = await core.deliverer.deliver_once()
                if i == 0:
                    assert (report.messages, report.edited) == (1, 0)
                else:
                    assert (report.messages, report.edited) == (0, 1)
    printed = out.getvalue()
    # One post listing both watches, then two edits; never a second post.
    assert printed.count(HEADLINE) == 3
    assert printed.count("[updated ") == 2
    first, second, third = printed.strip().split("\n\n")
    assert "watch #1" in first and "watch #2" in first and "also reported by" not in first
    assert second.startswith("[updated console-") and "also reported by: SCMP" in second
    assert "also reported by: SCMP, NIKKEI" in third


async def test_a_watch_matching_a_posted_story_later_edits_it(tmp_path: Path) -> None:
    """Another watch that matches the story only in a later article joins the message."""
    clock = FakeClock()
    out = io.StringIO()
    async with FeedServer() as server:
        server.set_feed("/a.rss", rss([], title="A"))
        server.set_feed("/b.rss", rss([], title="B"))
        settings = make_settings(
            tmp_path,
            feeds=[server.url("/a.rss"), server.url("/b.rss")],
            watches=[
                {"query": '"rare earth"', "channels": ["console"]},
                {"query": "dysprosium", "channels": ["console"]},
            ],
        )
        async with core_for(settings, clock=clock, console=ConsoleNotifier(out)) as core:
            await core.poll(due_only=False)
            clock.advance(minutes=10)
            first = story("a", clock)
            first["description"] = "Beijing widened the list."
            server.set_feed("/a.rss", rss([first], title="A"))
            await core.poll(due_only=False)
            assert (await core.deliverer.deliver_once()).messages == 1
            clock.advance(minutes=10)
            later = story("b", clock)
            later["description"] = "Dysprosium and holmium are now on the list."
            server.set_feed("/b.rss", rss([later], title="B"))
            await core.poll(due_only=False)
            report = await core.deliverer.deliver_once()
            assert (report.messages, report.edited) == (0, 1)
            depth, _, _ = await core.store.outbox_stats()
            assert depth == 0
    edited = out.getvalue().strip().split("\n\n")[-1]
    assert edited.startswith("[updated ") and "watch #2" in edited


async def test_edits_wait_for_the_gap_between_edits(tmp_path: Path) -> None:
    """Two outlets arriving within the edit gap make one edit once the gap has passed."""
    clock = FakeClock()
    out = io.StringIO()
    outlets = ("reuters", "scmp", "nikkei")
    async with FeedServer() as server:
        for outlet in outlets:
            server.set_feed(f"/{outlet}.rss", rss([], title=outlet.upper()))
        settings = make_settings(
            tmp_path,
            feeds=[server.url(f"/{o}.rss") for o in outlets],
            watches=[{"query": '"rare earth"', "channels": ["console"]}],
        )
        async with core_for(settings, clock=clock, console=ConsoleNotifier(out)) as core:
            await core.poll(due_only=False)
            clock.advance(minutes=10)
            server.set_feed("/reuters.rss", rss([story("reuters", clock)], title="REUTERS"))
            await core.poll(due_only=False)
            await core.deliverer.deliver_once()
            server.set_feed("/scmp.rss", rss([story("scmp", clock)], title="SCMP"))
            await core.poll(due_only=False)
            assert (await core.deliverer.deliver_once()).edited == 1
            server.set_feed("/nikkei.rss", rss([story("nikkei", clock)], title="NIKKEI"))
            await core.poll(due_only=False)
            assert (await core.deliverer.deliver_once()).edited == 0  # inside the gap
            clock.advance(seconds=31)
            assert (await core.deliverer.deliver_once()).edited == 1
    assert out.getvalue().count("[updated ") == 2


async def test_a_materially_changed_headline_edits_the_message_marked_updated(
    tmp_path: Path,
) -> None:
    """The same item (same guid and link) re-titled: a change of wording edits the posted
    message with the new headline, marked updated; a change of case or a wire prefix
    does not."""
    clock = FakeClock()
    out = io.StringIO()
    async with FeedServer() as server:
        server.set_feed("/r.rss", rss([], title="REUTERS"))
        settings = make_settings(
            tmp_path,
            feeds=[server.url("/r.rss")],
            watches=[{"query": '"rare earth"', "channels": ["console"]}],
        )
        async with core_for(settings, clock=clock, console=ConsoleNotifier(out)) as core:
            await core.poll(due_only=False)
            clock.advance(minutes=10)
            item = story("reuters", clock)
            server.set_feed("/r.rss", rss([item], title="REUTERS"))
            await core.poll(due_only=False)
            assert (await core.deliverer.deliver_once()).messages == 1

            item["title"] = "UPDATE 1-" + HEADLINE.upper()
            server.set_feed("/r.rss", rss([item], title="REUTERS"))
            await core.poll(due_only=False)
            assert (await core.deliverer.deliver_once()).edited == 0

            clock.advance(minutes=10)
            item["title"] = "China expands rare earth export controls to seven more elements"
            server.set_feed("/r.rss", rss([item], title="REUTERS"))
            report = await core.poll(due_only=False)
            assert report.new_articles == 0 and report.alert_ids == []
            delivered = await core.deliverer.deliver_once()
            assert (delivered.messages, delivered.edited) == (0, 1)
    posted, edited = out.getvalue().strip().split("\n\n")
    assert HEADLINE in posted and "updated" not in posted
    assert edited.startswith("[updated ")
    assert "seven more elements (headline updated)" in edited
