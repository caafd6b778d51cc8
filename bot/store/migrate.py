"""Bring a database to the newest schema with Alembic (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    # Alembic is imported here, not at start: a running bot needs it only to migrate.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


class UnknownRevisionError(Exception):
    """The database's schema is newer than this version knows (a newer one wrote it)."""


def known_revisions() -> set[str]:
    return {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}


def head_revision() -> str:
    """The newest revision id, read from the file names (``0002_notices.py`` -> ``0002``)."""
    return max(p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py"))


async def current_revision(engine: AsyncEngine) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        async with engine.connect() as conn:
            return (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    except DBAPIError:
        return None  # a new, empty database


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Apply pending migrations. On PostgreSQL an advisory lock serialises concurrent starts.

    A database already at the newest revision skips Alembic altogether (it is not even
    imported): the common start costs one query and no memory.
    """
    current = await current_revision(engine)
    if current == head_revision():
        return
    if current is not None and current not in known_revisions():
        raise UnknownRevisionError(
            f"its schema is at revision {current}, which this version does not know (its"
            f" newest is {head_revision()}): a newer Wirewatch wrote it; run that version,"
            " or restore a backup taken before it"
        )

    def run(connection: Connection) -> None:
        from alembic import command

        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
        command.upgrade(alembic_config(connection), "head")

    async with engine.begin() as conn:
        await conn.run_sync(run)
