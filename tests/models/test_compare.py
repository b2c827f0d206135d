"""Comparison statistics on synthetic predictions: IC, DM test, turnover, DSR."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from alphaloop.models.compare import (
    compare_predictions,
    diebold_mariano,
    long_short_weights,
    one_way_turnover,
)
from alphaloop.models.errors import ModelError

T, N = 300, 30


def synthetic(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A planted signal, pure noise, and the returns they are scored on."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((T, N))
    returns = 0.01 * (0.3 * signal + rng.standard_normal((T, N)))
    noise = rng.standard_normal((T, N))
    return signal, noise, returns


def test_planted_signal_beats_noise_with_a_significant_dm_stat() -> None:
    signal, noise, returns = synthetic()
    result = compare_predictions(
        {"signal": signal, "noise": noise}, returns, returns, horizon=1, cost_bps=0.0
    )
    by_name = {m.name: m for m in result.models}
    assert by_name["signal"].ic > 0.2
    assert abs(by_name["noise"].ic) < 0.05
    assert by_name["signal"].rank_ic > 0.2
    assert by_name["signal"].icir_annual == pytest.approx(by_name["signal"].icir * math.sqrt(252))
    (pair,) = result.pairs
    assert (pair.first, pair.second) == ("signal", "noise")
    assert pair.stat > 5
    assert pair.p_value < 1e-6
    assert pair.n_dates == T
    assert pair.lags == math.floor(4 * (T / 100) ** (2 / 9))
    assert by_name["signal"].ls_sharpe > by_name["noise"].ls_sharpe
    assert by_name["signal"].dsr.dsr > 0.95 > by_name["noise"].dsr.dsr


def test_identical_models_have_dm_stat_zero_and_p_one() -> None:
    signal, _, returns = synthetic()
    result = compare_predictions({"a": signal, "b": signal.copy()}, returns, returns)
    (pair,) = result.pairs
    assert pair.stat == 0.0
    assert pair.p_value == 1.0
    assert pair.mean_difference == 0.0


def test_dm_is_antisymmetric_and_uses_the_horizon_lags() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.05, 0.1, 400), rng.normal(0.0, 0.1, 400)
    m1, s1, p1, n1, lags = diebold_mariano(a, b, horizon=20)
    _m2, s2, p2, _, _ = diebold_mariano(b, a, horizon=20)
    assert s1 == pytest.approx(-s2)
    assert p1 == pytest.approx(p2)
    assert m1 == pytest.approx(0.05, abs=0.02)
    assert s1 > 2
    assert lags == 19
    assert n1 == 400


def test_turnover_of_a_constant_ranking_is_zero_and_of_a_flip_is_one() -> None:
    ranking = np.tile(np.arange(N, dtype=float), (10, 1))
    weights = long_short_weights(ranking, 0.2)
    assert np.allclose(weights.sum(axis=1), 0.0)
    assert np.allclose(np.abs(weights).sum(axis=1), 1.0)
    assert np.nansum(one_way_turnover(weights)) == 0.0
    flipped = ranking.copy()
    flipped[1::2] = -flipped[1::2]  # the legs swap every date
    turnover = one_way_turnover(long_short_weights(flipped, 0.2))
    assert math.isnan(turnover[0])
    np.testing.assert_allclose(turnover[1:], 1.0)


def test_constant_ranking_has_zero_mean_turnover_in_the_comparison() -> None:
    signal, noise, returns = synthetic()
    constant = np.tile(signal[0], (T, 1))
    result = compare_predictions({"constant": constant, "noise": noise}, returns, returns)
    assert result.models[0].turnover == 0.0
    assert result.models[1].turnover > 0.5


def test_dsr_decreases_as_trials_grow() -> None:
    signal, noise, returns = synthetic(2)
    preds = {"signal": 0.05 * signal + noise, "noise": noise}
    values = [
        compare_predictions(preds, returns, returns, n_trials=n).models[0].dsr.dsr
        for n in (2, 10, 100, 1000)
    ]
    assert all(a > b for a, b in itertools.pairwise(values))


def test_costs_lower_the_long_short_return() -> None:
    signal, noise, returns = synthetic()
    preds = {"signal": signal, "noise": noise}
    free = compare_predictions(preds, returns, returns, cost_bps=0.0).models[1]
    costly = compare_predictions(preds, returns, returns, cost_bps=10.0).models[1]
    charged = 2 * free.turnover * 10e-4 * (T - 1) / T  # no charge on the first date
    assert costly.ls_mean == pytest.approx(free.ls_mean - charged, rel=1e-9)


def test_bad_inputs_are_refused() -> None:
    signal, noise, returns = synthetic()
    with pytest.raises(ModelError, match="at least 2 models"):
        compare_predictions({"a": signal}, returns, returns)
    with pytest.raises(ModelError, match="n_trials"):
        compare_predictions({"a": signal, "b": noise}, returns, returns, n_trials=1)
    with pytest.raises(ModelError, match="shape"):
        compare_predictions({"a": signal[:10], "b": noise}, returns, returns)
