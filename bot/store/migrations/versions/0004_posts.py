"""posts: every message a channel received, so a story that grows edits its message;
headline notes on seen items and an updated time on articles, so a re-titled item edits too

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("edited_revision", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_edit_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edit_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("destination", "message_id", name="uq_post_message"),
    )
    op.create_index("ix_posts_due", "posts", ["destination", "next_edit_at"])
    op.create_index("ix_alerts_story", "alerts", ["story_key", "destination"])
    with op.batch_alter_table("seen_items") as batch:
        batch.add_column(sa.Column("note", sa.String(16), nullable=True))
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("updated_at")
    with op.batch_alter_table("seen_items") as batch:
        batch.drop_column("note")
    op.drop_index("ix_alerts_story", table_name="alerts")
    op.drop_index("ix_posts_due", table_name="posts")
    op.drop_table("posts")
