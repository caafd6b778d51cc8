"""`wirewatch run` as an operator runs it: a real process, a local feed server, the health
endpoints, clean shutdown on SIGTERM, and one instance per SQLite file."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from tests.fakes.slack import FakeSlack
from tests.feedserver import FeedServer, rss

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp_path: Path, feed_url: str, port: int) -> Path:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path / "run.db"}"\n'
        "[fetch]\nallow_private_addresses = true\n"
        "[poll]\ntick_seconds = 0.3\ndefault_interval = 60\nbackfill = 1\n"
        f"[health]\nenabled = true\nport = {port}\n"
        "[[watches]]\nquery = '\"rare earth\"'\n"
        f'[[feeds]]\nurl = "{feed_url}"\n'
    )
    return cfg


async def start(cfg: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(cfg),
        "run",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


async def wait_for(url: str, predicate, within: float = 20) -> str:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + within
    last = ""
    while asyncio.get_running_loop().time() < deadline:
        try:
            status, body = await get(url)
            last = body
            if status == 200 and predicate(body):
                return body
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never satisfied the check; last body: {last[:500]}")


async def test_run_serves_health_alerts_on_console_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The long-running process polls, prints the alert on the console, answers /healthz /readyz
    /metrics, refuses a second instance (and a `poll --once`) on the same SQLite file, and
    exits 0 on SIGTERM."""
    now = datetime.now(UTC)
    async with FeedServer() as server:
        server.set_feed(
            "/r.rss",
            rss(
                [
                    {
                        "title": "Markets open",
                        "link": "https://n.test/a",
                        "pubDate": now - timedelta(hours=1),
                    },
                    {
                        "title": "Rare earth exports halted",
                        "link": "https://n.test/b",
                        "pubDate": now,
                    },
                ]
            ),
        )
        port = free_port()
        cfg = config(tmp_path, server.url("/r.rss"), port)
        proc = await start(cfg)
        try:
            base = f"http://127.0.0.1:{port}"
            await wait_for(
                f"{base}/metrics", lambda b: 'wirewatch_polls_total{outcome="200"} 1.0' in b
            )
            status, body = await get(f"{base}/healthz")
            assert status == 200 and '"ok"' in body
            status, body = await get(f"{base}/readyz")
            assert status == 200 and '"ready"' in body

            second = await start(cfg)
            _, err = await asyncio.wait_for(second.communicate(), timeout=30)
            assert second.returncode == 2
            assert b"another Wirewatch instance is already running" in err
            poll = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(cfg),
                "poll",
                "--once",
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            _, err = await asyncio.wait_for(poll.communicate(), timeout=30)
            assert poll.returncode == 2 and b"already running" in err

            # backfill = 1: the newest item of the new feed alerts and is delivered.
            metrics = await wait_for(
                f"{base}/metrics", lambda b: 'wirewatch_deliveries_total{outcome="sent"} 1.0' in b
            )
            assert "wirewatch_failing_feeds 0.0" in metrics
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert b"shutting down" in err
        assert out.decode().count("Rare earth exports halted") == 1
        assert "Markets open" not in out.decode()


async def test_run_delivers_to_a_slack_webhook_channel_without_a_slack_app(
    tmp_path: Path,
) -> None:
    """A watch whose channel is an incoming webhook gets its alert from `run` although no
    Slack (or Discord) app is configured: webhook delivery is always on offer."""
    now = datetime.now(UTC)
    async with FeedServer() as server, FakeSlack() as slack:
        server.set_feed(
            "/r.rss",
            rss([{"title": "Rare earth quotas cut", "link": "https://n.test/q", "pubDate": now}]),
        )
        port = free_port()
        cfg = config(tmp_path, server.url("/r.rss"), port)
        hook = slack.webhook_url("T1/B1/hook")
        cfg.write_text(
            cfg.read_text().replace(
                "query = '\"rare earth\"'\n",
                f'query = \'"rare earth"\'\nchannels = ["slack-webhook:{hook}"]\n',
            )
        )
        proc = await start(cfg)
        try:
            await wait_for(
                f"http://127.0.0.1:{port}/metrics",
                lambda b: 'wirewatch_deliveries_total{outcome="sent"} 1.0' in b,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), timeout=20)
        assert proc.returncode == 0, err.decode()[-2000:]
        assert [p.path for p in slack.webhook_posts] == ["/services/T1/B1/hook"]
        assert "Rare earth quotas cut" in str(slack.webhook_posts[0].body)
        assert "Rare earth quotas cut" not in out.decode()
