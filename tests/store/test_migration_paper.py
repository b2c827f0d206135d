"""Migration 0008 adds the paper-trading tables to an existing workspace, as the models say."""

from __future__ import annotations

from pathlib import Path

from alphaloop.app import Workspace

from .migrations import assert_tables_match_models, upgrade_to

TABLES = ("paper_sessions", "paper_orders", "paper_fills", "paper_positions", "paper_equity")


def test_an_older_workspace_gets_the_paper_tables(tmp_path: Path, db_settings: dict) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    assert not set(TABLES) & upgrade_to(ws, "0007")
    from alphaloop.app import paper_sessions

    assert paper_sessions(ws) == []  # opening the workspace migrated it
    inspector = assert_tables_match_models(ws, TABLES)
    for table in TABLES[1:]:
        keys = inspector.get_foreign_keys(table, schema=ws.settings.database_schema)
        assert [(k["referred_table"], k["referred_columns"]) for k in keys] == [
            ("paper_sessions", ["id"])
        ]
    ws.close()
