"""Live analytics: attribution adds up, matches the simulator; the daily report tells the day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.vectorized import simulate
from alphaloop.data.panel import Panel
from alphaloop.execution.costs import CostModel
from alphaloop.live.analytics import (
    AnalyticsError,
    asset_attribution,
    daily_report,
    exposures,
    strategy_attribution,
)

IDX = pd.date_range("2021-03-01 14:30", periods=3 * 7, freq="h", tz="UTC")


def _market(seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rets = pd.DataFrame(rng.normal(0, 0.01, (len(IDX), 3)), index=IDX, columns=list("XYZ"))
    close = 100 * (1 + rets).cumprod()
    return rets, close


def test_asset_contributions_add_up_to_the_simulators_return() -> None:
    _rets, close = _market()
    w = pd.DataFrame(np.tile([0.5, -0.2, 0.3], (len(IDX), 1)), index=IDX, columns=list("XYZ"))
    sim = simulate(
        Panel.from_frames({"close": close}), w.to_numpy(), fills="next_close",
        costs=CostModel.zero(), allow_short=True,
    )  # fmt: skip
    gross = asset_attribution(w, close.pct_change()).sum(axis=1)
    np.testing.assert_allclose(gross.iloc[2:], sim.returns.iloc[2:], atol=1e-12)


def test_exposures() -> None:
    w = pd.DataFrame([[0.5, -0.2, 0.0]], index=IDX[:1], columns=list("XYZ"))
    e = exposures(w).iloc[0]
    assert e["gross"] == pytest.approx(0.7)
    assert e["net"] == pytest.approx(0.3)
    assert e["long"] == pytest.approx(0.5)
    assert e["short"] == pytest.approx(-0.2)
    assert e["positions"] == 2


def test_strategy_contributions_add_up_to_the_portfolio() -> None:
    rng = np.random.default_rng(3)
    r = pd.DataFrame(rng.normal(0, 0.01, (len(IDX), 2)), index=IDX, columns=["mom", "rev"])
    alloc = pd.DataFrame({"mom": np.linspace(0.2, 0.8, len(IDX))}, index=IDX)
    alloc["rev"] = 1 - alloc["mom"]
    attr = strategy_attribution(r, alloc)
    portfolio = (alloc.shift(1) * r).sum(axis=1).fillna(0.0)
    np.testing.assert_allclose(attr["total"], portfolio, atol=1e-15)
    fixed = strategy_attribution(r, {"mom": 0.6, "rev": 0.4})
    np.testing.assert_allclose(fixed["mom"], 0.6 * r["mom"])
    with pytest.raises(AnalyticsError, match="without returns"):
        strategy_attribution(r, {"carry": 1.0})


def test_daily_report_tells_the_day() -> None:
    rets, _close = _market(7)
    w = pd.DataFrame(np.tile([0.6, 0.0, -0.4], (len(IDX), 1)), index=IDX, columns=list("XYZ"))
    gross = asset_attribution(w, rets).sum(axis=1)
    equity = 1e6 * (1 + gross).cumprod()
    strat = pd.DataFrame({"a": gross * 1.0, "b": gross * 0.0}, index=IDX)
    rep = daily_report(
        "2021-03-02", equity, w, rets, strategy_returns=strat, allocation={"a": 1.0, "b": 0.0},
        risk_mode="NORMAL",
    )  # fmt: skip
    day = equity[(equity.index >= "2021-03-02") & (equity.index < "2021-03-03")]
    prior = equity[equity.index < "2021-03-02"].iloc[-1]
    assert rep.equity == pytest.approx(day.iloc[-1])
    assert rep.pnl == pytest.approx(day.iloc[-1] - prior)
    assert rep.day_return == pytest.approx(day.iloc[-1] / prior - 1)
    assert "Y" not in dict(rep.top_assets + rep.bottom_assets)  # not held
    assert rep.by_strategy["b"] == 0.0
    assert rep.exposure["gross"] == pytest.approx(1.0)
    text = rep.text()
    assert text.startswith("2021-03-02  equity")
    assert "mode NORMAL" in text
    assert rep.to_dict()["day"] == "2021-03-02"
    with pytest.raises(AnalyticsError, match="no bar on 2021-04-01"):
        daily_report("2021-04-01", equity, w, rets)


def test_inputs_that_do_not_line_up() -> None:
    rets, _ = _market()
    w = pd.DataFrame({"Q": [1.0]}, index=IDX[:1])
    with pytest.raises(AnalyticsError, match="lacks assets"):
        asset_attribution(w, rets)
    with pytest.raises(AnalyticsError, match="time order"):
        exposures(rets.iloc[::-1])
    with pytest.raises(AnalyticsError, match="DataFrame"):
        exposures([1, 2])  # type: ignore[arg-type]
