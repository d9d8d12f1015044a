"""compressed headers, a preset dictionary for texts, compact digests: snapshots.headers and
requisites.headers as ``ZlibJSON(HEADERS)``; text_versions.text written again with ``ZlibText(TEXT)``,
text_sha256 as its 32 bytes, created_at (SQLite) as an integer

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 02:30:00.000000

A capture's HTTP headers are read whole in Python (the snapshot API, WARC export) and never queried
inside by SQL, and their names and common values repeat in every row: stored as compact JSON deflated
with a preset dictionary of common header names and values (watcher.zdicts.HEADERS_V1), about a third
of their JSON on real responses. An extracted text takes the clinic vocabulary dictionary
(watcher.zdicts.TEXT_V1): a quarter smaller than plain zlib on clinic pages. A text's SHA-256 is only
compared in Python: its 32 bytes (``HexDigest``) instead of 64 hex characters. A text version's
creation date is only written and handed back: on SQLite microseconds since 1970 (``CompactUTCDateTime``,
8 bytes instead of 26 characters); PostgreSQL keeps ``timestamptz``.

The columns change type first (PostgreSQL in place: json -> bytea of its UTF-8 text, hex -> bytea;
SQLite: the tables rebuilt, the values as they are), then every row is written again in batches of
``BATCH`` by id. The downgrade writes the rows back as revision 0020 reads them (JSON headers, plain
zlib texts, hex digests, text dates), then changes the types back. Why: benchmarks/README.md,
"Store size".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from alembic import op
from watcher.models import EPOCH, MICROSECOND, ZlibJSON, ZlibText
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


def _text_versions(**convert: Callable[[Any], Any]) -> None:
    """The text versions' columns named in ``convert`` written again through their function, in
    batches by id."""
    bind = op.get_bind()
    columns = ", ".join(convert)
    select = sa.text(f"SELECT id, {columns} FROM text_versions WHERE id > :last ORDER BY id LIMIT :batch")
    update = sa.text(
        f"UPDATE text_versions SET {', '.join(f'{column} = :{column}' for column in convert)} WHERE id = :id"
    )
    if "text" in convert:
        update = update.bindparams(sa.bindparam("text", type_=sa.LargeBinary()))
    last = 0
    while rows := bind.execute(select, {"last": last, "batch": BATCH}).all():
        changed = []
        for row_id, *values in rows:
            columns_values = zip(convert, values, strict=True)
            changed.append({"id": row_id} | {column: convert[column](value) for column, value in columns_values})
        bind.execute(update, changed)
        last = rows[-1][0]


def _recompress(dictionary: int | None) -> Callable[[Any], bytes | None]:
    """A stored text (either format) to the bytes ``ZlibText(dictionary)`` writes."""
    dialect = op.get_bind().dialect
    reader, writer = ZlibText(), ZlibText(dictionary)
    return lambda data: writer.process_bind_param(reader.process_result_value(bytes(data), dialect), dialect)


def _micros(value: str) -> int:
    """SQLite: a date as SQLAlchemy writes it (UTC, naive text) to ``CompactUTCDateTime``'s integer."""
    return (datetime.fromisoformat(value).replace(tzinfo=UTC) - EPOCH) // MICROSECOND


def _date_text(value: int) -> str:
    """SQLite: ``CompactUTCDateTime``'s integer back to SQLAlchemy's text."""
    return (EPOCH + value * MICROSECOND).strftime("%Y-%m-%d %H:%M:%S.%f")


def _retype_text_versions(compact: bool) -> None:
    """``text_sha256`` between hex text and bytes (PostgreSQL converts it in place); on SQLite
    ``created_at`` between text and an integer, the table rebuilt with the values as they are."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    text_type, bytes_type = sa.String(64), sa.LargeBinary()
    with op.batch_alter_table("text_versions") as batch:
        batch.alter_column(
            "text_sha256",
            existing_type=text_type if compact else bytes_type,
            type_=bytes_type if compact else text_type,
            existing_nullable=False,
            postgresql_using="decode(text_sha256, 'hex')" if compact else "encode(text_sha256, 'hex')",
        )
        if sqlite:
            date_type, integer_type = sa.DateTime(timezone=True), sa.BigInteger()
            batch.alter_column(
                "created_at",
                existing_type=date_type if compact else integer_type,
                type_=integer_type if compact else date_type,
                existing_nullable=False,
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
    # SQLite's table rebuild copies a value whose type changes through CAST (a date's text would become
    # its year): the values are converted first. PostgreSQL converts the digests itself.
    if dialect.name == "sqlite":
        _text_versions(text=_recompress(TEXT), text_sha256=bytes.fromhex, created_at=_micros)
        _retype_text_versions(compact=True)
    else:
        _retype_text_versions(compact=True)
        _text_versions(text=_recompress(TEXT))


def downgrade() -> None:
    dialect = op.get_bind().dialect
    postgresql = dialect.name == "postgresql"
    reader = ZlibJSON()

    def to_json(data: Any) -> Any:
        document = json.dumps(reader.process_result_value(bytes(data), dialect), ensure_ascii=False)
        return document.encode("utf-8") if postgresql else document

    if postgresql:
        _text_versions(text=_recompress(None))
        _retype_text_versions(compact=False)
    else:  # the digests as text before the rebuild, the dates after it (CAST keeps an integer date)
        _text_versions(text=_recompress(None), text_sha256=lambda digest: bytes(digest).hex())
        _retype_text_versions(compact=False)
        _text_versions(created_at=_date_text)
    for table in HEADER_TABLES:
        # PostgreSQL takes the JSON's UTF-8 bytes back into bytea, then converts the column; SQLite the text.
        _rewrite(table, "headers", to_json, sa.LargeBinary() if postgresql else sa.Text())
        _retype_headers(table, sa.LargeBinary(), sa.JSON(), "convert_from(headers, 'UTF8')::json")
