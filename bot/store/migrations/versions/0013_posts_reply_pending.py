"""posts.reply_pending: what a story's message and thread show once a thread reply whose
send is unsure (under way, or answered by a 5xx or a lost connection) is in the thread;
kept until the reply is confirmed, so a restarted instance resends that same reply and
checks for it first instead of replying a second time

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("reply_pending", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("reply_pending")
