"""compressed headers, a preset dictionary for texts: snapshots.headers and requisites.headers as
``ZlibJSON(HEADERS)``, text_versions.text written again with ``ZlibText(TEXT)``

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 02:30:00.000000

A capture's HTTP headers are read whole in Python (the snapshot API, WARC export) and never queried
inside by SQL, and their names and common values repeat in every row: stored as compact JSON deflated
with a preset dictionary of common header names and values (watcher.zdicts.HEADERS_V1), about 40 % of
their JSON on real responses. An extracted text takes the clinic vocabulary dictionary
(watcher.zdicts.TEXT_V1): a quarter smaller than plain zlib on clinic pages. The header columns change
type in place (PostgreSQL: json -> bytea of its UTF-8 text; SQLite: the table rebuilt with a BLOB
column), then every row is rewritten in batches of ``BATCH`` by id; the downgrade writes the headers
back as JSON and the texts as plain zlib (what the code before this revision reads), then changes the
types back. Why: benchmarks/README.md, "Store size".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from alembic import op
from watcher.models import ZlibJSON, ZlibText
from watcher.zdicts import HEADERS, TEXT

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

BATCH = 1000
HEADER_TABLES = ("snapshots", "requisites")


def _rewrite(table: str, column: str, convert: Callable[[Any], Any], value_type: sa.types.TypeEngine[Any]) -> None:
    """Every row's ``column`` through ``convert``, in batches by id."""
    bind = op.get_bind()
    select = sa.text(f"SELECT id, {column} FROM {table} WHERE id > :last ORDER BY id LIMIT :batch")
    update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id").bindparams(
        sa.bindparam("value", type_=value_type)
    )
    last = 0
    while rows := bind.execute(select, {"last": last, "batch": BATCH}).all():
        bind.execute(update, [{"id": row_id, "value": convert(value)} for row_id, value in rows])
        last = rows[-1][0]


def _retype_headers(
    table: str, old: sa.types.TypeEngine[Any], new: sa.types.TypeEngine[Any], postgresql_using: str
) -> None:
    """``table.headers`` from ``old`` to ``new`` (PostgreSQL converts with ``postgresql_using``; SQLite
    rebuilds the table, the values as they are)."""
    with op.batch_alter_table(table) as batch:
        batch.alter_column(
            "headers", existing_type=old, type_=new, existing_nullable=False, postgresql_using=postgresql_using
        )


def _texts(target: ZlibText) -> None:
    """Every extracted text read (either format) and written again as ``target`` writes it."""
    dialect = op.get_bind().dialect
    reader = ZlibText()
    _rewrite(
        "text_versions",
        "text",
        lambda data: target.process_bind_param(reader.process_result_value(bytes(data), dialect), dialect),
        sa.LargeBinary(),
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect
    writer = ZlibJSON(HEADERS)
    for table in HEADER_TABLES:
        _retype_headers(table, sa.JSON(), sa.LargeBinary(), "convert_to(headers::text, 'UTF8')")
        # SQLite gives the JSON text, PostgreSQL its UTF-8 bytes: json.loads takes either.
        _rewrite(
            table, "headers", lambda value: writer.process_bind_param(json.loads(value), dialect), sa.LargeBinary()
        )
    _texts(ZlibText(TEXT))


def downgrade() -> None:
    dialect = op.get_bind().dialect
    postgresql = dialect.name == "postgresql"
    reader = ZlibJSON()

    def to_json(data: Any) -> Any:
        document = json.dumps(reader.process_result_value(bytes(data), dialect), ensure_ascii=False)
        return document.encode("utf-8") if postgresql else document

    _texts(ZlibText())
    for table in HEADER_TABLES:
        # PostgreSQL takes the JSON's UTF-8 bytes back into bytea, then converts the column; SQLite the text.
        _rewrite(table, "headers", to_json, sa.LargeBinary() if postgresql else sa.Text())
        _retype_headers(table, sa.LargeBinary(), sa.JSON(), "convert_from(headers, 'UTF8')::json")
