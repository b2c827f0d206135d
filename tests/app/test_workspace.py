"""Workspace resolution, settings, database migrations on SQLite and PostgreSQL, run log."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from alphaloop.app import Workspace
from alphaloop.errors import ConfigError, StoreError
from alphaloop.settings import Settings
from alphaloop.store import Database


def test_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ALPHALOOP_HOME", raising=False)
    assert Workspace().root == (tmp_path / ".alphaloop").resolve()
    monkeypatch.setenv("ALPHALOOP_HOME", str(tmp_path / "from-env"))
    assert Workspace().root == (tmp_path / "from-env").resolve()
    assert Workspace(tmp_path / "explicit").root == (tmp_path / "explicit").resolve()


def test_database_url_defaults_to_sqlite_in_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ALPHALOOP_DATABASE_URL", raising=False)
    ws = Workspace(tmp_path / "w")
    assert ws.database_url == f"sqlite:///{tmp_path.resolve() / 'w' / 'alphaloop.db'}"
    monkeypatch.setenv("ALPHALOOP_DATABASE_URL", "sqlite:////elsewhere.db")
    assert Workspace(tmp_path / "w").database_url == "sqlite:////elsewhere.db"


def test_unknown_or_invalid_setting_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no_such_setting"):
        Workspace(tmp_path, settings=Settings(), no_such_setting=1)
    with pytest.raises(ConfigError, match="database_url"):
        Workspace(tmp_path, database_url=["not", "a", "string"])


def test_workspace_on_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        Workspace(f)


def test_two_workspaces_do_not_share_state(tmp_path: Path) -> None:
    a = Workspace(tmp_path / "a")
    b = Workspace(tmp_path / "b")
    with a.runs.start("demo") as run:
        run.result = {"x": 1}
    assert len(a.runs.list()) == 1
    assert b.runs.list() == []


def test_schema_is_migrated_on_first_use(workspace: Workspace) -> None:
    engine = workspace.db.engine
    names = set(sa.inspect(engine).get_table_names(schema=workspace.settings.database_schema))
    assert {
        "datasets",
        "imports",
        "runs",
        "holdouts",
        "model_versions",
        "model_usage",
        "model_stage_changes",
        "model_alerts",
        "research_sessions",
        "strategies",
        "strategy_parents",
        "evaluations",
        "dataset_trials",
        "agent_decisions",
        "mining_sessions",
        "factor_expressions",
        "dataset_factor_trials",
        "documents",
        "model_explanations",
        "paper_sessions",
        "paper_orders",
        "paper_fills",
        "paper_positions",
        "paper_equity",
        "audit_entries",
        "kill_switch_events",
        "approvals",
        "policy_changes",
        "strategy_states",
        "lifecycle_transitions",
        "paper_decisions",
        "paper_bars",
        "instruments",
        "corporate_actions",
        "universe_members",
        "loop_checkpoints",
        "alembic_version",
    } <= names
    with engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == "0014"


def test_migration_is_idempotent_across_reopen(tmp_path: Path, db_settings: dict) -> None:
    ws = Workspace(tmp_path / "ws", **db_settings)
    with ws.runs.start("first"):
        pass
    ws.close()
    again = Workspace(tmp_path / "ws", **db_settings)
    assert [r["kind"] for r in again.runs.list()] == ["first"]
    again.close()


def test_run_log_records_success_and_failure(workspace: Workspace) -> None:
    with workspace.runs.start("ok", {"k": 1}) as run:
        run.result = {"answer": 42}
        run.data_hashes = {"d": "abc"}
    with pytest.raises(RuntimeError), workspace.runs.start("bad"):
        raise RuntimeError("boom")
    runs = workspace.runs.list()
    assert [r["status"] for r in runs] == ["failed", "succeeded"]
    assert runs[0]["error"] == "RuntimeError: boom"
    assert runs[1]["result"] == {"answer": 42}
    assert runs[1]["params"] == {"k": 1}
    assert runs[1]["data_hashes"] == {"d": "abc"}
    assert runs[1]["finished_at"] is not None
    assert workspace.runs.list(kind="ok")[0]["kind"] == "ok"


def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="cannot connect"):
        _ = db.engine


def test_bad_database_url_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot use database URL"):
        _ = Database("nosuchdialect://x").engine
