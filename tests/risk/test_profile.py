"""risk_profile gathers figures that equal the risk functions called directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import FactorData
from alphaloop.risk import (
    PROFILE_METHODS,
    RiskInputError,
    backtest_var,
    drawdown_summary,
    estimate_var,
    replay_scenarios,
    risk_profile,
    rolling_var_forecasts,
)


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    rng = np.random.default_rng(2)
    index = pd.bdate_range("2007-01-02", periods=900, tz="UTC")
    return pd.Series(rng.standard_t(4, 900) * 0.01, index=index, name="strategy")


def test_the_profile_equals_the_functions_it_gathers(returns: pd.Series) -> None:
    market = FactorData("market", "Market", "daily",
                        pd.DataFrame({"market": returns.to_numpy() * 0.5 + 0.001},
                                     index=returns.index.tz_convert(None)),
                        None, "synthetic", ())  # fmt: skip
    p = risk_profile(returns, factor_data=[market], window=250)
    assert p.confidences == (0.95, 0.99)
    assert [(v.confidence, v.method) for v in p.var] == [
        (c, m) for c in (0.95, 0.99) for m in PROFILE_METHODS
    ]
    for v in p.var:
        direct = estimate_var(returns, confidence=v.confidence, method=v.method)  # type: ignore[arg-type]
        assert (v.var, v.cvar) == pytest.approx((direct.var, direct.cvar), rel=1e-12)
    assert p.window == 250
    assert len(p.backtests) == 2
    for b in p.backtests:
        f = rolling_var_forecasts(returns, window=250, confidence=b.confidence)
        direct_bt = backtest_var(returns, f["var"], b.confidence)
        assert b.n_obs == direct_bt.n_obs == 650
        assert b.n_exceptions == direct_bt.n_exceptions
        assert b.kupiec.p_value == pytest.approx(direct_bt.kupiec.p_value, rel=1e-12)
    # the 2008 crisis window lies inside 2007-2010: replayed; 1998 is not
    stress = replay_scenarios(returns)
    assert [r.name for r in p.stress.results] == [r.name for r in stress.results]
    assert "gfc-2008" in [r.name for r in p.stress.results]
    assert "ltcm-1998" in p.stress.skipped
    assert p.drawdown == drawdown_summary(returns)
    (exposure,) = p.exposures
    assert exposure.exposure is not None
    assert exposure.exposure.betas["market"] == pytest.approx(2.0, abs=1e-9)
    assert p.to_dict()["var_backtests"][0]["n_obs"] == 650


def test_historical_rolling_forecasts_equal_one_estimate_per_window(returns: pd.Series) -> None:
    f = rolling_var_forecasts(returns.iloc[:400], window=120, confidence=0.99)
    r = returns.to_numpy()
    for t in (120, 121, 250, 399):
        est = estimate_var(r[t - 120 : t], confidence=0.99)
        assert f["var"].iloc[t] == pytest.approx(est.var, rel=1e-13)
        assert f["cvar"].iloc[t] == pytest.approx(est.cvar, rel=1e-13)
    assert f["var"].iloc[:120].isna().all()


def test_drawdown_summary_on_a_known_path() -> None:
    index = pd.bdate_range("2020-01-01", periods=6)
    r = pd.Series([0.10, -0.20, 0.05, 0.25, -0.05, 0.0], index=index)
    d = drawdown_summary(r)
    # values 1.1, 0.88, 0.924, 1.155, 1.09725: the 20% fall from 1.1 is the deepest
    assert d.max_drawdown == pytest.approx(0.2)
    assert d.peak == index[0]
    assert d.valley == index[1]
    assert d.recovery == index[3]
    assert d.bars_to_valley == 1
    assert d.current == pytest.approx(0.05)
    flat = drawdown_summary(pd.Series([0.01, 0.02], index=index[:2]))
    assert flat.max_drawdown == 0
    assert flat.peak is None


def test_short_series_say_what_was_left_out() -> None:
    index = pd.bdate_range("2020-01-01", periods=30)
    r = pd.Series(np.random.default_rng(0).normal(0, 0.01, 30), index=index)
    p = risk_profile(r)
    assert {v.method for v in p.var} == {"historical", "student_t", "cornish_fisher"}
    assert any("filtered historical VaR needs 100 bars" in n for n in p.notes)
    assert p.backtests == ()
    assert p.window == 0
    assert any("too few bars for a VaR backtest" in n for n in p.notes)


def test_bad_input() -> None:
    with pytest.raises(RiskInputError, match="indexed by time"):
        risk_profile(pd.Series([0.01, 0.02, 0.03]))
    index = pd.bdate_range("2020-01-01", periods=3)
    with pytest.raises(RiskInputError, match="missing or infinite"):
        risk_profile(pd.Series([0.01, np.nan, 0.03], index=index))
    with pytest.raises(RiskInputError, match="confidence"):
        risk_profile(pd.Series([0.01, 0.02, 0.03], index=index), confidences=(1.5,))


def test_constant_returns_say_what_cannot_be_measured() -> None:
    index = pd.bdate_range("2020-01-01", periods=300)
    p = risk_profile(pd.Series(0.0, index=index))
    assert [v.method for v in p.var] == ["historical", "historical"]
    assert all(v.var == 0.0 for v in p.var)
    assert p.exposures == ()
    assert any("the returns are constant" in n for n in p.notes)
    assert [b.n_exceptions for b in p.backtests] == [0, 0]


def test_fitted_methods_can_be_capped_by_length(returns: pd.Series) -> None:
    p = risk_profile(returns, max_fit_bars=500)
    assert {v.method for v in p.var} == {"historical", "cornish_fisher"}
    assert sum("left out" in n and "longer than 500 bars" in n for n in p.notes) == 2
    assert len(risk_profile(returns, max_fit_bars=900).var) == 8  # 900 bars: not longer
