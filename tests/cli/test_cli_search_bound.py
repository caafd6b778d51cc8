"""`latest QUERY` and `watch test` read the articles kept newest first and stop at a bound
(``SCAN_MAX``). When they stop there before finding enough, stderr says how far back they
read, so "no match" never reads as "none kept"; stdout keeps only the results.

The real ``bot.cli.main`` runs in this process (the bound is made tiny here, which a
subprocess could not see), on a real SQLite file written by a real core."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.core import service
from bot.settings import load_settings
from tests.cli.test_cli import write_config
from tests.support import core_for, stored_headlines

NOW = datetime.now(UTC).replace(microsecond=0)


def seed(cfg: Path, headlines: list[tuple[str, int]]) -> None:
    """Articles of the config's feed, published that many minutes ago, newest first."""

    async def run() -> None:
        async with core_for(load_settings(cfg)) as core:
            await stored_headlines(core, headlines, now=NOW)

    asyncio.run(run())


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cli, "setup_logging", lambda *_: None)  # pytest owns the logging
    path = write_config(tmp_path, ["https://feeds.test/a.rss"])
    seed(path, [("Tariff talks resume", 1)] + [(f"Port fees rise {i}", 1 + i) for i in range(1, 9)])
    monkeypatch.setattr(service, "SCAN_PAGE", 2)
    monkeypatch.setattr(service, "SCAN_MAX", 4)
    return path


def test_a_search_cut_by_its_bound_says_how_far_back_it_read(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    oldest_read = (NOW - timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    note = f"searched the newest 4 articles kept, published back to {oldest_read}"

    # Nothing among the four newest: the answer says no match, and how far it looked.
    assert cli.main(["--config", str(cfg), "latest", "lithium"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == cli.NO_MATCH
    assert f"{note}: older ones were not searched" in err

    # One match, fewer than asked for: it is printed, and the note goes to stderr, so
    # `--json` output stays one object per line.
    assert cli.main(["--config", str(cfg), "latest", "tariff", "--json"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["title"] for line in out.splitlines()] == ["Tariff talks resume"]
    assert note in err

    assert cli.main(["--config", str(cfg), "watch", "test", "tariff", "--limit", "3"]) == 0
    out, err = capsys.readouterr()
    assert "Tariff talks resume" in out and note in err


def test_a_search_that_found_enough_or_read_everything_says_nothing_more(
    cfg: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main(["--config", str(cfg), "latest", "tariff", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    assert "Tariff talks resume" in out and "searched" not in err
    monkeypatch.setattr(service, "SCAN_MAX", 9)  # exactly what is kept: all of it is read
    assert cli.main(["--config", str(cfg), "latest", "lithium"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == cli.NO_MATCH and "searched" not in err
