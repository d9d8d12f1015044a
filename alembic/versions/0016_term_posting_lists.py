"""short search terms as posting lists: a GIN expression index (PostgreSQL), an FTS5 table (SQLite)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:15:00.000000

Migration 0014 stored each passage's one- and two-character terms one row per (term, passage) in
``passage_terms``: on the 500-page store most of the store (benchmarks/README.md, "Store size"). They
become posting lists. PostgreSQL: a GIN index (``ix_passages_terms``) over ``watcher_short_terms(text)``,
an immutable SQL function giving the distinct lower-cased one- and two-character substrings without
whitespace of a text, so no column stores them (a ``text[]`` column would cost 6× the index,
benchmarks/README.md). SQLite: a contentless FTS5 table ``passage_terms_fts`` (``detail=none``,
``columnsize=0``, the ``ascii`` tokenizer), one document per passage (rowid = passage id) whose tokens
are its terms hex-encoded (``watcher.search_index.term_token``), filled from the existing passages in
batches of ``BATCH`` by id. Then ``passage_terms`` is dropped; the downgrade rebuilds it from the
passages (``short_terms``) and drops the posting lists.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from alembic import op
from watcher.pipeline.passages import short_terms, term_document
from watcher.search_index import TERMS_FUNCTION, TERMS_INDEX, TERMS_TABLE, passage_batches

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 500
TERMS_FUNCTION_DDL = rf"""CREATE FUNCTION {TERMS_FUNCTION}(passage text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT t.term), '{{}}') FROM (
    SELECT substr(l.lowered, i, n) AS term, n
    FROM (SELECT lower(passage) AS lowered) AS l,
         generate_series(1, char_length(l.lowered)) AS i,
         (VALUES (1), (2)) AS sizes(n)
  ) AS t
  WHERE char_length(t.term) = t.n AND t.term !~ '\s'
$$"""


def _each_batch(write: Callable[[list[tuple[int, str]]], object]) -> None:
    """Every passage (id, text) through ``write``, in batches by id."""
    for rows in passage_batches(op.get_bind(), BATCH):
        write(rows)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TERMS_FUNCTION_DDL)
        op.execute(f"CREATE INDEX {TERMS_INDEX} ON passages USING gin ({TERMS_FUNCTION}(text))")
    else:
        op.execute(
            f"CREATE VIRTUAL TABLE {TERMS_TABLE} USING fts5(terms, content='', detail=none, columnsize=0, "
            "tokenize='ascii')"
        )
        statement = sa.text(f"INSERT INTO {TERMS_TABLE}(rowid, terms) VALUES (:id, :terms)")
        _each_batch(
            lambda rows: op.get_bind().execute(
                statement, [{"id": pid, "terms": term_document(line)} for pid, line in rows]
            )
        )
        op.execute(f"INSERT INTO {TERMS_TABLE}({TERMS_TABLE}) VALUES ('optimize')")
    op.drop_table("passage_terms")


def downgrade() -> None:
    op.create_table(
        "passage_terms",
        sa.Column("term", sa.String(length=2), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["passage_id"], ["passages.id"], name=op.f("fk_passage_terms_passage_id_passages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("term", "passage_id", name=op.f("pk_passage_terms")),
        sqlite_with_rowid=False,
    )
    statement = sa.text("INSERT INTO passage_terms (term, passage_id) VALUES (:term, :id)")
    _each_batch(
        lambda rows: op.get_bind().execute(
            statement, [{"term": t, "id": pid} for pid, line in rows for t in sorted(short_terms(line))]
        )
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX {TERMS_INDEX}")
        op.execute(f"DROP FUNCTION {TERMS_FUNCTION}(text)")
    else:
        op.execute(f"DROP TABLE {TERMS_TABLE}")
