"""The SQLite file gives the pages that writes free back to the file system: a new store uses incremental
vacuuming and ``reclaim`` runs after each check run; ``watcher db vacuum`` turns it on for an older file
(made without it) and compacts it. Real SQLite files; ``benchmarks/store_size.py`` shows a check run's
store with no free page left."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import text

from watcher.config import Settings
from watcher.db import INCREMENTAL_VACUUM, Store, reclaim


def _pragma(path: Path, name: str) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        connection.close()


def _fill_and_free(store: Store, rows: int = 400) -> None:
    """Write then delete enough rows to leave free pages in the file."""
    with store.session() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, data BLOB)"))
        session.execute(text("INSERT INTO scratch (data) VALUES (:data)"), [{"data": bytes(2000)} for _ in range(rows)])
    with store.session() as session:
        session.execute(text("DELETE FROM scratch"))


def test_a_new_store_gives_freed_pages_back(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = Store(f"sqlite:///{path}")
    try:
        assert _pragma(path, "auto_vacuum") == INCREMENTAL_VACUUM
        _fill_and_free(store)
        assert _pragma(path, "freelist_count") > 100
        assert store.reclaim() > 100
        assert _pragma(path, "freelist_count") == 0
        assert store.reclaim() == 0  # nothing left: a no-op
    finally:
        store.dispose()


def test_db_vacuum_converts_an_older_file(settings: Settings, run_cli) -> None:  # type: ignore[no-untyped-def]
    """An older file (no incremental vacuuming) keeps its free pages through ``reclaim``; ``watcher db
    vacuum`` compacts it and turns incremental vacuuming on, after which ``reclaim`` gives pages back."""
    if not settings.database_url.startswith("sqlite"):
        result = run_cli("db", "vacuum")
        assert result.code == 0 and "store vacuumed" in result.out  # PostgreSQL: a plain VACUUM
        return
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA auto_vacuum=NONE")
    connection.execute("CREATE TABLE made_before (id INTEGER PRIMARY KEY)")  # the mode is fixed from here
    connection.close()
    store = Store(settings.database_url)
    try:
        assert _pragma(path, "auto_vacuum") == 0
        _fill_and_free(store)
        free = _pragma(path, "freelist_count")
        assert free > 100 and reclaim(store.engine) == 0 and _pragma(path, "freelist_count") == free
        result = run_cli("db", "vacuum")
        assert result.code == 0, result.err
        before, after = (int(n.replace(",", "")) for n in result.out.split(":")[1].replace("bytes", "").split("->"))
        assert after < before - 100 * 4096
        assert _pragma(path, "auto_vacuum") == INCREMENTAL_VACUUM and _pragma(path, "freelist_count") == 0
        _fill_and_free(store)
        assert store.reclaim() > 100 and _pragma(path, "freelist_count") == 0
    finally:
        store.dispose()
