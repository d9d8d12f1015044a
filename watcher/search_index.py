"""The search index's schema objects, and how schema comparisons treat them.

Migration 0014 created the distinct-passage index with a trigram index for searches of three
characters and more (PostgreSQL: pg_trgm GIN ``ix_passages_text_trgm``; SQLite: the FTS5 trigram table
``passages_fts`` with triggers); migration 0016 added the one- and two-character terms as posting
lists: on PostgreSQL a GIN expression index (``ix_passages_terms``) over an immutable SQL function of
``passages.text`` (no stored column); on SQLite a contentless FTS5 table (``passage_terms_fts``, rowid =
passage id), filled by the write path. Migration 0017 dropped the trigram index: the term posting lists
serve every search (three characters and more: the passages holding all the term's pairs, then a
substring check on their text), and made the GIN write its entries directly (``fastupdate = off``; its
pending list otherwise stays allocated, three times the index). Migration 0020 stores the passages in
blocks (``passage_blocks``) and keeps the posting lists per block instead of per passage: on PostgreSQL
the GIN ``ix_passage_blocks_terms`` over ``watcher_short_terms(passage_blocks.text)``, the function
redefined to give the same terms in time linear in the text (0016's took ``substr`` at every place: time
quadratic in the length, seconds for a block), on SQLite the
contentless FTS5 table ``passage_block_terms_fts`` (rowid = block id). Neither posting list is declared in
the metadata (an expression index is not compared by autogenerate). ``include_object_for`` is the
Alembic ``include_object`` hook used by ``alembic/env.py`` and the migration tests, so that
autogenerate neither drops the FTS5 tables nor the undeclared GIN — and still compares everything else.

Migrations 0014, 0016 and 0017 import the names, ``fts_triggers`` and ``passage_batches`` from here (one
builder instead of a copy per migration): what these return is frozen — a change of the index's shape
is a new function for a new migration, never an edit here that would rewrite what an old one does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

FTS_TABLE = "passages_fts"  # SQLite: 0014's trigram table over passages (dropped by 0017)
TERMS_TABLE = "passage_terms_fts"  # SQLite: the passages' one- and two-character terms (migration 0016)
TERMS_INDEX = "ix_passages_terms"  # PostgreSQL: GIN over TERMS_FUNCTION(passages.text) (migration 0016)
TERMS_FUNCTION = "watcher_short_terms"  # PostgreSQL: a text's lower-cased 1- and 2-character terms
FTS_TABLES = (FTS_TABLE, TERMS_TABLE, "text_versions_fts", "passage_block_terms_fts")
TOKEN_PREFIX = "t"  # SQLite: a term's token is this and its UTF-8 in hex (term_token)
OCCURRENCES_INDEX = "ix_passage_occurrences_passage_source"  # 0014's covering index (0017: the primary key)
BLOCK_TERMS_TABLE = "passage_block_terms_fts"  # SQLite: the passage blocks' short terms (migration 0020)
BLOCK_TERMS_INDEX = "ix_passage_blocks_terms"  # PostgreSQL: GIN over TERMS_FUNCTION(passage_blocks.text) (0020)


IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def include_object_for(dialect_name: str) -> IncludeObject:
    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table" and name is not None and name.startswith(FTS_TABLES):
            return False  # the FTS5 virtual table and its shadow tables (SQLite)
        return not (type_ == "index" and name in (TERMS_INDEX, BLOCK_TERMS_INDEX))  # PostgreSQL's, undeclared

    return include_object


def term_token(term: str) -> str:
    """A term as one token of SQLite's term table: ``t`` and its UTF-8 in hex, which the FTS5 ``ascii``
    tokenizer keeps whole whatever the term's characters (punctuation, full-width, separators)."""
    return TOKEN_PREFIX + term.encode("utf-8").hex()


def fts_triggers(fts: str, table: str) -> tuple[str, ...]:
    """The triggers that keep an external-content FTS5 table over ``table.text`` in step with it
    (migrations 0004 and 0014, and the downgrade of 0017)."""
    return (
        f"""CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN
  INSERT INTO {fts}(rowid, text) VALUES (new.id, new.text);
END""",
        f"""CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN
  INSERT INTO {fts}({fts}, rowid, text) VALUES ('delete', old.id, old.text);
END""",
        f"""CREATE TRIGGER {fts}_au AFTER UPDATE OF text ON {table} BEGIN
  INSERT INTO {fts}({fts}, rowid, text) VALUES ('delete', old.id, old.text);
  INSERT INTO {fts}(rowid, text) VALUES (new.id, new.text);
END""",
    )


def passage_batches(connection: Connection, batch: int = 500) -> Iterator[list[tuple[int, str]]]:
    """Every passage (id, text), in batches by id (the migrations that rewrite the index)."""
    last = 0
    while rows := connection.execute(
        text("SELECT id, text FROM passages WHERE id > :last ORDER BY id LIMIT :batch"),
        {"last": last, "batch": batch},
    ).all():
        yield [(row_id, line) for row_id, line in rows]
        last = rows[-1][0]
