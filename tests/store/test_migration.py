"""Migration 0004 upgrades a workspace made before it and keeps its holdouts (and the
later migrations then take it to the latest revision)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from alphaloop.app import Workspace
from alphaloop.store.db import MIGRATIONS


def test_an_older_workspace_is_upgraded_with_its_holdouts(
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
        command.upgrade(cfg, "0003")
        conn.exec_driver_sql(
            "INSERT INTO holdouts (dataset, fraction, boundary, sealed_at, note, results) "
            "VALUES ('old', 0.2, '2016-05-03 00:00:00+00:00', '2026-01-01 00:00:00+00:00', "
            "'', '{}')"
        )
    engine.dispose()
    info = ws.data.holdouts.get("old")  # opening the workspace migrates it
    assert info is not None
    assert info.fraction == 0.2
    assert f"{info.boundary:%Y-%m-%d}" == "2016-05-03"
    assert info.inherited_from is None
    with ws.db.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == ScriptDirectory.from_config(cfg).get_current_head()
    ws.close()
