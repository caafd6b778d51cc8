"""Operator endpoints: ``/healthz`` (the loop is alive), ``/readyz`` (database reachable,
adapters connected) and ``/metrics`` (Prometheus text format).

Counters are fed from the poller's cycle reports and the sender's confirmations; gauges
(outbox depth, failing feeds and destinations) are read from the store at scrape time,
so every instance reports the shared truth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from bot.core.api import Caller

if TYPE_CHECKING:
    from bot.app import Core
    from bot.core.delivery import DeliveryReport
    from bot.core.poller import CycleReport

log = logging.getLogger(__name__)


class Metrics:
    """One registry per process (tests build several cores in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("wirewatch_polls", "Feed polls by outcome", ["outcome"], registry=r)
        self.fetch_latency = Histogram(
            "wirewatch_fetch_seconds",
            "Feed fetch latency",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.parse_failures = Counter(
            "wirewatch_parse_failures", "Feed bodies that could not be parsed", registry=r
        )
        self.articles_seen = Counter("wirewatch_articles_seen", "New articles recorded", registry=r)
        self.alerts_created = Counter("wirewatch_alerts_created", "Alerts queued", registry=r)
        self.deliveries = Counter(
            "wirewatch_deliveries", "Alert deliveries by outcome", ["outcome"], registry=r
        )
        self.delivery_latency = Histogram(
            "wirewatch_delivery_seconds",
            "Alert created -> platform confirmed",
            buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600),
            registry=r,
        )
        self.outbox_depth = Gauge("wirewatch_outbox_depth", "Alerts waiting", registry=r)
        self.outbox_oldest = Gauge(
            "wirewatch_outbox_oldest_seconds", "Age of the oldest waiting alert", registry=r
        )
        self.dead_letters = Gauge("wirewatch_dead_letters", "Undeliverable alerts", registry=r)
        self.failing_feeds = Gauge("wirewatch_failing_feeds", "Feeds marked failing", registry=r)
        self.failing_destinations = Gauge(
            "wirewatch_failing_destinations", "Destinations marked failing", registry=r
        )
        self.lease_takeovers = Counter(
            "wirewatch_lease_takeovers",
            "Work taken over from an instance whose lease expired",
            registry=r,
        )

    def observe_cycle(self, report: CycleReport) -> None:
        self.polls.labels("200").inc(report.fetched)
        self.polls.labels("304").inc(report.not_modified)
        self.polls.labels("error").inc(report.failed)
        self.parse_failures.inc(report.parse_failures)
        self.articles_seen.inc(report.new_articles)
        self.alerts_created.inc(len(report.alert_ids))
        self.lease_takeovers.inc(report.lease_takeovers)
        for seconds in report.fetch_seconds:
            self.fetch_latency.observe(seconds)

    def observe_delivery(self, report: DeliveryReport) -> None:
        self.deliveries.labels("sent").inc(report.sent)
        self.deliveries.labels("retry").inc(report.retried)
        self.deliveries.labels("dead").inc(report.dead_lettered)
        self.deliveries.labels("failed_destination").inc(len(report.failed_destinations))

    def observe_sent(self, _alert_id: int, latency: float) -> None:
        self.delivery_latency.observe(max(0.0, latency))

    async def refresh_gauges(self, core: Core) -> None:
        depth, oldest, dead = await core.store.outbox_stats()
        self.outbox_depth.set(depth)
        self.dead_letters.set(dead)
        self.outbox_oldest.set(
            (core.clock.now() - oldest).total_seconds() if oldest is not None else 0
        )
        status = await core.api.status(Caller.console())
        self.failing_feeds.set(len(status.failing_feeds))
        self.failing_destinations.set(
            sum(1 for d in status.destinations if d.state.value == "failing")
        )


async def start_health_server(
    core: Core, adapters: Sequence[Any], *, host: str | None = None, port: int | None = None
) -> web.AppRunner:
    """Serve the three endpoints; returns the runner (``await runner.cleanup()`` stops it)."""
    metrics = core.metrics
    started = time.monotonic()

    async def healthz(_request: web.Request) -> web.Response:
        # Answering at all proves the loop runs; the lag shows whether it is starved.
        t0 = time.perf_counter()
        await asyncio.sleep(0)
        lag = time.perf_counter() - t0
        return web.json_response(
            {
                "status": "ok",
                "uptime_seconds": round(time.monotonic() - started, 1),
                "loop_lag_seconds": round(lag, 4),
            }
        )

    async def readyz(_request: web.Request) -> web.Response:
        problems: list[str] = []
        try:
            async with core.store.engine.connect() as conn:
                async with asyncio.timeout(3):
                    await conn.execute(text("SELECT 1"))
        except Exception as e:
            problems.append(f"database unreachable: {type(e).__name__}")
        for adapter in adapters:
            if not adapter.ready:
                problems.append(f"{adapter.name} not connected")
        body = {"status": "ready" if not problems else "not ready", "problems": problems}
        return web.json_response(body, status=200 if not problems else 503)

    async def metrics_view(_request: web.Request) -> web.Response:
        try:
            await metrics.refresh_gauges(core)
        except Exception as e:
            log.warning("could not refresh gauges: %s", e)
        return web.Response(
            body=generate_latest(metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(
        runner,
        host or core.settings.health.host,
        port if port is not None else core.settings.health.port,
    )
    await site.start()
    server: Any = site._server
    bound = server.sockets[0].getsockname() if server is not None else None
    core.health_address = bound
    log.info("health endpoints on http://%s:%s", *(bound or ("?", "?"))[:2])
    return runner
