"""tenancy: watches, subscriptions and user-added feeds belong to a workspace or server

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("watches") as batch:
        batch.add_column(sa.Column("tenant", sa.Text(), nullable=True))
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("tenant", sa.Text(), nullable=True))
    op.create_table(
        "feed_owners",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("added_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["feed_id"], ["feeds.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("feed_id", "tenant"),
    )
    op.create_index("ix_feed_owners_tenant", "feed_owners", ["tenant"])
    # Feeds added in chat before tenancy had no recorded workspace: they stay readable by
    # every workspace, like the operator's, until someone removes them.


def downgrade() -> None:
    op.drop_index("ix_feed_owners_tenant", table_name="feed_owners")
    op.drop_table("feed_owners")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("tenant")
    with op.batch_alter_table("watches") as batch:
        batch.drop_column("tenant")
