"""Pure pieces of training: the across-seed summary, the meta-controller, regime runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alphaloop.rl.ensemble import regime_runs
from alphaloop.rl.evaluation import seed_summary
from alphaloop.rl.meta import agent_mix, ensemble_weights


def test_seed_summary_is_mean_spread_and_t_interval() -> None:
    per_seed = [{"total_return": v} for v in (0.10, 0.20, 0.30, 0.0)]
    s = seed_summary(per_seed, ["total_return"])["total_return"]
    assert s.mean == pytest.approx(0.15)
    sd = float(np.std([0.1, 0.2, 0.3, 0.0], ddof=1))
    assert s.std == pytest.approx(sd)
    half = stats.t.ppf(0.975, 3) * sd / 2.0
    assert (s.low, s.high) == pytest.approx((0.15 - half, 0.15 + half))
    assert s.values == (0.10, 0.20, 0.30, 0.0)  # every seed kept, none singled out


def test_seed_summary_of_one_seed_has_no_interval() -> None:
    s = seed_summary([{"sharpe_ratio": 1.0}], ["sharpe_ratio"])["sharpe_ratio"]
    assert s.mean == 1.0
    assert math.isnan(s.std)
    assert math.isnan(s.low)


def test_agent_mix_follows_the_best_recent_agent_of_the_current_regime() -> None:
    # agent 0 earns in regime 0 bars, agent 1 in regime 1 bars
    regimes = np.array([0, 0, 0, 1, 1, 1, 0, 0, 1])
    r = np.zeros((9, 2))
    r[regimes == 0, 0] = 0.01
    r[regimes == 1, 1] = 0.01
    r[regimes == 0, 1] = -0.01
    mix = agent_mix(r, regimes, np.array([1, 0]), lookback=5, min_bars=2)
    # bar 0: one bar of history -> the agent trained for regime 0 (agent 1)
    assert mix[0].tolist() == [0.0, 1.0]
    # bar 1: two regime-0 bars where agent 0 did better
    assert mix[1].tolist() == [1.0, 0.0]
    # bar 3: first regime-1 bar, no history in it -> the regime-1 agent (agent 0)
    assert mix[3].tolist() == [1.0, 0.0]
    # bar 4: two regime-1 bars where agent 1 did better
    assert mix[4].tolist() == [0.0, 1.0]
    # bar 6: back in regime 0; its history (bars 0, 1, 2, 6) favours agent 0
    assert mix[6].tolist() == [1.0, 0.0]


def test_agent_mix_uses_no_later_return() -> None:
    rng = np.random.default_rng(3)
    r = rng.normal(0, 0.01, (60, 3))
    regimes = rng.integers(0, 2, 60)
    full = agent_mix(r, regimes, np.array([0, 1, 1]), mode="weight", lookback=10)
    cut = agent_mix(r[:40], regimes[:40], np.array([0, 1, 1]), mode="weight", lookback=10)
    np.testing.assert_array_equal(full[:40], cut)
    np.testing.assert_allclose(full.sum(axis=1), 1.0)


def test_ensemble_weights_mix_the_books() -> None:
    books = np.array([[[1.0, 0.0]] * 2, [[0.0, 0.5]] * 2])  # (agents, time, assets)
    mix = np.array([[0.25, 0.75], [1.0, 0.0]])
    np.testing.assert_allclose(ensemble_weights(books, mix), [[0.25, 0.375], [1.0, 0.0]])


def test_regime_runs_keep_long_runs_inside_the_span() -> None:
    labels = np.array([-1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1])
    assert regime_runs(labels, 0, 10, 0, min_run=3) == [(1, 4), (6, 10)]
    assert regime_runs(labels, 0, 9, 0, min_run=3) == [(1, 4), (6, 9)]
    assert regime_runs(labels, 0, 10, 1, min_run=3) == []
