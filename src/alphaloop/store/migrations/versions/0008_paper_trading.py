"""Paper trading: sessions, orders, fills, positions and the account per bar.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _session_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["session_id"], ["paper_sessions.id"], name=f"fk_{table}_session_id", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "paper_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("spec_hash", sa.String(64), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("data_version", sa.Integer(), nullable=False),
        sa.Column("data_hash", sa.String(64), nullable=False),
        sa.Column("feed", sa.String(200), nullable=False),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("n_bars", sa.Integer(), nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        sa.Column("last_bar", _TS, nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(200), nullable=True),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("reconciliations", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_index("ix_paper_sessions_spec_hash", "paper_sessions", ["spec_hash"])
    op.create_table(
        "paper_orders",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), primary_key=True),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("order_type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filled_quantity", sa.Float(), nullable=False),
        sa.Column("avg_price", sa.Float(), nullable=True),
        sa.Column("row", sa.Integer(), nullable=False),
        _session_fk("paper_orders"),
    )
    op.create_table(
        "paper_fills",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("fill_id", sa.Integer(), primary_key=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("time", _TS, nullable=False),
        sa.Column("asset", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        _session_fk("paper_fills"),
    )
    op.create_table(
        "paper_positions",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("asset", sa.String(200), primary_key=True),
        sa.Column("shares", sa.Float(), nullable=False),
        _session_fk("paper_positions"),
    )
    op.create_table(
        "paper_equity",
        sa.Column("session_id", sa.Integer(), primary_key=True),
        sa.Column("row", sa.Integer(), primary_key=True),
        sa.Column("time", _TS, nullable=False),
        sa.Column("cash", sa.Float(), nullable=False),
        sa.Column("equity", sa.Float(), nullable=False),
        _session_fk("paper_equity"),
    )


def downgrade() -> None:
    for table in ("paper_equity", "paper_positions", "paper_fills", "paper_orders"):
        op.drop_table(table)
    op.drop_index("ix_paper_sessions_spec_hash", table_name="paper_sessions")
    op.drop_table("paper_sessions")
