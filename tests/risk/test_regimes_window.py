"""Volatility regimes with trailing quantiles (``quantile_window``): causal, and free of how
much history was loaded once the windows have passed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.risk import RiskError, volatility_regimes


def returns(n: int = 1500, seed: int = 4) -> pd.Series:
    rng = np.random.default_rng(seed)
    vol = np.where((np.arange(n) // 120) % 2 == 0, 0.006, 0.02)
    index = pd.date_range("2010-01-04", periods=n, freq="B")
    return pd.Series(vol * rng.standard_normal(n), index=index)


def test_trailing_quantiles_are_causal_and_forget_the_loaded_history():
    x = returns()
    full = volatility_regimes(x, window=21, min_history=250, quantile_window=250).labels
    for end in (400, 800, 1499):
        cut = volatility_regimes(x.iloc[:end], window=21, min_history=250, quantile_window=250)
        pd.testing.assert_series_equal(cut.labels, full.iloc[:end])
    late = volatility_regimes(x.iloc[300:], window=21, min_history=250, quantile_window=250)
    settled = 21 + 250  # the volatility window, then the quantile window, after the cut
    pd.testing.assert_series_equal(late.labels.iloc[settled:], full.iloc[300 + settled :])
    expanding = volatility_regimes(x, window=21, min_history=250).labels
    assert (expanding != full).any()  # the expanding quantiles differ: a different detector
    assert set(np.unique(full)) == {-1, 0, 1}


def test_a_quantile_window_shorter_than_min_history_is_refused():
    with pytest.raises(RiskError, match="quantile_window"):
        volatility_regimes(returns(), min_history=250, quantile_window=100)
