"""Migration 0010 adds the policy and lifecycle tables to an older workspace."""

from __future__ import annotations

from pathlib import Path

from alphaloop.app import Workspace
from alphaloop.app.lifecycle import lifecycle_store
from alphaloop.app.policy import policy_store
from alphaloop.backtest import quick_spec
from alphaloop.live.lifecycle import LifecycleEvent, LifecycleState

from .migrations import assert_tables_match_models, upgrade_to

TABLES = ("policy_changes", "strategy_states", "lifecycle_transitions")


def test_an_older_workspace_gets_the_policy_and_lifecycle_tables(
    tmp_path: Path, db_settings: dict[str, str]
) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    before = upgrade_to(ws, "0009")  # the revision before: governance
    assert "audit_entries" in before
    assert not set(TABLES) & before
    policy_store(ws).set_mode("defensive", actor="ops", reason="migrated")
    spec = quick_spec("Ref($close, 1) / Ref($close, 21) - 1", "sp500-stocks", top_k=2)
    ws.strategies.record_strategy(spec)
    lifecycle_store(ws).apply(spec.hash, LifecycleEvent.RETIRE, expected=LifecycleState.BACKTEST,
                              actor="ops", reason="migrated")  # fmt: skip
    assert policy_store(ws).current().version == 1
    inspector = assert_tables_match_models(ws, TABLES)
    indexes = {i["name"] for t in TABLES for i in inspector.get_indexes(
        t, schema=ws.settings.database_schema)}  # fmt: skip
    assert {"ix_strategy_states_state", "ix_lifecycle_transitions_strategy_hash"} <= indexes
    ws.close()
