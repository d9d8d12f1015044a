"""Benchmark: what the search index's one- and two-character terms would take stored as posting lists.

``passage_terms`` (migration 0014) held one row per (term, passage): on the 500-page store of
store_size.py that was most of the store (migration 0016 replaced it with posting lists, one per
passage; migration 0020 with posting lists per block of passages). The terms are computed from the
store's passages (``short_terms``), read from their blocks (``passage_blocks``, whose slots the
``passages`` key table names), so the store must be of migration 0020 or later. This reads the terms of
a store kept by ``store_size.py --keep`` and sizes, one posting list per passage, two compact layouts of
the same postings beside the row table:

* SQLite: a contentless FTS5 table (``detail=none``, ``columnsize=0``), one document per passage whose
  tokens are its terms (hex-encoded, so that the ``ascii`` tokenizer keeps each term whole);
* PostgreSQL (a throw-away database on ``--postgres``): the row table as it is, and a GIN index over an
  array of each passage's terms (the index alone: an expression index over an immutable function of
  ``passages.text`` would need no stored array).

Each layout is checked to return the same passages as the row table for a few terms.

    .venv/bin/python benchmarks/store_size.py --pages 500 --database sqlite --keep /tmp/round2.db
    .venv/bin/python benchmarks/term_index_size.py /tmp/round2.db
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

import psycopg

from watcher.models import BLOCK_SLOTS, decode_block
from watcher.pipeline.passages import short_terms

PROBES = ("う", "うつ", "不安", "x", "tm")


def token(term: str) -> str:
    return "t" + term.encode("utf-8").hex()


def sqlite_sizes(store: Path, postings: dict[int, list[str]], rows: dict[str, set[int]]) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="watcher-terms-") as tmp:
        copy = Path(tmp) / "terms.db"
        shutil.copyfile(store, copy)
        db = sqlite3.connect(copy)
        try:
            db.execute("CREATE VIRTUAL TABLE terms_fts USING fts5(terms, content='', detail=none, columnsize=0, "
                       "tokenize='ascii')")  # fmt: skip
            db.executemany(
                "INSERT INTO terms_fts(rowid, terms) VALUES (?, ?)",
                [(pid, " ".join(token(t) for t in terms)) for pid, terms in postings.items()],
            )
            db.execute("INSERT INTO terms_fts(terms_fts) VALUES ('optimize')")
            db.commit()
            for term in PROBES:
                found = {
                    r[0] for r in db.execute("SELECT rowid FROM terms_fts WHERE terms_fts MATCH ?", (token(term),))
                }
                assert found == rows.get(term, set()), term
            sizes = dict(db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        finally:
            db.close()
    return {
        "passage_terms (rows, WITHOUT ROWID; 0: a store since 0016)": int(sizes.get("passage_terms", 0)),
        "fts5 contentless, detail=none": sum(int(v) for k, v in sizes.items() if k.startswith("terms_fts")),
    }


def postgres_sizes(admin_url: str, postings: dict[int, list[str]], rows: dict[str, set[int]]) -> dict[str, int]:
    name = f"watcher_terms_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"{admin_url.rsplit('/', 1)[0]}/{name}", autocommit=True) as db:
            db.execute("CREATE TABLE passage_terms (term varchar(2), passage_id int, PRIMARY KEY (term, passage_id))")
            db.execute("CREATE TABLE passage_arrays (passage_id int PRIMARY KEY, terms text[] NOT NULL)")
            with db.cursor() as cursor, cursor.copy("COPY passage_terms FROM STDIN") as copy:
                for pid, terms in postings.items():
                    for term in terms:
                        copy.write_row((term, pid))
            with db.cursor() as cursor, cursor.copy("COPY passage_arrays FROM STDIN") as copy:
                for pid, terms in postings.items():
                    copy.write_row((pid, terms))
            db.execute("CREATE INDEX passage_arrays_gin ON passage_arrays USING gin (terms)")
            db.execute("VACUUM ANALYZE")
            for term in PROBES:
                found = {r[0] for r in db.execute("SELECT passage_id FROM passage_arrays WHERE terms @> ARRAY[%s]",
                                                  (term,))}  # fmt: skip
                assert found == rows.get(term, set()), term
            sizes = {
                relation: row[0]
                for relation in ("passage_terms", "passage_arrays_gin", "passage_arrays")
                if (row := db.execute("SELECT pg_total_relation_size(%s::regclass)", (relation,)).fetchone())
            }
            return {
                "passage_terms (rows, btree primary key)": sizes["passage_terms"],
                "GIN over the terms (index only)": sizes["passage_arrays_gin"],
                "GIN with a stored text[] column": sizes["passage_arrays"],
            }
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path, help="a SQLite store kept by store_size.py --keep")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    db = sqlite3.connect(args.store)
    postings: dict[int, list[str]] = {}
    rows: dict[str, set[int]] = {}
    ids = {pid for (pid,) in db.execute("SELECT id FROM passages")}  # a slot no key names is no passage
    for block_id, data in db.execute("SELECT id, text FROM passage_blocks"):
        for slot, line in enumerate(decode_block(data)):
            pid = block_id * BLOCK_SLOTS + slot
            if pid in ids:
                for term in sorted(short_terms(line)):  # the terms as short_terms makes them
                    postings.setdefault(pid, []).append(term)
                    rows.setdefault(term, set()).add(pid)
    passages = len(ids)
    db.close()
    report = {
        "passages": passages,
        "postings": sum(len(t) for t in postings.values()),
        "distinct_terms": len(rows),
        "sqlite_bytes": sqlite_sizes(args.store, postings, rows),
        "postgresql_bytes": postgres_sizes(args.postgres, postings, rows),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
