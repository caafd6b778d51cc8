"""feeds.entry_prints: the last recorded body's entry prints, kept with its body hash

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no backfill: a feed without prints takes the full path on its next change
    # and has them from then on.
    op.add_column("feeds", sa.Column("entry_prints", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        batch.drop_column("entry_prints")
