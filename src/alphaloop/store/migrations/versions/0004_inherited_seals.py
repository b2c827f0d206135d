"""Holdouts inherited by imports that copy sealed rows of another dataset.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("holdouts") as batch:
        batch.add_column(sa.Column("inherited_from", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("holdouts") as batch:
        batch.drop_column("inherited_from")
