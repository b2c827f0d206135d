"""Migration 0009 adds the audit, kill-switch and approval tables to an older workspace."""

from __future__ import annotations

from pathlib import Path

from alphaloop.app import Workspace
from alphaloop.execution import Governance

from .migrations import assert_tables_match_models, upgrade_to

TABLES = ("audit_entries", "kill_switch_events", "approvals")


def test_an_older_workspace_gets_the_governance_tables(
    tmp_path: Path, db_settings: dict[str, str]
) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    before = upgrade_to(ws, "0008")  # the revision before governance: paper trading
    assert "paper_sessions" in before
    assert not set(TABLES) & before
    gov = Governance.open(ws.db)
    gov.kill_switch.set("migrated", actor="ops")
    assert gov.audit.verify().n_entries == 1
    assert_tables_match_models(ws, TABLES)
    ws.close()
