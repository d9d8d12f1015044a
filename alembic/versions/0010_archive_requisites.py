"""archive requisites: page requisites kept with snapshots for replay

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 21:00:00.000000

``sources.requisites`` turns requisite capture on per source; ``requisites`` holds each distinct
(URL, content) once; ``snapshot_requisites`` says which requisites a snapshot used and when they were
fetched (the WARC export writes a ``revisit`` record for content already written).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import watcher.models


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch:
        batch.add_column(sa.Column('requisites', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        'requisites',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=2048), nullable=False),
        sa.Column('url_sha256', sa.String(length=64), nullable=False),
        sa.Column('fetched_at', watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=False),
        sa.Column('headers', sa.JSON(), nullable=False),
        sa.Column('content_type', sa.String(length=200), nullable=True),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('compression', sa.String(length=8), nullable=False),
        sa.Column('raw', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_requisites')),
        sa.UniqueConstraint('url_sha256', 'sha256', name=op.f('uq_requisites_url_sha256')),
    )
    op.create_table(
        'snapshot_requisites',
        sa.Column('snapshot_id', sa.Integer(), nullable=False),
        sa.Column('requisite_id', sa.Integer(), nullable=False),
        sa.Column('fetched_at', watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['requisite_id'], ['requisites.id'],
                                name=op.f('fk_snapshot_requisites_requisite_id_requisites'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['snapshot_id'], ['snapshots.id'],
                                name=op.f('fk_snapshot_requisites_snapshot_id_snapshots'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('snapshot_id', 'requisite_id', name=op.f('pk_snapshot_requisites')),
    )
    op.create_index(op.f('ix_snapshot_requisites_requisite_id'), 'snapshot_requisites', ['requisite_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_snapshot_requisites_requisite_id'), table_name='snapshot_requisites')
    op.drop_table('snapshot_requisites')
    op.drop_table('requisites')
    with op.batch_alter_table('sources') as batch:
        batch.drop_column('requisites')
