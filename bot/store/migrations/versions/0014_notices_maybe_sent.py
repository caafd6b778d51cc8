"""notices.maybe_sent: a notice whose post is under way or was answered unsure (a 5xx, no
answer) may be in the channel; the retry, by any instance and after a restart, looks for
it first instead of posting it a second time

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "notices",
        sa.Column("maybe_sent", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("maybe_sent")
