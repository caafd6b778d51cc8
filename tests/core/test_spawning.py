"""Parsing workers started from the `wirewatch` console script import what they use, not
the whole command line (bot.spawning)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from bot.spawning import lean_worker_start

ROOT = Path(__file__).resolve().parents[2]
FEED = ROOT / "tests" / "data" / "feeds" / "rss-1.0-rdf.rdf"

# A stand-in for the console script pip writes: its one import is the command line.
SCRIPT = """
from bot.cli import main  # noqa: F401

if __name__ == "__main__":
    import asyncio
    import json
    import multiprocessing
    import sys
    from concurrent.futures import ProcessPoolExecutor
    from datetime import UTC, datetime

    from bot.core.prepare import PrepareJob, PreparePool
    from bot.spawning import lean_worker_start

    applied = sys.argv[1] == "lean" and lean_worker_start()
    probe = "sorted(m for m in __import__('sys').modules if m.split('.')[0] in " \\
        "('bot', 'sqlalchemy', 'aiohttp', 'discord', 'slack_bolt'))"
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as ex:
        modules = ex.submit(eval, probe).result()

    async def prepared() -> int:
        pool = PreparePool(1)
        try:
            job = PrepareJob(
                body=open(sys.argv[2], "rb").read(), url="https://x.example/feed",
                content_type=None, feed_url="https://x.example/feed", feed_name=None,
                fetched_at=datetime.now(UTC), clean=True,
            )
            return len((await pool.prepare(job)).cleaned or [])
        finally:
            pool.close()

    print(json.dumps({"applied": applied, "modules": modules, "cleaned": asyncio.run(prepared())}))
"""


def run_script(tmp_path: Path, mode: str) -> dict[str, object]:
    script = tmp_path / "wirewatch"
    script.write_text(SCRIPT)
    out = subprocess.run(
        [sys.executable, str(script), mode, str(FEED)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    return result


@pytest.mark.skipif(sys.platform == "win32", reason="the console script problem is POSIX spawn's")
def test_workers_of_the_console_script_skip_the_command_line(tmp_path: Path) -> None:
    plain = run_script(tmp_path, "plain")
    # The problem: "spawn" re-runs the script, and the script imports everything.
    assert "bot.cli" in plain["modules"] and "sqlalchemy" in plain["modules"]  # type: ignore[operator]

    lean = run_script(tmp_path, "lean")
    assert lean["applied"] is True
    modules = lean["modules"]
    assert isinstance(modules, list)
    assert "bot.cli" not in modules and "sqlalchemy" not in modules and "aiohttp" not in modules
    # ... and the workers still parse and clean: their code is imported by name.
    assert lean["cleaned"] == plain["cleaned"] and lean["cleaned"]


def test_only_a_main_module_without_a_spec_is_presented_as_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A script (no module spec) becomes `bot.__main__`; a module run with `-m` (as
    `python -m bot` or pytest's) keeps its own spec."""
    script = types.ModuleType("__main__")
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert lean_worker_start() is True
    assert script.__spec__ is not None and script.__spec__.name == "bot.__main__"

    run_with_m = types.ModuleType("__main__")
    own = importlib.util.find_spec("bot.spawning")
    run_with_m.__spec__ = own
    monkeypatch.setitem(sys.modules, "__main__", run_with_m)
    assert lean_worker_start() is False
    assert run_with_m.__spec__ is own


def test_the_console_script_starts_lean_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """`wirewatch` (pyproject's console script, ``bot.cli:console``) applies it before
    running the command."""
    import bot.cli

    script = types.ModuleType("__main__")
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)
    ran: list[bool] = []
    monkeypatch.setattr(bot.cli, "main", lambda: ran.append(script.__spec__ is not None) or 0)
    assert bot.cli.console() == 0
    assert ran == [True]
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'wirewatch = "bot.cli:console"' in pyproject
