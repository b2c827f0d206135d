"""Instrument metadata, corporate actions stored with their dataset, and point-in-time
universe memberships.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(200), primary_key=True),
        sa.Column("asset_class", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(12), nullable=False),
        sa.Column("multiplier", sa.Float(), nullable=False),
        sa.Column("tick_size", sa.Float(), nullable=True),
        sa.Column("lot_size", sa.Float(), nullable=True),
        sa.Column("min_notional", sa.Float(), nullable=True),
        sa.Column("expiry", sa.Date(), nullable=True),
        sa.Column("base_currency", sa.String(12), nullable=True),
        sa.Column("root", sa.String(100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "corporate_actions",
        sa.Column("dataset", sa.String(200), primary_key=True),
        sa.Column("symbol", sa.String(200), primary_key=True),
        sa.Column("date", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(10), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
    )
    op.create_table(
        "universe_members",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("universe", sa.String(200), nullable=False),
        sa.Column("symbol", sa.String(200), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
    )
    op.create_index("ix_universe_members_universe", "universe_members", ["universe"])


def downgrade() -> None:
    op.drop_index("ix_universe_members_universe", table_name="universe_members")
    op.drop_table("universe_members")
    op.drop_table("corporate_actions")
    op.drop_table("instruments")
