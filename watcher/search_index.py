"""The search index's schema objects, and how schema comparisons treat them.

Migration 0014 creates them (see its docstring) over the distinct-passage index: on PostgreSQL a
pg_trgm GIN index declared in the model (``ix_passages_text_trgm``, created on PostgreSQL only); on
SQLite an FTS5 trigram table over ``passages`` with triggers, which the metadata cannot describe
(migration 0004's per-version ``text_versions_fts`` exists only between 0004 and 0014). Migration 0016
adds the one- and two-character terms as posting lists: on PostgreSQL a GIN expression index
(``ix_passages_terms``) over an immutable SQL function of ``passages.text`` (no stored column); on
SQLite a contentless FTS5 table (``passage_terms_fts``, rowid = passage id), filled by the write path.
Neither is declared in the metadata (an expression index is not compared by autogenerate).
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
TERMS_TABLE = "passage_terms_fts"  # SQLite: the passages' one- and two-character terms (migration 0016)
TERMS_INDEX = "ix_passages_terms"  # PostgreSQL: GIN over TERMS_FUNCTION(passages.text) (migration 0016)
TERMS_FUNCTION = "watcher_short_terms"  # PostgreSQL: a text's lower-cased 1- and 2-character terms
FTS_TABLES = (FTS_TABLE, TERMS_TABLE, "text_versions_fts")


IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def include_object_for(dialect_name: str) -> IncludeObject:
    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and name.startswith(FTS_TABLES):
            return False  # the FTS5 virtual table and its shadow tables (SQLite)
        if type_ == "index" and name == TERMS_INDEX:
            return False  # PostgreSQL's expression index over the terms, undeclared
        return not (type_ == "index" and name == TRGM_INDEX and dialect_name != "postgresql")

    return include_object


def term_token(term: str) -> str:
    """A term as one token of SQLite's term table: ``t`` and its UTF-8 in hex, which the FTS5 ``ascii``
    tokenizer keeps whole whatever the term's characters (punctuation, full-width, separators)."""
    return "t" + term.encode("utf-8").hex()


def has_fts_table(connection: Connection) -> bool:
    """Whether this SQLite database has the FTS5 index (SQLite >= 3.34 when it was migrated)."""
    return connection.dialect.name == "sqlite" and inspect(connection).has_table(FTS_TABLE)
