"""content-addressed bodies: raw bytes stored once per distinct body

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:00:00.000000

``bodies`` holds each distinct captured body once, keyed by its SHA-256 (the ``sha256`` that snapshots
and requisites carry already, now a foreign key to it); ``snapshots.raw``/``compression`` and
``requisites.raw``/``compression`` move there. The bytes are moved as they are stored (compressed,
never decompressed nor recompressed) by the database itself, in batches of ``BATCH`` rows by id, so
that neither the migration's memory nor one statement grows with the store. Two rows with one SHA-256
hold the same bytes: the first copy is kept (``ON CONFLICT DO NOTHING``, SQLite and PostgreSQL alike).
The downgrade copies each row's body back and drops the table.
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BATCH = 500
TABLES = ("snapshots", "requisites")


def _id_batches(table: str) -> list[tuple[int, int]]:
    low, high = op.get_bind().execute(sa.text(f"SELECT MIN(id), MAX(id) FROM {table}")).one()
    if low is None:
        return []
    return [(start, start + BATCH - 1) for start in range(low, high + 1, BATCH)]


def upgrade() -> None:
    op.create_table(
        "bodies",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("compression", sa.String(length=8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_bodies")),
    )
    bind = op.get_bind()
    for table in TABLES:
        for low, high in _id_batches(table):
            bind.execute(
                sa.text(f"INSERT INTO bodies (sha256, size, compression, data) "
                        f"SELECT sha256, size, compression, raw FROM {table} WHERE id BETWEEN :low AND :high "
                        f"ORDER BY id ON CONFLICT (sha256) DO NOTHING"),
                {"low": low, "high": high},
            )  # fmt: skip
        with op.batch_alter_table(table) as batch:
            batch.drop_column("raw")
            batch.drop_column("compression")
            batch.create_foreign_key(op.f(f"fk_{table}_sha256_bodies"), "bodies", ["sha256"], ["sha256"])


def downgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_sha256_bodies"), type_="foreignkey")
            batch.add_column(sa.Column("compression", sa.String(length=8), nullable=True))
            batch.add_column(sa.Column("raw", sa.LargeBinary(), nullable=True))
        for low, high in _id_batches(table):
            bind.execute(
                sa.text(f"UPDATE {table} SET "
                        f"compression = (SELECT compression FROM bodies WHERE bodies.sha256 = {table}.sha256), "
                        f"raw = (SELECT data FROM bodies WHERE bodies.sha256 = {table}.sha256) "
                        f"WHERE id BETWEEN :low AND :high"),
                {"low": low, "high": high},
            )  # fmt: skip
        with op.batch_alter_table(table) as batch:
            batch.alter_column("compression", existing_type=sa.String(length=8), nullable=False)
            batch.alter_column("raw", existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table("bodies")
