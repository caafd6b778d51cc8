"""The operator's terminal hears of feed trouble in the command line's syntax: a feed the
operator added fails, recovers, and the warnings name ``wirewatch feed remove N`` (never the
chat command ``feeds remove``), a command the real ``wirewatch`` program then accepts."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import sys
from pathlib import Path

import pytest

from bot.adapters.console import ConsoleNotifier
from bot.core.api import Caller
from tests.feedserver import FeedServer, rss
from tests.support import FakeClock, core_for, make_settings

ROOT = Path(__file__).resolve().parents[2]
CODE = re.compile(r"`([^`]+)`")


async def wirewatch(config: Path, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_an_operators_feed_failing_and_recovering_is_worded_for_the_command_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    async with FeedServer() as feeds:
        feeds.set_feed("/desk.rss", rss([], title="Desk feed"))
        settings = make_settings(tmp_path, watches=['"rare earth"'], poll={"failing_after": 2})
        out = io.StringIO()
        async with core_for(settings, clock=clock, console=ConsoleNotifier(out)) as core:
            feed = await core.api.add_feed(Caller.console(), feeds.url("/desk.rss"))
            await core.poll(due_only=False)
            feeds.set_feed("/desk.rss", "down", status=503, content_type="text/plain")
            with caplog.at_level(logging.WARNING, logger="bot.app"):
                for _ in range(3):
                    clock.advance(hours=1)
                    await core.poll(due_only=False)
                feeds.set_feed("/desk.rss", rss([], title="Desk feed"))
                clock.advance(hours=1)
                await core.poll(due_only=False)
            await core.deliverer.deliver_notices()
        warnings = [r.getMessage() for r in caplog.records if r.name == "bot.app"]
        assert len(warnings) == 2, warnings
        failing, recovered = warnings
        assert "⚠️ Feed “Desk feed” is failing since" in failing and "HTTP 503" in failing
        assert CODE.findall(failing) == [f"wirewatch feed remove {feed.id}"]
        assert "feeds remove" not in failing
        assert recovered == "✅ Feed “Desk feed” works again; alerts from it resume."
        # The console destination is the terminal itself: told once, through the log.
        assert "[notice]" not in out.getvalue()

        config = tmp_path / "wirewatch.toml"
        config.write_text(
            f'[database]\nurl = "{settings.database.url}"\n[health]\nenabled = false\n'
        )
        shown = CODE.findall(failing)[0].split()
        assert shown[0] == "wirewatch"
        code, said = await wirewatch(config, *shown[1:])
        assert code == 0 and f"removed feed #{feed.id}" in said, said
        code, listed = await wirewatch(config, "feed", "list")
        assert code == 0 and feeds.url("/desk.rss") not in listed
