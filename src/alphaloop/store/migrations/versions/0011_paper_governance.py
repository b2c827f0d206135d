"""Paper and live sessions behind the gate: autonomy level and mode of a session, the
gate's decisions (replayed after a restart) and the bars a live feed delivered.

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"], ["paper_sessions.id"], name=f"fk_{table}_session_id", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("paper_sessions") as batch:
        batch.add_column(sa.Column("autonomy", sa.String(4), nullable=False, server_default="L3"))
        batch.add_column(sa.Column("mode", sa.String(8), nullable=False, server_default="paper"))
        batch.add_column(sa.Column("limits_set_by", sa.String(200), nullable=True))
    op.create_table(
        "paper_decisions",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("step", sa.Integer(), primary_key=True),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(12), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("approval_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        _session_fk("paper_decisions"),
    )
    op.create_table(
        "paper_bars",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("row", sa.Integer(), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("close", sa.Float(), nullable=False),
        sa.Column("volume", sa.Float(), nullable=False),
        _session_fk("paper_bars"),
    )


def downgrade() -> None:
    op.drop_table("paper_bars")
    op.drop_table("paper_decisions")
    with op.batch_alter_table("paper_sessions") as batch:
        batch.drop_column("limits_set_by")
        batch.drop_column("mode")
        batch.drop_column("autonomy")
