"""What the migration tests share: a workspace's database held at an older revision, and
the check that migrated tables have the columns the models say."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from alphaloop.app import Workspace
from alphaloop.store.db import MIGRATIONS
from alphaloop.store.models import Base


def upgrade_to(
    ws: Workspace, revision: str, then: Callable[[sa.Connection], None] | None = None
) -> set[str]:
    """Migrate ``ws``'s (still empty) database to ``revision`` only; return its tables.

    ``then`` runs on the same connection afterwards (e.g. to insert old rows).
    Opening the workspace's database later migrates it to the head.
    """
    schema = ws.settings.database_schema
    engine = sa.create_engine(
        ws.database_url, connect_args={"options": f"-csearch_path={schema}"} if schema else {}
    )
    with engine.begin() as conn:
        if schema:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if then is not None:
            then(conn)
        tables = set(sa.inspect(conn).get_table_names(schema=schema))
    engine.dispose()
    return tables


def assert_tables_match_models(ws: Workspace, tables: Iterable[str]) -> sa.Inspector:
    """Every table has exactly the models' columns, nullable as the models say."""
    inspector = sa.inspect(ws.db.engine)
    schema = ws.settings.database_schema
    for table in tables:
        model = Base.metadata.tables[table]
        columns = {c["name"]: c for c in inspector.get_columns(table, schema=schema)}
        assert set(columns) == {c.name for c in model.columns}, table
        for column in model.columns:
            assert columns[column.name]["nullable"] == column.nullable, (table, column.name)
    return inspector
