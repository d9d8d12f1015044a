"""bodies against a base: a body may be stored as a delta of another (standalone) body

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 16:30:00.000000

``bodies.base`` names the body a row is compressed against (``compression = 'zstd'``: a zstd frame whose
prefix is the base's bytes, ``watcher.models.encode_body_data``); NULL for the standalone rows, which are
all the rows stored before: the upgrade only adds the column (on SQLite an ``ADD COLUMN`` with its
reference, no copy of the table). The downgrade stores every delta standalone again (zlib 6, as before),
``BATCH`` rows at a time by SHA-256 so that neither memory nor one statement grows with the store, then
drops the column (on SQLite by a copy of the table: a column with a reference cannot be dropped in
place).
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

BATCH = 200


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference in place (ALTER TABLE cannot add a named constraint).
        op.execute("ALTER TABLE bodies ADD COLUMN base VARCHAR(64) "
                   "CONSTRAINT fk_bodies_base_bodies REFERENCES bodies (sha256)")  # fmt: skip
    else:
        op.add_column("bodies", sa.Column("base", sa.String(length=64), nullable=True))
        op.create_foreign_key(op.f("fk_bodies_base_bodies"), "bodies", "bodies", ["base"], ["sha256"])


def downgrade() -> None:
    from watcher.models import decode_body_data

    def base_bytes(kind: str, data: bytes) -> bytes:
        return decode_body_data(kind, data, None)

    bind = op.get_bind()
    after = ""
    while True:
        rows = bind.execute(
            sa.text("SELECT d.sha256, d.compression, d.data, b.compression, b.data FROM bodies d "
                    "JOIN bodies b ON b.sha256 = d.base WHERE d.base IS NOT NULL AND d.sha256 > :after "
                    "ORDER BY d.sha256 LIMIT :batch"),
            {"after": after, "batch": BATCH},
        ).all()  # fmt: skip
        if not rows:
            break
        bind.execute(
            sa.text("UPDATE bodies SET compression = 'zlib', data = :data, base = NULL WHERE sha256 = :sha256"),
            [
                {"sha256": sha256, "data": zlib.compress(decode_body_data(kind, data, base_bytes(base_kind, base)), 6)}
                for sha256, kind, data, base_kind, base in rows
            ],
        )
        after = rows[-1][0]
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("bodies") as batch:  # a copy of the table: its reference goes with it
            batch.drop_column("base")
    else:
        op.drop_constraint(op.f("fk_bodies_base_bodies"), "bodies", type_="foreignkey")
        op.drop_column("bodies", "base")
