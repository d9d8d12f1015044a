"""dashboard: alert triage actions (acknowledge, false positive, note, reopen)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 12:00:00.000000

Append-only: an alert's triage state is its latest action. ``ix_alert_triage_alert_latest``
(alert_id, id) serves "latest action per alert" and an alert's history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import watcher.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'alert_triage',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('alert_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('author', sa.String(length=200), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("action IN ('acknowledge', 'false_positive', 'note', 'reopen')",
                           name=op.f('ck_alert_triage_action')),
        sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], name=op.f('fk_alert_triage_alert_id_alerts'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_triage')),
    )
    op.create_index('ix_alert_triage_alert_latest', 'alert_triage', ['alert_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_alert_triage_alert_latest', table_name='alert_triage')
    op.drop_table('alert_triage')
