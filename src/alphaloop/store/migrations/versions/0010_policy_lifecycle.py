"""Policy store and strategy lifecycle: policy changes, strategy states and their transitions.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_changes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("change", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
    )
    op.create_table(
        "strategy_states",
        sa.Column("strategy_hash", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transition_id", sa.Integer(), nullable=False),
        sa.Column("paper_session_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_strategy_states_state", "strategy_states", ["state"])
    op.create_table(
        "lifecycle_transitions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("strategy_hash", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=False),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
    )
    op.create_index(
        "ix_lifecycle_transitions_strategy_hash", "lifecycle_transitions", ["strategy_hash"]
    )


def downgrade() -> None:
    op.drop_index("ix_lifecycle_transitions_strategy_hash", table_name="lifecycle_transitions")
    op.drop_table("lifecycle_transitions")
    op.drop_index("ix_strategy_states_state", table_name="strategy_states")
    op.drop_table("strategy_states")
    op.drop_table("policy_changes")
