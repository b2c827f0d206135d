"""Panels for the environment tests: a seeded OHLCV panel and the bundled 20 stocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.data.bundled import load_bundled


def ohlcv_panel(n: int = 700, m: int = 4, seed: int = 7, volume: float = 2e5) -> Panel:
    """Random-walk prices with opens, highs, lows and a finite volume (impact is charged)."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2012-01-02", periods=n, freq="B", tz="UTC")
    rets = 0.015 * rng.standard_normal((n, m)) + 0.0002
    close = 30 * np.cumprod(1 + rets, axis=0)
    gap = 1 + 0.004 * rng.standard_normal((n, m))
    open_ = np.vstack([close[:1], close[:-1]]) * gap
    spread = np.abs(rng.standard_normal((n, m))) * 0.01 * close
    fields = {
        "open": open_,
        "high": np.maximum(open_, close) + spread,
        "low": np.minimum(open_, close) - spread,
        "close": close,
        "volume": volume * (1 + rng.random((n, m))),
    }
    return Panel(index, [f"S{j}" for j in range(m)], fields)


@pytest.fixture(scope="session")
def ohlcv() -> Panel:
    return ohlcv_panel()


@pytest.fixture(scope="session")
def stocks() -> Panel:
    """The bundled sp500-stocks (closes only), read without a workspace."""
    return load_bundled("sp500-stocks").to_panel()
