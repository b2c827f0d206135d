"""Migration 0007 adds model_explanations to a workspace that already has model versions."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from alphaloop.app import Workspace
from alphaloop.store.db import MIGRATIONS
from alphaloop.store.models import Base

_VERSION = (
    "INSERT INTO model_versions (name, version, ref, family, task, features, feature_family, "
    "target, label, params, dataset, dataset_hash, code_version, metrics, stage, note, "
    "artifact_path, artifact_sha256, created_at) VALUES ('old', 1, 'old/v1', 'ridge', "
    "'regression', '[\"ROC5\"]', 'custom', 'forward_return', '{}', '{}', 'd', 'h', '0', "
    "'{}', 'candidate', '', '/nowhere', 'x', '2026-01-01 00:00:00+00:00')"
)


def test_an_older_workspace_gets_the_explanations_table(
    tmp_path: Path, db_settings: dict[str, str]
) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    url, schema = ws.database_url, ws.settings.database_schema
    engine = sa.create_engine(
        url, connect_args={"options": f"-csearch_path={schema}"} if schema else {}
    )
    with engine.begin() as conn:
        if schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        conn.exec_driver_sql(_VERSION)
        assert "model_explanations" not in sa.inspect(conn).get_table_names(schema=schema)
    engine.dispose()
    saved = ws.models.record_explanation("old/v1", "permutation", {"baseline": 0.1})
    assert [e.id for e in ws.models.explanations("old")] == [saved.id]
    with ws.db.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == ScriptDirectory.from_config(cfg).get_current_head()
    inspector = sa.inspect(ws.db.engine)
    model = Base.metadata.tables["model_explanations"]
    columns = {c["name"]: c for c in inspector.get_columns("model_explanations", schema=schema)}
    assert set(columns) == {c.name for c in model.columns}
    for column in model.columns:
        assert columns[column.name]["nullable"] == column.nullable, column.name
    keys = inspector.get_foreign_keys("model_explanations", schema=schema)
    assert [(k["referred_table"], k["referred_columns"]) for k in keys] == [
        ("model_versions", ["id"])
    ]
    ws.close()
