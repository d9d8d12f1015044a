"""regulation: guideline categories on alerts, and a category filter on subscriptions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:00:00.000000

``alerts.categories`` holds the finding's guideline categories as ``,id,id,`` (NULL on older alerts), so a
subscription's category filter is a LIKE that SQLite and PostgreSQL run alike. ``subscriptions.categories``
is the filter (a JSON list; empty means any), filled with ``[]`` on existing rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("categories", sa.String(length=400), nullable=True))
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("categories", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("categories")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("categories")
