"""short search terms as posting lists: passages.terms under GIN (PostgreSQL), an FTS5 table (SQLite)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 09:15:00.000000

Migration 0014 stored each passage's one- and two-character terms one row per (term, passage) in
``passage_terms``: on the 500-page store most of the store (benchmarks/README.md, "Store size"). They
become posting lists: on PostgreSQL a ``terms text[]`` column on ``passages`` under a GIN index
(``ix_passages_terms``); on SQLite a contentless FTS5 table ``passage_terms_fts`` (``detail=none``,
``columnsize=0``, the ``ascii`` tokenizer), one document per passage (rowid = passage id) whose tokens
are its terms hex-encoded (``watcher.search_index.term_token``); ``passages.terms`` stays NULL there.
Both are filled from the existing passages in batches of ``BATCH`` by id, then ``passage_terms`` is
dropped; the downgrade rebuilds ``passage_terms`` from the passages and drops the posting lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from watcher.pipeline.passages import short_terms
from watcher.search_index import TERMS_INDEX, TERMS_TABLE, term_token

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 500


def _each_batch(write: Callable[[list[tuple[int, str]]], object]) -> None:
    """Every passage (id, text) through ``write``, in batches by id."""
    bind = op.get_bind()
    last = 0
    while rows := bind.execute(
        sa.text("SELECT id, text FROM passages WHERE id > :last ORDER BY id LIMIT :batch"),
        {"last": last, "batch": BATCH},
    ).all():
        write([(row_id, line) for row_id, line in rows])
        last = rows[-1][0]


def _write(sql: str, params: Callable[[int, str], dict[str, Any]], *binds: sa.BindParameter[Any]) -> None:
    statement = sa.text(sql).bindparams(*binds)
    _each_batch(lambda rows: op.get_bind().execute(statement, [params(pid, line) for pid, line in rows]))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("passages", sa.Column("terms", postgresql.ARRAY(sa.Text()), nullable=True))
        _write(
            "UPDATE passages SET terms = :terms WHERE id = :id",
            lambda pid, line: {"id": pid, "terms": sorted(short_terms(line))},
            sa.bindparam("terms", type_=postgresql.ARRAY(sa.Text())),
        )
        op.create_index(TERMS_INDEX, "passages", ["terms"], postgresql_using="gin")
    else:
        op.add_column("passages", sa.Column("terms", sa.Text(), nullable=True))
        op.execute(
            f"CREATE VIRTUAL TABLE {TERMS_TABLE} USING fts5(terms, content='', detail=none, columnsize=0, "
            "tokenize='ascii')"
        )
        _write(
            f"INSERT INTO {TERMS_TABLE}(rowid, terms) VALUES (:id, :terms)",
            lambda pid, line: {"id": pid, "terms": " ".join(term_token(t) for t in sorted(short_terms(line)))},
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
        op.drop_index(TERMS_INDEX, table_name="passages")
        op.drop_column("passages", "terms")
    else:
        op.execute(f"DROP TABLE {TERMS_TABLE}")
        op.execute("ALTER TABLE passages DROP COLUMN terms")  # SQLite >= 3.35: no table rebuild
