"""Migration 0009 adds the audit, kill-switch and approval tables to an older workspace."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from alphaloop.app import Workspace
from alphaloop.execution import Governance
from alphaloop.store.db import MIGRATIONS
from alphaloop.store.models import Base

TABLES = ("audit_entries", "kill_switch_events", "approvals")


def test_an_older_workspace_gets_the_governance_tables(
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
        command.upgrade(cfg, "0007")
        assert not set(TABLES) & set(sa.inspect(conn).get_table_names(schema=schema))
    engine.dispose()
    gov = Governance.open(ws.db)
    gov.kill_switch.set("migrated", actor="ops")
    assert gov.audit.verify().n_entries == 1
    inspector = sa.inspect(ws.db.engine)
    for table in TABLES:
        model = Base.metadata.tables[table]
        columns = {c["name"]: c for c in inspector.get_columns(table, schema=schema)}
        assert set(columns) == {c.name for c in model.columns}, table
        for column in model.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table, column.name)
    ws.close()
