"""The time-series mode: per-asset IC and hit rate when there is no cross-section."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.stats import pearsonr, spearmanr

from alphaloop.factors.analysis import (
    CROSS_SECTION_ONLY,
    FactorAnalysisError,
    analyze_factor,
    choose_analysis_mode,
    forward_returns,
    render_tearsheet,
    time_series_analysis,
)
from tests.factors.test_analysis_report import StrictParser

IDX6 = pd.date_range("2024-01-01", periods=6, freq="B", tz="UTC")
# +10 %, -10 %, +10 %, -10 %, +10 %: the forward returns at bars 0..4; bar 5 has none
CLOSE6 = np.array([[100.0], [110.0], [99.0], [108.9], [98.01], [107.811]])
FACTOR6 = np.array([[1.0], [-1.0], [2.0], [-2.0], [-3.0], [5.0]])


def test_hand_computed_hit_rate_chance_and_counts() -> None:
    ts = time_series_analysis(FACTOR6, CLOSE6, index=IDX6, assets=["A"], decay_horizons=(1,))
    a = ts.assets["A"]
    # bars 0-3 match signs, bar 4 does not, bar 5 has no forward return
    assert a.n_bars == 5
    assert (a.n_hits, a.n_signed, a.n_zero) == (4, 5, 0)
    assert a.hit_rate == pytest.approx(0.8)
    assert a.share_factor_positive == pytest.approx(2 / 5)
    assert a.share_up == pytest.approx(3 / 5)
    assert a.chance_hit_rate == pytest.approx(0.4 * 0.6 + 0.6 * 0.4)
    r = np.array([0.1, -0.1, 0.1, -0.1, 0.1])
    f = FACTOR6[:5, 0]
    assert a.ic == pytest.approx(pearsonr(f, r)[0], abs=1e-12)
    assert a.rank_ic == pytest.approx(spearmanr(f, r)[0], abs=1e-12)
    assert a.start == IDX6[0]
    assert a.end == IDX6[4]
    assert ts.pooled["n_hits"] == 4
    assert ts.pooled["rank_ic"] == pytest.approx(a.rank_ic)


def test_zeros_are_counted_apart_from_the_hit_rate() -> None:
    factor = FACTOR6.copy()
    factor[1, 0] = 0.0
    a = time_series_analysis(factor, CLOSE6, index=IDX6, assets=["A"]).assets["A"]
    assert (a.n_bars, a.n_signed, a.n_zero, a.n_hits) == (5, 4, 1, 3)
    assert a.hit_rate == pytest.approx(3 / 4)


def _random_walk(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    signal = np.vstack([np.full((1, k), np.nan), np.log(close[1:] / close[:-1])])
    return signal + rng.normal(0, 0.01, (n, k)), close


def test_rank_ic_t_stat_is_the_newey_west_t_of_the_rank_products() -> None:
    factor, close = _random_walk(3, 400, 1)
    ts = time_series_analysis(
        factor, close, index=pd.bdate_range("2020-01-01", periods=400), assets=["A"], horizon=5
    )
    a = ts.assets["A"]
    fwd = forward_returns(close, 5)[:, 0]
    ok = np.isfinite(factor[:, 0]) & np.isfinite(fwd)
    rf = pd.Series(factor[ok, 0]).rank().to_numpy()
    rr = pd.Series(fwd[ok]).rank().to_numpy()
    products = (rf - rf.mean()) / rf.std() * (rr - rr.mean()) / rr.std()
    assert a.rank_ic == pytest.approx(spearmanr(factor[ok, 0], fwd[ok])[0], abs=1e-12)
    lags = ts.pooled["hac_lags"]
    assert lags >= 4  # at least horizon - 1
    fit = sm.OLS(products, np.ones(products.size)).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False}
    )
    assert a.rank_ic_t_stat_hac == pytest.approx(float(fit.tvalues[0]), rel=1e-10)


def test_pooled_measures_over_assets_with_the_same_bars() -> None:
    factor, close = _random_walk(5, 300, 3)
    idx = pd.bdate_range("2020-01-01", periods=300)
    ts = time_series_analysis(factor, close, index=idx, assets=["A", "B", "C"])
    per = ts.assets.values()
    assert ts.pooled["n_assets"] == 3
    assert ts.pooled["rank_ic"] == pytest.approx(np.mean([a.rank_ic for a in per]), abs=1e-12)
    assert ts.pooled["ic_mean_over_assets"] == pytest.approx(np.mean([a.ic for a in per]))
    assert ts.pooled["n_hits"] == sum(a.n_hits for a in per)
    assert ts.pooled["hit_rate"] == pytest.approx(
        sum(a.n_hits for a in per) / sum(a.n_signed for a in per)
    )
    # the factor carries yesterday's return: a trailing window of it is known
    assert set(ts.decay) == {1, 5, 20}
    assert ts.decay[1]["rank_ic"] == ts.pooled["rank_ic"]


def test_rolling_ic_is_the_correlation_of_the_last_window_bars() -> None:
    factor, close = _random_walk(9, 120, 2)
    idx = pd.bdate_range("2021-01-01", periods=120)
    ts = time_series_analysis(factor, close, index=idx, assets=["A", "B"], window=20)
    fwd = forward_returns(close, 1)
    t = 70
    expected = np.corrcoef(factor[t - 19 : t + 1, 1], fwd[t - 19 : t + 1, 1])[0, 1]
    assert ts.rolling_ic["B"].iloc[t] == pytest.approx(expected, abs=1e-10)
    assert ts.rolling_ic["A"].iloc[:20].isna().all()  # bar 0 has no factor: window incomplete
    assert ts.rolling_ic["A"].iloc[-1:].isna().all()  # the last bar has no forward return


def test_membership_removes_bars() -> None:
    factor, close = _random_walk(11, 200, 1)
    idx = pd.bdate_range("2020-01-01", periods=200)
    members = np.ones_like(factor, dtype=bool)
    members[:50] = False
    full = time_series_analysis(factor, close, index=idx, assets=["A"]).assets["A"]
    part = time_series_analysis(factor, close, index=idx, assets=["A"], membership=members)
    assert part.assets["A"].n_bars == full.n_bars - 49  # bar 0 had no factor anyway
    assert part.assets["A"].start == idx[50]


# ------------------------------------------------------------ mode choice


def test_auto_picks_time_series_below_min_assets_and_says_why() -> None:
    close = np.ones((10, 3))
    mode, reason = choose_analysis_mode(close, min_assets=5)
    assert mode == "time-series"
    assert reason.startswith("auto: a median of 3 assets with a price per period, fewer than")
    mode, reason = choose_analysis_mode(np.ones((10, 6)), min_assets=5)
    assert mode == "cross-section"
    members = np.ones((10, 6), dtype=bool)
    members[:, :2] = False
    assert choose_analysis_mode(np.ones((10, 6)), members, min_assets=5)[0] == "time-series"
    missing = np.ones((10, 6))
    missing[:6, :3] = np.nan  # most periods have 3 prices
    assert choose_analysis_mode(missing, min_assets=5)[0] == "time-series"


def test_explicit_modes() -> None:
    with pytest.raises(FactorAnalysisError, match="needs at least 5 assets per period"):
        choose_analysis_mode(np.ones((10, 1)), min_assets=5, requested="cross-section")
    assert choose_analysis_mode(np.ones((10, 9)), min_assets=5, requested="time-series") == (
        "time-series",
        "asked for (a median of 9 assets with a price per period)",
    )
    with pytest.raises(FactorAnalysisError, match="unknown analysis mode 'panel'"):
        choose_analysis_mode(np.ones((10, 9)), requested="panel")


# ------------------------------------------------------------ the report


@pytest.fixture(scope="module")
def single() -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex]:
    factor, close = _random_walk(21, 600, 1)
    return factor, close, pd.bdate_range("2019-01-01", periods=600, tz="UTC")


def test_a_single_asset_gets_a_time_series_report_not_an_empty_one(single) -> None:
    factor, close, idx = single
    report = analyze_factor(factor, close, index=idx, assets=["SPX"], horizon=1)
    assert report.mode == "time-series"
    assert "fewer than the 5 (min_assets)" in report.mode_reason
    ts = report.time_series
    assert ts is not None
    assert ts.assets["SPX"].n_bars == 598
    assert report.n_periods == 598
    assert report.start == idx[1]
    assert report.end == idx[-2]
    assert report.ic is None
    assert report.quantile_returns is None
    assert math.isnan(report.ic_mean)
    assert set(report.not_shown) == set(CROSS_SECTION_ONLY)
    # the factor holds yesterday's return plus noise: no relation to tomorrow's
    assert abs(ts.pooled["rank_ic"]) < 0.15


def test_time_series_to_dict_has_the_same_keys_with_cross_sections_empty(single) -> None:
    factor, close, idx = single
    ts_doc = analyze_factor(factor, close, index=idx, assets=["SPX"]).to_dict()
    json.dumps(ts_doc, allow_nan=False)
    wide_factor, wide_close = _random_walk(2, 200, 8)
    cs_doc = analyze_factor(
        wide_factor,
        wide_close,
        index=pd.bdate_range("2020-01-01", periods=200),
        assets=list("ABCDEFGH"),
    ).to_dict()
    assert set(ts_doc) == set(cs_doc)
    assert ts_doc["analysis_mode"] == "time-series"
    assert cs_doc["analysis_mode"] == "cross-section"
    for key in ("ic_mean", "rank_ic_mean", "t_stat_hac", "quantile_returns", "turnover"):
        assert ts_doc[key] is None
    assert ts_doc["ic_decay"] == {}
    assert cs_doc["time_series"] is None
    assert cs_doc["not_shown"] == {}
    pooled = ts_doc["time_series"]["pooled"]
    assert pooled["n_signed"] == ts_doc["time_series"]["assets"]["SPX"]["n_signed"]
    assert set(ts_doc["not_shown"]) == set(CROSS_SECTION_ONLY)
    assert "hit_rate" in ts_doc["conventions"]


def test_asking_for_time_series_on_a_wide_panel(single) -> None:
    factor, close = _random_walk(4, 150, 8)
    report = analyze_factor(
        factor, close, index=pd.bdate_range("2020-01-01", periods=150), assets=list("ABCDEFGH"),
        mode="time-series",
    )  # fmt: skip
    assert report.mode == "time-series"
    assert report.mode_reason.startswith("asked for")
    assert report.time_series is not None
    assert len(report.time_series.assets) == 8


def test_the_tearsheet_shows_the_time_series_and_what_is_not_shown(single, tmp_path: Path) -> None:
    factor, close, idx = single
    report = analyze_factor(
        factor, close, index=idx, assets=["SPX"], caveats=("an index, not a tradable asset",)
    )
    html = render_tearsheet(report, tmp_path / "ts.html").read_text(encoding="utf-8")
    parser = StrictParser()
    parser.feed(html)
    parser.close()
    assert parser.errors == []
    for fig in ("fig-ts-rolling-ic", "fig-ts-by-asset", "fig-ts-decay"):
        assert fig in parser.ids
    for table in ("analysis-mode", "ts-summary", "ts-assets", "ts-decay"):
        assert table in parser.ids
    assert "fig-quantile-means" not in parser.ids
    assert json.loads("".join(parser.json_text)) == json.loads(json.dumps(report.to_dict()))
    for measure in CROSS_SECTION_ONLY:
        assert measure in html
    assert "fewer than the 5 (min_assets) a cross-section needs" in html
    a = report.time_series.assets["SPX"]  # type: ignore[union-attr]
    assert f"{a.n_hits:,} of {a.n_signed:,}" in html
    assert f"{a.rank_ic:.4f}" in html
    assert "an index, not a tradable asset" in "".join(parser.caveat_text)
