"""``EnvCore``: the state of N trading accounts and the calls into the numba step.

The gymnasium environment (N = 1) and the vectorized one (N accounts) are
thin faces over this class, so they step through the same code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from alphaloop.rl import _kernel as K  # noqa: N812
from alphaloop.rl.config import EnvConfig
from alphaloop.rl.errors import RLError
from alphaloop.rl.market import PreparedMarket

__all__ = ["EnvCore", "action_space", "observation_names", "seed_keys"]


def seed_keys(seed: int, n: int) -> np.ndarray:
    """``n`` 64-bit stream keys from ``seed`` (episode starts of account ``i`` use key ``i``)."""
    return np.random.SeedSequence(int(seed)).generate_state(n, dtype=np.uint64)


def action_space(config: EnvConfig, n_assets: int) -> spaces.Space:
    """``Discrete(levels)`` for one asset, ``MultiDiscrete`` for several, or ``Box(-1, 1)``."""
    if config.action == "discrete":
        k = len(config.action_levels)
        return spaces.Discrete(k) if n_assets == 1 else spaces.MultiDiscrete([k] * n_assets)
    return spaces.Box(-1.0, 1.0, shape=(n_assets,), dtype=np.float32)


def observation_names(market: PreparedMarket, stack: int) -> list[str]:
    """One name per observation entry: market values (oldest frame first), weights, cash."""
    names = []
    for k in range(stack - 1, -1, -1):
        suffix = f"@t-{k}" if k else ""
        names.extend(f"{n}{suffix}" for n in market.feature_names)
    names.extend(f"weight:{a}" for a in market.assets)
    names.append("cash")
    return names


class EnvCore:
    """N accounts over one :class:`PreparedMarket` (see :mod:`alphaloop.rl._kernel`).

    Arrays are allocated once; :meth:`step` overwrites ``obs``, ``reward``,
    ``terminated``, ``truncated`` and ``info`` in place.
    """

    def __init__(self, market: PreparedMarket, config: EnvConfig, n_envs: int, seed: int) -> None:
        if n_envs < 1:
            raise RLError(f"n_envs must be at least 1, got {n_envs}")
        self.market = market
        self.config = config
        self.n_envs = n = n_envs
        a = market.n_assets
        self.n_assets = a
        self.obs_dim = config.stack * market.features.shape[1] + a + 1
        costs = config.costs
        self.costs = costs.as_array()
        self.lot = np.full(a, float(config.lot_size))
        self.levels = np.asarray(config.action_levels, dtype=np.float64)
        unit = config.max_leverage / a
        self.fparams = np.array([
            costs.borrow_rate, config.max_leverage, config.min_trade_value,
            config.initial_capital, config.reward_scale, config.sharpe_eta,
            config.drawdown_penalty, unit,
            0.0 if config.participation is None else config.participation,
        ])  # fmt: skip
        ip = np.zeros(K.N_IPARAMS, dtype=np.int64)
        ip[K.I_LAG] = market.lag
        ip[K.I_REWARD] = K.REWARDS[config.reward]
        ip[K.I_ACTION] = K.ACTIONS[config.action]
        ip[K.I_SHORT] = config.allow_short
        ip[K.I_HOLD] = config.hold_unchanged
        ip[K.I_STACK] = config.stack
        ip[K.I_CASH_ONLY] = config.max_leverage <= 1.0 and not config.allow_short
        ip[K.I_LO] = market.first_start
        ip[K.I_HI] = market.last_start
        ip[K.I_LENGTH] = market.episode_length
        ip[K.I_RANDOM] = config.start == "random"
        self.iparams = ip
        self.keys = seed_keys(seed, n)
        self.fstate = np.zeros((n, 6))
        self.istate = np.zeros((n, 4), dtype=np.int64)
        self.shares = np.zeros((n, a))
        self.last_px = np.full((n, a), np.nan)
        self.prev_target = np.full((n, a), np.nan)
        self.targets = np.full((n, a), np.nan)
        self.delta = np.zeros((n, a))
        self.base = np.zeros((n, a))
        self.pending = np.zeros((n, a))  # shares still working under a participation cap
        self.room = np.zeros((n, a))
        self.cost_tmp = np.zeros((n, 5))
        self.obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        self.final_obs = np.zeros((n, self.obs_dim), dtype=np.float32)
        self.reward = np.zeros(n)
        self.terminated = np.zeros(n, dtype=np.bool_)
        self.truncated = np.zeros(n, dtype=np.bool_)
        self.info = np.zeros((n, 4))
        self.actions = np.zeros((n, a))
        self._args = (
            self.actions, market.exec_px, market.close, market.adv, market.sigma,
            market.volume, market.year_frac, market.features, self.costs, self.lot,
            self.levels, self.iparams, self.fparams, self.keys, self.fstate, self.istate,
            self.shares, self.last_px, self.prev_target, self.targets, self.delta, self.base,
            self.pending, self.room, self.cost_tmp, self.obs, self.reward, self.terminated,
            self.truncated, self.info,
        )  # fmt: skip
        self._entry: Any = None

    def reseed(self, seed: int) -> None:
        """New stream keys from ``seed``; episode counters start again."""
        self.keys[:] = seed_keys(seed, self.n_envs)
        self.istate[:, K.S_EPISODE] = 0

    def reset(self, which: np.ndarray | None = None) -> None:
        """Start a new episode on the accounts ``which`` (default: all)."""
        idx = np.arange(self.n_envs) if which is None else np.asarray(which, dtype=np.int64)
        m = self.market
        K.reset_envs(
            idx, m.close, m.features, self.iparams, self.fparams, self.keys, self.fstate,
            self.istate, self.shares, self.last_px, self.prev_target, self.pending, self.obs,
        )  # fmt: skip

    def step(self, *, autoreset: bool, parallel: bool) -> None:
        """Advance every account by one bar with :attr:`actions` (n_envs, n_assets) float64."""
        run = K.step_parallel if parallel else K.step_serial
        run(*self._args, autoreset, self.final_obs)
        if self.info[:, 3].any():
            self._refused()

    def step_one(self) -> None:
        """:meth:`step` for one account without autoreset, through the compiled entry point.

        Skips numba's argument dispatch, which costs more than the step itself.
        """
        if self._entry is None:
            args = (*self._args, False, self.final_obs)
            K.step_serial(*args)
            sig = tuple(K.step_serial.typeof_pyval(a) for a in args)
            self._entry = K.step_serial.overloads[sig].entry_point
        else:
            self._entry(*self._args, False, self.final_obs)
        if self.info[0, 3]:
            self._refused()

    def _refused(self) -> None:
        bad = self.info[:, 3] != 0
        i = int(np.argmax(bad))
        row = int(self.istate[i, K.S_ROW])
        index = self.market.index
        raise RLError(
            f"the fill model refused the targets of account {i} at "
            f"{index[min(row, len(index) - 1)]:%Y-%m-%d} (status {int(self.info[i, 3])})"
        )

    def equity(self) -> np.ndarray:
        """Equity of every account at its last close (currency)."""
        return self.fstate[:, K.S_EQUITY]

    def rows(self) -> np.ndarray:
        """Current decision row of every account."""
        return self.istate[:, K.S_ROW]
