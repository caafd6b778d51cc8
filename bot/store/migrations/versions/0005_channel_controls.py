"""channel controls: digests, quiet hours, snoozes, story updates as threads;
muted stories and "not relevant" feedback from alert buttons;
per-watch volume (snooze, hourly cap, outlet threshold); held alerts and summaries in the outbox

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "channel_controls",
        sa.Column("destination", sa.Text(), primary_key=True),
        sa.Column("digest", sa.String(16), nullable=False, server_default="realtime"),
        sa.Column("digest_at", sa.String(5), nullable=True),
        sa.Column("digest_tz", sa.Text(), nullable=False, server_default="UTC"),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("quiet_tz", sa.Text(), nullable=False, server_default="UTC"),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("threads", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Text(), nullable=True),
    )
    op.create_table(
        "watch_controls",
        sa.Column(
            "watch_id",
            sa.Integer(),
            sa.ForeignKey("watches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("destination", sa.Text(), primary_key=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_per_hour", sa.Integer(), nullable=True),
        sa.Column("min_outlets", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "muted_stories",
        sa.Column("destination", sa.Text(), primary_key=True),
        sa.Column("story_key", sa.String(40), primary_key=True),
        sa.Column("muted_by", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("destination", sa.Text(), nullable=False),
        sa.Column(
            "watch_id",
            sa.Integer(),
            sa.ForeignKey("watches.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("story_key", sa.String(40), nullable=False),
        sa.Column("user", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "destination", "watch_id", "story_key", "user", name="uq_feedback_once"
        ),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("hold", sa.String(16), nullable=True))
        batch.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("digest", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("digest")
        batch.drop_column("held_at")
        batch.drop_column("hold")
    op.drop_table("feedback")
    op.drop_table("muted_stories")
    op.drop_table("watch_controls")
    op.drop_table("channel_controls")
