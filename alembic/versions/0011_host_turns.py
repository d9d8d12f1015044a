"""host turns: politeness across the queue's workers

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:00:00.000000

``host_turns`` holds, per host, when the last crawl of it ended and whether one is going on, so that
the next job for that host (``WATCHER_EXECUTOR=queue``), on whichever machine, waits the download
delay first. The queue's own tables (procrastinate's) are not Alembic's: see watcher.queue.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import watcher.models


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_turns",
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("last_request_at", watcher.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("busy", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("host", name=op.f("pk_host_turns")),
    )


def downgrade() -> None:
    op.drop_table("host_turns")
