"""articles.first_title, first_summary: the headline and summary an article was stored
with, kept by its first retitle, so the story index a restart rebuilds knows the article
as the running one did

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("first_title", sa.Text(), nullable=True))
    op.add_column("articles", sa.Column("first_summary", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("first_summary")
        batch.drop_column("first_title")
