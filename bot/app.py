"""The composition root: builds the core from settings, wires adapters, runs the lifecycle.

Start in order (store -> config sync -> fetcher -> health -> adapters -> scheduler and
sender), stop in reverse. Discord and Slack run in this one event loop.

Whatever stops the start (a database that cannot be reached, a port in use, a platform
that refuses the token or cannot be reached) becomes a ``ConfigError`` of one line saying
what and where: the CLI prints it and exits 2. The cause stays chained for ``-v``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot.adapters.console import ConsoleNotifier, notice_console_text
from bot.allocator import return_free_memory, use_one_malloc_arena
from bot.collector import settle
from bot.core.delivery import Deliverer
from bot.core.errors import ConfigError
from bot.core.fetch import Fetcher, FetchLimits
from bot.core.models import Alert
from bot.core.notices import Notice
from bot.core.poller import CycleReport, Poller
from bot.core.ports import Clock, Notifier, SystemClock
from bot.core.prepare import PreparePool
from bot.core.query import parse_query
from bot.core.search_feeds import google_news_url, previous_google_news_url, search_feed_name
from bot.core.service import Quotas, Wirewatch
from bot.health import Metrics, start_health_server
from bot.leader import CONFIG_SYNC_KEY, gateway_lock_key, session_lock, with_gateway_leadership
from bot.settings import Settings
from bot.store.migrate import UnknownRevisionError, upgrade_to_head
from bot.store.store import Store

log = logging.getLogger(__name__)

# A database that does not answer within this is reported as unreachable (asyncpg alone
# would wait 60 s per attempt, and a firewall that drops packets never answers at all).
DATABASE_CONNECT_TIMEOUT = 15.0


def user_agent(settings: Settings) -> str:
    return f"{settings.fetch.user_agent} (+{settings.fetch.contact_url})"


def instance_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class InstanceLock:
    """Refuses a second ``run`` on the same SQLite file (SQLite serves one instance)."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ConfigError(
                f"cannot open the database folder {self.path.parent}: {e.strerror or e}"
            ) from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            os.close(fd)
            raise ConfigError(
                f"another Wirewatch instance is already running on {self.path.with_suffix('')}; "
                "SQLite serves one instance: stop it, or use PostgreSQL to run several"
            ) from e
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if (
        parsed.get_backend_name() != "sqlite"
        or not parsed.database
        or parsed.database == ":memory:"
    ):
        return None
    return Path(parsed.database)


@dataclass
class Core:
    """Everything the CLI, the adapters and the tests need, built from settings."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    poller: Poller
    deliverer: Deliverer
    api: Wirewatch
    clock: Clock
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    chat_enabled: bool = False
    metrics: Metrics = field(default_factory=Metrics)
    health_address: Any = None

    def default_destinations(self) -> list[str]:
        configured = self.settings.delivery.default_destinations
        if configured:
            return list(configured)
        return [] if self.chat_enabled else ["console"]

    def add_notifier(self, notifier: Notifier) -> None:
        for kind in notifier.kinds:
            self.notifiers[kind] = notifier
        self.deliverer.notifiers = dict(self.notifiers)

    async def poll(
        self, *, due_only: bool = True, progress: Callable[[int, int], None] | None = None
    ) -> CycleReport:
        report = await self.poller.run_cycle(due_only=due_only, progress=progress)
        if report.feeds:
            settle()  # what the cycle left behind is garbage or state (see bot.collector)
        self.metrics.observe_cycle(report)
        for notice in report.notices:
            # The operator reads this: commands in the command line's syntax.
            # "%s": the words quote a feed's name and URL, and a "%" there is not a format.
            log.warning("%s", notice_console_text(notice.notice), extra={"feed": notice.feed_url})
        if report.alert_ids or report.notices:
            self.deliverer.wake()
        return report


async def sync_config(core: Core) -> None:
    """Make the store's config feeds and watches match the settings (chat ones untouched)."""
    s = core.settings
    feeds = [(f.url, f.name, f.interval or s.poll.default_interval) for f in s.feeds]
    watches: list[tuple[str, str | None, str | None, bool, list[str], bool]] = []
    renamed: dict[str, str] = {}
    where = s.fetch.google_news_url
    for w in s.watches:
        watches.append(
            (w.query, w.name, w.mention, w.channels is None, list(w.channels or ()), w.google_news)
        )
        # The settings checked each query, and that Google can search what google_news asks.
        search = google_news_url(parse_query(w.query), where) if w.google_news else None
        if search is not None:
            feeds.append((search, search_feed_name(w.name, w.query), s.poll.default_interval))
            renamed[previous_google_news_url(w.query, where)] = search
    # The same feed listed twice (or a watch's search feed configured by hand) is one feed.
    unique = list({url: (url, name, interval) for url, name, interval in feeds}.values())
    await core.store.sync_config(
        feeds_=unique, watches_=watches, now=core.clock.now(), renamed=renamed
    )
    await core.poller.refresh_watches()


def shown_url(url: str) -> str:
    """A database URL fit for a message: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "(unparsable URL)"


def failure_reason(exc: BaseException) -> str:
    """Short words for why a start-up step failed: the innermost useful cause, not a repr."""
    seen: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in seen:
        seen.append(cause)
        cause = cause.__cause__ or cause.__context__
    for e in seen:
        if isinstance(e, aiohttp.ClientConnectorError):
            code = e.os_error.errno
            return f"cannot connect to {e.host}:{e.port} ({os.strerror(code) if code else e})"
    for e in seen:
        if isinstance(e, DBAPIError) and e.orig is not None:
            return str(e.orig).splitlines()[0] or type(e.orig).__name__
    for e in seen:
        if isinstance(e, TimeoutError):
            return "no answer (timed out)"
        if isinstance(e, OSError) and (e.errno or e.strerror):
            # asyncpg words a refusal as "Connect call failed (...)": the errno says more.
            return os.strerror(e.errno) if e.errno else str(e.strerror)
    # One line whatever the library wrote (slack_sdk puts the server's answer on a second).
    text = " ".join(str(exc).split())
    return (text[:300] + "…" if len(text) > 300 else text) or type(exc).__name__


async def open_store(settings: Settings) -> Store:
    """Open the database and bring it to the newest schema. One that cannot be reached or
    opened is a ConfigError naming it (password masked) and why."""
    url = settings.database.url
    try:
        store = await Store.open(url, failing_after=settings.poll.failing_after, migrate=False)
    except (SQLAlchemyError, OSError) as e:
        raise ConfigError(f"cannot open the database {shown_url(url)}: {failure_reason(e)}") from e
    try:
        async with asyncio.timeout(DATABASE_CONNECT_TIMEOUT):
            async with store.engine.connect():
                pass
        await upgrade_to_head(store.engine)
    except (SQLAlchemyError, OSError, TimeoutError, UnknownRevisionError) as e:
        await store.close()
        raise ConfigError(f"cannot open the database {shown_url(url)}: {failure_reason(e)}") from e
    return store


@contextlib.asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    clock: Clock | None = None,
    instance_id: str | None = None,
    console: ConsoleNotifier | None = None,
    sync: bool = True,
    polls: bool = False,
) -> AsyncIterator[Core]:
    """Open the store (migrating it), sync the config, and build the core. With ``polls``
    (``run``, ``poll``) the start-up state is settled (see :mod:`bot.collector`) so a
    first poll's collections leave it out; a one-shot command does not pay for that."""
    clock = clock or SystemClock()
    instance_id = instance_id or instance_name()
    store = await open_store(settings)
    limits = FetchLimits(
        max_bytes=settings.fetch.max_bytes,
        max_redirects=settings.fetch.max_redirects,
        read_timeout=settings.fetch.timeout_seconds,
        total_deadline=settings.fetch.timeout_seconds * 2,
        concurrency=settings.fetch.concurrency,
        per_host=settings.fetch.per_host,
    )
    fetcher = Fetcher(
        limits=limits,
        user_agent=user_agent(settings),
        allow_private=settings.fetch.allow_private_addresses,
        chat_allowlist=settings.fetch.chat_private_allowlist,
    )
    core_ref: list[Core] = []
    poller = Poller(
        store=store,
        fetcher=fetcher,
        clock=clock,
        max_age=timedelta(hours=settings.poll.max_age_hours),
        backfill=settings.poll.backfill,
        failing_after=settings.poll.failing_after,
        default_destinations=lambda: core_ref[0].default_destinations(),
        in_flight=settings.fetch.concurrency,
        instance_id=instance_id,
        prepare_pool=PreparePool(settings.poll.workers),
        max_body_bytes=limits.max_bytes,
    )
    deliverer = Deliverer(
        store=store,
        notifiers={},
        clock=clock,
        dead_after=timedelta(hours=settings.delivery.dead_letter_after_hours),
        burst_threshold=settings.delivery.burst_threshold,
        instance_id=instance_id,
    )
    api = Wirewatch(
        store=store,
        poller=poller,
        fetcher=fetcher,
        clock=clock,
        default_interval=settings.poll.default_interval,
        quotas=Quotas(
            watches_per_channel=settings.limits.watches_per_channel,
            terms_per_watch=settings.limits.terms_per_watch,
            feeds_per_workspace=settings.limits.feeds_per_workspace,
        ),
        wake_delivery=deliverer.wake,
        recent_window=timedelta(days=settings.database.retention_days),
        google_news_search=settings.fetch.google_news_url,
    )
    core = Core(settings, store, fetcher, poller, deliverer, api, clock)
    deliverer.on_sent = core.metrics.observe_sent
    deliverer.on_pass = core.metrics.observe_delivery
    core_ref.append(core)
    core.add_notifier(console or ConsoleNotifier())
    try:
        async with fetcher:
            if sync:
                # Replicas start together: one syncs the config at a time (no duplicate rows).
                async with session_lock(store.engine, CONFIG_SYNC_KEY):
                    await sync_config(core)
            if polls:
                settle()
            yield core
    finally:
        poller.prepare_pool.close()
        await store.close()


async def run(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """``wirewatch run``: scheduler, sender and every enabled adapter until SIGINT/SIGTERM.

    Once synced into the store, the config's feeds and watches are emptied from
    ``settings``: load the settings again to run again in the same process."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    # Before open_core starts the database threads (see bot.allocator).
    use_one_malloc_arena()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    lock = None
    path = sqlite_path(settings.database.url)
    if path is not None:
        lock = InstanceLock(path)
        lock.acquire()
    try:
        async with open_core(settings, polls=True) as core, contextlib.AsyncExitStack() as running:
            if lock is not None:
                await core.store.release_all_leases()
            # The config's feeds and watches are in the store now (open_core synced them),
            # and nothing reads them again: thousands of settings models would otherwise stay
            # in memory for the life of the process.
            settings.feeds.clear()
            settings.watches.clear()
            # What the config sync and the matcher build freed goes back to the system
            # instead of staying in the RSS until a poll happens to reuse it.
            return_free_memory()
            adapters = build_adapters(core)
            core.chat_enabled = bool(adapters)
            # Health first: a port in use fails the start before any platform is contacted,
            # and /readyz says "not connected" while the adapters connect.
            health = await start_health(core, adapters)
            if health is not None:
                running.push_async_callback(health.cleanup)
            await start_adapters(core, adapters)
            for adapter in adapters:
                running.push_async_callback(_stop_quietly, adapter)
            webhooks = [
                n for n in build_webhook_notifiers(settings) if not n.kinds & set(core.notifiers)
            ]
            for n in webhooks:
                core.add_notifier(n)
                running.push_async_callback(n.aclose)

            scheduler = AsyncIOScheduler()
            cycle_lock = asyncio.Lock()

            async def poll_job() -> None:
                if cycle_lock.locked():
                    return  # the previous cycle is still running: never overlap
                async with cycle_lock:
                    report = await core.poll()
                    if report.feeds:
                        log.info(
                            "poll cycle: %d feeds, %d changed, %d not modified, %d failed, "
                            "%d new articles, %d alerts",
                            report.feeds,
                            report.fetched,
                            report.not_modified,
                            report.failed,
                            report.new_articles,
                            len(report.alert_ids),
                        )
                        # A cycle's fetched bodies and parsed feeds are gone now: between
                        # cycles the process holds only its state.
                        return_free_memory()

            async def prune_job() -> None:
                now = core.clock.now()
                await core.store.prune(
                    articles_before=now - timedelta(days=settings.database.retention_days),
                    seen_before=now - timedelta(days=max(30, settings.database.retention_days * 2)),
                )

            scheduler.add_job(
                poll_job,
                "interval",
                seconds=settings.poll.tick_seconds,
                next_run_time=datetime.now(),  # APScheduler 3 takes local naive time
                max_instances=1,
                coalesce=True,
                id="poll",
            )
            scheduler.add_job(
                prune_job, "interval", hours=1, id="prune", max_instances=1, coalesce=True
            )
            scheduler.start()
            sender = asyncio.create_task(core.deliverer.run(stop))
            log.info("Wirewatch is running (Ctrl-C to stop)")
            try:
                await stop.wait()
            finally:
                log.info("shutting down: finishing in-flight sends")
                # Pause first: shutdown() cancels a running job (AsyncIOExecutor), which would
                # abandon a poll cycle half-way and log it as an error on every SIGTERM.
                scheduler.pause()
                async with cycle_lock:
                    pass
                scheduler.shutdown(wait=False)
                await sender
                # Then the exit stack: webhook sessions, adapters, health, in reverse.
    finally:
        if lock is not None:
            lock.release()


async def _stop_quietly(adapter: Any) -> None:
    # Shutting down: one adapter failing to stop must not keep the others running.
    with contextlib.suppress(Exception):
        await adapter.stop()


async def start_adapters(core: Core, adapters: list[Any]) -> None:
    """Start each adapter in order. One that fails stops those already started and becomes
    a ConfigError saying which platform and why (a rejected token, a refused connection)."""
    started: list[Any] = []
    for adapter in adapters:
        try:
            await adapter.start()
        except Exception as e:
            for done in reversed(started):
                await _stop_quietly(done)
            reason = str(e) if isinstance(e, ConfigError) else failure_reason(e)
            if isinstance(e, ConfigError) and e.__cause__ is not None:
                # Adapters word token problems themselves; failures they only wrap (a refused
                # connection, a server error: "… could not start: <repr>") get plain words.
                inner = failure_reason(e.__cause__)
                if inner.startswith("cannot connect") or "could not start" in reason:
                    reason = inner
            raise ConfigError(f"{adapter.name} could not start: {reason}") from e
        started.append(adapter)
        for n in adapter.notifiers():
            core.add_notifier(n)
        log.info("adapter started", extra={"adapter": adapter.name})


def build_adapters(core: Core) -> list[Any]:
    """Chat adapters enabled by settings (tokens present in the environment)."""
    adapters: list[Any] = []
    s = core.settings
    if s.slack.enabled:
        from bot.adapters.slack.app import SlackAdapter

        adapters.append(SlackAdapter(core=core.api, settings=s.slack, clock=core.clock))
    if s.discord.enabled:
        from bot.adapters.discord.client import DiscordAdapter

        def discord_adapter(gateway: bool) -> DiscordAdapter:
            return DiscordAdapter(core=core.api, settings=s.discord, gateway=gateway)

        # One gateway per shard across instances (a PostgreSQL advisory-lock leader).
        adapters.append(
            with_gateway_leadership(
                discord_adapter,
                core.store.engine,
                key=gateway_lock_key(s.discord.shard_id),
                instance=core.poller.instance_id,
            )
        )
    return adapters


class DeferredNotifier:
    """A notifier whose adapter module is imported on its first send.

    Webhook destinations work without a bot app, so ``run`` always offers them; but
    importing discord.py and slack_bolt costs about 20 MB that an install delivering
    only to the console (or only to one platform) would carry for nothing."""

    def __init__(self, kinds: frozenset[str], build: Callable[[], Notifier]) -> None:
        self.kinds = kinds
        self._build = build
        self._notifier: Notifier | None = None

    def _real(self) -> Notifier:
        if self._notifier is None:
            self._notifier = self._build()
        return self._notifier

    @property
    def max_batch(self) -> int:
        """The real notifier's: asked only when something is due for this kind."""
        return self._real().max_batch

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Delivered by the real notifier (built now if it is the first send)."""
        return await self._real().send(destination, alerts, maybe_sent=maybe_sent)

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Posted by the real notifier (built now if it is the first send)."""
        await self._real().send_notice(
            destination, notice, notice_id=notice_id, maybe_sent=maybe_sent
        )

    async def aclose(self) -> None:
        """Close the real notifier's resources, if it was ever built."""
        close = getattr(self._notifier, "aclose", None)
        if close is not None:
            await close()


def build_webhook_notifiers(settings: Settings) -> list[DeferredNotifier]:
    """Webhook destinations need no bot app: always available (imported when first used)."""

    def slack_webhooks() -> Notifier:
        from bot.adapters.slack.notifier import SlackWebhookNotifier

        return SlackWebhookNotifier(command=settings.slack.command)

    def discord_webhooks() -> Notifier:
        from bot.adapters.discord.notifier import DiscordWebhookNotifier

        return DiscordWebhookNotifier.from_settings(settings.discord)

    return [
        DeferredNotifier(frozenset({"slack-webhook"}), slack_webhooks),
        DeferredNotifier(frozenset({"discord-webhook"}), discord_webhooks),
    ]


async def start_health(core: Core, adapters: list[Any]) -> Any:
    """The health server, or None when disabled. A port in use is a ConfigError."""
    health = core.settings.health
    if not health.enabled:
        return None
    try:
        return await start_health_server(core, adapters)
    except OSError as e:
        where = f"{health.host}:{health.port}"
        if e.errno == errno.EADDRINUSE:
            message = (
                f"the health port {where} is already in use: set [health] port "
                "to a free one, or enabled = false"
            )
        else:
            message = f"cannot serve health checks on {where}: {e.strerror or e}"
        raise ConfigError(message) from e
