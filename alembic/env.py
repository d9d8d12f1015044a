"""Alembic environment: migrations run on the engine watcher hands over (see watcher.db)."""

from __future__ import annotations

import logging

from sqlalchemy import Engine, create_engine

from alembic import context
from watcher.models import Base
from watcher.search_index import include_object_for

target_metadata = Base.metadata


def _engine() -> Engine:
    engine = context.config.attributes.get("engine")
    if engine is not None:
        return engine  # type: ignore[no-any-return]
    from watcher.config import load_settings
    from watcher.db import make_engine

    return make_engine(context.config.get_main_option("sqlalchemy.url") or load_settings().database_url)


def run_migrations_online() -> None:
    engine = _engine()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a table (copy, drop, rename): with foreign keys enforced, the drop
            # would cascade into the rows that refer to it. Off outside the transaction (the only place
            # SQLite honours it), checked and back on after it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
            include_object=include_object_for(connection.dialect.name),
        )
        try:
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        except BaseException:
            if sqlite:
                connection.invalidate()  # foreign keys still off on it: never back into the pool
            raise
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
            if broken is not None:
                logging.getLogger("alembic").warning("a row of %s refers to a missing %s row", broken[0], broken[2])


if context.is_offline_mode():
    context.configure(url=str(create_engine("sqlite://").url), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
