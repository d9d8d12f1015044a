"""history: full-text search over text versions, alert acknowledgement, alert listing index

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 11:00:00.000000

Search is dialect-specific:

* PostgreSQL: the pg_trgm extension and a GIN trigram index on text_versions.text (declared in the
  model, so autogenerate sees it); ILIKE '%term%' uses it, Japanese included (the database's
  LC_CTYPE must classify CJK as letters, as C.UTF-8 and *.UTF-8 locales do).
* SQLite: an FTS5 table with the trigram tokenizer (SQLite >= 3.34) over text_versions as its
  external content, kept in sync by triggers. With an older SQLite no index is created and search
  falls back to LIKE scans (watcher.search checks for the table).

The FTS5 table and its shadow tables are not in the metadata; watcher.search_index.include_object
hides them from autogenerate comparisons.
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

import watcher.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

FTS = "text_versions_fts"
TRIGGERS = {
    f"{FTS}_ai": f"""CREATE TRIGGER {FTS}_ai AFTER INSERT ON text_versions BEGIN
  INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text);
END""",
    f"{FTS}_ad": f"""CREATE TRIGGER {FTS}_ad AFTER DELETE ON text_versions BEGIN
  INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text);
END""",
    f"{FTS}_au": f"""CREATE TRIGGER {FTS}_au AFTER UPDATE OF text ON text_versions BEGIN
  INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text);
END""",
}


def _sqlite_has_trigram() -> bool:
    return sqlite3.sqlite_version_info >= (3, 34, 0)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('acknowledged_at', watcher.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_by', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_alerts_new_fetched', ['new_fetched_at', 'id'], unique=False)

    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index('ix_text_versions_text_trgm', 'text_versions', ['text'], unique=False,
                        postgresql_using='gin', postgresql_ops={'text': 'gin_trgm_ops'})
    elif dialect == "sqlite" and _sqlite_has_trigram():
        op.execute(f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='text_versions', "
                   "content_rowid='id', tokenize='trigram')")
        for ddl in TRIGGERS.values():
            op.execute(ddl)
        op.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_index('ix_text_versions_text_trgm', table_name='text_versions')
        # The pg_trgm extension stays: other objects of the database may use it, and it holds no data.
    elif dialect == "sqlite":
        for name in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"DROP TABLE IF EXISTS {FTS}")

    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_new_fetched')
        batch_op.drop_column('acknowledged_by')
        batch_op.drop_column('acknowledged_at')
