from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from watcher.db import current_revision, downgrade, head_revision, make_engine, scripts_head_revision, upgrade
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


def test_scripts_head_is_alembics_head() -> None:
    assert scripts_head_revision() == head_revision()


def test_check_loads_alembic_only_when_the_schema_must_move(database_url: str) -> None:
    probe = (
        "import sys\n"
        "from watcher.cli import main\n"
        "status = main(['check', '--json'])\n"  # no sources: exit 2, after opening the store
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'fastapi', 'jinja2'}))\n"
    )
    env = {**os.environ, "WATCHER_DATABASE_URL": database_url}
    repo = Path(__file__).resolve().parent.parent

    def loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, cwd=repo, capture_output=True, text=True, timeout=120, check=False
        )
        assert "no sources to check" in done.stderr, done.stderr
        return done.stdout.strip().splitlines()[-1]

    assert loaded() == "['alembic', 'mako']"  # a fresh database: migrated, through Alembic
    assert loaded() == "[]"  # current: one query, no Alembic, and no web stack
