"""compressed claim profiles: claim_profiles.profile as zlib-compressed JSON

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:10:00.000000

A claim profile is read whole in Python and never queried inside by SQL (timelines read the
denormalised ``indications``, which stays JSON), so it is stored as ``watcher.models.ZlibJSON``: its
compact JSON compressed with zlib, about a third of the bytes (benchmarks/README.md, "Store size").
Existing profiles are converted in batches of ``BATCH`` rows by id, through a new column that then
takes the old one's place; the downgrade converts them back.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import sqlalchemy as sa

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

BATCH = 500


def _as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value  # SQLite gives text; psycopg parses json


def _compress(value: Any) -> bytes:
    text = json.dumps(_as_json(value), ensure_ascii=False, separators=(',', ':'))
    return zlib.compress(text.encode('utf-8'), 9)


def _decompress(value: Any) -> Any:
    return json.loads(zlib.decompress(value))  # the JSON column's type serialises it again


def _convert(target_type: sa.types.TypeEngine[Any], convert: Any) -> None:
    """Rewrite every profile with ``convert`` into a new column of ``target_type`` that replaces it."""
    with op.batch_alter_table('claim_profiles') as batch:
        batch.add_column(sa.Column('profile_new', target_type, nullable=True))
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.text('SELECT id, profile FROM claim_profiles WHERE id > :last ORDER BY id LIMIT :batch'),
            {'last': last, 'batch': BATCH},
        ).all()
        if not rows:
            break
        bind.execute(
            sa.text('UPDATE claim_profiles SET profile_new = :value WHERE id = :id').bindparams(
                sa.bindparam('value', type_=target_type)
            ),
            [{'id': row_id, 'value': convert(value)} for row_id, value in rows],
        )
        last = rows[-1][0]
    with op.batch_alter_table('claim_profiles') as batch:
        batch.drop_column('profile')
        batch.alter_column('profile_new', new_column_name='profile', existing_type=target_type, nullable=False)


def upgrade() -> None:
    _convert(sa.LargeBinary(), _compress)


def downgrade() -> None:
    _convert(sa.JSON(), _decompress)
