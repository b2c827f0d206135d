"""Volatility and trend regimes, the method dispatcher, and their input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.risk import (
    REGIME_METHODS,
    WARMUP,
    RegimeLabels,
    RiskError,
    detect_regimes,
    trend_regimes,
    volatility_regimes,
)
from tests.risk.helpers import assert_causal, dates, planted_volatility_regimes


def test_volatility_regimes_find_planted_states() -> None:
    returns, states = planted_volatility_regimes()
    result = volatility_regimes(returns, window=21, min_history=252)
    labelled = result.labels.to_numpy() != WARMUP
    accuracy = np.mean(result.labels.to_numpy()[labelled] == states[labelled])
    # a median split of a 21-bar volatility: lags at each switch and splits at
    # the median whatever the states' shares, so well below the HMM's accuracy
    assert accuracy > 0.75
    assert result.names == ("calm", "turbulent")
    assert result.method == "vol"


def test_volatility_warmup_length() -> None:
    returns, _ = planted_volatility_regimes(600)
    result = volatility_regimes(returns, window=21, min_history=100)
    first = int(np.argmax(result.labels.to_numpy() != WARMUP))
    assert first == 20 + 99
    assert (result.labels.iloc[:first] == WARMUP).all()


def test_volatility_fixed_thresholds_by_hand() -> None:
    returns = pd.Series([0.0, 0.01, -0.01, 0.05, -0.05, 0.0, 0.0], index=dates(7))
    result = volatility_regimes(returns, window=3, thresholds=(0.02,))
    vol = returns.rolling(3).std()
    expected = np.where(vol.isna(), WARMUP, (vol > 0.02).astype(int))
    np.testing.assert_array_equal(result.labels.to_numpy(), expected)


def test_three_volatility_regimes_are_named_and_ordered() -> None:
    returns, _ = planted_volatility_regimes(1500)
    result = volatility_regimes(returns, n_regimes=3, min_history=200)
    assert result.names == ("calm", "normal", "turbulent")
    vol = returns.rolling(21).std()
    means = [vol[result.labels == k].mean() for k in range(3)]
    assert means[0] < means[1] < means[2]


def test_trend_regimes_by_hand() -> None:
    up = np.linspace(100.0, 200.0, 50)
    prices = pd.Series(np.concatenate([up, up[::-1]]), index=dates(100))
    result = trend_regimes(prices, fast=3, slow=10, band=0.0)
    assert (result.labels.iloc[:9] == WARMUP).all()
    assert (result.labels.iloc[9:50] == 2).all()
    assert (result.labels.iloc[60:] == 0).all()
    assert result.current_name == "down"


def test_trend_band_makes_a_flat_regime() -> None:
    prices = pd.Series(100.0 + np.sin(np.arange(300) / 5.0) * 0.01, index=dates(300))
    result = trend_regimes(prices, fast=5, slow=20, band=0.01)
    assert set(result.labels.iloc[19:]) == {1}


@pytest.mark.parametrize("method", ["vol", "trend", "hurst"])
def test_fast_regimes_are_causal(method: str) -> None:
    returns, _ = planted_volatility_regimes(900)
    params = {"vol": {"min_history": 50}, "trend": {}, "hurst": {"window": 64}}[method]
    assert_causal(
        lambda r: detect_regimes(r, method, **params).labels, returns, [300, 301, 555, 899]
    )


def test_detect_regimes_names_every_method() -> None:
    assert set(REGIME_METHODS) == {"vol", "trend", "hmm", "markov", "hurst"}
    returns, _ = planted_volatility_regimes(400)
    result = detect_regimes(returns, "trend", fast=5, slow=20)
    assert isinstance(result, RegimeLabels)
    assert result.params == {"fast": 5, "slow": 20, "band": 0.0}


def test_unknown_method_is_a_risk_error_listing_the_methods() -> None:
    with pytest.raises(RiskError, match=r"method: unknown value 'garch'.*vol, trend, hmm"):
        detect_regimes(pd.Series(np.zeros(10)), "garch")


def test_unknown_parameter_names_the_method() -> None:
    returns, _ = planted_volatility_regimes(400)
    with pytest.raises(RiskError, match=r"method 'vol'.*windows"):
        detect_regimes(returns, "vol", windows=3)


def test_nan_is_named_with_its_date() -> None:
    returns = pd.Series(np.r_[np.zeros(30), np.nan, np.zeros(30)], index=dates(61))
    with pytest.raises(RiskError, match=r"returns: 1 missing.*2001-02-13"):
        volatility_regimes(returns)


def test_too_short_series() -> None:
    with pytest.raises(RiskError, match="returns: 5 bars is too short; at least 21"):
        volatility_regimes(np.zeros(5))


def test_non_positive_prices() -> None:
    prices = pd.Series(np.r_[np.ones(250), 0.0], index=dates(251))
    with pytest.raises(RiskError, match=r"prices: prices must be positive; found 0.0"):
        trend_regimes(prices)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 1}, "window: expected an integer of at least 2"),
        ({"thresholds": (0.02, 0.01)}, "thresholds: must be strictly increasing"),
        ({"n_regimes": 1.5}, "n_regimes: expected an integer"),
    ],
)
def test_bad_volatility_parameters(kwargs: dict[str, object], message: str) -> None:
    returns, _ = planted_volatility_regimes(400)
    with pytest.raises(RiskError, match=message):
        volatility_regimes(returns, **kwargs)


def test_fast_must_be_shorter_than_slow() -> None:
    with pytest.raises(RiskError, match="fast: must be shorter than slow"):
        trend_regimes(np.ones(300), fast=50, slow=20)


def test_unsorted_index_is_refused() -> None:
    returns = pd.Series(np.zeros(40), index=dates(40)[::-1])
    with pytest.raises(RiskError, match="strictly increasing"):
        volatility_regimes(returns, min_history=5)
