"""compact dates in the intervals and indication steps; indication steps keyed by indication and date;
claim profiles compressed with a preset dictionary

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 17:00:00.000000

SQLite stored every date as 26 characters of text; the search index's small rows carry two or three
each. Their dates become integers there, the microseconds since 1970-01-01 UTC (``CompactUTCDateTime``:
8 bytes, compared as numbers; PostgreSQL keeps ``timestamptz``, 8 bytes already): ``passage_occurrences``
(first_seen, last_seen, gone_at) and ``indication_steps`` (fetched_at, previous_fetched_at), each
copied into a new table once, the dates converted in SQL (``strftime('%s')`` and the fraction as it is
written: exact to the microsecond).

``indication_steps`` loses its ``id``: a step is named by (indication, capture time, snapshot), its new
primary key, which replaces ``ix_indication_steps_indication_fetched``; on SQLite the table is WITHOUT
ROWID, so the claim timelines of one indication read one contiguous range of it. PostgreSQL keeps its
table (the id dropped, the key index built, the table rewritten in key order by ``CLUSTER``).
The claim profiles are compressed again with a preset dictionary of the analyser's keys and ids
(``ZlibJSON(PROFILE)``, watcher.zdicts: a format byte, then raw deflate; 37-43 % smaller), in batches by
id. The space they free stays with the store until it is compacted, which cannot run inside a
migration: ``VACUUM`` (SQLite) or ``VACUUM FULL claim_profiles`` (PostgreSQL, where the rewrite
leaves the old row versions behind: the table is twice its size until then, reused by later rows).

The downgrade converts the dates back to text, gives the steps ids again (in key order) and writes the
profiles as plain zlib again.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op
from watcher.models import CompactUTCDateTime, UTCDateTime, ZlibJSON
from watcher.zdicts import PROFILE

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OCCURRENCES = "passage_occurrences"
STEPS = "indication_steps"
STEPS_INDEX = "ix_indication_steps_indication_fetched"  # 0014's index, the new primary key's order


def _to_micros(column: str) -> str:
    """SQLite: a date as SQLAlchemy writes it (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) to microseconds."""
    return (
        f"CAST(strftime('%s', {column}) AS INTEGER) * 1000000 "
        f"+ CAST(substr(substr({column}, 21) || '000000', 1, 6) AS INTEGER)"
    )


def _to_text(column: str) -> str:
    """SQLite: microseconds since the epoch back to SQLAlchemy's text (floored, also before 1970)."""
    fraction = f"(({column} % 1000000) + 1000000) % 1000000"
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', ({column} - {fraction}) / 1000000, 'unixepoch') "
        f"|| '.' || printf('%06d', {fraction})"
    )


def _convert(column: str, compact: bool) -> str:
    converted = _to_micros(column) if compact else _to_text(column)
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE {converted} END"


def _date_type(compact: bool) -> sa.types.TypeEngine[object]:
    return CompactUTCDateTime(timezone=True) if compact else UTCDateTime(timezone=True)  # type: ignore[return-value]


def _copy(table: str, create: sa.Table, columns: list[str], dates: set[str], order: str) -> None:
    """SQLite: replace ``table`` by ``create`` (same name), its rows copied with the dates converted to
    the new table's kind (integers when its date columns are BIGINT)."""
    compact = isinstance(create.c[next(iter(dates))].type, CompactUTCDateTime)
    op.rename_table(table, f"{table}_old")
    create.create(op.get_bind())
    selected = ", ".join(_convert(c, compact) if c in dates else c for c in columns)
    names = ", ".join(columns)
    op.execute(f"INSERT INTO {table} ({names}) SELECT {selected} FROM {table}_old ORDER BY {order}")
    op.drop_table(f"{table}_old")


def _metadata() -> sa.MetaData:
    """A metadata with the tables the copied ones refer to (their keys only: never created here)."""
    metadata = sa.MetaData()
    for name in ("passages", "sources"):
        sa.Table(name, metadata, sa.Column("id", sa.Integer(), primary_key=True))
    return metadata


def _occurrences(compact: bool) -> sa.Table:
    date = _date_type(compact)
    return sa.Table(
        OCCURRENCES,
        _metadata(),
        sa.Column("passage_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("first_snapshot_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("first_seen", date, nullable=False),
        sa.Column("last_snapshot_id", sa.Integer(), nullable=False),
        sa.Column("last_seen", date, nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("gone_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("gone_at", date, nullable=True),
        sa.ForeignKeyConstraint(
            ["passage_id"], ["passages.id"], name="fk_passage_occurrences_passage_id_passages", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_passage_occurrences_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("passage_id", "source_id", "first_snapshot_id", name="pk_passage_occurrences"),
        sqlite_with_rowid=False,
    )


def _steps(compact: bool) -> sa.Table:
    date = _date_type(compact)
    key = ("indication", "fetched_at", "snapshot_id") if compact else ("id",)
    return sa.Table(
        STEPS,
        _metadata(),
        *([] if compact else [sa.Column("id", sa.Integer(), nullable=False)]),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("indication", sa.String(length=80), nullable=False),
        sa.Column("snapshot_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("fetched_at", date, nullable=False),
        sa.Column("strength", sa.Integer(), nullable=False),
        sa.Column("previous_snapshot_id", sa.Integer(), nullable=True),
        sa.Column("previous_fetched_at", date, nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"], ["sources.id"], name="fk_indication_steps_source_id_sources", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(*key, name="pk_indication_steps"),
        sqlite_with_rowid=not compact,
    )


OCCURRENCE_COLUMNS = [c.name for c in _occurrences(True).columns]
STEP_COLUMNS = [c.name for c in _steps(True).columns]


def _sqlite(compact: bool) -> None:
    op.drop_index("ix_passage_occurrences_source_gone", table_name=OCCURRENCES)
    _copy(
        OCCURRENCES,
        _occurrences(compact),
        OCCURRENCE_COLUMNS,
        {"first_seen", "last_seen", "gone_at"},
        "passage_id, source_id, first_snapshot_id",
    )
    op.create_index("ix_passage_occurrences_source_gone", OCCURRENCES, ["source_id", "gone_at"])
    op.drop_index("ix_indication_steps_source_id", table_name=STEPS)  # the other indexes go with the table
    # Rows in the new key's order (the text dates sort as their times do): appended, not scattered.
    _copy(
        STEPS,
        _steps(compact),
        STEP_COLUMNS,
        {"fetched_at", "previous_fetched_at"},
        "indication, fetched_at, snapshot_id",
    )
    op.create_index("ix_indication_steps_source_id", STEPS, ["source_id"])
    if not compact:
        op.create_index(STEPS_INDEX, STEPS, ["indication", "fetched_at", "snapshot_id"])


def _recompress_profiles(target: ZlibJSON, batch: int = 1000) -> None:
    """Every claim profile read (either format) and written again as ``target`` writes it, by id."""
    bind = op.get_bind()
    reader, last = ZlibJSON(), 0
    select = sa.text("SELECT id, profile FROM claim_profiles WHERE id > :last ORDER BY id LIMIT :batch")
    update = sa.text("UPDATE claim_profiles SET profile = :profile WHERE id = :id")
    while rows := bind.execute(select, {"last": last, "batch": batch}).all():
        document = {row_id: reader.process_result_value(data, bind.dialect) for row_id, data in rows}
        bind.execute(
            update,
            [
                {"id": row_id, "profile": target.process_bind_param(value, bind.dialect)}
                for row_id, value in document.items()
            ],
        )
        last = rows[-1][0]


def upgrade() -> None:
    _recompress_profiles(ZlibJSON(PROFILE))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(compact=True)
        return
    op.execute(f"ALTER TABLE {STEPS} DROP CONSTRAINT pk_indication_steps")
    op.execute(f"ALTER TABLE {STEPS} DROP COLUMN id")
    op.execute(f"DROP INDEX {STEPS_INDEX}")
    op.execute(
        f"ALTER TABLE {STEPS} ADD CONSTRAINT pk_indication_steps PRIMARY KEY (indication, fetched_at, snapshot_id)"
    )
    op.execute(f"CLUSTER {STEPS} USING pk_indication_steps")


def downgrade() -> None:
    _recompress_profiles(ZlibJSON())
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(compact=False)
        return
    op.execute(f"ALTER TABLE {STEPS} DROP CONSTRAINT pk_indication_steps")
    op.execute(f"CREATE INDEX {STEPS_INDEX} ON {STEPS} (indication, fetched_at, snapshot_id)")
    op.execute(f"ALTER TABLE {STEPS} ADD COLUMN id SERIAL")
    op.execute(f"ALTER TABLE {STEPS} ADD CONSTRAINT pk_indication_steps PRIMARY KEY (id)")
