"""Shared pieces of the training tests: a bundled one-stock panel, tiny specs, a fixed policy."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from alphaloop.data import Panel
from alphaloop.data.bundled import load_bundled
from alphaloop.rl.spec import RLSpec

TINY_PPO = {"n_steps": 128, "batch_size": 64, "n_epochs": 4}


@lru_cache(maxsize=1)
def bundled_stocks() -> Panel:
    """The bundled sp500-stocks (adjusted closes only), read without a workspace."""
    return load_bundled("sp500-stocks").to_panel()


def one_stock(asset: str = "XOM", start: str = "2004-01-01", end: str = "2013-12-31") -> Panel:
    return bundled_stocks().select([asset]).slice(start, end)


def with_leak(panel: Panel, shift: int) -> Panel:
    """``panel`` with a field ``leak``: at row t the one-bar return of bar ``t + shift``
    (``close[t + shift] / close[t + shift - 1] - 1``; 0 where it does not exist).
    ``shift=0`` gives a column of zeros: the same observation without the leak."""
    close = panel["close"]
    n = len(close)
    leak = np.zeros_like(close)
    if shift > 0:
        leak[: n - shift] = close[shift:] / close[shift - 1 : n - 1] - 1.0
    return panel.with_fields({"leak": leak})


def spec(**fields: Any) -> RLSpec:
    base: dict[str, Any] = {
        "name": "tiny",
        "data": "sp500-stocks",
        "hyperparameters": TINY_PPO,
        "env": {"fills": "next_close", "episode_length": 126},
        "timesteps": 512,
        "seeds": 1,
        "evaluation": {"every": 256},
        "checkpoint_every": 256,
    }
    base.update(fields)
    return RLSpec.from_dict(base)


class Constant:
    """A policy that always sends the same action (buy-and-hold with ``1`` on levels (0, 1))."""

    def __init__(self, action: Any) -> None:
        self.action = action

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        return self.action, None
