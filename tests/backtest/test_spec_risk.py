"""StrategySpec ``limits.risk``: validation, identity, and the event backtest enforcing it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest import backtest_panel
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import Panel
from alphaloop.errors import SpecError
from tests.research.synthetic import make_info


def spec(**limits: object) -> StrategySpec:
    doc = {
        "name": "risk",
        "data": "synth",
        "signal": {"expr": "-Delta($close, 5)"},
        "portfolio": {"k": 2},
        "rebalance": {"frequency": "weekly"},
        "limits": limits,
    }
    return StrategySpec.from_dict(doc)


def panel(n: int = 120, m: int = 4, seed: int = 5) -> Panel:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-04", periods=n, freq="B", tz="UTC")
    close = 50 * np.cumprod(1 + 0.015 * rng.standard_normal((n, m)), axis=0)
    open_ = close * (1 + 0.002 * rng.standard_normal((n, m)))
    fields = {"open": open_, "high": np.maximum(open_, close) * 1.01,
              "low": np.minimum(open_, close) * 0.99, "close": close,
              "volume": np.full((n, m), 1e6)}  # fmt: skip
    return Panel(index, [f"S{j}" for j in range(m)], fields)


def test_a_spec_without_risk_keeps_its_identity():
    plain = spec(max_weight=0.5)
    assert "risk" not in plain.canonical()["limits"]
    assert plain.limits.risk_limits() is None
    assert spec(max_weight=0.5, risk={"max_order_notional": 1e5}).hash != plain.hash


def test_spec_limits_map_onto_the_risk_engine():
    s = spec(max_weight=0.5, risk={"max_weight": 0.6, "max_drawdown": 0.2})
    limits = s.limits.risk_limits()
    assert (limits.max_weight, limits.max_gross, limits.max_drawdown) == (0.6, None, 0.2)


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"risk": {"max_weight": 0.6, "max_gross": 0.5}}, "max_weight"),
        ({"risk": {"max_net": 2.0, "max_gross": 1.0}}, "max_net"),
        ({"risk": {"max_daily_loss": -0.1}}, "max_daily_loss"),
        ({"risk": {"group_caps": {"tech": 0.2}}}, "group_caps"),
        ({"risk": {"kill": True}}, "kill"),
    ],
)
def test_bad_risk_limits_are_spec_errors_naming_the_field(limits, field):
    with pytest.raises(SpecError, match=field):
        spec(**limits)


def test_the_event_backtest_enforces_and_reports_the_risk_limits():
    data = panel()
    info = make_info(data)
    plain = backtest_panel(spec(max_weight=0.5), info, data, "event")
    assert "risk_engine" not in plain.assumptions
    limited = spec(max_weight=0.5, risk={"restricted": ["S0"]})
    evt = backtest_panel(limited, info, data, "event")
    record = evt.assumptions["risk_engine"]
    assert record["applied"] is True
    assert record["refusals"] > 0
    assert set(record["refusals_by_limit"]) == {"restricted"}
    assert record["refusals"] == len(evt.simulation.risk_refusals)
    assert len(evt.simulation.trades) < len(plain.simulation.trades)
    assert "S0" in set(plain.simulation.trades["asset"])
    assert "S0" not in set(evt.simulation.trades["asset"])
    vec = backtest_panel(limited, info, data, "vectorized")
    assert vec.assumptions["risk_engine"]["applied"] is False
    assert any("limits.risk not applied" in n for n in vec.simulation.notes)


def test_a_drawdown_breaker_halts_the_event_backtest():
    data = panel(seed=11)
    info = make_info(data)
    evt = backtest_panel(spec(risk={"max_drawdown": 0.03}), info, data, "event")
    transitions = evt.assumptions["risk_engine"]["transitions"]
    assert transitions
    assert transitions[0]["to"] == "halted"
    assert transitions[0]["limit"] == "max_drawdown"
    halted_at = pd.Timestamp(transitions[0]["time"])
    trades = evt.simulation.trades
    assert (trades["time"] <= halted_at + pd.Timedelta(days=5)).all()
