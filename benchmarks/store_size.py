"""Benchmark: what the store holds after capture_rounds.py's rounds, per table, on SQLite or PostgreSQL.

Runs the real `watcher check --json` three times over N generated pages (capture_rounds.py's site on
127.0.0.1, ETag/Last-Modified and 304s): round 1 all new, round 2 with 10 % of the pages changed,
round 3 with nothing changed. Reports the store's size after each round (SQLite: the file after a WAL
checkpoint; PostgreSQL: the sum of pg_total_relation_size over the public tables, after VACUUM), the
bytes per first capture / unchanged check / changed check, the disk per page after round 2 (the figure
peers.py sets beside urlwatch), and where the bytes are after round 2 (SQLite: the dbstat virtual
table, indexes under their table; PostgreSQL: heap + TOAST and indexes per table).
``--without-search-index`` also reports the store after round 2 without the distinct-passage search index
(migration 0020: the passage blocks and their term posting lists — the FTS5 table or the GIN —, the key
table, the runs and their memberships, the index state): SQLite, a VACUUMed copy without it set beside a
VACUUMed copy of the original; PostgreSQL, the store less those tables with their indexes.

    .venv/bin/python benchmarks/store_size.py --pages 500 --database sqlite --without-search-index
    .venv/bin/python benchmarks/store_size.py --pages 500 --database postgresql --without-search-index
    (--unconditional: forget the validators before rounds 2 and 3, as capture_rounds.py does)

PostgreSQL: a fresh database is created and dropped on the server of ``--postgres`` (default
postgresql://postgres@127.0.0.1:5432/postgres, trust auth).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from capture_rounds import add_page_sources, build_real_site, build_site, database_bytes, run_round
from sqlalchemy import create_engine, text

from watcher.demo.site import VersionedSite
from watcher.search_index import BLOCK_TERMS_INDEX, BLOCK_TERMS_TABLE

# The search index (migration 0020); the FTS5 table's shadow tables are counted with it.
SEARCH_TABLES = (BLOCK_TERMS_TABLE, "passage_blocks", "passages", "passage_runs", "run_passages", "passage_index_state")


def sqlite_tables(path: Path) -> dict[str, int]:
    """Bytes per table on SQLite (its indexes and, for FTS5, its shadow tables counted with it)."""
    connection = sqlite3.connect(path)
    try:
        owner = dict(connection.execute("SELECT name, tbl_name FROM sqlite_master"))
        sizes: dict[str, int] = {}
        for name, size in connection.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            table = BLOCK_TERMS_TABLE if table.startswith(BLOCK_TERMS_TABLE) else table
            sizes[table] = sizes.get(table, 0) + int(size)
        free = (
            connection.execute("PRAGMA freelist_count").fetchone()[0]
            * connection.execute("PRAGMA page_size").fetchone()[0]
        )
        sizes["(free pages)"] = int(free)
    finally:
        connection.close()
    return dict(sorted(sizes.items(), key=lambda item: -item[1]))


def sqlite_without_search_index(path: Path, work: Path) -> dict[str, int]:
    """A VACUUMed copy of the store, and one without the search index: their sizes."""
    sizes = {}
    for label, drop in (("vacuumed", False), ("vacuumed_without_search_index", True)):
        copy = work / f"{label}.db"
        shutil.copyfile(path, copy)
        connection = sqlite3.connect(copy)
        try:
            if drop:
                for table in SEARCH_TABLES:
                    connection.execute(f"DROP TABLE IF EXISTS {table}")
                connection.commit()
            connection.execute("VACUUM")
        finally:
            connection.close()
        sizes[label] = copy.stat().st_size
    return sizes


def postgres_bytes(url: str) -> int:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("VACUUM")
            total = connection.scalar(
                text("SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = 'public' AND c.relkind = 'r'")
            )  # fmt: skip
    finally:
        engine.dispose()
    return int(total or 0)


def postgres_tables(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")
            ).all()  # fmt: skip
            gins = {
                name: connection.scalar(text("SELECT pg_relation_size(to_regclass(:name))"), {"name": name})
                for name in (BLOCK_TERMS_INDEX,)
            }
    finally:
        engine.dispose()
    sizes = {f"{name} (heap+toast)": int(heap) for name, heap, _ in rows}
    sizes.update({f"{name} (indexes)": int(indexes) for name, _, indexes in rows})
    sizes.update({f"{name} (of the indexes above)": int(size or 0) for name, size in gins.items()})
    return dict(sorted(((k, v) for k, v in sizes.items() if v), key=lambda item: -item[1]))


def sqlite_sizes(path: Path) -> tuple[int, int]:
    """The file's size after a WAL checkpoint, and the bytes of its pages in use (free pages left out)."""
    disk = database_bytes(path)
    connection = sqlite3.connect(path)
    try:
        count, free, size = (
            connection.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count", "page_size")
        )
    finally:
        connection.close()
    return disk, (count - free) * size


def forget_validators(url: str) -> None:
    """As a server that ignores conditional requests: every page is downloaded and compared on its text."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE sources SET etag = NULL, last_modified = NULL")
    engine.dispose()


def rounds(
    root: Path,
    pages: int,
    env: dict[str, str],
    size: Callable[[], tuple[int, int]],
    after_round2: Callable[[], object],
    *,
    unconditional: bool,
) -> tuple[list[tuple[int, int]], list[dict[str, float]]]:
    sizes, outcomes = [], []
    with VersionedSite(root=root) as site:
        add_page_sources(site, pages, env)
        sizes.append(size())
        for number in (1, 2, 3):
            site.round = min(number, 2)  # round 3: nothing changed since round 2
            if unconditional and number > 1:
                forget_validators(env["WATCHER_DATABASE_URL"])
            outcomes.append(run_round(env))
            sizes.append(size())
            if number == 2:
                after_round2()
    return sizes, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--changed", type=float, default=0.10)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument(
        "--without-search-index", action="store_true", help="also size the store without the passage search index"
    )
    parser.add_argument("--keep", type=Path, help="SQLite: copy the store after round 2 here")
    parser.add_argument(
        "--unconditional",
        action="store_true",
        help="forget ETag/Last-Modified before rounds 2 and 3 (as capture_rounds.py)",
    )
    parser.add_argument(
        "--real-pages",
        type=Path,
        help="instead of generated pages, the *.html.gz pages of this folder (--pages is then their number)",
    )
    args = parser.parse_args()
    env = {
        **os.environ,
        "WATCHER_DOWNLOAD_DELAY": "0",
        "WATCHER_AUTOTHROTTLE": "0",
        "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
        "WATCHER_LOG_LEVEL": "WARNING",
        "WATCHER_CONCURRENT_REQUESTS": "16",
    }
    with tempfile.TemporaryDirectory(prefix="watcher-store-") as tmp:
        work = Path(tmp)
        if args.real_pages:
            args.pages = build_real_site(work / "site", args.real_pages, args.changed)
        else:
            build_site(work / "site", args.pages, args.changed)
        report: dict[str, object] = {
            "pages": args.pages,
            "site": str(args.real_pages or "generated"),
            "database": args.database,
            "unconditional": args.unconditional,
        }
        admin = create_engine(
            args.postgres.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        name = f"watcher_store_{uuid.uuid4().hex[:8]}"
        url = args.postgres.rsplit("/", 1)[0] + "/" + name
        if args.database == "sqlite":
            db_path = work / "store.db"
            env["WATCHER_DATABASE_URL"] = f"sqlite:///{db_path}"
            round2 = work / "round2.db"
            sizes, outcomes = rounds(
                work / "site",
                args.pages,
                env,
                lambda: sqlite_sizes(db_path),
                lambda: shutil.copyfile(db_path, round2),
                unconditional=args.unconditional,
            )
        else:
            with admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            env["WATCHER_DATABASE_URL"] = url
            engine_url = url.replace("postgresql://", "postgresql+psycopg://")
            tables: dict[str, int] = {}
            sizes, outcomes = rounds(
                work / "site", args.pages, env, lambda: (postgres_bytes(engine_url),) * 2,
                lambda: tables.update(postgres_tables(engine_url)), unconditional=args.unconditional,
            )  # fmt: skip
        changed = int(outcomes[1].get("n_changed", 0))
        disk, used = [d for d, _ in sizes], [u for _, u in sizes]
        per_unchanged = (used[3] - used[2]) / args.pages
        report.update(
            {
                "outcomes": outcomes,
                "disk_bytes": dict(zip(("after_sources", "round1", "round2", "round3"), disk, strict=True)),
                "used_bytes": dict(zip(("after_sources", "round1", "round2", "round3"), used, strict=True)),
                "bytes_per_first_capture": round((used[1] - used[0]) / args.pages),
                "bytes_per_unchanged_check": round(per_unchanged),
                "bytes_per_changed_check": round(
                    ((used[2] - used[1]) - (args.pages - changed) * per_unchanged) / max(changed, 1)
                ),
                "disk_per_page_after_round2": round(disk[2] / args.pages),
            }
        )
        if args.database == "sqlite":
            report["tables_after_round2"] = sqlite_tables(round2)
            if args.without_search_index:
                report["after_round2"] = {k: {"bytes": v, "per_page": round(v / args.pages)}
                                          for k, v in sqlite_without_search_index(round2, work).items()}  # fmt: skip
            if args.keep:
                shutil.copyfile(round2, args.keep)
        else:
            report["tables_after_round2"] = tables
            if args.without_search_index:
                index = sum(v for k, v in tables.items() if k.split(" ")[0] in SEARCH_TABLES and "(of" not in k)
                report["after_round2_without_search_index"] = {
                    "bytes": disk[2] - index, "per_page": round((disk[2] - index) / args.pages)
                }  # fmt: skip
            with admin.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
