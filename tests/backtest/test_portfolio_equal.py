"""The vectorized ranked path of target_weights agrees bit for bit with the row loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.backtest.portfolio import _ranked_weights, _weights_loop
from alphaloop.backtest.spec import Limits, PortfolioRule


@given(
    seed=st.integers(0, 10_000),
    n_assets=st.integers(1, 12),
    k=st.integers(1, 12),
    quantile=st.sampled_from([0.1, 0.2, 0.34, 0.5]),
    gross=st.sampled_from([0.5, 1.0, 1.7]),
    max_weight=st.sampled_from([0.05, 0.3, 1.0]),
    ties=st.booleans(),
    inverse_volatility=st.booleans(),
)
def test_ranked_weights_match_the_loop(
    seed: int,
    n_assets: int,
    k: int,
    quantile: float,
    gross: float,
    max_weight: float,
    ties: bool,
    inverse_volatility: bool,
) -> None:
    rng = np.random.default_rng(seed)
    shape = (40, n_assets)
    signal = rng.standard_normal(shape)
    if ties:
        signal = np.round(signal)  # many equal values: ranks fall back to the column
    signal[rng.random(shape) < 0.2] = np.nan
    ok = (rng.random(shape) < 0.8) & np.isfinite(signal)
    vol = rng.uniform(0.005, 0.05, shape) if inverse_volatility else None
    rebalance = rng.random(40) < 0.5
    limits = Limits(max_weight=max_weight, max_leverage=2.0, allow_short=True)
    weighting = "inverse_volatility" if inverse_volatility else "equal"
    for rule in (
        PortfolioRule(method="top_k", k=k, gross=gross, weighting=weighting),
        PortfolioRule(
            method="quantile_long_short", quantile=quantile, gross=gross, weighting=weighting
        ),
    ):
        fast = _ranked_weights(signal, ok, rule, limits, rebalance, vol)
        slow = _weights_loop(signal, ok, rule, limits, rebalance, vol)
        assert fast.tobytes() == slow.tobytes()
        assert np.isnan(fast[~rebalance]).all()
