"""Fixtures shared by the whole suite: a fresh PostgreSQL database per test that asks, and
the real-feed corpus beside the repository (skipped when absent)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import SHARED_FEEDS

POSTGRES_ADMIN = os.environ.get(
    "WIREWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _admin_connect():  # type: ignore[no-untyped-def]
    import asyncpg

    return await asyncpg.connect(POSTGRES_ADMIN, timeout=3)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A brand-new PostgreSQL database (dropped afterwards) as a SQLAlchemy async URL.

    Outside CI a missing server skips the test with a clear reason; in CI
    (WIREWATCH_REQUIRE_POSTGRES=1, set by .ci/run) it fails instead.
    """
    try:
        admin = await _admin_connect()
    except Exception as e:
        message = f"no PostgreSQL reachable at {POSTGRES_ADMIN} ({type(e).__name__}: {e})"
        if os.environ.get("WIREWATCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    name = f"wirewatch_test_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store contract test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(scope="session")
def shared_feeds() -> Path:
    """../shared/feeds, the real publishers' feeds kept beside the repository; tests that
    need it are skipped with the reason on a clone without it (tests/data/feeds holds our
    own documents with the same oddities, and those tests always run)."""
    if not SHARED_FEEDS.is_dir():
        pytest.skip(f"real-feed corpus not found at {SHARED_FEEDS} (kept beside the repository)")
    return SHARED_FEEDS
