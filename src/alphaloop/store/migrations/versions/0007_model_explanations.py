"""Model explanations: permutation importance, SHAP and attention, stored per version.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_explanations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"], ["model_versions.id"], name="fk_model_explanations_model_id"
        ),
    )
    op.create_index("ix_model_explanations_model_id", "model_explanations", ["model_id"])


def downgrade() -> None:
    op.drop_index("ix_model_explanations_model_id", table_name="model_explanations")
    op.drop_table("model_explanations")
