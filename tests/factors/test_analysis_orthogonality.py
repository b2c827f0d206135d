"""Orthogonality regression and market regimes on synthetic series with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.factors.analysis import (
    FactorAnalysisError,
    compound_to_calendar,
    factor_orthogonality,
    regime_report,
    trend_regimes,
    volatility_regimes,
)


def _days(n: int, start: str = "2010-01-04") -> pd.DatetimeIndex:
    return pd.bdate_range(start, periods=n, tz="UTC")


def _market_and_noise(n: int, seed: int) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    market = pd.Series(rng.normal(0.0003, 0.01, n), index=_days(n), name="SP500")
    return market, rng.normal(0.0, 0.005, n)


def test_known_alpha_and_beta_are_recovered():
    market, noise = _market_and_noise(2520, seed=11)
    alpha = 0.0004  # per day: about 10 % a year
    long_short = alpha + 0.5 * market + noise
    res = factor_orthogonality(long_short, market=market)
    se_alpha = 0.005 / np.sqrt(2520)
    assert abs(res.alpha - alpha) < 3 * se_alpha
    assert res.alpha_t_stat > 2.5
    assert res.betas["market"] == pytest.approx(0.5, abs=0.03)
    assert res.r_squared == pytest.approx(0.5, abs=0.05)  # equal market and noise variance
    assert res.alpha_annualized == pytest.approx(res.alpha * 252)
    assert (res.frequency, res.n, res.periods_per_year) == ("daily", 2520, 252)


def test_a_pure_market_bet_has_no_significant_alpha():
    market, noise = _market_and_noise(2520, seed=5)
    res = factor_orthogonality(0.8 * market + noise, market=market)
    assert abs(res.alpha) < 3 * 0.005 / np.sqrt(2520)
    assert res.betas["market"] == pytest.approx(0.8, abs=0.03)
    assert res.beta_t_stats["market"] > 50


def test_alpha_t_stat_of_pure_market_bets_is_calibrated():
    # under no alpha, |t| > 1.96 about 5 % of the time; 60 draws, P(more than 9) < 0.2 %
    significant = 0
    for seed in range(60):
        market, noise = _market_and_noise(500, seed=100 + seed)
        res = factor_orthogonality(0.8 * market + noise, market=market)
        significant += abs(res.alpha_t_stat) > 1.96
    assert significant <= 9


def test_daily_known_factors_are_joined_on_dates():
    market, noise = _market_and_noise(1500, seed=2)
    rng = np.random.default_rng(9)
    etfs = pd.DataFrame(rng.normal(0, 0.008, (1500, 2)), index=market.index, columns=["A", "B"])
    long_short = 0.2 * market + 0.7 * etfs["B"] + noise
    res = factor_orthogonality(long_short, market=market, known_factors=etfs.iloc[100:])
    assert res.n == 1400
    assert res.betas["B"] == pytest.approx(0.7, abs=0.05)
    assert abs(res.betas["A"]) < 0.05


@pytest.mark.parametrize("frequency", [None, "monthly"])
def test_compounding_keeps_only_periods_the_daily_data_covers(frequency):
    days = pd.DatetimeIndex(
        ["2020-01-30", "2020-01-31", "2020-02-03", "2020-02-28", "2020-03-02", "2020-03-31"],
        tz="UTC",
    )
    daily = pd.DataFrame({"r": [0.5, 0.1, 0.1, 0.2, 0.3, -0.5]}, index=days)
    month_ends = pd.DatetimeIndex(
        ["2019-12-31", "2020-01-31", "2020-02-29", "2020-03-31"], tz="UTC"
    )
    out, dropped = compound_to_calendar(daily, month_ends, frequency)
    # January starts before the data; March has no data after its end stamp
    assert out.index.tolist() == [pd.Timestamp("2020-02-29", tz="UTC")]
    assert out["r"].iloc[0] == pytest.approx(1.1 * 1.2 - 1)
    assert dropped == 2


def test_monthly_known_factors_get_compounded_daily_returns():
    market, noise = _market_and_noise(2600, seed=21)
    daily_alpha = 0.0005
    long_short = daily_alpha + 0.5 * market + noise
    month_ends = pd.date_range("2009-12-31", "2020-12-31", freq="ME", tz="UTC")
    monthly_market, _ = compound_to_calendar(market.to_frame("MKT"), month_ends, "monthly")
    res = factor_orthogonality(long_short, known_factors=monthly_market)
    assert res.frequency == "monthly"
    assert res.periods_per_year == 12
    assert res.n == len(monthly_market)
    assert res.betas["MKT"] == pytest.approx(0.5, abs=0.06)
    assert res.alpha == pytest.approx(21 * daily_alpha, abs=0.004)


def test_orthogonality_needs_a_regressor_and_overlapping_dates():
    market, noise = _market_and_noise(300, seed=1)
    with pytest.raises(FactorAnalysisError, match="market return series"):
        factor_orthogonality(market)
    later = pd.Series(noise, index=_days(300, start="2030-01-01"))
    with pytest.raises(FactorAnalysisError, match="overlap"):
        factor_orthogonality(later, market=market)


def test_price_levels_and_percentages_are_refused():
    market, noise = _market_and_noise(300, seed=1)
    with pytest.raises(FactorAnalysisError, match="decimal returns"):
        factor_orthogonality(pd.Series(noise, index=market.index), market=100 * (1 + market))
    percent = pd.DataFrame({"MKT_RF": 100 * market})
    with pytest.raises(FactorAnalysisError, match="'MKT_RF'"):
        factor_orthogonality(pd.Series(noise, index=market.index), known_factors=percent)


# ------------------------------------------------------------------ regimes

VOL_WINDOW = 21
BLOCK = 300
LEVELS = {"low": 0.004, "mid": 0.012, "high": 0.036}


def _vol_blocks() -> pd.Series:
    """Alternating +s/-s returns: every full window in a block has the same volatility.

    The first block is longer by the warm-up, so each block has BLOCK complete
    windows and the tercile cut points fall between the blocks' levels.
    """
    parts = []
    for i, s in enumerate(LEVELS.values()):
        n = BLOCK + (VOL_WINDOW - 1 if i == 0 else 0)
        parts.append(s * np.where(np.arange(n) % 2 == 0, 1.0, -1.0))
    values = np.concatenate(parts)
    return pd.Series(values, index=_days(values.size))


def _pure_block_positions() -> dict[str, np.ndarray]:
    start = VOL_WINDOW - 1
    out = {}
    for i, name in enumerate(LEVELS):
        first = start + i * BLOCK + (VOL_WINDOW - 1 if i else 0)
        out[name] = np.arange(first, start + (i + 1) * BLOCK)
    return out


def _pure_volatility(level: float) -> float:
    return float(np.std(level * np.where(np.arange(VOL_WINDOW) % 2 == 0, 1.0, -1.0), ddof=1))


def test_volatility_terciles_label_each_block():
    market = _vol_blocks()
    labels, (low_cut, high_cut) = volatility_regimes(market, window=VOL_WINDOW)
    assert labels.iloc[: VOL_WINDOW - 1].isna().all()
    for name, positions in _pure_block_positions().items():
        assert set(labels.iloc[positions]) == {name}
    vol = {name: _pure_volatility(level) for name, level in LEVELS.items()}
    assert vol["low"] < low_cut < vol["mid"] <= high_cut < vol["high"]


def test_regime_report_means_the_ic_within_each_regime():
    market = _vol_blocks()
    ic = pd.Series(0.0, index=market.index)
    for value, positions in zip((0.1, 0.2, 0.3), _pure_block_positions().values(), strict=True):
        ic.iloc[positions] = value
    ic.iloc[: VOL_WINDOW - 1] = np.nan
    report = regime_report(ic, -ic, market, volatility_window=VOL_WINDOW, periods_per_year=252)
    labels, _ = volatility_regimes(market, window=VOL_WINDOW)
    for name in LEVELS:
        in_regime = ic[labels == name]
        assert report.volatility[name]["ic_mean"] == pytest.approx(in_regime.mean())
        assert report.volatility[name]["rank_ic_mean"] == pytest.approx(-in_regime.mean())
        assert report.volatility[name]["n_periods"] == len(in_regime)
    assert report.volatility["low"]["ic_mean"] == pytest.approx(0.1)  # only the low block
    low_cut, _ = report.volatility_cut_points
    assert low_cut > _pure_volatility(LEVELS["low"]) * np.sqrt(252)  # reported annualized
    assert "not a tradable signal" in report.to_dict()["notes"][0]


def test_trend_regimes_follow_the_trailing_63_day_return():
    daily = np.concatenate([np.full(200, 0.001), np.zeros(200), np.full(200, -0.001)])
    market = pd.Series(daily, index=_days(600))
    labels = trend_regimes(market, window=63)
    assert labels.iloc[:62].isna().all()
    assert set(labels.iloc[62:200]) == {"up"}  # 1.001**63 - 1 = 6.5 %
    assert set(labels.iloc[263:400]) == {"sideways"}
    assert set(labels.iloc[463:]) == {"down"}  # 0.999**63 - 1 = -6.1 %
    strict = trend_regimes(market, window=63, up=0.10, down=-0.10)
    assert set(strict.dropna()) == {"sideways"}


def test_trend_thresholds_must_be_ordered():
    with pytest.raises(FactorAnalysisError, match="down < up"):
        trend_regimes(pd.Series([0.0] * 70, index=_days(70)), up=-0.1, down=0.1)
