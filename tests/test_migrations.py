from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from watcher.db import current_revision, downgrade, head_revision, make_engine, upgrade
from watcher.models import Base
from watcher.search_index import include_object_for


def test_upgrade_downgrade_upgrade_and_no_drift(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            opts = {"compare_type": True, "include_object": include_object_for(connection.dialect.name)}
            drift = compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        engine.dispose()


def test_store_migrates_on_first_use(database_url: str) -> None:
    from watcher.db import Store

    store = Store(database_url)
    try:
        assert current_revision(store.engine) == head_revision()
        assert "sources" in inspect(store.engine).get_table_names()
    finally:
        store.dispose()


def test_passage_index_replaces_the_per_version_index(database_url: str) -> None:
    """0011 drops the per-version full-text index for the passage index; its downgrade brings it back."""
    engine = make_engine(database_url)
    try:
        upgrade(engine)

        def indexed() -> tuple[bool, bool]:
            inspector = inspect(engine)
            tables = set(inspector.get_table_names())
            if engine.dialect.name == "sqlite":
                return "text_versions_fts" in tables, {"passages", "passages_fts"} <= tables
            old = "ix_text_versions_text_trgm" in {i["name"] for i in inspector.get_indexes("text_versions")}
            new = "passages" in tables and "ix_passages_text_trgm" in {
                i["name"] for i in inspector.get_indexes("passages")
            }
            return old, new

        assert indexed() == (False, True)
        downgrade(engine, "0010")
        assert indexed() == (True, False)
        upgrade(engine)
        assert indexed() == (False, True)
    finally:
        engine.dispose()
