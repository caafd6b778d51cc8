"""The operator endpoints in depth: every metric family the deployment docs name, and
``/readyz`` following the database (503 while PostgreSQL is unreachable, 200 once back)
while ``/healthz`` stays 200 (a liveness probe must not restart healthy pods during a
database outage).

The core runs in-process (``open_core`` + ``start_health_server`` on a free port) against
a fresh PostgreSQL database reached through a TCP relay on 127.0.0.1 that the test can
cut and restore: a real network outage as the app sees it, nothing patched.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.adapters.console import ConsoleNotifier
from bot.app import Core, open_core
from bot.health import start_health_server
from bot.settings import Settings, WatchConfig
from tests.feedserver import FeedServer, rss

pytestmark = pytest.mark.postgres

# Every family the issue asks for, by the name a dashboard queries.
FAMILIES = {
    "wirewatch_polls": "counter",  # by outcome: 200 / 304 / error
    "wirewatch_fetch_seconds": "histogram",
    "wirewatch_parse_failures": "counter",
    "wirewatch_articles_seen": "counter",
    "wirewatch_alerts_created": "counter",
    "wirewatch_deliveries": "counter",  # by outcome
    "wirewatch_delivery_seconds": "histogram",  # created -> confirmed
    "wirewatch_outbox_depth": "gauge",
    "wirewatch_outbox_oldest_seconds": "gauge",
    "wirewatch_dead_letters": "gauge",
    "wirewatch_failing_feeds": "gauge",
    "wirewatch_failing_destinations": "gauge",
    "wirewatch_lease_takeovers": "counter",
}


class Relay:
    """A TCP relay to PostgreSQL that can be cut (listener closed, live links dropped)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._links):
            writer.close()
        await self._server.wait_closed()
        self._server = None

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links.difference_update((writer, up_writer))


@pytest.fixture
async def relay(postgres_url: str) -> AsyncIterator[tuple[Relay, str]]:
    url = make_url(postgres_url)
    r = Relay((url.host or "127.0.0.1", url.port or 5432))
    await r.start()
    yield r, url.set(host="127.0.0.1", port=r.port).render_as_string(hide_password=False)
    if r._server is not None:
        await r.cut()


async def get(url: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as s, s.get(url) as resp:
        return resp.status, await resp.text()


def samples(page: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Prometheus text -> {(sample name, labels): value}; the parser validates the format."""
    out = {}
    for family in text_string_to_metric_families(page):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def settings(db_url: str, feeds: list[str]) -> Settings:
    return Settings(
        database={"url": db_url},
        fetch={"allow_private_addresses": True},
        poll={"backfill": 5, "failing_after": 1},
        health={"enabled": True, "port": 0},
        watches=[
            # console delivers; discord has no adapter here: a failing destination.
            WatchConfig(query="zephyr", channels=["console", "discord:1300000000000000001"])
        ],
        feeds=[{"url": u} for u in feeds],
    )


class Adapter:
    """What /readyz asks of a chat adapter: a name and whether it is connected."""

    def __init__(self, name: str, ready: bool) -> None:
        self.name = name
        self.ready = ready


async def test_metrics_page_has_every_family_with_the_figures_of_a_real_cycle(
    relay: tuple[Relay, str],
) -> None:
    """After a poll (one feed 200 with a match, one unparseable), a second poll (304, and
    a lease taken over from a dead instance) and a delivery pass (console sent, Discord
    without an adapter), /metrics parses as Prometheus text and carries every family with
    those figures: polls by outcome, fetch latency, parse failures, articles seen, alerts
    created, deliveries by outcome, delivery latency, outbox depth, failing feeds and
    destinations, lease takeovers."""
    _, db_url = relay
    now = datetime.now(UTC)
    async with FeedServer() as server:
        server.set_feed(
            "/good.rss",
            rss(
                [
                    {
                        "title": "Zephyr winds close the port",
                        "link": "https://n.test/z",
                        "pubDate": now - timedelta(minutes=5),
                    },
                    {"title": "Markets open", "link": "https://n.test/m", "pubDate": now},
                ]
            ),
        )
        server.set_feed(
            "/broken.rss", b"\x00\x01 this is no feed \xff" * 40, content_type="application/rss+xml"
        )
        feeds = [server.url("/good.rss"), server.url("/broken.rss")]
        out = io.StringIO()
        async with open_core(settings(db_url, feeds), console=ConsoleNotifier(out)) as core:
            runner = await start_health_server(core, [], host="127.0.0.1", port=0)
            base = f"http://127.0.0.1:{core.health_address[1]}"
            try:
                first = await core.poll(due_only=False)
                assert first.fetched == 1 and first.failed == 1 and first.parse_failures == 1
                await take_over_a_dead_instances_lease(core, server.url("/good.rss"))
                second = await core.poll(due_only=True)
                assert second.not_modified == 1 and second.lease_takeovers == 1
                status, page = await get(f"{base}/metrics")
                assert status == 200
                before_delivery = samples(page)
                assert before_delivery[("wirewatch_outbox_depth", ())] == 2
                await core.deliverer.deliver_once()
                status, page = await get(f"{base}/metrics")
            finally:
                await runner.cleanup()
    assert status == 200
    families = {f.name: f.type for f in text_string_to_metric_families(page)}
    for name, kind in FAMILIES.items():
        assert families.get(name) == kind, f"{name}: {families.get(name)} (want {kind})"
    got = samples(page)
    assert got[("wirewatch_polls_total", (("outcome", "200"),))] == 1
    assert got[("wirewatch_polls_total", (("outcome", "304"),))] == 1
    # The broken feed failed in the first poll; it was not due in the second.
    assert got[("wirewatch_polls_total", (("outcome", "error"),))] == 1
    assert got[("wirewatch_fetch_seconds_count", ())] >= 2
    assert got[("wirewatch_parse_failures_total", ())] == 1
    assert got[("wirewatch_articles_seen_total", ())] == 2
    assert got[("wirewatch_alerts_created_total", ())] == 2  # one item, two destinations
    assert got[("wirewatch_deliveries_total", (("outcome", "sent"),))] == 1
    assert got[("wirewatch_deliveries_total", (("outcome", "failed_destination"),))] == 1
    assert got[("wirewatch_delivery_seconds_count", ())] == 1
    assert got[("wirewatch_outbox_depth", ())] == 1  # the Discord alert waits
    assert got[("wirewatch_outbox_oldest_seconds", ())] > 0
    assert got[("wirewatch_dead_letters", ())] == 0
    assert got[("wirewatch_failing_feeds", ())] == 1
    assert got[("wirewatch_failing_destinations", ())] == 1
    assert got[("wirewatch_lease_takeovers_total", ())] == 1
    assert "Zephyr winds close the port" in out.getvalue()


async def take_over_a_dead_instances_lease(core: Core, url: str) -> None:
    """Another instance leased the feed and died: its lease ran out, the feed is due."""
    async with core.store.transaction() as conn:
        await conn.execute(
            text(
                "UPDATE feeds SET lease_owner = 'dead-host-1-abc', next_poll_at = now(),"
                " lease_until = now() - interval '1 second' WHERE url = :url"
            ),
            {"url": url},
        )


async def test_readyz_follows_the_database_and_adapters_while_healthz_stays_up(
    relay: tuple[Relay, str],
) -> None:
    """/readyz is 200 with the database reachable, 503 naming the problem while the relay to
    PostgreSQL is cut (and /metrics still answers), 200 again once it is restored; a chat
    adapter that is not connected also makes it 503. /healthz answers 200 throughout."""
    cut, db_url = relay
    async with open_core(settings(db_url, [])) as core:
        slack = Adapter("slack", ready=True)
        runner = await start_health_server(core, [slack], host="127.0.0.1", port=0)
        base = f"http://127.0.0.1:{core.health_address[1]}"
        try:
            status, body = await get(f"{base}/readyz")
            assert (status, '"ready"' in body) == (200, True)

            await cut.cut()
            status, body = await get(f"{base}/readyz")
            assert status == 503 and "database unreachable" in body, body
            assert (await get(f"{base}/healthz"))[0] == 200
            assert (await get(f"{base}/metrics"))[0] == 200

            await cut.start()  # same port: the app reconnects by itself
            await until_status(f"{base}/readyz", 200)
            assert (await get(f"{base}/healthz"))[0] == 200

            slack.ready = False
            status, body = await get(f"{base}/readyz")
            assert status == 503 and "slack not connected" in body, body
        finally:
            await runner.cleanup()


async def until_status(url: str, want: int, within: float = 15) -> Any:
    deadline = time.monotonic() + within
    status, body = 0, ""
    while time.monotonic() < deadline:
        status, body = await get(url)
        if status == want:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} stayed {status}: {body}")
