"""Regime ensembles: one agent per market regime, and a meta-controller between them.

Regimes are :func:`alphaloop.risk.volatility_regimes` of the equal-weight
one-bar return of the traded assets: causal labels (the label at bar ``t``
reads returns up to ``t``), on the whole loaded Panel (which stops before the
sealed holdout). Agent ``k`` trains on the training span's runs of regime
``k`` (:func:`regime_runs`; an episode is one run, picked at random at each
reset by :class:`RunChoiceEnv`). At evaluation every agent runs its own
shadow book from the validation span's first bar to the test span's last;
:func:`alphaloop.rl.meta.agent_mix` turns their past returns and the current
regime into each bar's mix, and the ensemble's book (the mixed target
weights) is simulated on the test span by the backtester with the
environment's costs and fills (:func:`ensemble_book`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pandas as pd

from alphaloop.rl.errors import RLConfigError
from alphaloop.rl.meta import agent_mix, ensemble_weights
from alphaloop.rl.spec import EnsembleConfig

__all__ = ["RunChoiceEnv", "ensemble_book", "market_regimes", "regime_runs"]


def market_regimes(panel: Any, assets: tuple[str, ...], ens: EnsembleConfig) -> np.ndarray:
    """Causal volatility-regime label of every bar of ``panel`` (``-1``: warm-up)."""
    from alphaloop.risk import volatility_regimes

    close = np.asarray(panel.select(list(assets))["close"], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = close[1:] / close[:-1] - 1.0
    ew = np.concatenate([[0.0], np.nan_to_num(np.nanmean(r, axis=1))])
    labels = volatility_regimes(
        pd.Series(ew, index=panel.index),
        window=ens.window,
        n_regimes=ens.n_regimes,
        min_history=ens.min_history,
    ).labels
    return labels.to_numpy()


def regime_runs(
    labels: np.ndarray, first: int, last: int, regime: int, min_run: int
) -> list[tuple[int, int]]:
    """Row spans (inclusive) of runs of ``regime`` inside rows ``first .. last``.

    A run's decisions carry the label; its span ends one row after the last
    labelled decision (that row's close marks the last fill), within ``last``.
    Runs with fewer than ``min_run`` decisions are left out.
    """
    out = []
    rows = np.flatnonzero(labels[first:last] == regime) + first
    if len(rows) == 0:
        return out
    breaks = np.flatnonzero(np.diff(rows) > 1)
    starts = np.r_[rows[0], rows[breaks + 1]]
    ends = np.r_[rows[breaks], rows[-1]]
    for a, b in zip(starts, ends, strict=True):
        if b - a + 1 >= min_run:
            out.append((int(a), int(min(b + 1, last))))
    return out


class RunChoiceEnv(gym.Env):
    """Episodes over several environments of one configuration: each reset picks one at
    random (from the episode seed), so an agent trains on many separate runs."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(self, envs: list[gym.Env]) -> None:
        super().__init__()
        if not envs:
            raise RLConfigError("a run-choice environment needs at least one environment")
        self.envs = envs
        self.observation_space = envs[0].observation_space
        self.action_space = envs[0].action_space
        self._current = envs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._current = self.envs[int(self.np_random.integers(len(self.envs)))]
        child = int(self.np_random.integers(2**31 - 1))
        return self._current.reset(seed=child)

    def step(self, action: Any):
        return self._current.step(action)


def ensemble_book(
    rollouts: list[Any],
    agent_regimes: list[int],
    labels: np.ndarray,
    panel: Any,
    config: Any,
    eval_rows: tuple[int, int],
    test_rows: tuple[int, int],
    ens: EnsembleConfig,
    periods_per_year: float,
) -> tuple[Any, np.ndarray]:
    """Simulate the ensemble on the test span; returns the result and the agents' mix.

    ``rollouts``: each agent's :class:`~alphaloop.rl.rollout.Rollout` over
    ``eval_rows`` (validation start to test end), in the order of ``agent_regimes``.
    """
    from alphaloop.backtest import simulate

    first, last = eval_rows
    n = last - first + 1
    n_assets = rollouts[0].weights.shape[1]
    returns = np.full((n, len(rollouts)), np.nan)
    weights = np.full((len(rollouts), n, n_assets), np.nan)
    for k, run in enumerate(rollouts):
        rows = run.rows - first
        ok = rows + 1 < n  # the return of the decision at row t is known at t + 1's close
        returns[rows[ok] + 1, k] = run.returns.to_numpy()[ok]
        weights[k, rows] = run.weights
    mix = agent_mix(
        returns,
        labels[first : last + 1],
        np.asarray(agent_regimes),
        lookback=ens.lookback,
        mode=ens.mode,
        temperature=ens.temperature,
        periods_per_year=periods_per_year,
    )
    book = ensemble_weights(weights, mix)
    undecided = ~np.isfinite(weights).any(axis=(0, 2))
    book[undecided] = np.nan
    t0, t1 = test_rows
    market = panel.select(list(config.assets)) if config.assets else panel
    result = simulate(
        market.iloc(slice(0, t1 + 1)),
        book[t0 - first : t1 - first + 1],
        fills=config.fills,
        costs=config.costs,
        initial_capital=config.initial_capital,
        max_leverage=config.max_leverage,
        allow_short=config.allow_short,
        lot_size=config.lot_size,
        min_trade_value=config.min_trade_value,
        history=t0,
    )
    return result, mix[t0 - first :]
