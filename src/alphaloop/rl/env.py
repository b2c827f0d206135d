"""``TradingEnv``: a gymnasium environment that trades a Panel through the backtester's fills.

One step is one bar: the action taken after bar ``t``'s close becomes target
weights, which fill at bar ``t + 1`` (the next open by default) through the
backtester's cost and sizing model; the account is marked at ``t + 1``'s
close and the reward is computed from equity after costs. An episode's
equity therefore equals :func:`alphaloop.backtest.simulate` run on the
target weights the episode sent (``info["target_weights"]``, NaN where no
order went out), to floating-point rounding; with a participation cap
(``EnvConfig.participation``), of ``simulate(..., participation=...)``.

Observations (``float32``, shape ``(stack * n_market + n_assets + 1,)``):
the normalized market values of the last ``stack`` bars (oldest first;
feature-major, see :attr:`TradingEnv.observation_names`), then the weight of
each asset and of cash at the last close.

``info`` of every step: ``equity`` and ``cash`` (currency, at the close),
``costs`` (currency charged on the step's fills), ``turnover`` (traded
notional over equity), ``clipped`` (action entries clipped this step),
``date`` (the bar just closed), ``target_weights`` (what was sent to the
fill model).
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium import spaces

from alphaloop.data import Panel
from alphaloop.rl import _kernel as K  # noqa: N812
from alphaloop.rl.config import EnvConfig
from alphaloop.rl.core import EnvCore, action_space, observation_names
from alphaloop.rl.errors import RLActionWarning, RLConfigError, RLError
from alphaloop.rl.market import PreparedMarket, prepare_market

__all__ = ["TradingEnv", "load_panel"]


def load_panel(config: EnvConfig, catalog: Any) -> Panel:
    """The Panel of ``config.dataset`` from a :class:`~alphaloop.data.DataCatalog`.

    The catalog stops before the dataset's sealed holdout, so no environment
    built from it can reach the holdout.
    """
    if config.dataset is None:
        raise RLConfigError("no dataset: set dataset in the config or pass a Panel")
    assets = list(config.assets) if config.assets is not None else None
    return catalog.load(config.dataset, assets=assets)


def build_market(
    config: EnvConfig, panel: Panel | None, catalog: Any, market: PreparedMarket | None
) -> PreparedMarket:
    """The prepared market of an environment: given, or from the Panel, or from the catalog."""
    if market is not None:
        return market
    if panel is None:
        if catalog is None:
            raise RLConfigError("an environment needs a Panel, a catalog or a prepared market")
        panel = load_panel(config, catalog)
    return prepare_market(panel, config)


class TradingEnv(gym.Env):
    """A gymnasium trading environment over a Panel (see the module docstring).

    Parameters
    ----------
    config : EnvConfig, optional
        Every setting (default ``EnvConfig()``).
    panel : Panel, optional
        The data; without it ``catalog`` loads ``config.dataset``.
    catalog : DataCatalog, optional
    market : PreparedMarket, optional
        Arrays prepared by :func:`~alphaloop.rl.prepare_market` (shared between
        environments of one config).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        config: EnvConfig | None = None,
        panel: Panel | None = None,
        *,
        catalog: Any = None,
        market: PreparedMarket | None = None,
    ) -> None:
        super().__init__()
        self.config = config = config or EnvConfig()
        self.market = build_market(config, panel, catalog, market)
        self._core = EnvCore(self.market, config, 1, config.seed)
        self.observation_space = spaces.Box(
            -np.inf, np.inf, shape=(self._core.obs_dim,), dtype=np.float32
        )
        self.action_space = action_space(config, self.market.n_assets)
        self.observation_names = observation_names(self.market, config.stack)
        self._stamps = list(self.market.index)  # Timestamps once: indexing pandas costs us
        self.action_clip_count = 0
        self.nan_filled = self.market.nan_filled
        self._started = False
        self._needs_reset = True

    # ------------------------------------------------------------------ gymnasium
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``seed`` restarts the stream of episode starts."""
        super().reset(seed=seed)
        if seed is not None:
            self._core.reseed(seed)
        elif not self._started:
            self._core.reseed(self.config.seed)
        self._started = True
        self._needs_reset = False
        self._core.reset()
        return self._core.obs[0].copy(), self._info(reset=True)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One bar: fill the action's targets at the next bar, mark, reward (costs inside)."""
        if self._needs_reset:
            raise RLError("call reset() before step(), and after an episode ends")
        core = self._core
        if isinstance(action, np.ndarray) and action.shape == (core.n_assets,):
            core.actions[0] = action
        else:
            try:
                row = np.asarray(action, dtype=np.float64).reshape(-1)
            except (TypeError, ValueError) as exc:
                raise RLError(f"the action {action!r} is not numeric") from exc
            if row.shape[0] != core.n_assets:
                raise RLError(
                    f"the action has {row.shape[0]} values; this environment trades "
                    f"{core.n_assets} assets"
                )
            core.actions[0] = row
        core.step_one()
        terminated = bool(core.terminated[0])
        truncated = bool(core.truncated[0])
        self._needs_reset = terminated or truncated
        clipped = int(core.info[0, 2])
        if clipped:
            self.action_clip_count += clipped
            if self.action_clip_count == clipped:
                warnings.warn(
                    f"action {np.asarray(action).tolist()} is outside the action space or not "
                    "finite: clipped (NaN entries hold the position); counted in info['clipped'] "
                    "and TradingEnv.action_clip_count",
                    RLActionWarning,
                    stacklevel=2,
                )
        info = self._info(reset=False)
        return core.obs[0].copy(), float(core.reward[0]), terminated, truncated, info

    def _info(self, *, reset: bool) -> dict[str, Any]:
        core = self._core
        info: dict[str, Any] = {
            "equity": float(core.fstate[0, K.S_EQUITY]),
            "cash": float(core.fstate[0, K.S_CASH]),
            "date": self._stamps[core.istate[0, K.S_ROW]],
        }
        if not reset:
            info["costs"] = float(core.info[0, 0])
            info["turnover"] = float(core.info[0, 1])
            info["clipped"] = int(core.info[0, 2])
            info["target_weights"] = core.targets[0].copy()
        return info

    # ------------------------------------------------------------------ state
    @property
    def equity(self) -> float:
        """Account value at the last close (currency)."""
        return float(self._core.fstate[0, K.S_EQUITY])

    @property
    def cash(self) -> float:
        return float(self._core.fstate[0, K.S_CASH])

    @property
    def positions(self) -> np.ndarray:
        """Shares held per asset (signed)."""
        return self._core.shares[0].copy()

    @property
    def row(self) -> int:
        """Row of the last closed bar in :attr:`PreparedMarket.index`."""
        return int(self._core.istate[0, K.S_ROW])

    @property
    def date(self) -> pd.Timestamp:
        return self.market.index[self.row]

    @property
    def episode_start(self) -> int:
        """Row of the current episode's first decision."""
        core = self._core
        return int(core.istate[0, K.S_END] - self.market.episode_length)
