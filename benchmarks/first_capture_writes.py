"""Benchmark: the parent's side of a first capture round, in one process, with deterministic counts.

Builds capture_rounds.py's site (N generated pages on 127.0.0.1), adds the pages as sources with the real
CLI, then runs round 1 (every page new) in this process through ``check_with_discovery`` — the path of
``watcher check``, ``watcher run`` and the queue worker — and reports: SQL statements sent (an
executemany counts once) per page, the parent's CPU ms per page
(``time.process_time``: the crawl child is not in it), and with ``--calls`` the Python calls of the
round counted by cProfile. ``--dump FILE`` writes every table's rows (JSON lines, sorted) so that two
trees' stores can be compared: captures come in the order of the sources (one request at a time) and
their times are fixed per page, so ids and times are the same whichever tree wrote them.

    .venv/bin/python benchmarks/first_capture_writes.py --pages 500 [--database postgresql] [--calls]
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import os
import pstats
import re
import shutil
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from capture_rounds import add_page_sources, build_site, database_bytes
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine

from watcher.capture import Capture
from watcher.config import load_settings
from watcher.db import Store
from watcher.demo.site import VersionedSite
from watcher.pipeline.run import check_with_discovery

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
# Columns that differ between two runs of the same code: the site writes a token, a counter and the time
# into every body (so its bytes, hash and size differ), and times of the run itself.
NOISY = {
    "created_at",
    "updated_at",
    "diff_seconds",
    "checked_at",
    "duration_ms",
    "headers",
    "sha256",
    "body_sha256",
    "data",
}
NOISY |= {"size", "body_size", "compressed_size", "added_at", "last_checked_at", "next_check_at"}


def dump(url: str, path: Path) -> None:
    """Every table's rows, sorted, one JSON line each (bytes as their length and a hash)."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as connection, path.open("w") as out:
        for table in sorted(inspect(engine).get_table_names()):
            if table.startswith("passage_terms_fts") or table == "alembic_version":
                continue
            rows = [
                json.dumps(
                    {k: _plain(v) for k, v in row._mapping.items() if k not in NOISY},
                    sort_keys=True,
                    ensure_ascii=False,
                )
                for row in connection.execute(text(f'SELECT * FROM "{table}"'))
            ]
            for line in sorted(rows):
                out.write(f"{table}\t{line}\n")
        if engine.dialect.name == "sqlite":  # the term documents: what FTS5 matches for each passage
            for term in ("65", "e3818b", "6374"):
                ids = [
                    r[0]
                    for r in connection.execute(
                        text(
                            f"SELECT rowid FROM passage_terms_fts WHERE passage_terms_fts MATCH '{term}' ORDER BY rowid"
                        )
                    )
                ]
                out.write(f"passage_terms_fts\t{term}\t{ids}\n")
    engine.dispose()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        import hashlib

        return f"bytes:{len(value)}:{hashlib.sha256(bytes(value)).hexdigest()[:16]}"
    if isinstance(value, str):
        value = re.sub(r"127\.0\.0\.1:\d+", "HOST", value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--calls", action="store_true", help="count Python calls with cProfile")
    parser.add_argument("--statements", action="store_true", help="list the statements sent, by their start")
    parser.add_argument("--dump", type=Path, help="write every table's rows here")
    parser.add_argument("--keep", type=Path, help="SQLite: copy the database here (WAL checkpointed)")
    parser.add_argument("--concurrent", type=int, default=1, help="crawl requests at once (1: ids are stable)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="watcher-first-") as tmp:
        work = Path(tmp)
        build_site(work / "site", args.pages, 0.10)
        pg_name = None
        if args.database == "postgresql":
            pg_name = f"first_{uuid.uuid4().hex[:10]}"
            admin = create_engine(
                POSTGRES.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
            )
            with admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {pg_name}")
            url = POSTGRES.rsplit("/", 1)[0] + "/" + pg_name
        else:
            url = f"sqlite:///{work / 'watcher.db'}"
        env = {
            **os.environ,
            "WATCHER_DATABASE_URL": url,
            "WATCHER_DOWNLOAD_DELAY": "0",
            "WATCHER_AUTOTHROTTLE": "0",
            "WATCHER_ALLOWED_NETWORKS": "127.0.0.0/8",
            "WATCHER_LOG_LEVEL": "WARNING",
            "WATCHER_CONCURRENT_REQUESTS": str(args.concurrent),
        }
        try:
            with VersionedSite(root=work / "site") as site:
                add_page_sources(site, args.pages, env)
                os.environ.update(env)
                settings = load_settings(env)
                store = Store(url)
                statements = [0]
                kinds: Counter[str] = Counter()

                @event.listens_for(Engine, "before_cursor_execute")
                def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
                    statements[0] += 1
                    kinds[" ".join(statement.split())[:70]] += 1

                base = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)

                def dated(capture: Capture) -> Capture:  # a fixed time per page: stores compare
                    return dataclasses.replace(capture, fetched_at=base + timedelta(seconds=capture.source_id))

                profiler = cProfile.Profile() if args.calls else None
                cpu, wall = time.process_time(), time.perf_counter()
                if profiler:
                    profiler.enable()
                results = list(
                    check_with_discovery(store, list(range(1, args.pages + 1)), settings=settings, dated=dated)
                )
                if profiler:
                    profiler.disable()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                store.dispose()
            outcomes: dict[str, int] = {}
            for r in results:
                outcomes[r.outcome] = outcomes.get(r.outcome, 0) + 1
            figures = {
                "pages": args.pages,
                "database": args.database,
                "outcomes": outcomes,
                "statements": statements[0],
                "statements_per_page": round(statements[0] / args.pages, 2),
                "parent_cpu_ms_per_page": round(cpu * 1000 / args.pages, 2),
                "wall_s": round(wall, 2),
                "load": os.getloadavg()[0],
            }
            if args.statements:
                figures["by_statement"] = dict(kinds.most_common())
            if profiler:
                figures["python_calls"] = pstats.Stats(profiler).total_calls  # type: ignore[attr-defined]
            print(json.dumps(figures))
            if args.dump:
                dump(url, args.dump)
            if args.keep and not pg_name:
                database_bytes(work / "watcher.db")  # folds the WAL into the file
                shutil.copy(work / "watcher.db", args.keep)
        finally:
            if pg_name:
                with admin.connect() as connection:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {pg_name} WITH (FORCE)")


if __name__ == "__main__":
    main()
