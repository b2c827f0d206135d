"""The strategy lifecycle on a real workspace: every gate can fail, every move is audited."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from alphaloop.app import Workspace, open_paper, run_backtest, run_paper
from alphaloop.app.lifecycle import demote, lifecycle_list, lifecycle_store, promote, retire, review
from alphaloop.app.policy import block, policy_store
from alphaloop.backtest import StrategySpec, quick_spec
from alphaloop.execution import AuditLog
from alphaloop.execution.approvals import ApprovalQueue
from alphaloop.live.lifecycle import (
    LifecycleError,
    LifecycleEvent,
    LifecycleState,
    PromotionRefusedError,
)
from alphaloop.validation import deflated_sharpe_ratio

EXPR = "Ref($close, 1) / Ref($close, 61) - 1"
S = LifecycleState


def _spec(k: int = 4) -> StrategySpec:
    base = quick_spec(EXPR, "sp500-stocks", top_k=k, rebalance="weekly")
    doc = {**base.model_dump(mode="json"), "fills": "next_close", "start": "2019-01-01",
           "end": "2020-06-30"}  # fmt: skip
    return StrategySpec.from_dict(doc)


def _verdict(ws: Workspace, spec: StrategySpec, passed: bool) -> None:
    """A gate's verdict on the strategy's recorded backtest, as a research session stores it."""
    reasons = ["deflated Sharpe ratio 0.97 >= 0.95"] if passed else ["pbo 0.8 above 0.5"]
    n = ws.strategies.n_trials(spec.data)
    ws.strategies.set_verdict(
        spec.hash, "backtest", {"passed": passed, "reasons": reasons, "n_trials": n}, passed
    )


def _settings(ws: Workspace, **thresholds: float) -> None:
    policy_store(ws).set_mode_settings("normal", thresholds=thresholds, actor="risk-officer",
                                       reason="test thresholds")  # fmt: skip


def _refused(ws: Workspace, h: str, to: str, **kw: object) -> dict[str, bool]:
    with pytest.raises(PromotionRefusedError) as info:
        promote(ws, h, to, actor="quant", **kw)  # type: ignore[arg-type]
    return {g.name: g.passed for g in info.value.gates}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    w.data.ensure_bundled()
    yield w  # type: ignore[misc]
    w.close()


def test_backtest_to_live_through_every_gate_then_demotion_and_retirement(
    ws: Workspace,
) -> None:
    spec = _spec()
    run_backtest(ws, spec)  # a trial, with its returns stored
    h = spec.hash
    with pytest.raises(LifecycleError, match="from backtest to live: a strategy reaches live"):
        promote(ws, h, "live", actor="quant")
    # shadow needs a passed validation verdict
    assert _refused(ws, h, "shadow") == {"policy": True, "validation": False}
    _verdict(ws, spec, passed=False)
    assert _refused(ws, h, "shadow") == {"policy": True, "validation": False}
    _verdict(ws, spec, passed=True)
    moved = promote(ws, h, "shadow", actor="quant")
    assert (moved.from_state, moved.to_state) == (S.BACKTEST, S.SHADOW)
    assert lifecycle_store(ws).get(h).state is S.SHADOW

    # live: no shadow trading yet
    gates = _refused(ws, h, "live")
    assert (gates["shadow_period"], gates["tracking"]) == (False, False)
    assert "approval" not in gates  # a person is asked only when every other gate passes
    info, _ = open_paper(ws, spec)
    run_paper(ws, info.id)
    # a revalidation that failed, too short a shadow period, a DSR below the bar, and one
    # recorded day moved away from the backtest: all four gates say so at once
    _verdict(ws, spec, passed=False)
    _settings(ws, min_shadow_bars=100_000, min_dsr=1.0)
    with ws.db.engine.begin() as conn:
        row = conn.execute(sa.text("SELECT row, equity FROM paper_equity WHERE session_id = :s "
                                   "ORDER BY row DESC LIMIT 1"), {"s": info.id}).one()  # fmt: skip
        conn.execute(
            sa.text("UPDATE paper_equity SET equity = :e WHERE session_id = :s AND row = :r"),
            {"e": row.equity * 1.01, "s": info.id, "r": row.row},
        )
    gates = _refused(ws, h, "live")
    assert gates == {
        "policy": True,
        "validation": False,
        "shadow_period": False,
        "tracking": False,
        "dsr": False,
    }
    with ws.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE paper_equity SET equity = :e WHERE session_id = :s AND row = :r"),
            {"e": row.equity, "s": info.id, "r": row.row},
        )
    _verdict(ws, spec, passed=True)
    # the DSR uses the dataset's trial count now: another trial lowers it
    _settings(ws, min_shadow_bars=20, min_dsr=0.0)
    run_backtest(ws, _spec(k=5))
    # every other gate passes: L1 never goes live, L2 asks a person
    assert _refused(ws, h, "live", autonomy="L1")["approval"] is False
    with pytest.raises(PromotionRefusedError, match=r"request \d+ waits") as refused:
        promote(ws, h, "live", actor="quant")
    queue = ApprovalQueue(ws.db, AuditLog(ws.db))
    (pending,) = queue.list("pending")
    assert pending.order["strategy"] == h
    assert pending.order["to"] == "live"
    names = {g.name for g in refused.value.gates}
    assert names == {"policy", "validation", "shadow_period", "tracking", "dsr", "approval"}
    promote_again = _refused(ws, h, "live")  # the same request still waits, no second one
    assert promote_again["approval"] is False
    assert len(queue.list("pending")) == 1
    queue.approve(pending.id, actor="cio", reason="reviewed the shadow record")
    live = promote(ws, h, "live", actor="quant")
    assert (live.from_state, live.to_state) == (S.SHADOW, S.LIVE)
    assert queue.get(pending.id).status == "sent"
    inputs = live.inputs
    assert inputs["session"] == info.id
    assert inputs["approved_by"] == "cio"
    assert inputs["tracking"]["max_abs_tracking_difference"] <= 1e-9
    dsr = inputs["dsr"]
    assert dsr["n_trials"] == ws.strategies.n_trials(spec.data) == 2
    r = ws.strategies.evaluation(h, "backtest").returns.astype(float)  # type: ignore[union-attr]
    r = r[np.isfinite(r)]
    sd = r.std()
    expected = deflated_sharpe_ratio(
        r.mean() / r.std(ddof=1), 2, ws.strategies.trial_sharpe_stats(spec.data)[2], len(r),
        float(((r - r.mean()) ** 3).mean() / sd**3), float(((r - r.mean()) ** 4).mean() / sd**4),
    ).dsr  # fmt: skip
    assert math.isclose(dsr["dsr"], expected, rel_tol=1e-9)
    assert lifecycle_list(ws)[0]["state"] == "live"
    assert lifecycle_list(ws)[0]["paper_session_id"] == info.id

    # the policy blocks it: the review demotes it to shadow (drawdowns set out of the way)
    _settings(ws, demote_drawdown=0.9, retire_drawdown=0.95)
    block(ws, h[:10], kind="strategy", actor="risk-officer", reason="crowded trade")
    decision, record = review(ws, h)
    assert decision is not None
    assert record is not None
    assert (record.from_state, record.to_state) == (S.LIVE, S.SHADOW)
    assert "blocked by the policy" in record.reason
    # a drawdown past the retirement threshold retires it
    _settings(ws, retire_drawdown=0.01, demote_drawdown=0.005)
    decision, record = review(ws, h)
    assert record is not None
    assert record.to_state is S.RETIRED
    assert "drawdown" in record.reason
    with pytest.raises(LifecycleError, match="retirement is final"):
        promote(ws, h, "shadow", actor="quant")

    audit = AuditLog(ws.db)
    actions = [e.action for e in audit.entries(action="lifecycle.")]
    assert actions.count("lifecycle.promoted") == 2
    assert actions.count("lifecycle.demoted") == 1
    assert actions[-1] == "lifecycle.retired"
    assert actions.count("lifecycle.refused") == 7
    assert {"approval.requested", "approval.approved"} <= {e.action for e in audit.entries()}
    assert audit.verify().ok
    history = lifecycle_store(ws).transitions(h)
    assert [t.to_state for t in history] == [S.SHADOW, S.LIVE, S.SHADOW, S.RETIRED]


def test_transitions_by_hand_on_each_backend(workspace: Workspace) -> None:
    workspace.data.ensure_bundled()
    spec = _spec()
    workspace.strategies.record_strategy(spec)
    h = spec.hash
    with pytest.raises(LifecycleError, match="backtest is the first stage"):
        demote(workspace, h, actor="ann", reason="x")
    with pytest.raises(Exception, match="reason"):
        retire(workspace, h, actor="ann", reason="")
    store = lifecycle_store(workspace)
    store.apply(h, LifecycleEvent.PROMOTE, expected=S.BACKTEST, to=S.SHADOW, actor="ann",
                reason="validated elsewhere", inputs={"note": "test"})  # fmt: skip
    with pytest.raises(LifecycleError, match="while its gates were checked"):
        store.apply(h, LifecycleEvent.PROMOTE, expected=S.BACKTEST, actor="ann", reason="race")
    back = demote(workspace, h, actor="ann", reason="needs more research")
    assert (back.from_state, back.to_state) == (S.SHADOW, S.BACKTEST)
    gone = retire(workspace, h[:8], actor="ann", reason="superseded")
    assert gone.to_state is S.RETIRED
    assert lifecycle_store(workspace).get(h).state is S.RETIRED
    entries = AuditLog(workspace.db).entries(action="lifecycle.")
    assert [e.action for e in entries] == ["lifecycle.promoted", "lifecycle.demoted",
                                           "lifecycle.retired"]  # fmt: skip
    assert '"reason":"superseded"' in entries[-1].payload
    assert AuditLog(workspace.db).verify().ok


@pytest.mark.slow
def test_the_verdict_of_alphaloop_validate_gates_the_shadow(ws: Workspace) -> None:
    from alphaloop.app.validation import validate_spec
    from alphaloop.validation import ValidationPolicy

    spec = _spec()
    report = validate_spec(ws, spec)
    with pytest.raises(PromotionRefusedError, match="validate run") as info:
        promote(ws, spec.hash, "shadow", actor="quant")
    gate = {g.name: g for g in info.value.gates}["validation"]
    assert gate.passed is report.verdict.passed is False
    assert report.verdict.reasons[0] in gate.reason
    # a later, looser validation of the same spec is the verdict that counts
    loose = ValidationPolicy(
        min_dsr=0,
        max_pbo=1,
        min_oos_is_ratio=-10,
        min_regime_share=0,
        min_round_trips=0,
        min_years=0,
        require_min_track_record=False,
    )
    assert validate_spec(ws, spec, loose).verdict.passed
    moved = promote(ws, spec.hash, "shadow", actor="quant")
    assert moved.inputs["verdict"]["source"].startswith("validate run")
    assert moved.inputs["verdict"]["passed"] is True
