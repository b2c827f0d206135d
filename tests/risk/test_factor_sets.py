"""Exposures to a factor set on a shared calendar: planted betas, compounding, overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import FactorData
from alphaloop.risk import RiskInputError, factor_exposures, factor_set_exposure, monthly_returns


def _daily_set(n: int = 1500, seed: int = 3) -> FactorData:
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-02", periods=n)
    returns = pd.DataFrame(rng.normal(0.0003, 0.01, (n, 2)), index=index, columns=["MKT", "VAL"])
    return FactorData("test", "test factors", "daily", returns, None, "synthetic", ())


def test_a_planted_daily_beta_is_recovered() -> None:
    data = _daily_set()
    rng = np.random.default_rng(11)
    f = data.returns
    y = 0.0002 + 1.3 * f["MKT"] - 0.4 * f["VAL"] + rng.normal(0, 0.002, len(f))
    # a tz-aware (UTC midnight) series, as backtests produce, lands on the same dates
    y.index = y.index.tz_localize("UTC")
    out = factor_set_exposure(y, data)
    assert out.exposure is not None
    assert out.n_obs == len(f)
    assert out.exposure.betas["MKT"] == pytest.approx(1.3, abs=0.02)
    assert out.exposure.betas["VAL"] == pytest.approx(-0.4, abs=0.02)
    assert out.exposure.beta_t["MKT"] > 50
    assert out.exposure.periods_per_year == 252
    assert "daily bars joined" in out.note
    direct = factor_exposures(y.tz_convert(None), f)
    assert out.exposure.alpha == pytest.approx(direct.alpha, rel=1e-12)


def test_only_shared_dates_are_used() -> None:
    data = _daily_set(400)
    strategy = data.returns["MKT"].iloc[100:].copy() * 2.0
    strategy = strategy.drop(strategy.index[::7])  # days the strategy did not trade
    out = factor_set_exposure(strategy, data)
    assert out.n_obs == len(strategy)
    assert out.start == strategy.index[0]
    assert out.end == strategy.index[-1]
    assert out.exposure is not None
    assert out.exposure.betas["MKT"] == pytest.approx(2.0, abs=1e-9)


def test_no_overlap_and_too_little_overlap_say_so() -> None:
    data = _daily_set(300)
    before = pd.Series(0.001, index=pd.bdate_range("2001-01-02", periods=300))
    out = factor_set_exposure(before, data)
    assert out.exposure is None
    assert out.n_obs == 0
    assert out.note.startswith("no overlap: the factors cover 2015-01-02")
    tail = pd.Series(0.001, index=data.returns.index[-30:])
    short = factor_set_exposure(tail, data)
    assert short.exposure is None
    assert short.n_obs == 30
    assert "only 30 shared daily observations; a regression needs 60" in short.note


def test_intraday_bars_are_compounded_to_days() -> None:
    data = _daily_set(200)
    stamps, values = [], []
    for day, r in data.returns["MKT"].items():
        # two bars per day whose compounded return is 0.5 x the factor's
        half = np.sqrt(1 + 0.5 * r) - 1
        stamps += [day + pd.Timedelta(hours=14), day + pd.Timedelta(hours=20)]
        values += [half, half]
    y = pd.Series(values, index=pd.DatetimeIndex(stamps).tz_localize("UTC"))
    out = factor_set_exposure(y, data)
    assert out.n_obs == 200
    assert "intraday bars compounded" in out.note
    assert out.exposure is not None
    assert out.exposure.betas["MKT"] == pytest.approx(0.5, abs=1e-9)


def test_coarse_bars_compound_the_factors_over_each_bar() -> None:
    data = _daily_set(1000)
    weekly_factors = np.expm1(np.log1p(data.returns).resample("W-FRI").sum())
    y = 0.8 * weekly_factors["MKT"]
    y = y[y.index <= data.returns.index[-1]]
    out = factor_set_exposure(y, data, periods_per_year=52)
    assert "compounded over each strategy bar" in out.note
    assert out.n_obs == len(y) - 1  # the first bar's period has no known start: dropped
    assert out.start == y.index[1]
    assert out.exposure is not None
    assert out.exposure.betas["MKT"] == pytest.approx(0.8, abs=1e-9)
    assert out.exposure.periods_per_year == 52


def test_monthly_returns_compound_whole_months() -> None:
    index = pd.bdate_range("2020-01-15", "2020-06-10")
    r = pd.Series(np.linspace(-0.01, 0.012, len(index)), index=index)
    months = monthly_returns(r)
    # January starts mid-month and June ends early: both dropped
    assert list(months.index) == list(pd.date_range("2020-02-29", periods=4, freq="ME"))
    march = r["2020-03"]
    assert months.loc["2020-03-31"] == pytest.approx(np.prod(1 + march.to_numpy()) - 1, rel=1e-12)
    whole = pd.Series(0.001, index=pd.bdate_range("2020-01-02", "2020-03-31"))
    assert len(monthly_returns(whole)) == 3  # Jan 1 is a holiday: January still counts


def test_a_planted_monthly_beta_over_the_risk_free_rate() -> None:
    rng = np.random.default_rng(5)
    months = pd.date_range("2000-01-31", periods=72, freq="ME")
    factors = pd.DataFrame(rng.normal(0.005, 0.04, (72, 3)), index=months,
                           columns=["MKT_RF", "SMB", "HML"])  # fmt: skip
    rf = pd.Series(0.002, index=months, name="RF")
    data = FactorData("ff", "FF", "monthly", factors, rf, "synthetic", ())
    target = rf + 0.001 + 0.9 * factors["MKT_RF"] + 0.3 * factors["SMB"] + rng.normal(0, 0.003, 72)
    # daily returns whose compounded month equals the target month exactly
    days, values = [], []
    for month_end, m in target.items():
        bdays = pd.bdate_range(month_end - pd.offsets.MonthBegin(1), month_end)
        days += list(bdays)
        values += [(1 + m) ** (1 / len(bdays)) - 1] * len(bdays)
    y = pd.Series(values, index=pd.DatetimeIndex(days))
    out = factor_set_exposure(y, data)
    assert out.excess
    assert out.n_obs == 72
    assert out.exposure is not None
    assert out.exposure.betas["MKT_RF"] == pytest.approx(0.9, abs=0.03)
    assert out.exposure.betas["SMB"] == pytest.approx(0.3, abs=0.03)
    assert out.exposure.betas["HML"] == pytest.approx(0.0, abs=0.03)
    assert out.exposure.alpha == pytest.approx(0.001, abs=0.001)
    assert out.exposure.periods_per_year == 12
    assert "risk-free rate RF is subtracted" in out.note


def test_bad_input() -> None:
    data = _daily_set(100)
    with pytest.raises(RiskInputError, match="returns must be a Series"):
        factor_set_exposure(data.returns, data)  # type: ignore[arg-type]
    with pytest.raises(RiskInputError, match="indexed by time"):
        factor_set_exposure(pd.Series([0.01, 0.02]), data)
