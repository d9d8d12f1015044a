"""Alembic environment: migrations run on the engine watcher hands over (see watcher.db)."""

from __future__ import annotations

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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object_for(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    context.configure(url=str(create_engine("sqlite://").url), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
