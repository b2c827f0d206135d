"""The live loop replayed on the bundled stocks through 2008: the audit log tells the story.

Strategies enter shadow and go live, the crash flips the risk mode to defensive, a
drawdown retires a strategy, the learning manager retrains a model, and a kill halts
everything; the audit chain verifies at the end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.governance import set_kill
from alphaloop.app.models import promote_model, train_from_spec
from alphaloop.app.policy import set_mode_settings
from alphaloop.app.run_loop import run_loop
from alphaloop.errors import ConfigError
from alphaloop.execution.audit_log import AuditLog
from alphaloop.live.bus.catalog import ModelReleased  # noqa: F401  (registered event types)
from alphaloop.live.lifecycle_store import LifecycleStore
from alphaloop.live.loop_config import LoopConfig
from alphaloop.models.spec import ModelSpec

MODEL = {
    "name": "tiny",
    "data": "sp500-stocks",
    "start": "2001-01-01",
    "end": "2005-12-30",
    "features": {"mom20": "$close / Ref($close, 20) - 1", "rev5": "Ref($close, 5) / $close - 1"},
    "label": {"horizon": 5},
    "model": {"family": "ridge"},
    "training": {"n_splits": 3},
}
CONFIG = {
    "name": "crisis-drill",
    "data": "sp500-stocks",
    "start": "2006-03-01",
    "end": "2009-12-31",
    "styles": ["momentum", "mean_reversion", "breakout"],
    "lifecycle": {"shadow_bars": 42, "review_every": 21, "min_entry_sharpe": -5.0},
    "learning": {
        "model": "tiny",
        "every": 126,
        "policy": {"retrain_every_days": None, "max_age_days": 3650, "shadow_days": 120},
    },
}
KILL_AT = 800  # bars into the run (May 2009)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory):
    ws = Workspace(tmp_path_factory.mktemp("loop") / "ws")
    ws.data.ensure_bundled()
    v1 = train_from_spec(ws, ModelSpec.model_validate(MODEL)).version
    promote_model(ws, v1.ref, "production")
    # a person's policy: in defensive mode a 12% drawdown retires a strategy
    set_mode_settings(
        ws, "defensive", thresholds=["retire_drawdown=0.12", "demote_drawdown=0.08"],
        actor="risk officer", reason="crisis drill",
    )  # fmt: skip

    def on_bar(k: int, ts) -> None:
        if k == KILL_AT:
            set_kill(
                ws, scope="all", target=None, reason="drill: halt everything", clear=False,
                actor="tester",
            )  # fmt: skip

    result = run_loop(ws, LoopConfig.model_validate(CONFIG), on_bar=on_bar)
    yield ws, result
    ws.close()


def test_strategies_move_through_the_lifecycle(story) -> None:
    ws, result = story
    moves = {(t["strategy"], t["from"], t["to"]) for t in result.transitions}
    assert {(s, "backtest", "shadow") for s in CONFIG["styles"]} <= moves
    assert any(to == "live" for _, _, to in moves)
    assert any(frm == "live" and to == "shadow" for _, frm, to in moves)  # demoted
    retired = [t for t in result.transitions if t["to"] == "retired"]
    assert retired
    assert "retirement threshold 12.00%" in retired[0]["reason"]
    stored = LifecycleStore(ws.db, AuditLog(ws.db)).transitions()
    assert len(stored) == len(result.transitions)


def test_the_crash_flips_the_risk_mode(story) -> None:
    ws, result = story
    assert result.modes.get("DEFENSIVE", 0) > 20
    log = AuditLog(ws.db)
    changes = [json.loads(e.payload) for e in log.entries(action="controller.decision")]
    crash = [c for c in changes if c["at"].startswith("2008-10")]
    assert crash
    assert {c["mode"] for c in crash} == {"DEFENSIVE"}


def test_learning_retrains_and_a_kill_halts(story) -> None:
    ws, result = story
    assert any(item["action"] == "retrained" for item in result.learning)
    assert result.halted is not None
    assert "drill: halt everything" in result.halted
    assert result.bars == KILL_AT + 1
    actions = [e.action for e in AuditLog(ws.db).entries()]
    for expected in ("loop.started", "lifecycle.promoted", "controller.decision",
                     "model.retrained", "kill.set", "loop.halted", "loop.finished"):  # fmt: skip
        assert expected in actions, expected
    assert actions.index("loop.halted") > actions.index("kill.set")
    assert AuditLog(ws.db).verify().ok


def test_a_bad_configuration_is_named(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    try:
        ws.data.ensure_bundled()
        with pytest.raises(ConfigError, match="entry gate reads 252"):
            run_loop(ws, LoopConfig.model_validate({**CONFIG, "start": "1990-03-01",
                                                    "learning": None}))  # fmt: skip
        with pytest.raises(ConfigError, match="controller: unknown settings"):
            run_loop(ws, LoopConfig.model_validate({**CONFIG, "controller": {"speed": 2},
                                                    "learning": None}))  # fmt: skip
    finally:
        ws.close()
    with pytest.raises(ValueError, match="must be after start"):
        LoopConfig.model_validate({**CONFIG, "end": "2006-01-01"})
