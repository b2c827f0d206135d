"""Factor mining sessions, the per-dataset account of distinct mined expressions,
and the document store (text with publication times, per asset).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "mining_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("n_scored", sa.Integer(), nullable=False),
        sa.Column("n_generations", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("library", sa.String(500), nullable=True),
        sa.Column("holdout", sa.JSON(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("finished_at", TZ, nullable=True),
    )
    op.create_index("ix_mining_sessions_dataset", "mining_sessions", ["dataset"])
    op.create_table(
        "factor_expressions",
        sa.Column("dataset", sa.String(200), primary_key=True),
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "dataset_factor_trials",
        sa.Column("dataset", sa.String(200), primary_key=True),
        sa.Column("n_expressions", sa.Integer(), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("doc_id", sa.String(64), nullable=False, unique=True),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("published_at", TZ, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("import_file", sa.String(1000), nullable=False),
        sa.Column("imported_at", TZ, nullable=False),
    )
    op.create_index("ix_documents_asset_published", "documents", ["asset", "published_at"])
    op.create_index("ix_documents_published", "documents", ["published_at"])


def downgrade() -> None:
    op.drop_index("ix_documents_published", table_name="documents")
    op.drop_index("ix_documents_asset_published", table_name="documents")
    op.drop_table("documents")
    op.drop_table("dataset_factor_trials")
    op.drop_table("factor_expressions")
    op.drop_index("ix_mining_sessions_dataset", table_name="mining_sessions")
    op.drop_table("mining_sessions")
