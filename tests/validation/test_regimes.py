"""Regime sensitivity on the bundled S&P 500 index, 1990-2022."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.validation.regimes import (
    DEFAULT_CRISES,
    CrisisWindow,
    RegimeReport,
    market_regimes,
    regime_performance,
)
from alphaloop.validation.sharpe import StatisticsError


@pytest.fixture(scope="module")
def index_returns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pd.Series]:
    """Daily S&P 500 index returns over the whole bundled history.

    This is an ex-post evaluation of the index itself, so the workspace's sealed
    holdout is switched off to reach 2020 and 2022.
    """
    ws = Workspace(tmp_path_factory.mktemp("regimes") / "ws", holdout_fraction=0.0)
    close = ws.data.load("sp500-index").frame("close")["SP500"]
    yield close.pct_change().dropna()
    ws.close()


@pytest.fixture(scope="module")
def buy_and_hold(index_returns: pd.Series) -> RegimeReport:
    return regime_performance(index_returns, index_returns)


def test_the_data_spans_1990_to_2022(index_returns: pd.Series) -> None:
    assert index_returns.index[0].year == 1990
    assert index_returns.index[-1].year == 2022


def test_crisis_windows_in_the_data_are_found(buy_and_hold: RegimeReport) -> None:
    crises = {r.name: r for r in buy_and_hold.regimes if r.kind == "crisis"}
    assert {"gfc_2008", "covid_2020", "dotcom_bust", "rate_shock_2022"} <= set(crises)
    assert "black_monday_1987" not in crises  # before the data starts
    assert "black_monday_1987" in buy_and_hold.crises_skipped
    covid = crises["covid_2020"]
    assert covid.start.startswith("2020-02-19")
    assert covid.end.startswith("2020-03-23")
    assert covid.n_bars == 24
    # from the close before the peak (2020-02-18, 3370.29) to the trough (2237.40 on 03-23)
    assert covid.total_return == pytest.approx(2237.40 / 3370.29 - 1, rel=1e-6)
    assert crises["gfc_2008"].total_return < -0.5
    assert all(not r.partial for r in crises.values())


def test_only_windows_inside_a_shorter_sample_are_evaluated(index_returns: pd.Series) -> None:
    recent = index_returns["2008-01-01":]
    report = regime_performance(recent, index_returns)
    names = {r.name for r in report.regimes if r.kind == "crisis"}
    assert "dotcom_bust" not in names
    assert report.crises_skipped["dotcom_bust"].startswith("0 bars")
    gfc = report.get("crisis", "gfc_2008")
    assert gfc.partial  # the window opens in October 2007
    assert gfc.start.startswith("2008-01-02")
    short = regime_performance(recent, index_returns, min_bars=30)
    assert "covid_2020" in short.crises_skipped  # 24 bars < 30


def test_volatility_terciles_partition_the_bars(
    index_returns: pd.Series, buy_and_hold: RegimeReport
) -> None:
    vol = [r for r in buy_and_hold.regimes if r.kind == "volatility"]
    assert [r.name for r in vol] == ["low", "mid", "high"]
    classified = len(index_returns) - buy_and_hold.n_unclassified["volatility"]
    assert sum(r.n_bars for r in vol) == classified
    assert buy_and_hold.n_unclassified["volatility"] == 62  # the first 63-bar window fills
    for regime in vol:
        assert abs(regime.n_bars - classified / 3) <= 1
    labels = market_regimes(index_returns)["volatility_regime"].dropna()
    assert labels.index.is_unique
    assert set(labels) == {"low", "mid", "high"}
    low_cut, high_cut = buy_and_hold.volatility_cut_points
    assert 0.05 < low_cut < high_cut < 0.40  # annualized index volatility
    assert vol[2].annual_volatility > vol[1].annual_volatility > vol[0].annual_volatility


def test_trend_regimes_partition_and_the_index_loses_in_down_markets(
    index_returns: pd.Series, buy_and_hold: RegimeReport
) -> None:
    trend = {r.name: r for r in buy_and_hold.regimes if r.kind == "trend"}
    classified = len(index_returns) - buy_and_hold.n_unclassified["trend"]
    assert sum(r.n_bars for r in trend.values()) == classified
    assert trend["down"].total_return < 0
    assert trend["down"].sharpe_ratio < 0
    assert trend["up"].total_return > 0
    assert not trend["down"].acceptable
    assert trend["up"].acceptable


def test_share_acceptable(index_returns: pd.Series, buy_and_hold: RegimeReport) -> None:
    evaluated = [r for r in buy_and_hold.regimes if r.evaluated]
    good = [r for r in evaluated if r.sharpe_ratio > 0]
    assert buy_and_hold.n_evaluated == len(evaluated)
    assert buy_and_hold.n_acceptable == len(good)
    assert buy_and_hold.share_acceptable == pytest.approx(len(good) / len(evaluated))
    assert buy_and_hold.parameters["acceptable"] == "sharpe_ratio > 0.0"
    strict = regime_performance(index_returns, index_returns, min_sharpe=10.0)
    assert strict.share_acceptable == 0.0

    def shallow(m: dict[str, float]) -> bool:
        return m["max_drawdown"] > -0.2

    custom = regime_performance(index_returns, index_returns, acceptable=shallow)
    expected = [r.max_drawdown > -0.2 for r in custom.regimes if r.evaluated]
    assert custom.share_acceptable == pytest.approx(np.mean(expected))
    assert custom.parameters["acceptable"].endswith("shallow")


def test_regime_metrics_by_hand(index_returns: pd.Series, buy_and_hold: RegimeReport) -> None:
    gfc = buy_and_hold.get("crisis", "gfc_2008")
    bars = index_returns["2007-10-09":"2009-03-09"]
    assert gfc.n_bars == len(bars)
    assert gfc.total_return == pytest.approx(float((1 + bars).prod() - 1))
    assert gfc.hit_rate == pytest.approx(float((bars > 0).mean()))
    sharpe = bars.mean() / bars.std(ddof=1) * math.sqrt(252)
    assert gfc.sharpe_ratio == pytest.approx(sharpe)
    wealth = (1 + bars).cumprod()
    assert gfc.max_drawdown == pytest.approx(
        float((wealth / wealth.cummax().clip(lower=1)).min() - 1)
    )


def test_trailing_measures_by_hand(index_returns: pd.Series) -> None:
    regimes = market_regimes(index_returns, window=63, trend_threshold=0.05)
    i = 5000
    window = index_returns.iloc[i - 62 : i + 1]  # 63 bars ending at (and including) bar i
    row = regimes.iloc[i]
    assert row["trailing_volatility"] == pytest.approx(window.std(ddof=1) * math.sqrt(252))
    assert row["trailing_return"] == pytest.approx(float((1 + window).prod() - 1))
    expected = (
        "up"
        if row["trailing_return"] > 0.05
        else "down"
        if row["trailing_return"] < -0.05
        else "sideways"
    )
    assert row["trend_regime"] == expected


@pytest.mark.parametrize("cut", ["2001-06-29", "2008-09-15", "2020-03-16"])
def test_trailing_classification_does_not_look_ahead(index_returns: pd.Series, cut: str) -> None:
    full = market_regimes(index_returns)
    truncated = market_regimes(index_returns[:cut])
    common = truncated.index
    columns = ["trailing_volatility", "trailing_return", "trend_regime"]
    pd.testing.assert_frame_equal(full.loc[common, columns], truncated[columns])
    full_expanding = market_regimes(index_returns, volatility_cuts="expanding")
    truncated_expanding = market_regimes(index_returns[:cut], volatility_cuts="expanding")
    pd.testing.assert_series_equal(
        full_expanding.loc[common, "volatility_regime"],
        truncated_expanding["volatility_regime"],
    )


def test_full_sample_cut_points_use_hindsight(index_returns: pd.Series) -> None:
    # the documented exception: full-sample terciles move when later data is added
    full = market_regimes(index_returns)
    truncated = market_regimes(index_returns[:"2001-06-29"])
    assert full["volatility_cut_low"].iloc[0] != truncated["volatility_cut_low"].iloc[0]
    changed = full.loc[truncated.index, "volatility_regime"].ne(truncated["volatility_regime"])
    assert changed.sum() > 0


def test_expanding_cuts_label_only_after_enough_history(index_returns: pd.Series) -> None:
    report = regime_performance(index_returns, index_returns, volatility_cuts="expanding")
    assert report.volatility_cut_points is None
    assert report.n_unclassified["volatility"] == 62 + 251
    assert "expanding" in report.notes[0]


def test_report_serializes_and_frames(buy_and_hold: RegimeReport) -> None:
    payload = json.loads(json.dumps(buy_and_hold.to_dict(), allow_nan=False))
    assert payload["n_evaluated"] == buy_and_hold.n_evaluated
    assert payload["parameters"]["window"] == 63
    assert "hindsight" in payload["notes"][0]
    frame = buy_and_hold.frame()
    assert frame.loc[("crisis", "covid_2020"), "n_bars"] == 24
    with pytest.raises(StatisticsError, match="no regime crisis/black_monday_1987"):
        buy_and_hold.get("crisis", "black_monday_1987")


def test_default_crises_are_ordered_and_valid() -> None:
    starts = [pd.Timestamp(c.start) for c in DEFAULT_CRISES]
    assert starts == sorted(starts)
    assert all(pd.Timestamp(c.start) < pd.Timestamp(c.end) for c in DEFAULT_CRISES)
    assert len({c.name for c in DEFAULT_CRISES}) == len(DEFAULT_CRISES)


def test_custom_window_and_naive_index() -> None:
    index = pd.bdate_range("2020-01-01", periods=300)
    rng = np.random.default_rng(0)
    market = pd.Series(rng.normal(0, 0.01, 300), index=index)
    window = CrisisWindow("test_window", "2020-03-02", "2020-04-30")
    report = regime_performance(market, market, crisis_windows=(window,), window=21)
    crisis = report.get("crisis", "test_window")
    assert crisis.n_bars == len(market["2020-03-02":"2020-04-30"])


def test_bad_inputs_raise(index_returns: pd.Series) -> None:
    broken = index_returns.copy()
    broken.iloc[10] = np.nan
    with pytest.raises(StatisticsError, match="NaN"):
        regime_performance(broken, index_returns)
    with pytest.raises(StatisticsError, match="timezones"):
        regime_performance(index_returns, index_returns.tz_localize(None))
    with pytest.raises(StatisticsError, match="DatetimeIndex"):
        regime_performance(index_returns.reset_index(drop=True), index_returns)
    with pytest.raises(StatisticsError, match="volatility_cuts"):
        market_regimes(index_returns, volatility_cuts="rolling")  # type: ignore[arg-type]
    with pytest.raises(StatisticsError, match="window must be"):
        market_regimes(index_returns, window=1)
