"""Migration 0011 gives paper sessions an autonomy level and a mode (old sessions: L3,
paper) and adds the gate's decisions and a live feed's bars."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from alphaloop.app import Workspace, paper_store

from .migrations import assert_tables_match_models, upgrade_to

TABLES = ("paper_sessions", "paper_decisions", "paper_bars")


def _old_session(conn: sa.Connection) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    conn.execute(sa.text(
        "INSERT INTO paper_sessions (id, name, spec, spec_hash, dataset, data_version, "
        "data_hash, feed, status, position, n_bars, first_row, cash, equity, stop_requested, "
        "restarts, reconciliations, created_at, updated_at) VALUES (1, 'old', '{}', 'h', "
        "'sp500-stocks', 1, 'd', 'replay:sp500-stocks', 'stopped', 3, 10, 0, 1.0, 1.0, "
        ":f, 0, '[]', :now, :now)"), {"f": False, "now": now})  # fmt: skip


def test_an_older_workspace_gets_levels_decisions_and_bars(
    tmp_path: Path, db_settings: dict
) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    before = upgrade_to(ws, "0009", _old_session)
    assert "paper_sessions" in before
    assert not {"paper_decisions", "paper_bars"} & before
    old = paper_store(ws).get(1)  # opening the workspace migrated it
    assert (old.autonomy, old.mode, old.limits_set_by) == ("L3", "paper", None)
    inspector = assert_tables_match_models(ws, TABLES)
    for table in TABLES[1:]:
        keys = inspector.get_foreign_keys(table, schema=ws.settings.database_schema)
        assert [(k["referred_table"], k["referred_columns"]) for k in keys] == [
            ("paper_sessions", ["id"])
        ]
    ws.close()
