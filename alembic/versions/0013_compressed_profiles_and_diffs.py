"""compressed profiles and diffs: claim_profiles.profile and changes.ops as zlib-compressed JSON

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 08:10:00.000000

A claim profile and a stored diff are read whole in Python and never queried inside by SQL (timelines
read the denormalised ``claim_profiles.indications``, which stays JSON), so both are stored as
``watcher.models.ZlibJSON``: their compact JSON compressed with zlib, about a third of a profile's
bytes and less of a diff's (benchmarks/README.md, "Store size"). Existing rows are converted in batches
of ``BATCH`` rows by id, through a new column that then takes the old one's place; the downgrade
converts them back.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BATCH = 500
DOCUMENTS = (("claim_profiles", "profile"), ("changes", "ops"))


def _compress(value: Any) -> bytes:
    document = json.loads(value) if isinstance(value, str) else value  # SQLite gives text; psycopg parses json
    return zlib.compress(json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), 9)


def _decompress(value: Any) -> Any:
    return json.loads(zlib.decompress(value))  # the JSON column's type serialises it again


def _convert(table: str, column: str, target_type: sa.types.TypeEngine[Any], convert: Callable[[Any], Any]) -> None:
    """Rewrite every value of ``table.column`` with ``convert`` into a new column of ``target_type``
    that then replaces it."""
    new = f"{column}_new"
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column(new, target_type, nullable=True))
    bind = op.get_bind()
    update = sa.text(f"UPDATE {table} SET {new} = :value WHERE id = :id").bindparams(
        sa.bindparam("value", type_=target_type)
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.text(f"SELECT id, {column} FROM {table} WHERE id > :last ORDER BY id LIMIT :batch"),
            {"last": last, "batch": BATCH},
        ).all()
        if not rows:
            break
        bind.execute(update, [{"id": row_id, "value": convert(value)} for row_id, value in rows])
        last = rows[-1][0]
    with op.batch_alter_table(table) as batch:
        batch.drop_column(column)
        batch.alter_column(new, new_column_name=column, existing_type=target_type, nullable=False)


def upgrade() -> None:
    for table, column in DOCUMENTS:
        _convert(table, column, sa.LargeBinary(), _compress)


def downgrade() -> None:
    for table, column in DOCUMENTS:
        _convert(table, column, sa.JSON(), _decompress)
