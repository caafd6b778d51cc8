"""Whatever stops `wirewatch run` from starting says so in one line and exits 2: a database
URL without its async driver (mapped, so it works), a database that cannot be reached or
opened, a health port or Slack's HTTP port in use, Slack or Discord refusing the token or
not answering. Each runs the real `python -m bot` in a subprocess against local servers."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.cli.test_cli import ROOT, wirewatch
from tests.fakes.discord import FakeDiscord
from tests.fakes.slack import FakeSlack

# Platform variables from the developer's shell must not reach these processes.
PLATFORM_ENV = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "DISCORD_TOKEN")


@pytest.fixture(autouse=True)
def _no_platform_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PLATFORM_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 where nothing listens (held bound, not listening, so no other
    test takes it meanwhile: a connection is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def run_config(tmp_path: Path, *, db_url: str | None = None, health: str = "") -> Path:
    cfg = tmp_path / "run.toml"
    url = db_url or f"sqlite+aiosqlite:///{tmp_path / 'run.db'}"
    cfg.write_text(
        f'[database]\nurl = "{url}"\n'
        "[poll]\ntick_seconds = 0.5\n"
        + (health or "[health]\nenabled = false\n")
        + "[[watches]]\nquery = 'tariff'\n"
    )
    return cfg


def one_failure_line(err: str) -> str:
    """The single `wirewatch:` line of a refused start (no traceback, no error logs)."""
    assert "Traceback" not in err, err
    ours = [line for line in err.splitlines() if line.startswith("wirewatch: ")]
    assert len(ours) == 1, err
    assert '"level": "error"' not in err and " ERROR " not in err, err
    return ours[0].removeprefix("wirewatch: ")


async def refused_run(cfg: Path, env: dict[str, str] | None = None) -> str:
    code, out, err = await wirewatch("run", "--config", str(cfg), env=env)
    assert code == 2, err
    assert out == ""
    return one_failure_line(err)


# --- the database ----------------------------------------------------------------------


async def test_a_sqlite_url_without_the_async_driver_is_mapped_to_it(tmp_path: Path) -> None:
    """`sqlite:///path` works as `sqlite+aiosqlite:///path` would."""
    cfg = run_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'plain.db'}")
    code, _, err = await wirewatch("migrate", "--config", str(cfg))
    assert code == 0, err
    code, out, err = await wirewatch("watch", "list", "--config", str(cfg))
    assert code == 0 and "tariff" in out, err
    assert (tmp_path / "plain.db").exists()


async def test_a_postgresql_url_without_the_async_driver_is_mapped_to_it(
    tmp_path: Path, postgres_url: str
) -> None:
    """`postgresql://` (and the Heroku-style `postgres://`) use asyncpg."""
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    assert plain != postgres_url
    cfg = run_config(tmp_path, db_url=plain)
    code, out, err = await wirewatch("watch", "list", "--config", str(cfg))
    assert code == 0 and "tariff" in out, err
    cfg = run_config(tmp_path, db_url=plain.replace("postgresql://", "postgres://"))
    code, out, err = await wirewatch("watch", "list", "--config", str(cfg))
    assert code == 0 and "tariff" in out, err


async def test_a_database_a_newer_version_wrote_is_a_refused_start(tmp_path: Path) -> None:
    """Rolled back after a newer version migrated the database: one line saying so, exit
    2 (it was an "unexpected error" with exit 1)."""
    db = tmp_path / "run.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    reason = await refused_run(run_config(tmp_path))
    assert reason.startswith(f"cannot open the database sqlite+aiosqlite:///{db}: its schema")
    assert "revision 9999, which this version does not know" in reason
    assert "a newer Wirewatch wrote it" in reason


async def test_an_unreachable_database_is_one_line_with_the_password_masked(
    tmp_path: Path, closed_port: int
) -> None:
    cfg = run_config(
        tmp_path, db_url=f"postgresql://news:hunter2@127.0.0.1:{closed_port}/wirewatch"
    )
    line = await refused_run(cfg)
    assert line == (
        f"cannot open the database postgresql+asyncpg://news:***@127.0.0.1:{closed_port}"
        "/wirewatch: Connection refused"
    )
    code, _, err = await wirewatch("status", "--config", str(cfg))
    assert code == 2 and one_failure_line(err) == line
    assert "hunter2" not in err


async def test_a_postgresql_database_that_refuses_the_login_says_why(
    tmp_path: Path, postgres_url: str
) -> None:
    """The server answers but will not have us: its own words, one line."""
    bad = postgres_url.rsplit("/", 1)[0] + "/no_such_database_here"
    line = await refused_run(run_config(tmp_path, db_url=bad))
    assert line.startswith("cannot open the database postgresql+asyncpg://")
    assert 'database "no_such_database_here" does not exist' in line


async def test_a_sqlite_file_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    """The folder for the database is a file: `run` and `status` both say so."""
    (tmp_path / "blocker").write_text("not a folder")
    cfg = run_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'blocker' / 'ww.db'}")
    line = await refused_run(cfg)
    assert line.startswith(f"cannot open the database folder {tmp_path / 'blocker'}: ")
    code, _, err = await wirewatch("status", "--config", str(cfg))
    assert code == 2
    assert one_failure_line(err).startswith("cannot open the database sqlite+aiosqlite:///")


async def test_a_file_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    """A config pointing at some other file (a typo'd path onto a log, say)."""
    (tmp_path / "notes.db").write_text("these are notes, not SQLite\n" * 100)
    cfg = run_config(tmp_path, db_url=f"sqlite:///{tmp_path / 'notes.db'}")
    line = await refused_run(cfg)
    assert line == (
        f"cannot open the database sqlite+aiosqlite:///{tmp_path / 'notes.db'}: "
        "file is not a database"
    )


# --- the health port -------------------------------------------------------------------


async def test_a_health_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = run_config(tmp_path, health=f"[health]\nenabled = true\nport = {port}\n")
        line = await refused_run(cfg)
    assert line == (
        f"the health port 127.0.0.1:{port} is already in use: "
        "set [health] port to a free one, or enabled = false"
    )


# --- Slack and Discord -----------------------------------------------------------------


async def test_slack_rejecting_the_token_is_one_line(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-not-the-right-one",
            "SLACK_APP_TOKEN": slack.app_token,
            "WIREWATCH_SLACK_API_URL": slack.base_url,
        }
        line = await refused_run(run_config(tmp_path), env)
    assert line == (
        "slack could not start: Slack rejected SLACK_BOT_TOKEN (invalid_auth): check the token"
    )


async def test_slack_unreachable_is_one_line(tmp_path: Path, closed_port: int) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_APP_TOKEN": "xapp-test-token",
        "WIREWATCH_SLACK_API_URL": f"http://127.0.0.1:{closed_port}/api/",
    }
    line = await refused_run(run_config(tmp_path), env)
    assert line == f"slack could not start: cannot connect to 127.0.0.1:{closed_port} " + (
        "(Connection refused)"
    )


async def test_slack_http_mode_with_its_port_in_use_is_one_line(tmp_path: Path) -> None:
    async with FakeSlack() as slack:
        with socket.socket() as taken:
            taken.bind(("0.0.0.0", 0))
            taken.listen()
            port = taken.getsockname()[1]
            env = {
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_SIGNING_SECRET": "a-signing-secret",
                "WIREWATCH_SLACK__MODE": "http",
                "WIREWATCH_SLACK__HTTP_PORT": str(port),
                "WIREWATCH_SLACK_API_URL": slack.base_url,
            }
            line = await refused_run(run_config(tmp_path), env)
    assert line == (
        f"slack could not start: the port for Slack's requests, 0.0.0.0:{port}, is already "
        "in use: set [slack] http_port (WIREWATCH_SLACK__HTTP_PORT) to a free one"
    )


async def test_discord_rejecting_the_token_is_one_line(tmp_path: Path) -> None:
    async with FakeDiscord() as discord:
        env = {
            "DISCORD_TOKEN": "not-the-right-token",
            "WIREWATCH_DISCORD_API_URL": discord.api_url,
            "WIREWATCH_DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        line = await refused_run(run_config(tmp_path), env)
    assert line == (
        "discord could not start: Discord rejected DISCORD_TOKEN (401): "
        "reset it in the developer portal"
    )


async def test_discord_unreachable_is_one_line(tmp_path: Path, closed_port: int) -> None:
    env = {
        "DISCORD_TOKEN": "fake-discord-token",
        "WIREWATCH_DISCORD_API_URL": f"http://127.0.0.1:{closed_port}/api/v10",
        "WIREWATCH_DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{closed_port}/gateway",
    }
    line = await refused_run(run_config(tmp_path), env)
    assert line == (
        f"discord could not start: cannot connect to 127.0.0.1:{closed_port} (Connection refused)"
    )


async def test_slack_started_then_discord_failing_still_exits_2_cleanly(tmp_path: Path) -> None:
    """Slack connects, Discord refuses the token: the one line names Discord, and Slack's
    socket is closed again."""
    async with FakeSlack() as slack, FakeDiscord() as discord:
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "WIREWATCH_SLACK_API_URL": slack.base_url,
            "DISCORD_TOKEN": "not-the-right-token",
            "WIREWATCH_DISCORD_API_URL": discord.api_url,
            "WIREWATCH_DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        line = await refused_run(run_config(tmp_path), env)
        assert "apps.connections.open" in [call.method for call in slack.calls]
        assert not slack.socket_connected.is_set()
    assert line.startswith("discord could not start: Discord rejected DISCORD_TOKEN")


async def test_discord_start_prints_no_voice_warnings(tmp_path: Path) -> None:
    """A Discord start against the fake logs that the adapter started, and nothing about
    PyNaCl, davey or voice."""
    async with FakeDiscord() as discord:
        cfg = run_config(tmp_path)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "--config",
            str(cfg),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "DISCORD_TOKEN": discord.token,
                "WIREWATCH_DISCORD_API_URL": discord.api_url,
                "WIREWATCH_DISCORD_GATEWAY_URL": discord.gateway_url,
            },
        )
        assert proc.stderr is not None
        seen: list[str] = []
        try:
            async with asyncio.timeout(60):
                while "Wirewatch is running" not in "".join(seen):
                    chunk = await proc.stderr.readline()
                    assert chunk, "".join(seen)
                    seen.append(chunk.decode())
        finally:
            proc.send_signal(signal.SIGTERM)
            _, rest = await asyncio.wait_for(proc.communicate(), timeout=30)
    err = "".join(seen) + rest.decode()
    assert proc.returncode == 0, err
    assert '"adapter": "discord"' in err
    assert "voice" not in err.lower() and "PyNaCl" not in err and "davey" not in err


def test_only_the_voice_warnings_are_silenced(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real discord.py client built after start-up logging: its PyNaCl/davey lines are
    dropped, any other discord.py warning still shows."""
    import discord

    from bot.logs import VoiceSupportFilter, silence_voice_warnings

    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    logger = logging.getLogger("discord.client")
    silence_voice_warnings()
    silence_voice_warnings()  # idempotent: one filter, however often logging is set up
    try:
        assert sum(isinstance(f, VoiceSupportFilter) for f in logger.filters) == 1
        with caplog.at_level(logging.WARNING):
            discord.Client(intents=discord.Intents.default())
            logger.warning("Shard ID %s heartbeat blocked for more than %s seconds.", 0, 10)
    finally:
        for f in [f for f in logger.filters if isinstance(f, VoiceSupportFilter)]:
            logger.removeFilter(f)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "voice" in m.lower()]
    assert "Shard ID 0 heartbeat blocked for more than 10 seconds." in messages


async def test_a_platform_answering_with_an_error_is_one_line(tmp_path: Path) -> None:
    """A Slack or Discord API that answers every call with 403 (a proxy, an outage page):
    the platform's own words on one line, not a repr or a traceback."""

    async def forbidden(request: web.Request) -> web.Response:
        if "slack" in request.path:
            return web.json_response({"ok": False, "error": "team_access_not_granted"})
        return web.json_response({"message": "Access denied by proxy", "code": 0}, status=403)

    app = web.Application()
    app.router.add_route("*", "/{path:.*}", forbidden)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        line = await refused_run(
            run_config(tmp_path),
            {
                "SLACK_BOT_TOKEN": "xoxb-test-token",
                "SLACK_APP_TOKEN": "xapp-test-token",
                "WIREWATCH_SLACK_API_URL": f"http://127.0.0.1:{port}/slack/",
            },
        )
        assert line.startswith("slack could not start: The request to the Slack API failed.")
        assert "team_access_not_granted" in line
        line = await refused_run(
            run_config(tmp_path),
            {
                "DISCORD_TOKEN": "fake-discord-token",
                "WIREWATCH_DISCORD_API_URL": f"http://127.0.0.1:{port}/api/v10",
                "WIREWATCH_DISCORD_GATEWAY_URL": f"ws://127.0.0.1:{port}/gateway",
            },
        )
        assert line.startswith("discord could not start: 403 Forbidden (error code: 0): ")
        assert "Access denied by proxy" in line
    finally:
        await runner.cleanup()
