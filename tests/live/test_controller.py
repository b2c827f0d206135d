"""The meta controller: modes from causal market state, hysteresis, weights, stored decisions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.panel import Panel
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.policy import RiskMode
from alphaloop.execution.policy_store import PolicyStore
from alphaloop.live.controller import (
    ControllerConfig,
    ControllerError,
    MetaController,
    audit_sink,
    fan_out,
    policy_sink,
)

CFG = ControllerConfig(vol_history=60, breadth_window=20, confirm_bars=3)


def _market(seed: int = 3) -> Panel:
    """300 calm rising bars, a 60-bar crash, then 200 calm recovering bars (8 symbols)."""
    rng = np.random.default_rng(seed)
    calm = rng.normal(0.0015, 0.004, size=(300, 8))
    crash = rng.normal(-0.006, 0.03, size=(60, 8))
    recover = rng.normal(0.0008, 0.006, size=(200, 8))
    rets = np.vstack([calm, crash, recover])
    close = 50 * np.exp(np.cumsum(rets, axis=0))
    idx = pd.bdate_range("2018-01-01", periods=len(rets))
    return Panel.from_frames({"close": pd.DataFrame(close, index=idx, columns=list("ABCDEFGH"))})


def test_modes_follow_the_market() -> None:
    panel = _market()
    decisions = MetaController(CFG).run(panel)
    modes = pd.Series([d.mode for d in decisions], index=panel.index)
    assert (modes.iloc[:80] == "NORMAL").all()  # warm-up
    assert "AGGRESSIVE" in set(modes.iloc[80:300])
    assert "DEFENSIVE" not in set(modes.iloc[:300])  # calm market, however its regimes rank
    assert (modes.iloc[330:360] == "DEFENSIVE").all()
    deep = [d for d in decisions if (d.inputs["drawdown"] or 0) > CFG.defensive_drawdown]
    assert deep
    assert {d.mode for d in deep} == {"DEFENSIVE"}


def test_a_drawdown_breach_needs_no_confirmation() -> None:
    ctl = MetaController(ControllerConfig(confirm_bars=5), mode="AGGRESSIVE")
    d = ctl.step("2020-03-02", {"vol_regime": 1, "breadth": 0.5, "drawdown": 0.2})
    assert d.mode == "DEFENSIVE"
    assert d.changed
    assert any("drawdown breach" in r for r in d.reasons)


def test_one_bar_does_not_flip_the_mode() -> None:
    ctl = MetaController(ControllerConfig(confirm_bars=3), mode="NORMAL")
    calm = {"vol_regime": 0, "breadth": 0.9, "drawdown": 0.0}
    mixed = {"vol_regime": 1, "breadth": 0.5, "drawdown": 0.02}
    seq = [calm, mixed, calm, calm, calm, calm]
    modes = [ctl.step(pd.Timestamp("2020-01-01") + pd.Timedelta(days=i), r).mode
             for i, r in enumerate(seq)]  # fmt: skip
    assert modes == ["NORMAL", "NORMAL", "NORMAL", "NORMAL", "AGGRESSIVE", "AGGRESSIVE"]


def test_market_state_is_causal() -> None:
    panel = _market()
    state = MetaController(CFG).market_state(panel)
    close = panel.frame("close").copy()
    close.iloc[250:] = close.iloc[250:] * 0.5  # a different future
    again = MetaController(CFG).market_state(Panel.from_frames({"close": close}))
    pd.testing.assert_frame_equal(state.iloc[:250], again.iloc[:250])


def test_weights_follow_recent_sharpe_within_the_gross_budget() -> None:
    panel = _market()
    rng = np.random.default_rng(9)
    good = rng.normal(0.002, 0.01, len(panel.index))
    ok = rng.normal(0.0005, 0.01, len(panel.index))
    bad = rng.normal(-0.003, 0.01, len(panel.index))
    rets = pd.DataFrame({"good": good, "ok": ok, "bad": bad}, index=panel.index)
    rets.iloc[150:, 2] = np.nan  # and it stopped reporting
    d = MetaController(CFG).run(panel, strategy_returns=rets)
    last = d[250]
    gross = CFG.mode_gross[last.mode]
    assert sum(last.weights.values()) == pytest.approx(gross)
    assert last.weights["bad"] == 0.0
    assert last.weights["good"] > last.weights["ok"]
    assert any(r.startswith("bad:") for r in last.reasons)
    # weights at a bar read returns up to that bar only
    future = rets.copy()
    future.iloc[251:] = -0.05
    again = MetaController(CFG).run(panel, strategy_returns=future, end=panel.index[250])
    assert again[-1].weights == last.weights


def test_decisions_are_audited_and_mode_changes_reach_the_policy(tmp_path) -> None:
    ws = Workspace(tmp_path / "ws")
    try:
        log = AuditLog(ws.db)
        store = PolicyStore(ws.db, log)
        panel = _market()
        sink = fan_out(audit_sink(log), policy_sink(store))
        ctl = MetaController(CFG, sink=sink)
        decisions = ctl.run(panel, start=panel.index[280], end=panel.index[320])
        entries = list(log.entries(action="controller.decision"))
        assert len(entries) == 41  # one per bar
        changed = [d for d in decisions if d.changed]
        assert changed
        assert changed[-1].mode == "DEFENSIVE"
        assert [json.loads(e.payload)["mode"] for e in entries[-5:]] == ["DEFENSIVE"] * 5
        assert set(json.loads(entries[-1].payload)["inputs"]) == {
            "vol_regime",
            "vol_regime_name",
            "breadth",
            "drawdown",
        }
        # the policy's history holds each change with the controller's reasons
        assert store.current(refresh=True).mode is RiskMode.DEFENSIVE
        history = store.history()
        assert [h.actor for h in history][-len(changed):] == ["meta-controller"] * len(changed)
        assert log.verify().ok
    finally:
        ws.close()


def test_bundled_market_is_defensive_in_the_2008_crash() -> None:
    from alphaloop.data.bundled import load_bundled

    panel = load_bundled("sp500-stocks").to_panel().slice("2005-01-01", "2009-12-31")
    decisions = MetaController().run(panel, start="2008-10-01", end="2008-12-31")
    assert {d.mode for d in decisions} == {"DEFENSIVE"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confirm_bars": 0}, "confirm_bars"),
        ({"defensive_drawdown": 1.5}, r"\[0, 1\]"),
        ({"aggressive_drawdown": 0.2, "defensive_drawdown": 0.1}, "must not exceed"),
        ({"mode_gross": {"NORMAL": 1.0}}, "exactly the modes"),
        ({"vol_regimes": 1}, "vol_regimes"),
    ],
)
def test_bad_settings_are_named(kwargs: dict, match: str) -> None:
    with pytest.raises(ControllerError, match=match):
        ControllerConfig(**kwargs)


def test_bad_mode_and_returns() -> None:
    with pytest.raises(ControllerError, match="mode must be one of"):
        MetaController(mode="YOLO")
    panel = _market()
    rets = pd.DataFrame({"x": np.inf}, index=panel.index)
    with pytest.raises(ControllerError, match="infinite"):
        MetaController(CFG).run(panel, strategy_returns=rets)
