"""compressed extracted text: text_versions.text as zlib-compressed UTF-8

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 08:50:00.000000

Since migration 0014 no index reads ``text_versions.text`` (search reads the distinct-passage index) and
no query filters on it in SQL: every reader takes the whole text into Python (diffs, re-analysis, the
passage indexer, search's snippets, exports). So it is stored as ``watcher.models.ZlibText``, its UTF-8
compressed with zlib, about a sixth of its bytes (benchmarks/README.md, "Store size"). The column
changes type in place (PostgreSQL: text → bytea of the UTF-8; SQLite: the table rebuilt with a BLOB
column), then its rows are compressed in batches of ``BATCH`` by id; the downgrade decompresses them
and changes the type back.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BATCH = 500


def _utf8(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _rewrite(convert: Callable[[bytes], Any], value_type: sa.types.TypeEngine[Any]) -> None:
    """Every row's text through ``convert`` (given its bytes), in batches by id."""
    bind = op.get_bind()
    update = sa.text("UPDATE text_versions SET text = :value WHERE id = :id").bindparams(
        sa.bindparam("value", type_=value_type)
    )
    last = 0
    while rows := bind.execute(
        sa.text("SELECT id, text FROM text_versions WHERE id > :last ORDER BY id LIMIT :batch"),
        {"last": last, "batch": BATCH},
    ).all():
        bind.execute(update, [{"id": row_id, "value": convert(_utf8(value))} for row_id, value in rows])
        last = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("text_versions") as batch:
        batch.alter_column(
            "text", existing_type=sa.Text(), type_=sa.LargeBinary(), postgresql_using="convert_to(text, 'UTF8')"
        )
    _rewrite(lambda data: zlib.compress(data, 9), sa.LargeBinary())


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    # PostgreSQL takes the UTF-8 bytes back into bytea, then converts the column; SQLite stores the str.
    _rewrite(
        lambda data: zlib.decompress(data) if postgresql else zlib.decompress(data).decode("utf-8"),
        sa.LargeBinary() if postgresql else sa.Text(),
    )
    with op.batch_alter_table("text_versions") as batch:
        batch.alter_column(
            "text", existing_type=sa.LargeBinary(), type_=sa.Text(), postgresql_using="convert_from(text, 'UTF8')"
        )
