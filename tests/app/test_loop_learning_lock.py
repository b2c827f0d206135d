"""A learning bar trains outside its transaction: a person's kill lands at once.

The loop runs in a thread of this process; its model's training is held on an
event (so the test knows the loop is inside a learning bar's training), and
``alphaloop kill`` and ``alphaloop policy set-mode`` run from other processes
meanwhile. They must succeed while the training still holds: had the training
held the bar's transaction, they would wait for it (on SQLite fail with "database
is locked" after the busy timeout; on PostgreSQL wait on the audit log's lock).
The loop then halts at its next check. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alphaloop.app import Workspace, model_fit
from alphaloop.app.models import promote_model, train_from_spec
from alphaloop.app.run_loop import run_loop
from alphaloop.live.loop_config import LoopConfig
from alphaloop.models.spec import ModelSpec

sys.path.insert(0, str(Path(__file__).parent))
from loop_resume_support import MODEL

CONFIG = {
    "name": "lock-drill",
    "data": "sp500-stocks",
    "start": "2006-03-01",
    "end": "2006-05-31",
    "styles": ["momentum"],
    "bus": {"backend": "memory"},
    "lifecycle": {"shadow_bars": 21, "review_every": 21, "min_entry_sharpe": -5.0},
    "learning": {"model": "tiny", "every": 21,
                 "policy": {"retrain_every_days": 90, "max_age_days": 3650}},
}  # fmt: skip
FIRST_LEARNING_BAR = 21


def _workspace(root: Path, db_settings: dict[str, str]) -> Workspace:
    ws = Workspace(root, **db_settings)
    ws.data.ensure_bundled()
    v1 = train_from_spec(ws, ModelSpec.model_validate(MODEL)).version
    promote_model(ws, v1.ref, "production")
    return ws


def _cli(ws: Workspace, db_settings: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "COLUMNS": "200"}
    if db_settings:
        env["ALPHALOOP_DATABASE_URL"] = db_settings["database_url"]
        env["ALPHALOOP_DATABASE_SCHEMA"] = db_settings["database_schema"]
    return subprocess.run(  # noqa: PLW1510
        [sys.executable, "-m", "alphaloop.cli", "--workspace", str(ws.root), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


class HeldTraining:
    """Stands in for :func:`fit_from_spec`: says when a training starts, then waits for
    ``release`` before it trains."""

    def __init__(self) -> None:
        self.real = model_fit.fit_from_spec
        self.started, self.release = threading.Event(), threading.Event()
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        self.started.set()
        assert self.release.wait(120), "the test never released the training"
        return self.real(*args, **kwargs)


def test_a_kill_lands_while_the_loop_trains_and_halts_it_at_the_next_check(
    tmp_path: Path, db_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = _workspace(tmp_path / "ws", db_settings)
    held = HeldTraining()
    monkeypatch.setattr(model_fit, "fit_from_spec", held)
    config = LoopConfig.model_validate(CONFIG)
    out: dict[str, Any] = {}
    bars: list[int] = []

    def loop() -> None:
        try:
            out["result"] = run_loop(ws, config, on_bar=lambda k, _ts: bars.append(k))
        except BaseException as exc:  # reported by the test thread
            out["error"] = exc

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        assert held.started.wait(300), out.get("error")
        assert bars[-1] == FIRST_LEARNING_BAR  # inside the learning bar, training
        killed = _cli(ws, db_settings, "kill", "--reason", "drill", "--actor", "ops")
        moded = _cli(ws, db_settings, "policy", "set-mode", "defensive", "--reason", "drill",
                     "--actor", "ops")  # fmt: skip
        still_training = not held.release.is_set() and thread.is_alive()
    finally:
        held.release.set()
        thread.join(300)
    assert killed.returncode == 0, killed.stderr[-1500:]
    assert "locked" not in killed.stderr + killed.stdout
    assert "kill switch SET" in killed.stdout
    assert moded.returncode == 0, moded.stderr[-1500:]
    assert still_training
    assert "error" not in out, out.get("error")
    result = out["result"]
    index = ws.data.load("sp500-stocks").index
    at = index[int(index.searchsorted(pd.Timestamp("2006-03-01", tz="UTC"))) + FIRST_LEARNING_BAR]
    assert result.halted is not None
    assert result.halted.startswith(f"kill switch on {at:%Y-%m-%d}")
    assert result.learning == []  # the halted bar recorded no learning cycle
    assert [v.ref for v in ws.models.list(name="tiny")] == ["tiny/v1"]
    staging = ws.models.models_dir / ".staging"
    assert not staging.exists() or not any(staging.iterdir())  # the trained model discarded
    from alphaloop.execution.audit_log import AuditLog

    actions = [e.action for e in AuditLog(ws.db).entries()]
    assert actions.index("kill.set") < actions.index("loop.halted")
    ws.close()


def test_a_cycle_worked_out_before_a_person_changed_the_registry_is_worked_out_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the loop trains ``tiny/v2``, a person registers a version of ``tiny``: the
    loop's plan is stale, its trained model is dropped, and the cycle is worked out
    again from the registry as it now is (the person's version is judged)."""
    ws = _workspace(tmp_path / "ws", {})
    person = Workspace(ws.root)
    real = model_fit.fit_from_spec
    calls: list[str] = []

    def fit(w: Any, spec: Any, **kwargs: Any) -> Any:
        calls.append(spec.note)
        fitted = real(w, spec, **kwargs)
        if len(calls) == 1:  # the loop's training: a person registers a version meanwhile
            monkeypatch.setattr(model_fit, "fit_from_spec", real)
            train_from_spec(person, ModelSpec.model_validate({**MODEL, "note": "by hand"}))
        return fitted

    monkeypatch.setattr(model_fit, "fit_from_spec", fit)
    config = LoopConfig.model_validate({**CONFIG, "end": "2006-04-28"})
    result = run_loop(ws, config)
    assert len(calls) == 1
    first = result.learning[0]
    assert first["action"] in ("promoted", "archived")  # judged, not retrained
    assert first["candidate"] == "tiny/v2"
    versions = ws.models.list(name="tiny")
    assert [(v.ref, v.note) for v in versions][1] == ("tiny/v2", "by hand")
    assert len(versions) == 2
    assert not any((ws.models.models_dir / ".staging").iterdir())
    person.close()
    ws.close()
