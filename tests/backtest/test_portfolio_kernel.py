"""The numba row loop of target_weights agrees bit for bit with its numpy reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.backtest._portfolio_kernel import pairwise_scratch, pairwise_sum
from alphaloop.backtest._portfolio_reference import weights_loop
from alphaloop.backtest.composite import cross_sectional_rank
from alphaloop.backtest.portfolio import _weights_loop, target_weights
from alphaloop.backtest.spec import Exits, Limits, PortfolioRule

WEIGHTINGS = ("equal", "signal", "inverse_volatility")


def _panel(
    seed: int, n_times: int, n_assets: int, ties: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signal (NaNs, optional ties and zeros), eligibility and volatility."""
    rng = np.random.default_rng(seed)
    shape = (n_times, n_assets)
    signal = rng.standard_normal(shape) * rng.choice([0.01, 1.0, 50.0], size=n_assets)
    if ties:
        signal = np.round(signal, 1)  # equal values (and zeros): order falls back to the column
    signal[rng.random(shape) < 0.15] = np.nan
    eligible = rng.random(shape) < 0.85
    vol = rng.uniform(0.002, 0.08, shape)
    vol[rng.random(shape) < 0.05] = np.nan
    return signal, eligible, vol


def _rules(
    k: int, quantile: float, gross: float, weighting: str, exit_gap: float | None
) -> list[PortfolioRule]:
    exit_long = None if exit_gap is None else 0.3 - exit_gap
    exit_short = None if exit_gap is None else -0.3 + exit_gap
    return [
        PortfolioRule(method="top_k", k=k, gross=gross, weighting=weighting),
        PortfolioRule(
            method="quantile_long_short", quantile=quantile, gross=gross, weighting=weighting
        ),
        PortfolioRule(
            method="threshold",
            entry_long=0.3,
            exit_long=exit_long,
            gross=gross,
            weighting=weighting,
        ),
        PortfolioRule(
            method="threshold",
            entry_long=0.3,
            exit_long=exit_long,
            entry_short=-0.3,
            exit_short=exit_short,
            gross=gross,
            weighting=weighting,
        ),
        PortfolioRule(
            method="threshold",
            entry_short=-0.3,
            exit_short=exit_short,
            gross=gross,
            weighting=weighting,
        ),
    ]


@given(
    seed=st.integers(0, 10_000),
    n_assets=st.sampled_from([1, 2, 3, 5, 8, 12, 17, 40]),
    k=st.integers(1, 20),
    quantile=st.sampled_from([0.1, 0.2, 0.34, 0.5]),
    gross=st.sampled_from([0.5, 1.0, 1.7]),
    max_weight=st.sampled_from([0.02, 0.05, 0.15, 0.3, 1.0]),
    weighting=st.sampled_from(WEIGHTINGS),
    hold_bars=st.sampled_from([0, 0, 1, 3, 7]),
    exit_on_flip=st.booleans(),
    exit_gap=st.sampled_from([None, 0.0, 0.2, 0.6]),
    ties=st.booleans(),
    rebalance_share=st.sampled_from([0.15, 0.5, 1.0]),
)
def test_kernel_matches_the_numpy_loop(
    seed: int,
    n_assets: int,
    k: int,
    quantile: float,
    gross: float,
    max_weight: float,
    weighting: str,
    hold_bars: int,
    exit_on_flip: bool,
    exit_gap: float | None,
    ties: bool,
    rebalance_share: float,
) -> None:
    n_times = 60
    signal, eligible, vol = _panel(seed, n_times, n_assets, ties)
    ok = eligible & np.isfinite(signal)
    if weighting == "inverse_volatility":
        ok &= np.isfinite(vol)
    rank = cross_sectional_rank(signal, eligible & np.isfinite(signal)) if exit_on_flip else None
    rebalance = np.random.default_rng(seed + 1).random(n_times) < rebalance_share
    limits = Limits(max_weight=max_weight, max_leverage=10.0, allow_short=True)
    v = vol if weighting == "inverse_volatility" else None
    for rule in _rules(k, quantile, gross, weighting, exit_gap):
        fast = _weights_loop(signal, ok, rule, limits, rebalance, v, hold_bars=hold_bars, rank=rank)
        slow = weights_loop(signal, ok, rule, limits, rebalance, v, hold_bars=hold_bars, rank=rank)
        assert np.array_equal(fast, slow, equal_nan=True), rule
        assert fast.tobytes() == slow.tobytes(), rule  # the same zeros' signs too
        assert np.isfinite(fast[rebalance]).all()


@pytest.mark.parametrize("method", ["quantile_long_short", "threshold"])
@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_kernel_matches_on_wide_legs(method: str, weighting: str) -> None:
    """Legs of more than 128 assets, where numpy's sum splits into halves."""
    signal, eligible, vol = _panel(7, 12, 700, ties=False)
    close = np.full(signal.shape, 100.0)
    rule = PortfolioRule(
        method=method, quantile=0.5, entry_long=0.0, entry_short=-0.1, weighting=weighting
    )
    limits = Limits(max_weight=0.0025, max_leverage=2.0, allow_short=True)
    rebalance = np.ones(12, dtype=bool)
    exits = Exits(hold_bars=3, exit_on_flip=True)
    got = target_weights(
        signal, close, eligible, rule, limits, rebalance, volatility=vol, exits=exits
    )
    ok = eligible & np.isfinite(signal)
    if weighting == "inverse_volatility":
        ok &= np.isfinite(vol)
    rank = cross_sectional_rank(signal, eligible & np.isfinite(signal))
    v = vol if weighting == "inverse_volatility" else None
    want = weights_loop(signal, ok, rule, limits, rebalance, v, hold_bars=3, rank=rank)
    assert got.tobytes() == want.tobytes()
    assert (np.abs(got) > 0).sum(axis=1).max() > 128


def test_float32_signals_keep_numpy_arithmetic() -> None:
    """A float32 signal is weighed by the numpy loop (in float32, as before)."""
    signal, eligible, _ = _panel(3, 30, 6, ties=False)
    signal32 = signal.astype(np.float32)
    close = np.full(signal.shape, 50.0)
    rule = PortfolioRule(method="threshold", entry_long=0.3, weighting="signal")
    limits = Limits(max_weight=0.3)
    rebalance = np.ones(30, dtype=bool)
    got = target_weights(signal32, close, eligible, rule, limits, rebalance)
    ok = eligible & np.isfinite(signal32)
    want = weights_loop(signal32, ok, rule, limits, rebalance, None)
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 15, 16, 17, 127, 128, 129, 136, 257, 1000, 4099])
def test_pairwise_sum_is_numpys_sum(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)
    stack, partial = pairwise_scratch()
    assert np.float64(pairwise_sum(a, 0, n, stack, partial)).tobytes() == a.sum().tobytes()
    if n > 2:
        assert pairwise_sum(a, 1, n - 2, stack, partial) == a[1:-1].sum()
