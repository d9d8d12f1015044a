"""Engines, sessions and migrations for the embedded SQLite store and PostgreSQL."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from watcher.errors import StoreError
from watcher.models import compact_json

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

ALEMBIC_DIR = Path(__file__).resolve().parent.parent / "alembic"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Takes effect on a new file only (before its first table; ``vacuum`` turns it on for an older
    # one): the pages that writes free are then given back to the file system by ``reclaim``.
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            folder = Path(url.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:  # not a directory, read-only, impossible (/proc/...): one line
                reason = "it is not a directory" if isinstance(error, FileExistsError) else error.strerror
                raise StoreError(f"cannot create the database directory {folder}: {reason}") from None
        engine = create_engine(url, json_serializer=compact_json)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, json_serializer=compact_json)


INCREMENTAL_VACUUM = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


def reclaim(engine: Engine) -> int:
    """SQLite: give the file's free pages back to the file system, when the file was made with
    incremental vacuuming (every store made by this version; ``vacuum`` for older ones): the search
    index's posting lists merge their segments as they grow, and rows moved or deleted leave pages
    free, which would otherwise stay in the file until something reuses them. Returns the pages given
    back (0 on PostgreSQL, which keeps free space for reuse within its tables)."""
    if engine.dialect.name != "sqlite":
        return 0
    connection = engine.raw_connection()
    try:
        if connection.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL_VACUUM:
            return 0
        free = int(connection.execute("PRAGMA freelist_count").fetchone()[0])
        if free:
            # Run to its end (``executescript``): a plain execute frees one page per step.
            connection.driver_connection.executescript("PRAGMA incremental_vacuum;")  # type: ignore[union-attr]
    finally:
        connection.close()
    return free


def vacuum(engine: Engine) -> None:
    """Rewrite the store compactly: SQLite ``VACUUM`` (with incremental vacuuming turned on, so that
    ``reclaim`` works from then on: a file made before this version needs it once, for instance to
    give back what migration 0020 freed); PostgreSQL ``VACUUM``, which makes free space reusable."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(f"PRAGMA auto_vacuum={INCREMENTAL_VACUUM}")
        connection.exec_driver_sql("VACUUM")


# Alembic (about 0.13 s of imports and script parsing) is loaded by the functions that need it: a
# command on a database whose schema is current never loads it (``schema_is_current``).
_REVISION_LINE = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*(.+?)\s*$""", re.MULTILINE)


def alembic_config(engine: Engine) -> Config:
    # lazy import: start-up time
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    # lazy import: start-up time
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(create_engine("sqlite://"))).get_current_head()


def current_revision(engine: Engine) -> str | None:
    # lazy import: start-up time
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    # lazy import: start-up time
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    # lazy import: start-up time
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


@cache
def scripts_head_revision() -> str | None:
    """The head revision read from the migration scripts' ``revision``/``down_revision`` lines, without
    Alembic; None when that reading is not a single plain chain head (Alembic then decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((ALEMBIC_DIR / "versions").glob("*.py")):
        lines = {match[1]: match[2] for match in _REVISION_LINE.finditer(path.read_text(encoding="utf-8"))}
        revision, parent = (lines.get(key, "").strip("'\"") for key in ("revision", "down_revision"))
        if not revision or not re.fullmatch(r"[\w-]+", revision) or not re.fullmatch(r"[\w-]*|None", parent):
            return None
        revisions.add(revision)
        parents.add(parent)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def schema_is_current(engine: Engine) -> bool:
    """The database's stored Alembic revision is the scripts' head (one query, no Alembic)."""
    head = scripts_head_revision()
    if head is None:
        return False
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        stored = list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    return stored == [head]


def ensure_schema(engine: Engine) -> None:
    """Migrate to head on first use, so that every command works on a fresh database."""
    try:
        if not schema_is_current(engine) and current_revision(engine) != head_revision():
            log.info("migrating database %s to %s", engine.url.render_as_string(hide_password=True), head_revision())
            upgrade(engine)
    except OperationalError as error:
        raise StoreError(
            f"cannot open database {engine.url.render_as_string(hide_password=True)}: "
            f"{str(error.orig).strip().splitlines()[0]}"
        ) from None


class Store:
    """An engine and its session factory; ``with store.session() as s`` commits or rolls back."""

    def __init__(self, database_url: str, *, migrate: bool = True) -> None:
        self.engine = make_engine(database_url)
        if migrate:
            ensure_schema(self.engine)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._factory()
        try:
            yield session
            session.commit()
        except SQLAlchemyError:
            session.rollback()
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def reclaim(self) -> int:
        return reclaim(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
