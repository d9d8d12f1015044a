"""distinct-passage index: each distinct line of text once, its short terms, per-source intervals;
indication steps for the claim timelines of one indication

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 08:00:00.000000

Search reads ``passages`` (each distinct line of extracted text once), ``passage_terms`` (their one-
and two-character terms, for searches below a trigram) and ``passage_occurrences`` (per source, the
intervals of consecutive versions that contain a passage); ``passage_index_state`` records how far each
source is indexed (watcher.pipeline.passages). ``indication_steps`` holds each change of a page's
strength for an indication (watcher.pipeline.claim_steps), which the claim timelines of one
indication read instead of every claim profile. Searches of three characters and more use a pg_trgm GIN
index on passages.text (PostgreSQL) or an FTS5 trigram table over passages kept in sync by triggers
(SQLite >= 3.34; the table is not in the metadata, watcher.search_index hides it from autogenerate).

The per-version full-text index of 0004 (text_versions_fts with its triggers; ix_text_versions_text_trgm)
is dropped: search no longer reads it, and it held about as many bytes as the rest of the store.
``ix_snapshots_archived`` (a partial index of the archived snapshots) serves the alert listings'
``from_archive`` flag, which PostgreSQL otherwise computes by scanning every snapshot. The new tables
start empty: ``watcher reindex`` fills them for an existing store (resumable); new
versions are indexed as they are recorded. The downgrade rebuilds the per-version index.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa

import watcher.models
from alembic import op
from watcher.search_index import fts_triggers

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

FTS = "passages_fts"
OLD_FTS = "text_versions_fts"


TRIGGERS = fts_triggers(FTS, "passages")
OLD_TRIGGERS = fts_triggers(OLD_FTS, "text_versions")


def _sqlite_has_trigram() -> bool:
    return sqlite3.sqlite_version_info >= (3, 34, 0)


def _fts(table: str, content: str, triggers: tuple[str, ...]) -> None:
    op.execute(
        f"CREATE VIRTUAL TABLE {table} USING fts5(text, content='{content}', content_rowid='id', tokenize='trigram')"
    )
    for ddl in triggers:
        op.execute(ddl)
    op.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")


def _drop_fts(table: str) -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {table}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "passages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passages")),
        sa.UniqueConstraint("sha256", name=op.f("uq_passages_sha256")),
    )
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
    op.create_table(
        "passage_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("first_seen", watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("last_seen", watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("gone_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("gone_at", watcher.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["passage_id"], ["passages.id"], name=op.f("fk_passage_occurrences_passage_id_passages"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_passage_occurrences_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passage_occurrences")),
    )
    op.create_index(
        "ix_passage_occurrences_passage_source",
        "passage_occurrences",
        ["passage_id", "source_id", "first_seen", "last_seen"],
    )
    op.create_index("ix_passage_occurrences_source_gone", "passage_occurrences", ["source_id", "gone_at"])
    op.create_table(
        "passage_index_state",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("last_text_version_id", sa.Integer(), nullable=False),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("last_fetched_at", watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("last_profile_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_passage_index_state_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_passage_index_state")),
    )
    op.create_table(
        "indication_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("indication", sa.String(length=80), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", watcher.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("strength", sa.Integer(), nullable=False),
        sa.Column("previous_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("previous_fetched_at", watcher.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name=op.f("fk_indication_steps_source_id_sources"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indication_steps")),
    )
    op.create_index(
        "ix_indication_steps_indication_fetched", "indication_steps", ["indication", "fetched_at", "snapshot_id"]
    )
    op.create_index(op.f("ix_indication_steps_source_id"), "indication_steps", ["source_id"])
    archived = sa.text("archive_url IS NOT NULL")
    op.create_index("ix_snapshots_archived", "snapshots", ["id"], postgresql_where=archived, sqlite_where=archived)
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index(
            "ix_passages_text_trgm",
            "passages",
            ["text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
        )
        op.execute("DROP INDEX IF EXISTS ix_text_versions_text_trgm")
    elif dialect == "sqlite":
        _drop_fts(OLD_FTS)
        if _sqlite_has_trigram():
            _fts(FTS, "passages", TRIGGERS)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.create_index(
            "ix_text_versions_text_trgm",
            "text_versions",
            ["text"],
            unique=False,
            postgresql_using="gin",
            postgresql_ops={"text": "gin_trgm_ops"},
        )
        op.drop_index("ix_passages_text_trgm", table_name="passages")
    elif dialect == "sqlite":
        _drop_fts(FTS)
        if _sqlite_has_trigram():
            _fts(OLD_FTS, "text_versions", OLD_TRIGGERS)
    op.drop_index(op.f("ix_indication_steps_source_id"), table_name="indication_steps")
    op.drop_index("ix_indication_steps_indication_fetched", table_name="indication_steps")
    op.drop_table("indication_steps")
    op.drop_table("passage_index_state")
    op.drop_index("ix_snapshots_archived", table_name="snapshots")
    op.drop_index("ix_passage_occurrences_source_gone", table_name="passage_occurrences")
    op.drop_index("ix_passage_occurrences_passage_source", table_name="passage_occurrences")
    op.drop_table("passage_occurrences")
    op.drop_table("passage_terms")
    op.drop_table("passages")
