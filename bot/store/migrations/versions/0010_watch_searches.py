"""watches.google_news and feed_owners.watch_search: a chat watch's Google News search,
owned by its workspace for as long as one of its watches searches it

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.add_column(
            sa.Column("google_news", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("feed_owners") as batch:
        batch.add_column(
            sa.Column("watch_search", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("feed_owners") as batch:
        batch.drop_column("watch_search")
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("google_news")
