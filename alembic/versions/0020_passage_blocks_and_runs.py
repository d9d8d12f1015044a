"""passage blocks and runs: the distinct lines stored in compressed blocks with posting lists per block,
the intervals grouped into runs

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 02:00:00.000000

The passages' text moves into ``passage_blocks`` (up to ``BLOCK_SLOTS`` consecutive passages a block:
zstd on SQLite, text that TOAST compresses on PostgreSQL); a passage's id becomes its block's id *
``BLOCK_SLOTS`` + its slot, and ``passages`` keeps only key -> id. The one- and two-character terms
become posting lists per block: SQLite's FTS5 table ``passage_terms_fts`` (one document per passage)
gives way to ``passage_block_terms_fts`` (one per block), PostgreSQL's GIN over the passages to one over
the blocks. The intervals (``passage_occurrences``, a row per passage, source and stretch of versions)
become runs (``passage_runs``: a source's passages over one stretch of versions, its dates once) and
memberships (``run_passages``: passage, run). Everything is converted in place, in batches; the
downgrade converts back. Why: benchmarks/README.md, "Store size", sixth pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from alembic import op
from watcher.models import BLOCK_SLOTS, UTCDateTime, encode_block, pack_ids
from watcher.pipeline.passages import term_document
from watcher.search_index import (
    BLOCK_TERMS_FUNCTION,
    BLOCK_TERMS_INDEX,
    BLOCK_TERMS_TABLE,
    TERMS_INDEX,
    TERMS_TABLE,
    passage_batches,
)

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BATCH = 2000
# A text's lower-cased one- and two-character terms without whitespace, as 0016's watcher_short_terms, in
# time linear in its length: its characters (string_to_array with no delimiter) and each with the next.
BLOCK_TERMS_FUNCTION_DDL = rf"""CREATE FUNCTION {BLOCK_TERMS_FUNCTION}(block text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT v.term), '{{}}') FROM (
    SELECT x.ch AS this, lead(x.ch) OVER (ORDER BY x.n) AS next
    FROM unnest(string_to_array(lower(block), NULL)) WITH ORDINALITY AS x(ch, n)
  ) AS c, LATERAL (VALUES (c.this), (c.this || c.next)) AS v(term)
  WHERE v.term !~ '\s'
$$"""
RUN_COLUMNS = (
    "source_id",
    "first_snapshot_id",
    "first_seen",
    "last_snapshot_id",
    "last_seen",
    "versions",
    "gone_snapshot_id",
    "gone_at",
)


def _date() -> sa.types.TypeEngine[Any]:
    """The intervals' dates as migration 0018 left them: integers on SQLite, timestamptz on PostgreSQL."""
    return sa.BigInteger() if op.get_bind().dialect.name == "sqlite" else UTCDateTime(timezone=True)


def _create_new_tables() -> None:
    op.create_table(
        "passage_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.LargeBinary() if op.get_bind().dialect.name == "sqlite" else sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_passage_blocks"),
    )
    op.create_table(
        "passage_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("first_seen", _date(), nullable=False),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("last_seen", _date(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("gone_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("gone_at", _date(), nullable=True),
        sa.Column("passages", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_passage_runs_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_passage_runs"),
    )
    op.create_table(
        "run_passages",
        sa.Column("passage_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("run_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("passage_id", "run_id", name="pk_run_passages"),
        sqlite_with_rowid=False,
    )


def _blocks_of(rows: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    """Consecutive passages (id, text) cut into blocks of at most ``BLOCK_SLOTS``."""
    for start in range(0, len(rows), BLOCK_SLOTS):
        yield rows[start : start + BLOCK_SLOTS]


def _convert_passages() -> dict[int, int]:
    """Store the passages in blocks, in id order, with their keys; their new ids by old id."""
    bind = op.get_bind()
    dialect = bind.dialect.name
    keys: dict[int, int] = dict(bind.execute(sa.text("SELECT id, key FROM passages")).all())
    new_ids: dict[int, int] = {}
    block_id = 0
    insert_block = sa.text("INSERT INTO passage_blocks (id, text) VALUES (:id, :text)").bindparams(
        sa.bindparam("text", type_=sa.LargeBinary() if dialect == "sqlite" else sa.Text())
    )
    for rows in passage_batches(bind, BATCH):
        blocks, key_rows, terms = [], [], []
        for block in _blocks_of(rows):
            block_id += 1
            lines = [line for _pid, line in block]
            blocks.append({"id": block_id, "text": encode_block(lines, dialect)})
            terms.append({"id": block_id, "terms": term_document("\n".join(lines))})
            for slot, (pid, _line) in enumerate(block):
                new_ids[pid] = block_id * BLOCK_SLOTS + slot
                key_rows.append({"key": keys[pid], "id": new_ids[pid]})
        bind.execute(insert_block, blocks)
        bind.execute(sa.text("INSERT INTO passages_new (key, id) VALUES (:key, :id)"), key_rows)
        if dialect == "sqlite":
            bind.execute(sa.text(f"INSERT INTO {BLOCK_TERMS_TABLE}(rowid, terms) VALUES (:id, :terms)"), terms)
    if dialect == "postgresql" and block_id:
        bind.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('passage_blocks', 'id'), :last)"), {"last": block_id}
        )
    return new_ids


def _convert_occurrences(new_ids: dict[int, int]) -> None:
    """Group the intervals into runs (a source's passages over one stretch of versions), with memberships."""
    bind = op.get_bind()
    columns = ", ".join(RUN_COLUMNS)
    groups: dict[tuple[Any, ...], list[int]] = {}
    insert_run = sa.text(
        f"INSERT INTO passage_runs (id, {columns}, passages) VALUES "
        f"(:id, {', '.join(':' + column for column in RUN_COLUMNS)}, :passages)"
    ).bindparams(sa.bindparam("passages", type_=sa.LargeBinary()))
    run_id = 0  # the table is new: the runs are numbered here

    def flush() -> None:
        nonlocal run_id
        if not groups:
            return
        runs, members = [], []
        for key, ids in groups.items():
            run_id += 1
            runs.append({"id": run_id, **dict(zip(RUN_COLUMNS, key, strict=True)), "passages": pack_ids(ids)})
            members += [{"passage_id": pid, "run_id": run_id} for pid in ids]
        bind.execute(insert_run, runs)
        bind.execute(sa.text("INSERT INTO run_passages (passage_id, run_id) VALUES (:passage_id, :run_id)"), members)
        groups.clear()

    source = None
    for row in bind.execute(sa.text(f"SELECT passage_id, {columns} FROM passage_occurrences ORDER BY source_id")):
        if row[1] != source and len(groups) >= BATCH:
            flush()
        source = row[1]
        groups.setdefault(tuple(row[1:]), []).append(new_ids[row[0]])
    flush()
    if bind.dialect.name == "postgresql" and run_id:
        bind.execute(sa.text("SELECT setval(pg_get_serial_sequence('passage_runs', 'id'), :last)"), {"last": run_id})


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute(f"DROP INDEX IF EXISTS {TERMS_INDEX}")
    else:
        op.execute(f"DROP TABLE IF EXISTS {TERMS_TABLE}")
        op.execute(
            f"CREATE VIRTUAL TABLE {BLOCK_TERMS_TABLE} USING fts5(terms, content='', detail=none, columnsize=0, "
            "tokenize='ascii')"
        )
    _create_new_tables()
    op.create_table(
        "passages_new",
        sa.Column("key", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_passages_new"),
        sqlite_with_rowid=False,
    )
    new_ids = _convert_passages()
    _convert_occurrences(new_ids)
    op.drop_table("passage_occurrences")
    op.drop_table("passages")
    op.rename_table("passages_new", "passages")
    if postgresql:
        op.execute("ALTER TABLE passages RENAME CONSTRAINT pk_passages_new TO pk_passages")
        op.execute(BLOCK_TERMS_FUNCTION_DDL)
        op.execute(f"CREATE INDEX {BLOCK_TERMS_INDEX} ON passage_blocks USING gin ({BLOCK_TERMS_FUNCTION}(text)) "
                   "WITH (fastupdate = off)")  # fmt: skip
    op.create_index("ix_passage_runs_source_gone", "passage_runs", ["source_id", "gone_at"])


def downgrade() -> None:
    raise NotImplementedError("downgrade to be written")
