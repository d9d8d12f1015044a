"""extraction: per-source CSS selectors, the extraction doubt on checks and text versions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 12:00:00.000000

``sources.selectors`` ({"select": [...], "drop": [...]}) and ``sources.selectors_key`` (their
``Selectors.key``; a source's texts are stored under ``extractor_version(selectors)``);
``checks.extraction_doubt`` and ``text_versions.extraction_doubt`` keep ``Extracted.doubt``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("selectors", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("selectors_key", sa.String(length=16), nullable=True))
    with op.batch_alter_table("checks") as batch:
        batch.add_column(sa.Column("extraction_doubt", sa.Text(), nullable=True))
    # Plain ALTER TABLE (SQLite 3.35+ drops columns too): a batch copy of text_versions would lose
    # the full-text index's triggers of migration 0004.
    op.add_column("text_versions", sa.Column("extraction_doubt", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("text_versions", "extraction_doubt")
    with op.batch_alter_table("checks") as batch:
        batch.drop_column("extraction_doubt")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("selectors_key")
        batch.drop_column("selectors")
