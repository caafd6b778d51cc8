"""Shared test helpers: settings on a temp SQLite file, a real core, an injectable clock."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bot.adapters.console import ConsoleNotifier
from bot.app import Core, open_core
from bot.core.decide import HELD_FIRST_POLL
from bot.core.models import Article
from bot.settings import FeedConfig, Settings, WatchConfig
from bot.store import ingest
from bot.store.schema import feeds

# The project's own feed documents, one oddity each (see the README beside them).
TEST_FEEDS = Path(__file__).resolve().parent / "data" / "feeds"
# Real publishers' feeds kept beside the repository, not in it: tests that read them take
# the ``shared_feeds`` fixture, which skips them (with the reason) when it is absent.
SHARED_FEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "feeds"


def feed_bytes(path: Path) -> bytes:
    """A stored feed document as the fetcher would hand it on (gzip files decompressed)."""
    raw = path.read_bytes()
    return gzip.decompress(raw) if path.name.endswith(".gz") else raw


class FakeClock:
    """A clock tests move by hand instead of sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self.current

    def advance(self, **kwargs: float) -> datetime:
        self.current += timedelta(**kwargs)
        return self.current


def make_settings(
    tmp_path: Path,
    *,
    feeds: Sequence[str | dict[str, Any]] = (),
    watches: Sequence[str | dict[str, Any]] = (),
    db_url: str | None = None,
    **sections: Any,
) -> Settings:
    """Settings for a test: temp SQLite, private addresses allowed (feeds are on 127.0.0.1)."""
    data: dict[str, Any] = {
        "database": {"url": db_url or f"sqlite+aiosqlite:///{tmp_path / 'wirewatch.db'}"},
        "fetch": {"allow_private_addresses": True},
        "health": {"enabled": False},
        "feeds": [FeedConfig(url=f) if isinstance(f, str) else FeedConfig(**f) for f in feeds],
        "watches": [
            WatchConfig(query=w) if isinstance(w, str) else WatchConfig(**w) for w in watches
        ],
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return Settings(**data)


@contextlib.asynccontextmanager
async def core_for(
    settings: Settings,
    *,
    clock: FakeClock | None = None,
    console: ConsoleNotifier | None = None,
) -> AsyncIterator[Core]:
    """A real core (store, poller, sender, API) for ``settings``."""
    async with open_core(settings, clock=clock, console=console) as core:
        yield core


@contextlib.asynccontextmanager
async def rare_earth_core(tmp_path: Path, now: datetime, *, feed: str) -> AsyncIterator[Core]:
    """A real core at ``now`` reading one operator feed, with one watch: "rare earth"."""
    settings = make_settings(
        tmp_path, feeds=[feed], watches=[{"query": '"rare earth"', "name": "rare earth"}]
    )
    async with core_for(settings, clock=FakeClock(now)) as core:
        yield core


async def stored_headlines(
    core: Core,
    headlines: Sequence[tuple[str, int]],
    *,
    now: datetime,
    seen: datetime | None = None,
    undated_backlog: bool = False,
) -> None:
    """Articles of the config's one feed with these titles, published that many minutes
    before ``now``, each its own story, first seen at ``seen`` (default ``now``): a busy
    install's history without polling it in. ``undated_backlog``: undated instead, as a
    new feed's first poll records them (stored at ``seen``)."""
    seen_at = now if seen is None else seen

    def write(conn: Connection) -> None:
        feed_id = conn.execute(select(feeds.c.id)).scalar_one()
        rows = [
            (
                Article(
                    url=f"https://news.test/{seen_at:%s}/{i}",
                    title=title,
                    summary=title,
                    content="",
                    source="Wire",
                    published=seen_at if undated_backlog else now - timedelta(minutes=minutes),
                    published_known=not undated_backlog,
                    identity_keys=(f"u:{i}",),
                ),
                f"s-{seen_at:%s}-{i}",
                HELD_FIRST_POLL if undated_backlog else None,
                feed_id,
            )
            for i, (title, minutes) in enumerate(headlines)
        ]
        ingest.insert_articles(conn, rows, now=seen_at)

    await core.store.run_write(write)
