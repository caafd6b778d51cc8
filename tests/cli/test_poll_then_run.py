"""`poll --once` prints this cycle's stories; a later `run` prints again only a story that
grew since, as its console edit ("[updated …]"), never every story `poll --once` printed."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleNotifier
from bot.cli import cmd_poll
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings


def _item(clock: FakeClock, host: str, slug: str, title: str) -> dict[str, object]:
    return {
        "title": title,
        "link": f"https://{host}/{slug}",
        "guid": f"{host}-{slug}",
        "description": f"{title}.",
        "pubDate": clock.now() - timedelta(minutes=2),
    }


async def test_run_prints_again_only_the_story_that_grew(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    async with FeedServer() as server:
        settings = make_settings(
            tmp_path,
            feeds=[server.url("/reuters.rss"), server.url("/ap.rss")],
            watches=['"rare earth"', "gallium"],
        )
        reuters = [_item(clock, "reuters.test", "seed", "Markets open")]
        server.set_feed("/reuters.rss", rss(reuters, title="Reuters"))
        server.set_feed(
            "/ap.rss", rss([_item(clock, "ap.test", "seed", "Bond yields steady")], title="AP")
        )
        async with core_for(settings, clock=clock) as core:
            await cmd_poll(core, False)  # first polls: silent
            clock.advance(minutes=10)
            reuters = [
                _item(clock, "reuters.test", "magnets", "Rare earth magnet plant opens in Texas"),
                _item(clock, "reuters.test", "gallium", "China bans gallium exports to the US"),
                *reuters,
            ]
            server.set_feed("/reuters.rss", rss(reuters, title="Reuters"))
            await cmd_poll(core, False)
        printed = capsys.readouterr().out
        assert "Rare earth magnet plant opens in Texas" in printed
        assert "China bans gallium exports to the US" in printed

        clock.advance(minutes=10)
        server.set_feed(
            "/ap.rss",
            rss(
                [_item(clock, "ap.test", "gallium", "China bans gallium exports to the US")],
                title="AP",
            ),
        )
        out = io.StringIO()
        async with core_for(settings, clock=clock, console=ConsoleNotifier(out)) as core:
            await core.poll(due_only=False)
            clock.advance(minutes=5)
            await core.deliverer.deliver_once()
    updates = [block for block in out.getvalue().split("\n\n") if block.startswith("[updated")]
    assert len(updates) == 1
    assert "China bans gallium exports to the US" in updates[0]
    assert "also reported by: AP" in updates[0]
    assert "magnet" not in out.getvalue()


async def test_poll_once_says_which_copy_of_a_story_is_queued_for_a_channel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A watch to the console and to a Slack channel: `poll --once` prints the story for
    each, and says the channel's copy is queued (two identical blocks read as one alert
    printed twice)."""
    clock = FakeClock()
    async with FeedServer() as server:
        settings = make_settings(
            tmp_path,
            feeds=[server.url("/reuters.rss")],
            watches=[{"query": "gallium", "channels": ["console", "slack:C1"]}],
        )
        server.set_feed("/reuters.rss", rss([_item(clock, "r.test", "seed", "Markets open")]))
        async with core_for(settings, clock=clock) as core:
            await cmd_poll(core, False)
            clock.advance(minutes=10)
            server.set_feed(
                "/reuters.rss",
                rss([_item(clock, "r.test", "ga", "China bans gallium exports to the US")]),
            )
            await cmd_poll(core, False)
    blocks = [b for b in capsys.readouterr().out.split("\n\n") if "gallium exports" in b]
    assert len(blocks) == 2
    assert [b.endswith("(queued for slack:C1)") for b in blocks] == [False, True]
