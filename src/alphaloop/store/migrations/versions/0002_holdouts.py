"""Sealed holdouts of datasets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "holdouts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("fraction", sa.Float(), nullable=False),
        sa.Column("boundary", TZ, nullable=True),
        sa.Column("sealed_at", TZ, nullable=False),
        sa.Column("unsealed_at", TZ, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("trials_before", sa.Integer(), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.UniqueConstraint("dataset", name="uq_holdouts_dataset"),
    )


def downgrade() -> None:
    op.drop_table("holdouts")
