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
