"""compact passage index: no trigram index, 8-byte passage keys, a GIN without pending list

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:00:00.000000

Searches of three characters and more read the term posting lists of 0016 (the passages holding every
pair of the term's characters, then their text checked: watcher.search), so the trigram index of 0014
is dropped (SQLite: the FTS5 table ``passages_fts`` and its triggers; PostgreSQL: the pg_trgm GIN
``ix_passages_text_trgm``), with the store it held about as large as the passages and their terms.
A passage is found by ``key``, the first 8 bytes of its SHA-256 as a signed integer (the next free key
on a collision, ``watcher.pipeline.passages.passage_ids``), instead of 64 hex characters with their
unique index: filled in batches of ``BATCH`` by id, collisions moved on, then ``sha256`` dropped
(SQLite: the table rebuilt; PostgreSQL: rewritten by ``CLUSTER``, which also rebuilds its indexes in
one go). PostgreSQL's term GIN gets ``fastupdate = off``: its pending list, merged at VACUUM but never
given back, kept the index at three times its size (benchmarks/README.md, "Store size"). The downgrade
brings back the hex keys and the trigram index.
"""

from __future__ import annotations

import hashlib
import sqlite3

import sqlalchemy as sa

from alembic import op
from watcher.pipeline.passages import next_key, passage_key
from watcher.search_index import FTS_TABLE, TERMS_INDEX, fts_triggers, passage_batches

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

BATCH = 500
TRGM_INDEX = "ix_passages_text_trgm"


def _fill(column: str, value_type: sa.types.TypeEngine[object], value: object) -> None:
    """Set ``column`` of every passage to ``value(text)``, in batches by id."""
    bind = op.get_bind()
    update = sa.text(f"UPDATE passages SET {column} = :value WHERE id = :id").bindparams(
        sa.bindparam("value", type_=value_type)
    )
    for rows in passage_batches(bind, BATCH):
        bind.execute(update, [{"id": pid, "value": value(line)} for pid, line in rows])  # type: ignore[operator]


def _move_collisions() -> None:
    """Give every passage but the first of those sharing a key the next free key (as the write path)."""
    bind = op.get_bind()
    shared = bind.execute(
        sa.text(
            "SELECT id, key FROM passages WHERE key IN (SELECT key FROM passages GROUP BY key HAVING count(*) > 1) "
            "ORDER BY key, id"
        )
    ).all()
    first: set[int] = set()
    for pid, key in shared:
        if key not in first:
            first.add(key)
            continue
        while bind.execute(sa.text("SELECT 1 FROM passages WHERE key = :key"), {"key": key}).first() is not None:
            key = next_key(key)
        bind.execute(sa.text("UPDATE passages SET key = :key WHERE id = :id"), {"key": key, "id": pid})


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(f"DROP INDEX IF EXISTS {TRGM_INDEX}")
    else:
        for suffix in ("ai", "ad", "au"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    op.add_column("passages", sa.Column("key", sa.BigInteger(), nullable=True))
    _fill("key", sa.BigInteger(), passage_key)
    _move_collisions()
    with op.batch_alter_table("passages") as batch:
        batch.drop_constraint("uq_passages_sha256", type_="unique")
        batch.drop_column("sha256")
        batch.alter_column("key", existing_type=sa.BigInteger(), nullable=False)
        batch.create_unique_constraint("uq_passages_key", ["key"])
    if postgresql:
        op.execute(f"ALTER INDEX {TERMS_INDEX} SET (fastupdate = off)")
        op.execute("CLUSTER passages USING pk_passages")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.add_column("passages", sa.Column("sha256", sa.String(length=64), nullable=True))
    _fill("sha256", sa.String(length=64), lambda line: hashlib.sha256(line.encode("utf-8")).hexdigest())
    with op.batch_alter_table("passages") as batch:
        batch.drop_constraint("uq_passages_key", type_="unique")
        batch.drop_column("key")
        batch.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_passages_sha256", ["sha256"])
    if postgresql:
        op.execute(f"ALTER INDEX {TERMS_INDEX} RESET (fastupdate)")
        op.execute(f"CREATE INDEX {TRGM_INDEX} ON passages USING gin (text gin_trgm_ops)")
    elif sqlite3.sqlite_version_info >= (3, 34, 0):
        op.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(text, content='passages', content_rowid='id', "
            "tokenize='trigram')"
        )
        for ddl in fts_triggers(FTS_TABLE, "passages"):
            op.execute(ddl)
        op.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")
