"""One Discord gateway per shard across instances: a PostgreSQL advisory-lock leader.

Discord allows one gateway session per shard, while any number of clients may send over
REST. Instances sharing a PostgreSQL database elect the gateway holder with
``pg_try_advisory_lock`` on a connection of their own. The lock belongs to that session,
so a leader that dies, even by SIGKILL, loses it as soon as PostgreSQL sees the
connection close; followers retry every few seconds and the first to win connects.
Followers keep a REST-only client, so every instance delivers alerts.

A leader checks its lock connection on the same beat (a 5 s ping): if the connection is
gone, so is the lock, and the leader steps down to REST-only before trying again. Its
server side session lingers until TCP keepalives give up (~30 s, set on the connection),
so after a network failure the old leader has stepped down before anyone else can win.
A database restart ends every session at once: then, for up to one beat, a new leader may
connect before the old one noticed (an interaction answered twice fails harmlessly).
During a database outage no instance holds the gateway (commands need the database
anyway); it comes back with the database.

The same session lock serialises start-up work that must not race between instances
(``session_lock``: the config sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.core.living import Growth
from bot.core.models import Alert
from bot.core.notices import Notice
from bot.core.ports import MessageEditor, Notifier, ThreadReplier

log = logging.getLogger(__name__)

# Advisory lock keys (one 64-bit namespace per database): migrations use 4242001.
CONFIG_SYNC_KEY = 4242002
_GATEWAY_KEY_BASE = 4243000
KEEPALIVE = {"tcp_keepalives_idle": 15, "tcp_keepalives_interval": 5, "tcp_keepalives_count": 3}


def gateway_lock_key(shard_id: int | None) -> int:
    """The advisory lock key of one shard's gateway (no sharding: shard 0)."""
    return _GATEWAY_KEY_BASE + (shard_id or 0)


class Adapter(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool: ...

    def notifiers(self) -> list[Notifier]: ...


@contextlib.asynccontextmanager
async def session_lock(engine: AsyncEngine, key: int) -> AsyncIterator[None]:
    """Hold a PostgreSQL session advisory lock for the block (waits for it); no-op elsewhere."""
    if engine.dialect.name != "postgresql":
        yield
        return
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        await conn.commit()
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                await conn.commit()


class AdvisoryLease:
    """A session advisory lock on a dedicated connection: held until released or the
    connection dies."""

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; never waits."""
        if self._conn is not None:
            return True
        conn = await self.engine.connect()
        try:
            # A leader whose host vanishes (no FIN) would keep the lock until the kernel's
            # keepalive gives up, two hours by default; make PostgreSQL notice in ~30 s.
            for setting, value in KEEPALIVE.items():
                await conn.execute(text(f"SET {setting} = {value}"))
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            ).scalar_one()
            await conn.commit()  # the lock is the session's: no transaction left open
        except Exception:
            await _close_quietly(conn)
            raise
        if not got:
            await _close_quietly(conn)
            return False
        self._conn = conn
        return True

    async def still_held(self) -> bool:
        """True while the lock's connection answers (the lock lives as long as it does)."""
        conn = self._conn
        if conn is None:
            return False
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel that
            # lands as the query finishes, and stop() would then wait on this loop forever.
            async with asyncio.timeout(5):
                await conn.execute(text("SELECT 1"))
            await conn.commit()
            return True
        except Exception as e:
            log.warning("lost the advisory lock connection: %s", e, extra={"lock": self.key})
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.invalidate()
            await _close_quietly(conn)
            return False

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        with contextlib.suppress(Exception):
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            await conn.commit()
        # Never hand the session back to the pool: should the unlock have failed, a pooled
        # connection would hold the lock for the life of the process.
        with contextlib.suppress(Exception):
            await conn.invalidate()
        await _close_quietly(conn)


async def _close_quietly(conn: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


class _DelegatingNotifier:
    """The notifier the deliverer holds: forwards to whichever client is current."""

    def __init__(self, owner: LeaderElectedAdapter, kinds: frozenset[str]) -> None:
        self._owner = owner
        self.kinds = kinds

    def _target(self) -> Notifier:
        for n in self._owner.current.notifiers():
            if n.kinds & self.kinds:
                return n
        raise LookupError(f"no notifier for {sorted(self.kinds)}")  # pragma: no cover

    @property
    def max_batch(self) -> int:
        """The current client's notifier's limit (the same adapter whichever client)."""
        return self._target().max_batch

    async def send(
        self, destination: str, alerts: Sequence[Alert], *, maybe_sent: bool = False
    ) -> str:
        """Send through the current client (leader or follower alike deliver over REST)."""
        return await self._target().send(destination, alerts, maybe_sent=maybe_sent)

    async def send_notice(
        self,
        destination: str,
        notice: Notice,
        *,
        notice_id: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        """Post an operational notice through the current client."""
        await self._target().send_notice(
            destination, notice, notice_id=notice_id, maybe_sent=maybe_sent
        )

    # Living messages: without these the deliverer took this notifier for one that cannot
    # edit, and on PostgreSQL (where `run` holds this wrapper) no story's message grew.
    async def edit(self, destination: str, message_id: str, alerts: Sequence[Alert]) -> None:
        """Re-render a message through the current client."""
        target = self._target()
        if not isinstance(target, MessageEditor):  # pragma: no cover - chat clients edit
            raise TypeError(f"{sorted(self.kinds)} messages cannot be edited")
        await target.edit(destination, message_id, alerts)

    async def reply(
        self,
        destination: str,
        message_id: str,
        grown: Sequence[Growth],
        *,
        maybe_sent: bool = False,
    ) -> None:
        """Answer a message in its thread through the current client."""
        target = self._target()
        if not isinstance(target, ThreadReplier):  # pragma: no cover - chat clients reply
            raise TypeError(f"{sorted(self.kinds)} messages cannot be answered")
        await target.reply(destination, message_id, grown, maybe_sent=maybe_sent)


class LeaderElectedAdapter:
    """A chat adapter whose gateway connection only the lock holder opens.

    ``make(gateway)`` builds the underlying adapter (``DiscordAdapter(gateway=...)``). The
    holder of ``lease`` runs it with the gateway; the others run it REST-only and try the
    lock every ``retry_seconds``; winning swaps in a gateway client, then stops the
    REST-only one.
    """

    def __init__(
        self,
        *,
        make: Callable[[bool], Adapter],
        lease: AdvisoryLease,
        retry_seconds: float = 3.0,
        instance: str = "",
    ) -> None:
        self._make = make
        self.lease = lease
        self.retry_seconds = retry_seconds
        self.instance = instance
        self.current: Adapter = make(False)
        self.name = self.current.name
        self.leader = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._notifiers: list[Notifier] = [
            _DelegatingNotifier(self, n.kinds) for n in self.current.notifiers()
        ]

    @property
    def ready(self) -> bool:
        return self.current.ready

    def notifiers(self) -> list[Notifier]:
        return list(self._notifiers)

    async def start(self) -> None:
        """Start as leader if the lock is free, else REST-only; then keep watching."""
        if await self.lease.try_acquire():
            await self._become(True)
        else:
            await self.current.start()
            log.info("%s gateway held by another instance: REST only", self.name)
        self._task = asyncio.create_task(self._watch(), name=f"{self.name}-leader")

    async def _become(self, leader: bool) -> None:
        """Swap in a client with (or without) the gateway; the old one stops afterwards."""
        started = self._make(leader)
        try:
            await started.start()
        except Exception:
            if leader:
                await self.lease.release()  # let another instance try
            raise
        old, self.current = self.current, started
        self.leader = leader
        with contextlib.suppress(Exception):
            await old.stop()
        if leader:
            log.info(
                "%s gateway leadership acquired",
                self.name,
                extra={"instance": self.instance, "lock": self.lease.key},
            )
        else:
            log.warning(
                "%s gateway leadership lost: REST only",
                self.name,
                extra={"instance": self.instance},
            )

    async def _watch(self) -> None:
        # The flag as well as the cancel: a cancel a library swallows must not keep us here.
        while not self._stopping:
            await asyncio.sleep(self.retry_seconds)
            if self._stopping:
                return
            try:
                if self.leader:
                    if not await self.lease.still_held():
                        await self._become(False)
                elif await self.lease.try_acquire():
                    await self._become(True)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                # The database or the platform is away: stay as we are, try next beat.
                log.warning("%s leadership check failed: %s", self.name, e)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.current.stop()
        await self.lease.release()


def with_gateway_leadership(
    make: Callable[[bool], Adapter], engine: AsyncEngine, *, key: int, instance: str
) -> Any:
    """The adapter ``run`` should hold: leader-elected on PostgreSQL, plain elsewhere."""
    if engine.dialect.name != "postgresql":
        return make(True)
    return LeaderElectedAdapter(make=make, lease=AdvisoryLease(engine, key), instance=instance)
