"""Stress tests: replays of named windows, custom shocks, bootstrap paths, limits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skfolio.datasets import load_sp500_dataset

from alphaloop.risk import (
    SCENARIOS,
    RiskInputError,
    Scenario,
    ScenarioError,
    StressLimits,
    asset_shock,
    bootstrap_stress,
    factor_shock,
    max_drawdown,
    replay_scenarios,
    stationary_bootstrap_indices,
)


@pytest.fixture(scope="module")
def sp500() -> pd.DataFrame:
    prices = load_sp500_dataset()
    rets = prices.pct_change().iloc[1:]
    rets.index = rets.index.tz_localize("UTC")
    return rets


def test_every_built_in_scenario_is_ordered_and_named() -> None:
    assert set(SCENARIOS) == {
        "ltcm-1998", "dotcom-2000", "gfc-2008", "euro-2011",
        "china-2015", "q4-2018", "covid-2020", "rates-2022",
    }  # fmt: skip
    for name, sc in SCENARIOS.items():
        assert sc.name == name
        assert sc.start < sc.end
        assert sc.description


def test_replay_by_hand() -> None:
    idx = pd.bdate_range("2020-02-17", "2020-03-31")
    r = pd.Series(0.0, index=idx)
    r["2020-02-19"] = 0.5  # the start bar itself is not in the window
    r["2020-02-24"] = -0.10
    r["2020-02-25"] = 0.05
    r["2020-02-26"] = -0.20
    r["2020-03-24"] = 0.9  # after the end
    rep = replay_scenarios(r, names=["covid-2020"], limits=StressLimits(max_loss=0.1))
    (res,) = rep.results
    # value path 1 -> 0.9 -> 0.945 -> 0.756
    assert res.pnl == pytest.approx(0.9 * 1.05 * 0.8 - 1)
    assert res.max_drawdown == pytest.approx(1 - 0.756)
    assert res.worst_bar == pytest.approx(-0.20)
    assert res.n_bars == len(pd.bdate_range("2020-02-20", "2020-03-23"))
    assert res.breaches == ("max_loss",)
    assert rep.breached == ("covid-2020",)


def test_held_weights_drift_inside_a_window() -> None:
    idx = pd.bdate_range("2015-08-06", "2015-08-31", tz="UTC")
    r = pd.DataFrame(0.0, index=idx, columns=["A", "B"])
    r.loc[r.index[4], "A"] = 1.0  # A doubles on the first bar after the start
    r.loc[r.index[5], "A"] = -0.5  # and halves the next
    r.loc[r.index[5], "B"] = -0.5
    rep = replay_scenarios(r, weights={"A": 0.5, "B": 0.5}, names=["china-2015"])
    (res,) = rep.results
    # held: A 0.5 -> 1.0 -> 0.5, B 0.5 -> 0.5 -> 0.25: value 1 -> 1.5 -> 0.75
    assert res.pnl == pytest.approx(-0.25)
    assert res.max_drawdown == pytest.approx(0.5)
    assert res.worst_bar == pytest.approx(-0.5)


def test_on_bundled_sp500_windows_outside_the_span_are_skipped(sp500: pd.DataFrame) -> None:
    w = {c: 1 / 20 for c in sp500.columns}
    rep = replay_scenarios(sp500, weights=w, limits=StressLimits(max_drawdown=0.3))
    ran = {r.name: r for r in rep.results}
    assert set(ran) == set(SCENARIOS)  # 1990-01-03 .. 2022-12-28 covers every window
    assert rep.skipped == {}
    assert ran["gfc-2008"].pnl < -0.3
    assert "max_drawdown" in ran["gfc-2008"].breaches
    assert ran["covid-2020"].pnl < -0.2
    frame = rep.frame()
    assert list(frame.index) == list(SCENARIOS)
    assert frame.loc["gfc-2008", "pnl"] == ran["gfc-2008"].pnl
    short = replay_scenarios(sp500.loc["2009-01-01":"2019-12-31"], weights=w)
    assert set(short.skipped) == {
        "ltcm-1998",
        "dotcom-2000",
        "gfc-2008",
        "covid-2020",
        "rates-2022",
    }
    assert "not inside the data's span 2009-01-02 .. 2019-12-31" in short.skipped["gfc-2008"]


def test_custom_windows_and_unknown_names() -> None:
    idx = pd.bdate_range("2021-01-01", periods=30)
    r = pd.Series(-0.01, index=idx)
    mine = Scenario.of("my-window", "2021-01-04", "2021-01-08")
    rep = replay_scenarios(r, names=[], scenarios=[mine])
    assert rep.results[0].pnl == pytest.approx(0.99**4 - 1)
    with pytest.raises(
        ScenarioError, match="'gfc-2009' is unknown; built-in scenarios: ltcm-1998"
    ) as info:
        replay_scenarios(r, names=["gfc-2009"])
    assert info.value.field == "scenario"
    with pytest.raises(ScenarioError, match="not before"):
        Scenario.of("backwards", "2021-02-01", "2021-01-01")


def test_asset_and_factor_shocks() -> None:
    w = {"A": 0.5, "B": 0.3, "C": 0.2}
    res = asset_shock(w, {"A": -0.2, "C": 0.1}, limits=StressLimits(max_loss=0.05))
    assert res.pnl == pytest.approx(0.5 * -0.2 + 0.2 * 0.1)
    assert res.max_drawdown == pytest.approx(0.08)
    assert res.breaches == ("max_loss",)
    betas = pd.DataFrame({"market": [1.2, 0.8, 0.0], "rates": [0.0, -1.0, 2.0]}, index=list("ABC"))
    fs = factor_shock(w, betas, {"market": -0.2, "rates": 0.01})
    assert fs.pnl == pytest.approx(0.5 * (1.2 * -0.2) + 0.3 * (0.8 * -0.2 - 0.01) + 0.2 * 0.02)
    with pytest.raises(ScenarioError, match="factors the betas do not have") as info:
        factor_shock(w, betas, {"mkt": -0.2})
    assert info.value.field == "shocks"
    with pytest.raises(ScenarioError, match="does not hold"):
        asset_shock(w, {"Z": -0.5})


def test_limits_must_be_positive() -> None:
    with pytest.raises(RiskInputError, match="max_loss") as info:
        StressLimits(max_loss=-0.1)
    assert info.value.field == "max_loss"


def test_max_drawdown_by_hand() -> None:
    assert max_drawdown(np.array([1.0, 1.2, 0.9, 1.3, 1.1])) == pytest.approx(0.25)
    assert max_drawdown(np.array([1.0, 1.1, 1.2])) == 0.0


# ------------------------------------------------------------------ bootstrap
def test_stationary_bootstrap_blocks() -> None:
    rng = np.random.default_rng(0)
    idx = stationary_bootstrap_indices(1000, 5000, 50, 10.0, rng)
    assert idx.shape == (5000, 50)
    assert idx.min() >= 0
    assert idx.max() < 1000
    steps = np.diff(idx, axis=1)
    continued = (steps == 1) | (steps == -999)
    # a new block starts with probability 1/10 (and may land on the next row by chance)
    assert continued.mean() == pytest.approx(0.9, abs=0.01)


def test_bootstrap_stress_is_seeded_and_consistent(sp500: pd.DataFrame) -> None:
    w = np.full(20, 0.05)
    limits = StressLimits(max_loss=0.1, max_drawdown=0.15)
    a = bootstrap_stress(sp500, weights=w, n_paths=2000, horizon=21, seed=3, limits=limits)
    b = bootstrap_stress(sp500, weights=w, n_paths=2000, horizon=21, seed=3, limits=limits)
    assert a.to_dict() == b.to_dict()
    assert a.cvar >= a.var > 0
    assert a.pnl_quantiles[0.01] == pytest.approx(-a.var, rel=0.05)
    assert 0 < a.breach_probability["max_loss"] < 0.2
    assert a.breach_probability["max_drawdown"] >= 0
    assert a.drawdown_quantiles[0.99] >= a.drawdown_quantiles[0.5] > 0
    c = bootstrap_stress(sp500, weights=w, n_paths=2000, horizon=21, seed=4)
    assert c.var != a.var


def test_bootstrap_bad_input() -> None:
    r = pd.Series(np.zeros(100))
    with pytest.raises(RiskInputError, match="mean_block"):
        bootstrap_stress(r, mean_block=0.5)
    with pytest.raises(RiskInputError, match="n_paths"):
        bootstrap_stress(r, n_paths=10)
