"""ix_alerts_destination: a channel's alerts newest first (`story mute` reads the stories
it last alerted; without the index a quiet channel's lookup walked every channel's alerts)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_destination", "alerts", ["destination", "id"])


def downgrade() -> None:
    op.drop_index("ix_alerts_destination", table_name="alerts")
