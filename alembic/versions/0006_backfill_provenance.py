"""backfill: the web-archive capture a check or snapshot came from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 20:00:00.000000

``archive_url`` is NULL for live captures and, for a capture backfilled from a web archive
(``watcher backfill``), the archive's capture URL (``BASE/TIMESTAMP/URL``): its provenance, what
makes a second backfill add nothing, and what keeps historical alerts out of the mail.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("archive_url", sa.String(length=2048), nullable=True))
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("archive_url", sa.String(length=2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("archive_url")
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("archive_url")
