"""Hard limits around any policy: a maximum position, a gross cap, a drawdown stop.

:class:`HardStopWrapper` sits between a policy and a
:class:`~alphaloop.rl.TradingEnv` and rewrites each action before the
environment sees it, so the limits hold whatever the policy outputs (huge,
NaN or adversarial actions included):

- continuous actions (target weights ``a * max_leverage`` before the
  environment's projection): non-finite entries become 0; each entry is
  clipped so its weight is within ``max_position``; the row is scaled down
  so ``sum |w| <= max_gross``. The environment's projection only shrinks
  weights, so the limits survive it.
- discrete actions (levels): each asset's level is replaced by the allowed
  level nearest to it (``|level weight| <= max_position``), then the largest
  positions step towards flat until ``sum |w| <= max_gross``.
- drawdown stop: once equity at a close is ``drawdown_stop`` or more below
  its running peak in the episode, every later action is "flat" (weights 0)
  until the episode ends.

Each step's ``info["hard_stop"]`` says whether the action was changed
(``limited``) and whether the stop is on (``stopped``); the counts are
:attr:`HardStopWrapper.limited_count` and :attr:`HardStopWrapper.stopped_at`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from alphaloop.rl.errors import RLConfigError
from alphaloop.rl.spec import RiskConfig

__all__ = ["HardStopWrapper"]


class HardStopWrapper(gym.Wrapper):
    """Risk limits on the actions of any policy (see the module docstring)."""

    def __init__(self, env: gym.Env, limits: RiskConfig) -> None:
        super().__init__(env)
        self.limits = limits
        config = env.unwrapped.config
        self._continuous = config.action == "continuous"
        self._leverage = float(config.max_leverage)
        n_assets = env.unwrapped.market.n_assets
        self._n_assets = n_assets
        levels = np.asarray(config.action_levels, dtype=float)
        self._unit = self._leverage if n_assets == 1 else self._leverage / n_assets
        self._level_weights = levels * self._unit
        allowed = np.abs(self._level_weights) <= limits.max_position + 1e-12
        if not self._continuous and not allowed.any():
            raise RLConfigError(
                f"no action level keeps a position within max_position {limits.max_position}",
                hint="add a level 0 (flat) or raise max_position",
            )
        self._allowed = allowed
        self._flat = int(np.argmin(np.abs(levels)))
        self.limited_count = 0
        self.stopped_at: int | None = None
        self._peak = -np.inf
        self._stopped = False

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._peak = float(info["equity"])
        self._stopped = False
        return obs, info

    def _flat_action(self) -> Any:
        if self._continuous:
            return np.zeros(self._n_assets, dtype=np.float32)
        if self._n_assets == 1:
            return self._flat
        return np.full(self._n_assets, self._flat, dtype=np.int64)

    def _limit_continuous(self, action: Any) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        a = np.where(np.isfinite(a), a, 0.0)
        a = np.clip(a, -1.0, 1.0)
        cap = self.limits.max_position / self._leverage
        a = np.clip(a, -cap, cap)
        gross = np.abs(a).sum() * self._leverage
        if gross > self.limits.max_gross:
            a = a * (self.limits.max_gross / gross)
        # the action space is float32: round towards zero, never past a limit
        out = a.astype(np.float32)
        over = np.abs(out.astype(np.float64)) > np.abs(a)
        out[over] = np.nextafter(out[over], np.float32(0))
        return out

    def _limit_discrete(self, action: Any) -> Any:
        idx = np.asarray(action).reshape(-1)
        k = len(self._level_weights)
        idx = np.where((idx >= 0) & (idx < k), idx, self._flat).astype(np.int64)
        allowed = np.flatnonzero(self._allowed)
        w = self._level_weights
        for j, i in enumerate(idx):
            if not self._allowed[i]:
                idx[j] = allowed[np.argmin(np.abs(w[allowed] - w[i]))]
        order = np.argsort(np.abs(w))  # levels from flat outwards
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        while np.abs(w[idx]).sum() > self.limits.max_gross + 1e-12:
            j = int(np.argmax(np.abs(w[idx])))
            nearer = [
                lv for lv in order
                if abs(w[lv]) < abs(w[idx[j]]) and np.sign(w[lv]) * np.sign(w[idx[j]]) >= 0
            ]  # fmt: skip
            idx[j] = nearer[-1] if nearer else self._flat
        return int(idx[0]) if self._n_assets == 1 else idx

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._stopped:
            limited = self._flat_action()
        elif self._continuous:
            limited = self._limit_continuous(action)
        else:
            limited = self._limit_discrete(action)
        changed = not np.array_equal(
            np.asarray(limited).reshape(-1), np.asarray(action).reshape(-1)
        )
        self.limited_count += int(changed)
        obs, reward, terminated, truncated, info = self.env.step(limited)
        equity = float(info["equity"])
        self._peak = max(self._peak, equity)
        stop = self.limits.drawdown_stop
        if not self._stopped and stop is not None and equity <= self._peak * (1.0 - stop):
            self._stopped = True
            self.stopped_at = int(self.env.unwrapped.row)
        info["hard_stop"] = {"limited": changed, "stopped": self._stopped}
        return obs, reward, terminated, truncated, info
