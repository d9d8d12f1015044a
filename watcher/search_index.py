"""The search index's schema objects, and how schema comparisons treat them.

Migration 0014 creates them (see its docstring) over the distinct-passage index: on PostgreSQL a
pg_trgm GIN index declared in the model (``ix_passages_text_trgm``, created on PostgreSQL only); on
SQLite an FTS5 trigram table over ``passages`` with triggers, which the metadata cannot describe
(migration 0004's per-version ``text_versions_fts`` exists only between 0004 and 0014).
``include_object_for`` is the Alembic ``include_object`` hook used by ``alembic/env.py`` and the
migration tests, so that autogenerate neither drops the FTS5 tables nor asks for the PostgreSQL-only
index on SQLite — and still compares everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection

FTS_TABLE = "passages_fts"
TRGM_INDEX = "ix_passages_text_trgm"
FTS_TABLES = (FTS_TABLE, "text_versions_fts")

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def include_object_for(dialect_name: str) -> IncludeObject:
    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and name.startswith(FTS_TABLES):
            return False  # the FTS5 virtual table and its shadow tables (SQLite)
        return not (type_ == "index" and name == TRGM_INDEX and dialect_name != "postgresql")

    return include_object


def has_fts_table(connection: Connection) -> bool:
    """Whether this SQLite database has the FTS5 index (SQLite >= 3.34 when it was migrated)."""
    return connection.dialect.name == "sqlite" and inspect(connection).has_table(FTS_TABLE)
