"""notices as data: the kind and fields of a notice as JSON beside its plain-text fallback

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no backfill: rows queued before this revision hold only text and are sent
    # as written.
    op.add_column("notices", sa.Column("data", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("data")
