"""Migration 0008 adds the paper-trading tables to an existing workspace, as the models say."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from alphaloop.app import Workspace
from alphaloop.store.db import MIGRATIONS
from alphaloop.store.models import Base

TABLES = ("paper_sessions", "paper_orders", "paper_fills", "paper_positions", "paper_equity")


def test_an_older_workspace_gets_the_paper_tables(tmp_path: Path, db_settings: dict) -> None:
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
    from alphaloop.app import paper_sessions

    assert paper_sessions(ws) == []  # opening the workspace migrated it
    inspector = sa.inspect(ws.db.engine)
    for table in TABLES:
        model = Base.metadata.tables[table]
        columns = {c["name"]: c for c in inspector.get_columns(table, schema=schema)}
        assert set(columns) == {c.name for c in model.columns}, table
        for column in model.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table, column.name)
        if table != "paper_sessions":
            keys = inspector.get_foreign_keys(table, schema=schema)
            assert [(k["referred_table"], k["referred_columns"]) for k in keys] == [
                ("paper_sessions", ["id"])
            ]
    ws.close()
