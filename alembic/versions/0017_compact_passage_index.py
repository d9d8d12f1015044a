"""compact passage index: no trigram index, 8-byte passage keys, intervals by their key, a GIN without
pending list

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
one go). ``passage_occurrences`` loses its ``id``: an interval is named by (passage, source, first
snapshot), its primary key, which replaces the covering index ``ix_passage_occurrences_passage_source``
(SQLite keeps the rows in that order, WITHOUT ROWID; PostgreSQL's key index includes the two dates the
search reads); the table is copied over. PostgreSQL's term GIN gets ``fastupdate = off``: its pending
list, merged at VACUUM but never given back, kept the index at three times its size
(benchmarks/README.md, "Store size"). The downgrade brings back the hex keys, the intervals' ids and
covering index, and the trigram index.
"""

from __future__ import annotations

import hashlib
import sqlite3

import sqlalchemy as sa

from alembic import op
from watcher.models import UTCDateTime
from watcher.pipeline.passages import next_key, passage_key
from watcher.search_index import FTS_TABLE, OCCURRENCES_INDEX, TERMS_INDEX, fts_triggers, passage_batches

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


OCCURRENCES = "passage_occurrences"
COPIED = (
    "passage_id, source_id, first_snapshot_id, first_seen, last_snapshot_id, last_seen, versions, "
    "gone_snapshot_id, gone_at"
)


def _replace_occurrences(*, with_id: bool) -> None:
    """Copy the intervals into a new table of the other layout (with ``id`` as primary key as 0014
    made it, or keyed by passage, source and first snapshot), then its indexes."""
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    op.drop_index("ix_passage_occurrences_source_gone", table_name=OCCURRENCES)
    op.execute(f"DROP INDEX IF EXISTS {OCCURRENCES_INDEX}")
    op.rename_table(OCCURRENCES, "passage_occurrences_old")
    if postgresql:
        op.execute("ALTER TABLE passage_occurrences_old RENAME CONSTRAINT pk_passage_occurrences TO pk_old")
    key = ["id"] if with_id else ["passage_id", "source_id", "first_snapshot_id"]
    op.create_table(
        OCCURRENCES,
        *([sa.Column("id", sa.Integer(), nullable=False)] if with_id else []),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("first_seen", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("last_seen", UTCDateTime(timezone=True), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("gone_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("gone_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["passage_id"], ["passages.id"], name="fk_passage_occurrences_passage_id_passages", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_passage_occurrences_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            *key, name="pk_passage_occurrences", postgresql_include=[] if with_id else ["first_seen", "last_seen"]
        ),
        sqlite_with_rowid=with_id,
    )
    op.execute(f"INSERT INTO {OCCURRENCES} ({COPIED}) SELECT {COPIED} FROM passage_occurrences_old")
    op.drop_table("passage_occurrences_old")
    if with_id:
        op.create_index(OCCURRENCES_INDEX, OCCURRENCES, ["passage_id", "source_id", "first_seen", "last_seen"])
    op.create_index("ix_passage_occurrences_source_gone", OCCURRENCES, ["source_id", "gone_at"])


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
    _replace_occurrences(with_id=False)
    if postgresql:
        op.execute(f"ALTER INDEX {TERMS_INDEX} SET (fastupdate = off)")
        op.execute("CLUSTER passages USING pk_passages")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    _replace_occurrences(with_id=True)
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
