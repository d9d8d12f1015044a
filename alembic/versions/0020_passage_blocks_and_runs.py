"""passage blocks and runs: the distinct lines stored in compressed blocks with posting lists per block,
the intervals grouped into runs

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 02:00:00.000000

The passages' text moves into ``passage_blocks`` (zstd on SQLite, text that TOAST compresses on
PostgreSQL), cut as the write path cuts a write's new lines: at most ``BLOCK_SLOTS`` lines, closed at
``BLOCK_CHARS`` characters (``watcher.pipeline.passages.new_blocks``), in the passages' id order; a passage's id becomes its block's id *
``BLOCK_SLOTS`` + its slot, and ``passages`` keeps only key -> id (the keys as they were, collisions
included). The one- and two-character terms become posting lists per block: SQLite's FTS5 table
``passage_terms_fts`` (one document per passage) gives way to ``passage_block_terms_fts`` (one per
block), PostgreSQL's GIN over the passages to one over the blocks, built once they are written, over a
``watcher_short_terms`` that gives the same terms in linear time (0016's is quadratic in the text's
length: LINEAR_TERMS_FUNCTION_DDL). The intervals (``passage_occurrences``, a row per passage, source and
stretch of versions) become runs (``passage_runs``: a source's passages over one stretch of versions,
its dates once) and memberships (``run_passages``: passage, source, first capture time, run), grouped
as the write path's ``chain_runs`` groups them. Every table is read as a stream and written ``BATCH`` rows at a time, the
old ids mapped to the new through the keys in SQL, so memory does not grow with the store (2.5 million
intervals); PostgreSQL's sequences go on after the ids written.

The downgrade converts back: 0019's ``passages`` (id, text, key) numbered densely from 1 in the order
of the new ids (so the order of the old ones), the keys kept, with SQLite's term documents per passage
or PostgreSQL's GIN over them (``fastupdate = off``), and an interval per membership, in SQL. It keeps
the linear ``watcher_short_terms``: the same function, results for results. Why: benchmarks/README.md,
"Store size", sixth pass.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from alembic import op
from watcher.models import BLOCK_SLOTS, UTCDateTime, decode_block, encode_block, pack_ids
from watcher.pipeline.passages import new_blocks, term_document
from watcher.search_index import BLOCK_TERMS_INDEX, BLOCK_TERMS_TABLE, TERMS_FUNCTION, TERMS_INDEX, TERMS_TABLE

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BATCH = 2000  # rows read, held and written at a time: memory stays flat whatever the store's size
OCCURRENCES = "passage_occurrences"
RENUMBERING = "passage_renumbering"  # the downgrade's new passage id -> dense old id
# PostgreSQL: 0016's function gives the same terms, but takes each substring by its position, which
# walks the (multibyte) text from its start: quadratic in the text's length, harmless for a line, and
# 26 s for a block of 16,000 Japanese characters — each time the GIN indexes a block, and each time a
# search checks one. This one splits the text into characters once and pairs each with the next.
LINEAR_TERMS_FUNCTION_DDL = rf"""CREATE OR REPLACE FUNCTION {TERMS_FUNCTION}(passage text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT t.term), '{{}}') FROM (
    SELECT CASE WHEN sizes.n = 1 THEN c.ch ELSE c.ch || c.next END AS term
    FROM (SELECT u.ch, lead(u.ch) OVER (ORDER BY u.i) AS next
          FROM unnest(string_to_array(lower(passage), NULL)) WITH ORDINALITY AS u(ch, i)) AS c,
         (VALUES (1), (2)) AS sizes(n)
  ) AS t
  WHERE t.term !~ '\s'
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


def _postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _date() -> sa.types.TypeEngine[Any]:
    """The intervals' dates as migration 0018 left them: integers on SQLite, timestamptz on PostgreSQL."""
    return UTCDateTime(timezone=True) if _postgresql() else sa.BigInteger()


def _stream(sql: str) -> Iterator[Any]:
    """The rows of a query, fetched ``BATCH`` at a time as they are used (PostgreSQL: a server-side
    cursor; SQLite steps its statement), while other statements write on the same connection."""
    # stream_results, not yield_per: on a Core statement yield_per leaves psycopg's result buffered whole.
    result = op.get_bind().execute(sa.text(sql).execution_options(stream_results=True, max_row_buffer=BATCH))
    for rows in result.partitions(BATCH):
        yield from rows


class _Writer:
    """Rows for one INSERT, written ``BATCH`` at a time by one executemany."""

    def __init__(self, sql: str, *types: sa.BindParameter[Any]) -> None:
        self.statement = sa.text(sql).bindparams(*types)
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows += rows
        if len(self.rows) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            op.get_bind().execute(self.statement, self.rows)
            self.rows = []


def _set_sequence(table: str, last: int) -> None:
    """PostgreSQL: the next id of ``table`` after ``last``, as the rows came with explicit ids."""
    if _postgresql() and last:
        op.get_bind().execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :last)"), {"table": table, "last": last}
        )


def _stretch_columns() -> list[sa.Column[Any]]:
    """A source and a stretch of its versions: a run's (0020) or an interval's (0019) columns."""
    return [
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("first_seen", _date(), nullable=False),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("last_seen", _date(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("gone_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("gone_at", _date(), nullable=True),
    ]


def _create_new_tables() -> None:
    op.create_table(
        "passage_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text() if _postgresql() else sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_passage_blocks"),
    )
    op.create_table(
        "passage_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        *_stretch_columns(),
        sa.Column("passages", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_passage_runs_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_passage_runs"),
    )
    op.create_table(
        "run_passages",
        sa.Column("passage_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("source_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("first_seen", _date(), nullable=False),  # to the second (watcher.models.SecondUTCDateTime)
        sa.Column("run_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("passage_id", "source_id", "first_seen", "run_id", name="pk_run_passages"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "passages_new",
        sa.Column("key", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_passages_new"),
        sqlite_with_rowid=False,
    )


def _store_blocks() -> int:
    """Store 0019's passages in blocks, in id order (so new ids keep their order), with their keys
    (``passages_new``) and, on SQLite, their blocks' terms; the number of blocks."""
    dialect = op.get_bind().dialect.name
    text_type = sa.Text() if dialect == "postgresql" else sa.LargeBinary()
    blocks = _Writer("INSERT INTO passage_blocks (id, text) VALUES (:id, :text)", sa.bindparam("text", type_=text_type))
    keys = _Writer("INSERT INTO passages_new (key, id) VALUES (:key, :id)")
    terms = _Writer(f"INSERT INTO {BLOCK_TERMS_TABLE}(rowid, terms) VALUES (:id, :terms)")
    block_id = 0
    # Cut as the write path cuts a write's new lines (``new_blocks``), so that a search decompresses and
    # scans blocks of the usual size.
    passages = _stream("SELECT key, text FROM passages ORDER BY id")
    for block_id, block in enumerate(new_blocks(passages, line_of=operator.itemgetter(1)), start=1):
        lines = [line for _key, line in block]
        blocks.add([{"id": block_id, "text": encode_block(lines, dialect)}])
        if dialect == "sqlite":
            terms.add([{"id": block_id, "terms": term_document("\n".join(lines))}])
        keys.add({"key": key, "id": block_id * BLOCK_SLOTS + slot} for slot, (key, _line) in enumerate(block))
    for writer in (blocks, terms, keys):
        writer.flush()
    return block_id


def _to_the_second(first_seen: Any) -> Any:
    """A run's first capture time as a membership keeps it: floored to the second (SQLite: 0018's
    microseconds since 1970 become seconds; PostgreSQL: the microseconds dropped)."""
    if isinstance(first_seen, int):
        return first_seen // 1_000_000
    return first_seen.replace(microsecond=0)


def _store_runs() -> int:
    """Group 0019's intervals into runs — a source's passages with the same stretch of versions, as the
    write path's ``chain_runs`` groups them — with their memberships (new passage ids, found through the
    passages' keys); the number of runs. The intervals come sorted by run, so one run at a time is held."""
    occurrences = (
        f"SELECT n.id, {', '.join('o.' + column for column in RUN_COLUMNS)} FROM {OCCURRENCES} o "
        "JOIN passages p ON p.id = o.passage_id JOIN passages_new n ON n.key = p.key "
        f"ORDER BY {', '.join('o.' + column for column in RUN_COLUMNS)}"
    )
    runs = _Writer(
        f"INSERT INTO passage_runs (id, {', '.join(RUN_COLUMNS)}, passages) "
        f"VALUES (:id, {', '.join(':' + column for column in RUN_COLUMNS)}, :passages)",
        sa.bindparam("passages", type_=sa.LargeBinary()),
    )
    members = _Writer(
        "INSERT INTO run_passages (passage_id, source_id, first_seen, run_id) "
        "VALUES (:passage_id, :source_id, :first_seen, :run_id)"
    )
    run_id = 0
    for run_id, (key, rows) in enumerate(itertools.groupby(_stream(occurrences), lambda row: tuple(row[1:])), start=1):
        ids = sorted(row[0] for row in rows)
        runs.add([{"id": run_id, **dict(zip(RUN_COLUMNS, key, strict=True)), "passages": pack_ids(ids)}])
        page = {"source_id": key[0], "first_seen": _to_the_second(key[2])}  # RUN_COLUMNS' order
        members.add({"passage_id": pid, **page, "run_id": run_id} for pid in ids)
    runs.flush()
    members.flush()
    return run_id


def upgrade() -> None:
    postgresql = _postgresql()
    if postgresql:
        op.execute(f"DROP INDEX IF EXISTS {TERMS_INDEX}")  # no use to the conversion, and updated by nothing
        op.execute(LINEAR_TERMS_FUNCTION_DDL)
    else:
        op.execute(f"DROP TABLE IF EXISTS {TERMS_TABLE}")
        op.execute(
            f"CREATE VIRTUAL TABLE {BLOCK_TERMS_TABLE} USING fts5(terms, content='', detail=none, columnsize=0, "
            "tokenize='ascii')"
        )
    _create_new_tables()
    _set_sequence("passage_blocks", _store_blocks())
    _set_sequence("passage_runs", _store_runs())
    op.drop_table(OCCURRENCES)
    op.drop_table("passages")
    op.rename_table("passages_new", "passages")
    if postgresql:
        op.execute("ALTER TABLE passages RENAME CONSTRAINT pk_passages_new TO pk_passages")
        op.execute(f"CREATE INDEX {BLOCK_TERMS_INDEX} ON passage_blocks USING gin ({TERMS_FUNCTION}(text)) "
                   "WITH (fastupdate = off)")  # fmt: skip
    else:
        op.execute(f"INSERT INTO {BLOCK_TERMS_TABLE}({BLOCK_TERMS_TABLE}) VALUES ('optimize')")
    op.create_index("ix_passage_runs_source_gone", "passage_runs", ["source_id", "gone_at"])
    if postgresql:
        # Statistics for the searches' first plans (autovacuum would come later). The blocks by a column:
        # their expression index's statistics would compute the terms of every sampled block again.
        op.execute("ANALYZE passages, passage_runs, run_passages, passage_blocks (id)")


def _restore_passages() -> int:
    """Give every passage a row of 0019's ``passages`` again (id, text, key): numbered densely from 1 in
    the order of their new ids, which keeps the order of the ids they had, recorded in ``RENUMBERING``;
    on SQLite with its terms (one document per passage). The number of passages."""
    sqlite = not _postgresql()
    passages = _Writer("INSERT INTO passages (id, text, key) VALUES (:id, :text, :key)")
    renumbering = _Writer(f"INSERT INTO {RENUMBERING} (new_id, old_id) VALUES (:new_id, :old_id)")
    terms = _Writer(f"INSERT INTO {TERMS_TABLE}(rowid, terms) VALUES (:id, :terms)")
    read = sa.text("SELECT id, text FROM passage_blocks WHERE id IN :ids").bindparams(
        sa.bindparam("ids", expanding=True)
    )
    old_id = 0
    keyed = _stream("SELECT id, key FROM passage_keys ORDER BY id")
    while chunk := list(itertools.islice(keyed, BATCH)):
        block_ids = sorted({new_id // BLOCK_SLOTS for new_id, _key in chunk})
        blocks = {block_id: decode_block(value) for block_id, value in op.get_bind().execute(read, {"ids": block_ids})}
        for new_id, key in chunk:
            old_id += 1
            line = blocks[new_id // BLOCK_SLOTS][new_id % BLOCK_SLOTS]
            passages.add([{"id": old_id, "text": line, "key": key}])
            renumbering.add([{"new_id": new_id, "old_id": old_id}])
            if sqlite:
                terms.add([{"id": old_id, "terms": term_document(line)}])
    for writer in (passages, renumbering, terms):
        writer.flush()
    return old_id


def _create_occurrences() -> None:
    """0019's intervals table, as migrations 0017 (PostgreSQL) and 0018 (SQLite) left it."""
    op.create_table(
        OCCURRENCES,
        sa.Column("passage_id", sa.Integer(), nullable=False),
        *_stretch_columns(),
        sa.ForeignKeyConstraint(
            ["passage_id"], ["passages.id"], name="fk_passage_occurrences_passage_id_passages", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_passage_occurrences_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "passage_id",
            "source_id",
            "first_snapshot_id",
            name="pk_passage_occurrences",
            postgresql_include=["first_seen", "last_seen"],
        ),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    postgresql = _postgresql()
    op.rename_table("passages", "passage_keys")  # 0020's key -> id, read in id order below
    if postgresql:
        op.execute("ALTER TABLE passage_keys RENAME CONSTRAINT pk_passages TO pk_passage_keys")
    else:
        op.execute(
            f"CREATE VIRTUAL TABLE {TERMS_TABLE} USING fts5(terms, content='', detail=none, columnsize=0, "
            "tokenize='ascii')"
        )
    op.create_table(
        "passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_passages"),
        sa.UniqueConstraint("key", name="uq_passages_key"),
    )
    op.create_table(
        RENUMBERING,
        sa.Column("new_id", sa.BigInteger(), nullable=False, autoincrement=False),
        sa.Column("old_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("new_id", name="pk_passage_renumbering"),
    )
    _set_sequence("passages", _restore_passages())
    _create_occurrences()
    # Each membership is one interval: its run's stretch of versions, its passage's dense id (inserted in
    # key order: appended to the primary key's tree, not scattered).
    op.execute(
        f"INSERT INTO {OCCURRENCES} (passage_id, {', '.join(RUN_COLUMNS)}) "
        f"SELECT r.old_id, o.source_id, {', '.join('o.' + c for c in RUN_COLUMNS[1:])} "
        f"FROM run_passages m JOIN passage_runs o ON o.id = m.run_id JOIN {RENUMBERING} r ON r.new_id = m.passage_id "
        "ORDER BY r.old_id, o.source_id, o.first_snapshot_id"
    )
    op.create_index("ix_passage_occurrences_source_gone", OCCURRENCES, ["source_id", "gone_at"])
    for table in (RENUMBERING, "passage_keys", "run_passages", "passage_runs", "passage_blocks"):
        op.drop_table(table)
    if postgresql:
        op.execute(f"CREATE INDEX {TERMS_INDEX} ON passages USING gin ({TERMS_FUNCTION}(text)) "
                   "WITH (fastupdate = off)")  # fmt: skip
    else:
        op.execute(f"DROP TABLE {BLOCK_TERMS_TABLE}")
        op.execute(f"INSERT INTO {TERMS_TABLE}({TERMS_TABLE}) VALUES ('optimize')")
