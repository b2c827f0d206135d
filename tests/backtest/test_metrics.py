"""Backtest metrics: parity with empyrical on bundled data, hand-computed cases, edge cases."""

from __future__ import annotations

import math

import empyrical as ep
import numpy as np
import pandas as pd
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.app import Workspace
from alphaloop.backtest.metrics import (
    MONTHS,
    compute_metrics,
    drawdown_periods,
    drawdown_series,
    monthly_returns_table,
    periods_per_year_for,
    rolling_sharpe,
)
from alphaloop.data.panel import infer_frequency
from alphaloop.errors import BacktestError

REL = 1e-10


def daily(values: list[float], start: str = "2024-01-01") -> pd.Series:
    """Returns on consecutive calendar days (UTC)."""
    index = pd.date_range(start, periods=len(values), freq="D", tz="UTC")
    return pd.Series(values, index=index, dtype=float)


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.Series]:
    """Daily simple returns of three bundled stocks and of the S&P 500 index."""
    ws = Workspace(tmp_path_factory.mktemp("metrics") / "ws")
    stocks = ws.data.load("sp500-stocks").frame("close")
    index = ws.data.load("sp500-index").frame("close").iloc[:, 0]
    ws.close()
    out = {name: stocks[name].pct_change().iloc[1:] for name in ("MSFT", "JPM", "AAPL")}
    out["benchmark"] = index.pct_change().iloc[1:]
    return out


# -- parity with empyrical ------------------------------------------------------


@pytest.mark.parametrize("asset", ["MSFT", "JPM", "AAPL"])
@pytest.mark.parametrize(("ppy", "rf"), [(252.0, 0.0), (252.0, 1e-4), (12.0, 0.0)])
def test_parity_with_empyrical(market: dict[str, pd.Series], asset: str, ppy: float, rf: float):
    r, b = market[asset], market["benchmark"]
    m = compute_metrics(r, periods_per_year=ppy, benchmark=b, risk_free=rf)
    ann = {"annualization": ppy}
    expected = {
        "total_return": ep.cum_returns_final(r),
        "annual_return": ep.annual_return(r, **ann),
        "annual_volatility": ep.annual_volatility(r, **ann),
        "sharpe_ratio": ep.sharpe_ratio(r, risk_free=rf, **ann),
        "sortino_ratio": ep.sortino_ratio(r, required_return=rf, **ann),
        "calmar_ratio": ep.calmar_ratio(r, **ann),
        "max_drawdown": ep.max_drawdown(r),
        "alpha": ep.alpha(r, b, risk_free=rf, **ann),
        "beta": ep.beta(r, b, risk_free=rf),
        "information_ratio": ep.excess_sharpe(r, b) * math.sqrt(ppy),
        "tail_ratio": ep.tail_ratio(r),
        "var_95": ep.value_at_risk(r, cutoff=0.05),
        "cvar_95": ep.conditional_value_at_risk(r, cutoff=0.05),
        "stability": ep.stability_of_timeseries(r),
        "skew": scipy.stats.skew(r),
        "kurtosis": scipy.stats.kurtosis(r),
        "best_period": r.max(),
        "worst_period": r.min(),
        "n_periods": len(r),
        "periods_per_year": ppy,
    }
    for key, value in expected.items():
        assert m[key] == pytest.approx(float(value), rel=REL), key


def test_benchmark_aligned_pairwise_like_empyrical(market: dict[str, pd.Series]):
    r = market["JPM"]
    b = market["benchmark"].copy()
    rng = np.random.default_rng(7)
    b.iloc[rng.choice(len(b), 300, replace=False)] = np.nan
    b = b.drop(b.index[rng.choice(len(b), 200, replace=False)])
    b = pd.concat([b, daily([0.01, 0.02], start="2030-01-01")])  # dates returns lack
    m = compute_metrics(r, periods_per_year=252, benchmark=b)
    assert m["beta"] == pytest.approx(ep.beta(r, b), rel=REL)
    assert m["alpha"] == pytest.approx(ep.alpha(r, b, annualization=252), rel=REL)
    both = pd.concat([r, b], axis=1, join="inner").dropna()
    assert m["information_ratio"] == pytest.approx(
        ep.excess_sharpe(both.iloc[:, 0], both.iloc[:, 1]) * math.sqrt(252), rel=REL
    )
    assert m["sharpe_ratio"] == pytest.approx(ep.sharpe_ratio(r, annualization=252), rel=REL)


def test_series_helpers_match_empyrical(market: dict[str, pd.Series]):
    r = market["MSFT"]
    np.testing.assert_allclose(drawdown_series(r), ep.stats.drawdown_series(r), rtol=0, atol=1e-13)
    ours = rolling_sharpe(r, 63, 252)
    theirs = ep.roll_sharpe_ratio(r, 63, annualization=252)
    assert ours.iloc[:62].isna().all()
    np.testing.assert_allclose(ours.iloc[62:], theirs, rtol=1e-8, atol=1e-12)
    assert ours.index.equals(r.index)


# -- hand-computed cases ----------------------------------------------------------


def test_small_series_by_hand():
    r = daily([0.1, -0.05, 0.02])
    m = compute_metrics(r, periods_per_year=252)
    assert m["total_return"] == pytest.approx(1.1 * 0.95 * 1.02 - 1, rel=REL)
    assert m["annual_return"] == pytest.approx((1.1 * 0.95 * 1.02) ** (252 / 3) - 1, rel=REL)
    mean, std = np.mean([0.1, -0.05, 0.02]), np.std([0.1, -0.05, 0.02], ddof=1)
    assert m["sharpe_ratio"] == pytest.approx(mean / std * math.sqrt(252), rel=REL)
    assert m["sortino_ratio"] == pytest.approx(mean * 252 / (0.05 / math.sqrt(3) * math.sqrt(252)))
    assert m["max_drawdown"] == pytest.approx(-0.05, rel=REL)
    # peak after bar 0, not recovered by bar 2: two bars, two days
    assert m["max_drawdown_duration"] == 2.0
    assert m["max_drawdown_duration_days"] == 2.0
    assert (m["best_period"], m["worst_period"], m["n_periods"]) == (0.1, -0.05, 3.0)


def test_drawdown_durations_and_periods_by_hand():
    r = daily([-0.1, 0.2, -0.5, 0.1, 1.5])  # equity 0.9, 1.08, 0.54, 0.594, 1.485
    dd = drawdown_series(r)
    np.testing.assert_allclose(dd, [-0.1, 0.0, -0.5, 0.594 / 1.08 - 1.0, 0.0], atol=1e-15)
    assert dd.name == "drawdown"
    m = compute_metrics(r, periods_per_year=252)
    assert m["max_drawdown"] == pytest.approx(-0.5)
    assert m["max_drawdown_duration"] == 3.0  # peak bar 1 -> recovery bar 4
    assert m["max_drawdown_duration_days"] == 3.0
    table = drawdown_periods(r)
    assert list(table.columns) == [
        "peak",
        "valley",
        "recovery",
        "depth",
        "duration",
        "duration_days",
    ]
    assert len(table) == 2
    deep, first = table.iloc[0], table.iloc[1]
    assert (deep["peak"], deep["valley"], deep["recovery"]) == (r.index[1], r.index[2], r.index[4])
    assert deep["depth"] == pytest.approx(-0.5)
    assert (deep["duration"], deep["duration_days"]) == (3, 3.0)
    # a loss on the first bar: the peak is the starting capital, dated at the first bar
    assert (first["peak"], first["valley"], first["recovery"]) == (r.index[0],) * 2 + (r.index[1],)
    assert (first["duration"], first["duration_days"]) == (2, 1.0)
    assert len(drawdown_periods(r, top=1)) == 1


def test_unrecovered_drawdown_and_no_drawdown():
    table = drawdown_periods(daily([0.05, -0.1, 0.02, 0.01]))
    assert table["recovery"].isna().all()
    assert table["duration"].tolist() == [3]
    m = compute_metrics(daily([0.01, 0.02, 0.0]), periods_per_year=252)
    assert (m["max_drawdown"], m["max_drawdown_duration"]) == (0.0, 0.0)
    assert math.isnan(m["calmar_ratio"])
    assert drawdown_periods(daily([0.01, 0.02])).empty


def test_round_trip_statistics():
    trips = pd.DataFrame({"pnl": [100.0, -50.0, 30.0, 0.0, -25.0], "return": [0.1] * 5})
    m = compute_metrics(daily([0.01, -0.01]), periods_per_year=252, round_trips=trips)
    assert m["win_rate"] == pytest.approx(0.4)
    assert m["profit_factor"] == pytest.approx(130.0 / 75.0)
    assert m["avg_win"] == pytest.approx(65.0)
    assert m["avg_loss"] == pytest.approx(-37.5)
    assert m["n_round_trips"] == 5.0


@pytest.mark.parametrize(
    ("pnl", "win_rate", "profit_factor"),
    [
        ([10.0, 5.0], 1.0, math.inf),  # no losing trips: inf
        ([0.0, 0.0], 0.0, math.nan),  # neither wins nor losses: undefined
        ([], math.nan, math.nan),
        ([-3.0], 0.0, 0.0),
    ],
)
def test_profit_factor_conventions(pnl: list[float], win_rate: float, profit_factor: float):
    trips = pd.DataFrame({"pnl": pd.Series(pnl, dtype=float)})
    m = compute_metrics(daily([0.01]), periods_per_year=252, round_trips=trips)
    assert m["win_rate"] == pytest.approx(win_rate, nan_ok=True)
    assert m["profit_factor"] == pytest.approx(profit_factor, nan_ok=True)
    assert m["n_round_trips"] == len(pnl)


def test_exposure_turnover_and_costs():
    r = daily([0.01, -0.02, 0.03])
    m = compute_metrics(
        r,
        periods_per_year=252,
        gross_exposure=pd.Series([0.0, 0.5, 1.5], index=r.index),
        turnover=pd.Series([0.1, 0.2, 0.0], index=r.index),
        costs={"commission": 10.0, "spread": 5.0, "borrow": 1.0},
        initial_capital=10_000.0,
    )
    assert m["exposure"] == pytest.approx(2.0 / 3.0)
    assert m["time_in_market"] == pytest.approx(2.0 / 3.0)
    assert m["turnover"] == pytest.approx(0.1 * 252)
    assert m["total_costs"] == 16.0
    assert m["costs_bps_of_capital"] == pytest.approx(16.0)
    assert (m["cost_commission"], m["cost_spread"], m["cost_borrow"]) == (10.0, 5.0, 1.0)


def test_keys_and_nan_when_inputs_missing():
    m = compute_metrics(daily([0.01, -0.02, 0.03, 0.0]), periods_per_year=252)
    assert list(m) == [
        "total_return",
        "annual_return",
        "annual_volatility",
        "sharpe_ratio",
        "sortino_ratio",
        "calmar_ratio",
        "max_drawdown",
        "max_drawdown_duration",
        "max_drawdown_duration_days",
        "win_rate",
        "profit_factor",
        "avg_win",
        "avg_loss",
        "n_round_trips",
        "exposure",
        "time_in_market",
        "turnover",
        "total_costs",
        "costs_bps_of_capital",
        "alpha",
        "beta",
        "information_ratio",
        "tracking_error",
        "benchmark_correlation",
        "skew",
        "kurtosis",
        "tail_ratio",
        "var_95",
        "cvar_95",
        "n_periods",
        "periods_per_year",
        "best_period",
        "worst_period",
        "stability",
    ]
    assert all(isinstance(v, float) for v in m.values())
    for key in (
        "alpha",
        "beta",
        "information_ratio",
        "tracking_error",
        "benchmark_correlation",
        "win_rate",
        "exposure",
        "total_costs",
    ):
        assert math.isnan(m[key]), key


def test_monthly_table_compounds_by_hand():
    index = pd.DatetimeIndex(["2023-01-30", "2023-01-31", "2023-02-01", "2024-03-15"], tz="UTC")
    table = monthly_returns_table(pd.Series([0.1, -0.05, 0.02, 0.03], index=index))
    assert list(table.columns) == [*MONTHS, "year"]
    assert table.index.tolist() == [2023, 2024]
    assert table.loc[2023, "Jan"] == pytest.approx(1.1 * 0.95 - 1)
    assert table.loc[2023, "Feb"] == pytest.approx(0.02)
    assert table.loc[2023, "year"] == pytest.approx(1.1 * 0.95 * 1.02 - 1)
    assert table.loc[2024, "Mar"] == pytest.approx(0.03)
    assert table.loc[2024, "year"] == pytest.approx(0.03)
    assert table.loc[2023, "Mar":"Dec"].isna().all()


def test_monthly_table_groups_in_utc():
    # 20:00 in New York on 31 January is 01:00 UTC on 1 February
    index = pd.DatetimeIndex(["2023-01-31 20:00"]).tz_localize("America/New_York")
    table = monthly_returns_table(pd.Series([0.05], index=index))
    assert table.loc[2023, "Feb"] == pytest.approx(0.05)
    assert math.isnan(table.loc[2023, "Jan"])


# -- edge cases ---------------------------------------------------------------------


def test_constant_returns_give_nan_ratios_not_inf():
    m = compute_metrics(daily([0.01] * 10), periods_per_year=252)
    assert m["annual_volatility"] == 0.0
    for key in ("sharpe_ratio", "sortino_ratio", "skew", "kurtosis", "calmar_ratio"):
        assert math.isnan(m[key]), key
    assert m["stability"] == pytest.approx(1.0)
    flat = compute_metrics(daily([0.0] * 5), periods_per_year=252)
    for key in ("sharpe_ratio", "tail_ratio", "stability"):
        assert math.isnan(flat[key]), key
    assert rolling_sharpe(daily([0.01] * 5 + [0.02, 0.0]), 3, 252).iloc[:4].isna().all()


def test_constant_benchmark_gives_nan_beta_and_alpha():
    r = daily([0.01, -0.02, 0.03])
    m = compute_metrics(r, periods_per_year=252, benchmark=daily([0.001] * 3))
    assert math.isnan(m["beta"])
    assert math.isnan(m["alpha"])
    assert m["information_ratio"] == pytest.approx(
        np.mean(r - 0.001) / np.std(r, ddof=1) * math.sqrt(252)
    )


def test_single_bar():
    m = compute_metrics(daily([0.02]), periods_per_year=252)
    assert m["total_return"] == pytest.approx(0.02)
    assert m["var_95"] == m["cvar_95"] == 0.02
    for key in ("annual_volatility", "sharpe_ratio", "sortino_ratio", "stability", "skew"):
        assert math.isnan(m[key]), key


def test_loss_beyond_total_has_no_cagr():
    m = compute_metrics(daily([-2.0, 0.1]), periods_per_year=252)
    assert m["total_return"] == pytest.approx(-2.1)
    assert math.isnan(m["annual_return"])
    assert compute_metrics(daily([-1.0, 0.5]), periods_per_year=252)["annual_return"] == -1.0


def test_tz_naive_index_is_read_as_utc():
    naive = pd.Series([0.01, -0.02], index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"]))
    dd = drawdown_series(naive)
    assert str(dd.index.tz) == "UTC"
    benchmark = daily([0.02, 0.01])
    m = compute_metrics(naive, periods_per_year=252, benchmark=benchmark)
    assert not math.isnan(m["information_ratio"])


@pytest.mark.parametrize(
    ("returns", "match"),
    [
        (daily([]), "returns is empty"),
        (daily([0.01, -0.01]).iloc[::-1], "not strictly increasing"),
        (pd.concat([daily([0.01]), daily([0.02])]), "not strictly increasing"),
        (daily([0.01, math.inf]), "holds inf"),
        (daily([0.01, math.nan]), "holds nan"),
        (pd.Series([0.01, 0.02]), "indexed by timestamps"),
        ([0.01, 0.02], "must be a pandas Series"),
    ],
)
def test_bad_returns_raise(returns: pd.Series, match: str):
    with pytest.raises(BacktestError, match=match):
        compute_metrics(returns, periods_per_year=252)


def test_bad_side_inputs_raise():
    r = daily([0.01, -0.02, 0.03])
    with pytest.raises(BacktestError, match="gross_exposure is not on the returns' index"):
        compute_metrics(r, periods_per_year=252, gross_exposure=r.iloc[:2].abs())
    with pytest.raises(BacktestError, match="turnover is negative"):
        compute_metrics(r, periods_per_year=252, turnover=r)
    with pytest.raises(BacktestError, match="'pnl' column"):
        compute_metrics(r, periods_per_year=252, round_trips=pd.DataFrame({"profit": [1.0]}))
    with pytest.raises(BacktestError, match="no values on the returns' timestamps"):
        compute_metrics(r, periods_per_year=252, benchmark=daily([0.01], start="2030-01-01"))
    with pytest.raises(BacktestError, match="snake_case"):
        compute_metrics(r, periods_per_year=252, costs={"Commission": 1.0})
    with pytest.raises(BacktestError, match="initial_capital must be positive"):
        compute_metrics(r, periods_per_year=252, initial_capital=0.0)
    for ppy in (0.0, math.nan, "252"):
        with pytest.raises(BacktestError, match="periods_per_year"):
            compute_metrics(r, periods_per_year=ppy)  # type: ignore[arg-type]
    with pytest.raises(BacktestError, match="window"):
        rolling_sharpe(r, 1, 252)
    with pytest.raises(BacktestError, match="top"):
        drawdown_periods(r, top=0)


@pytest.mark.parametrize(
    ("frequency", "expected"),
    [
        ("daily", 252.0),
        ("weekly", 52.0),
        ("monthly", 12.0),
        ("quarterly", 4.0),
        ("annual", 1.0),
        ("1h", 252 * 6.5),
        ("hourly", 252 * 6.5),
        ("30min", 252 * 13.0),
        ("5min", 252 * 78.0),
        ("minute", 252 * 390.0),
        ("30s", 252 * 390.0 * 2),
    ],
)
def test_periods_per_year_for(frequency: str, expected: float):
    assert periods_per_year_for(frequency) == pytest.approx(expected)


def test_periods_per_year_for_panel_frequencies():
    index = pd.date_range("2024-01-01 14:30", periods=20, freq="5min", tz="UTC")
    assert periods_per_year_for(infer_frequency(index)) == 19656.0
    with pytest.raises(BacktestError, match="irregular") as err:
        periods_per_year_for("irregular")
    assert "periods_per_year" in str(err.value)
    with pytest.raises(BacktestError, match="unknown frequency"):
        periods_per_year_for("fortnightly")


# -- properties ---------------------------------------------------------------------

_returns = st.lists(st.floats(-0.5, 0.5, allow_nan=False, allow_subnormal=False), max_size=80)


@settings(max_examples=60, deadline=None)
@given(values=_returns.filter(bool))
def test_max_drawdown_is_the_lowest_point_of_the_drawdown_series(values: list[float]):
    r = daily(values)
    dd = drawdown_series(r)
    m = compute_metrics(r, periods_per_year=252)
    assert (dd <= 0.0).all()
    assert m["max_drawdown"] == dd.min()
    assert 0 <= m["max_drawdown_duration"] <= len(values)
    periods = drawdown_periods(r, top=len(values))
    if m["max_drawdown"] < 0:
        assert periods["depth"].iloc[0] == m["max_drawdown"]
        assert periods["duration"].max() == m["max_drawdown_duration"]
    else:
        assert periods.empty


@settings(max_examples=60, deadline=None)
@given(
    bars=st.lists(
        st.tuples(st.integers(1, 45), st.floats(-0.3, 0.3, allow_nan=False)),
        min_size=1,
        max_size=60,
    )
)
def test_monthly_table_compounds_back_to_total_return(bars: list[tuple[int, float]]):
    steps, values = zip(*bars, strict=True)
    index = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(np.cumsum(steps), unit="D")
    r = pd.Series(values, index=index)
    table = monthly_returns_table(r)
    total = compute_metrics(r, periods_per_year=252)["total_return"]
    assert np.prod(1.0 + table["year"]) - 1.0 == pytest.approx(total, rel=1e-9, abs=1e-12)
    by_months = np.prod(1.0 + table[list(MONTHS)].fillna(0.0), axis=1) - 1.0
    np.testing.assert_allclose(by_months, table["year"], rtol=1e-9, atol=1e-12)


def test_tracking_error_and_correlation_by_hand():
    rng = np.random.default_rng(5)
    index = pd.bdate_range("2021-01-04", periods=300, tz="UTC")
    b = pd.Series(rng.normal(0.0004, 0.01, 300), index=index)
    r = pd.Series(0.8 * b.to_numpy() + rng.normal(0.0, 0.004, 300), index=index)
    m = compute_metrics(r, periods_per_year=252.0, benchmark=b)
    active = r.to_numpy() - b.to_numpy()
    assert m["tracking_error"] == pytest.approx(np.std(active, ddof=1) * np.sqrt(252.0), rel=1e-12)
    expected = np.corrcoef(r.to_numpy(), b.to_numpy())[0, 1]
    assert m["benchmark_correlation"] == pytest.approx(expected, rel=1e-12)
    assert 0.8 < m["benchmark_correlation"] < 1.0
    # a strategy that is the benchmark: no tracking error, correlation 1
    same = compute_metrics(b, periods_per_year=252.0, benchmark=b)
    assert same["tracking_error"] == 0.0
    assert same["benchmark_correlation"] == pytest.approx(1.0, abs=1e-12)
    # a flat benchmark has no correlation
    flat = compute_metrics(r, periods_per_year=252.0, benchmark=b * 0.0)
    assert math.isnan(flat["benchmark_correlation"])
