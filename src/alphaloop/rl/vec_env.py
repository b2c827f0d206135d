"""``VecTradingEnv``: N trading accounts stepped together in numba, as a stable-baselines3 VecEnv.

One call advances every account by one bar (in parallel over the cores
when ``parallel``); an account whose episode ends starts its next one at
once, its last observation kept in ``info["terminal_observation"]``
(stable-baselines3's convention; ``info["TimeLimit.truncated"]`` tells an
episode cut by its length from a ruined account). Each account follows
:class:`~alphaloop.rl.TradingEnv`'s bar protocol through the same numba
step, so account ``i`` of a ``VecTradingEnv`` seeded ``s`` plays the same
episodes as a ``TradingEnv`` whose stream key is the ``i``-th of ``s``
(:func:`~alphaloop.rl.core.seed_keys`).

:meth:`VecTradingEnv.step_arrays` is the fast path for sampling without
stable-baselines3: arrays in, arrays out, no per-account dicts.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from alphaloop.data import Panel
from alphaloop.rl.config import EnvConfig
from alphaloop.rl.core import EnvCore, action_space, observation_names
from alphaloop.rl.env import build_market
from alphaloop.rl.errors import RLActionWarning, RLError
from alphaloop.rl.market import PreparedMarket

__all__ = ["VecTradingEnv"]

PARALLEL_FROM = 64
"""Accounts from which a step runs on numba's thread pool by default."""


class VecTradingEnv(VecEnv):
    """``n_envs`` accounts of one config, stepped in one numba call (see the module docstring).

    Parameters
    ----------
    config : EnvConfig, optional
    panel : Panel, optional
    n_envs : int, default 8
    catalog : DataCatalog, optional
    market : PreparedMarket, optional
    parallel : bool, optional
        Use numba's thread pool; default: from :data:`PARALLEL_FROM` accounts.
    seed : int, optional
        Seed of the episode starts (default ``config.seed``).
    """

    def __init__(
        self,
        config: EnvConfig | None = None,
        panel: Panel | None = None,
        *,
        n_envs: int = 8,
        catalog: Any = None,
        market: PreparedMarket | None = None,
        parallel: bool | None = None,
        seed: int | None = None,
    ) -> None:
        self.config = config = config or EnvConfig()
        self.market = build_market(config, panel, catalog, market)
        self._seed = config.seed if seed is None else int(seed)
        self._core = EnvCore(self.market, config, n_envs, self._seed)
        obs_space = spaces.Box(-np.inf, np.inf, shape=(self._core.obs_dim,), dtype=np.float32)
        self.render_mode = None  # nothing to render; read by VecEnv.__init__
        super().__init__(n_envs, obs_space, action_space(config, self.market.n_assets))
        self.parallel = n_envs >= PARALLEL_FROM if parallel is None else bool(parallel)
        self.observation_names = observation_names(self.market, config.stack)
        self.action_clip_count = 0
        self._pending: np.ndarray | None = None

    # ------------------------------------------------------------------ fast path
    def reset_arrays(self) -> np.ndarray:
        """Start an episode on every account; returns the observations (a live array)."""
        self._core.reset()
        return self._core.obs

    def step_arrays(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Advance every account; (obs, rewards, terminated, truncated), reused by the next call.

        ``actions`` has shape (n_envs,) for one asset or (n_envs, n_assets);
        discrete actions are level indices. Finished accounts start anew
        (their last observation is in :attr:`final_obs`).
        """
        core = self._core
        acts = np.asarray(actions)
        if acts.dtype == np.float64 and acts.shape == core.actions.shape:
            core.actions[...] = acts
        else:
            try:
                core.actions[...] = acts.reshape(core.n_envs, core.n_assets)
            except ValueError as exc:
                raise RLError(
                    f"actions have shape {acts.shape}; expected ({core.n_envs}, "
                    f"{core.n_assets}) or ({core.n_envs},) for one asset"
                ) from exc
        core.step(autoreset=True, parallel=self.parallel)
        clipped = core.info[:, 2].sum()
        if clipped:
            if not self.action_clip_count:
                warnings.warn(
                    "actions outside the action space or not finite were clipped (NaN "
                    "entries hold the position); counted in VecTradingEnv.action_clip_count",
                    RLActionWarning,
                    stacklevel=2,
                )
            self.action_clip_count += int(clipped)
        return core.obs, core.reward, core.terminated, core.truncated

    @property
    def final_obs(self) -> np.ndarray:
        """Last observation of the accounts whose episode ended on the last step."""
        return self._core.final_obs

    @property
    def equity(self) -> np.ndarray:
        """Equity of every account at its last close (a copy)."""
        return self._core.equity().copy()

    # ------------------------------------------------------------------ VecEnv
    def reset(self) -> np.ndarray:
        seeds = self._seeds
        if seeds and seeds[0] is not None:
            self._seed = int(seeds[0])
            self._core.reseed(self._seed)
        self._reset_seeds()
        self._reset_options()
        self.reset_infos = [{} for _ in range(self.num_envs)]
        return self.reset_arrays().copy()

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Restart the stream of episode starts from ``seed`` at the next :meth:`reset`."""
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        self._seeds = [int(seed) + i for i in range(self.num_envs)]
        return self._seeds

    def step_async(self, actions: np.ndarray) -> None:
        self._pending = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._pending is None:
            raise RLError("step_wait() without step_async()")
        obs, rewards, terminated, truncated = self.step_arrays(self._pending)
        self._pending = None
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(dones):
            infos[i]["terminal_observation"] = self._core.final_obs[i].copy()
            infos[i]["TimeLimit.truncated"] = bool(truncated[i])
        return obs.copy(), rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Nothing to release: the accounts live in this process's arrays."""

    def _indices(self, indices: int | Iterable[int] | None) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int | np.integer):
            return [int(indices)]
        return [int(i) for i in indices]

    def get_attr(self, attr_name: str, indices: int | Iterable[int] | None = None) -> list[Any]:
        value = getattr(self, attr_name)
        return [value for _ in self._indices(indices)]

    def set_attr(
        self, attr_name: str, value: Any, indices: int | Iterable[int] | None = None
    ) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: int | Iterable[int] | None = None,
        **method_kwargs: Any,
    ) -> list[Any]:  # fmt: skip
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._indices(indices)]

    def env_is_wrapped(
        self, wrapper_class: type, indices: int | Iterable[int] | None = None
    ) -> list[bool]:
        return [False for _ in self._indices(indices)]
