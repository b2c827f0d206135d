"""Model registry: versions, usage, stage audit, monitoring alerts.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
PRODUCTION = sa.text("stage = 'production'")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(220), nullable=False),
        sa.Column("family", sa.String(100), nullable=False),
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("feature_family", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("label", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("train_start", TZ, nullable=True),
        sa.Column("train_end", TZ, nullable=True),
        sa.Column("label_end", TZ, nullable=True),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=True),
        sa.Column("dataset_hash", sa.String(64), nullable=False),
        sa.Column("code_version", sa.String(100), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("supersedes", sa.String(220), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("artifact_path", sa.String(1000), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        sa.UniqueConstraint("ref", name="uq_model_versions_ref"),
        sa.ForeignKeyConstraint(
            ["supersedes"], ["model_versions.ref"], name="fk_model_versions_supersedes"
        ),
    )
    op.create_index("ix_model_versions_name", "model_versions", ["name"])
    op.create_index("ix_model_versions_family", "model_versions", ["family"])
    op.create_index("ix_model_versions_feature_family", "model_versions", ["feature_family"])
    op.create_index("ix_model_versions_target", "model_versions", ["target"])
    op.create_index(
        "uq_model_versions_one_production",
        "model_versions",
        ["name"],
        unique=True,
        sqlite_where=PRODUCTION,
        postgresql_where=PRODUCTION,
    )
    op.create_table(
        "model_usage",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_ref", sa.String(220), nullable=False),
        sa.Column("strategy_hash", sa.String(64), nullable=False),
        sa.Column("strategy_name", sa.String(200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("sharpe", sa.Float(), nullable=True),
        sa.Column("recorded_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_ref"], ["model_versions.ref"], name="fk_model_usage_model_ref"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_model_usage_run_id", ondelete="SET NULL"
        ),
    )
    op.create_index("ix_model_usage_model_ref", "model_usage", ["model_ref"])
    op.create_index("ix_model_usage_strategy_hash", "model_usage", ["strategy_hash"])
    op.create_table(
        "model_stage_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_ref", sa.String(220), nullable=False),
        sa.Column("from_stage", sa.String(20), nullable=True),
        sa.Column("to_stage", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_ref"], ["model_versions.ref"], name="fk_model_stage_changes_model_ref"
        ),
    )
    op.create_index("ix_model_stage_changes_model_ref", "model_stage_changes", ["model_ref"])
    op.create_table(
        "model_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model_ref", sa.String(220), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("metric", sa.String(200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["model_ref"], ["model_versions.ref"], name="fk_model_alerts_model_ref"
        ),
    )
    op.create_index("ix_model_alerts_model_ref", "model_alerts", ["model_ref"])


def downgrade() -> None:
    op.drop_table("model_alerts")
    op.drop_table("model_stage_changes")
    op.drop_table("model_usage")
    op.drop_table("model_versions")
