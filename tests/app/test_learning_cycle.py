"""A learning manager replayed on the bundled stocks: retrain, shadow, judge, audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.learning import learning_cycle
from alphaloop.app.models import promote_model, train_from_spec
from alphaloop.execution.audit_log import AuditLog
from alphaloop.live.learning import LearningError, LearningPolicy
from alphaloop.models.spec import ModelSpec

SPEC = {
    "name": "tiny",
    "data": "sp500-stocks",
    "start": "1995-01-01",
    "end": "1999-12-31",
    "features": {"mom20": "$close / Ref($close, 20) - 1", "rev5": "Ref($close, 5) / $close - 1"},
    "label": {"horizon": 5},
    "model": {"family": "ridge"},
    "training": {"n_splits": 3},
}
POLICY = LearningPolicy(retrain_every_days=60, max_age_days=365, shadow_days=90)


def test_a_model_is_retrained_shadowed_and_judged(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    try:
        ws.data.ensure_bundled()
        with pytest.raises(LearningError, match="no production version"):
            learning_cycle(ws, "tiny", as_of="2000-03-31")
        v1 = train_from_spec(ws, ModelSpec.model_validate(SPEC)).version
        promote_model(ws, v1.ref, "production")

        early = learning_cycle(ws, "tiny", as_of="2000-01-31", policy=POLICY)
        assert early.action == "none"
        assert early.retrain.age_days < 60

        due = learning_cycle(ws, "tiny", as_of="2000-03-31", policy=POLICY)
        assert due.action == "retrained"
        assert any("scheduled" in r for r in due.retrain.reasons)
        v2 = ws.models.get(due.new_version)
        assert v2.stage == "candidate"
        assert v2.supersedes == v1.ref
        assert v2.label_end.date().isoformat() <= "2000-03-31"  # nothing after as_of was read

        waiting = learning_cycle(ws, "tiny", as_of="2000-05-31", policy=POLICY)
        assert waiting.action == "shadowing"
        assert waiting.candidate == v2.ref

        judged = learning_cycle(ws, "tiny", as_of="2000-09-29", policy=POLICY)
        assert judged.action in ("promoted", "archived")
        assert judged.promotion.comparison["n_common"] > 20
        after = ws.models.get(v2.ref).stage
        assert after == ("production" if judged.action == "promoted" else "archived")

        log = AuditLog(ws.db)
        actions = [e.action for e in log.entries()]
        assert actions.count("learning.cycle") == 4
        assert "model.retrained" in actions
        assert "learning.judged" in actions
        promoted = [json.loads(e.payload) for e in log.entries(action="model.promoted")]
        assert promoted[-1]["to"] == ("production" if judged.action == "promoted" else "archived")
        assert list(log.entries(action="model.promoted"))[-1].actor == "learning-manager"
        last = json.loads(list(log.entries(action="learning.cycle"))[-1].payload)
        assert last["action"] == judged.action
        assert log.verify().ok
    finally:
        ws.close()
