"""rendering: per-source browser rendering and screenshots, the empty-shell hint on checks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00.000000

``sources.render`` / ``sources.screenshot`` choose the headless browser per source; ``checks.rendered``
says a check went through it and ``checks.hint`` keeps the empty-shell hint of a static capture;
``screenshots`` holds one full-page PNG per snapshot.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import watcher.models


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('render', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('screenshot', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('checks') as batch:
        batch.add_column(sa.Column('rendered', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column('hint', sa.Text(), nullable=True))
    op.create_table(
        'screenshots',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('snapshot_id', sa.Integer(), nullable=False),
        sa.Column('source_id', sa.Integer(), nullable=False),
        sa.Column('taken_at', watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('media_type', sa.String(length=40), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['snapshot_id'], ['snapshots.id'], name=op.f('fk_screenshots_snapshot_id_snapshots'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['source_id'], ['sources.id'], name=op.f('fk_screenshots_source_id_sources'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_screenshots')),
        sa.UniqueConstraint('snapshot_id', name=op.f('uq_screenshots_snapshot_id')),
    )
    op.create_index(op.f('ix_screenshots_source_id'), 'screenshots', ['source_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_screenshots_source_id'), table_name='screenshots')
    op.drop_table('screenshots')
    with op.batch_alter_table('checks') as batch:
        batch.drop_column('hint')
        batch.drop_column('rendered')
    with op.batch_alter_table('sources') as batch:
        batch.drop_column('screenshot')
        batch.drop_column('render')
