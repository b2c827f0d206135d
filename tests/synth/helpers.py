"""Panels with known truth for the generator tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaloop.data import Panel


def calendar(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2000-01-03", periods=n, tz="UTC")


def panel_from_returns(returns: np.ndarray, assets: list[str] | None = None) -> Panel:
    """Closes starting at 100 from log returns ``(bars, assets)`` (one bar more than returns)."""
    n, d = returns.shape
    close = 100.0 * np.exp(np.vstack([np.zeros((1, d)), np.cumsum(returns, axis=0)]))
    names = assets or [f"A{j}" for j in range(d)]
    return Panel(calendar(n + 1), names, {"close": close})


def garch_returns(n: int, seed: int, *, omega=0.05, alpha=0.08, beta=0.9, nu=6.0, mu=0.04):
    """A GARCH(1,1)-t series in percent simulated by ``arch`` itself, as log returns."""
    from arch.univariate import GARCH, ConstantMean, StudentsT

    model = ConstantMean(None, volatility=GARCH(p=1, q=1), distribution=StudentsT(seed=seed))
    sim = model.simulate([mu, omega, alpha, beta, nu], n, burn=500)
    return sim["data"].to_numpy() / 100.0


def correlated_t(n: int, seed: int, d: int = 3, nu: float = 5.0) -> np.ndarray:
    """I.i.d. multivariate Student-t daily returns with correlation 0.5 and mean 3e-4."""
    rng = np.random.default_rng(seed)
    corr = np.full((d, d), 0.5) + 0.5 * np.eye(d)
    z = rng.standard_normal((n, d)) @ np.linalg.cholesky(corr).T
    w = np.sqrt(rng.chisquare(nu, (n, 1)) / (nu - 2))
    return 3e-4 + 0.01 * z / w


def ohlcv_panel(n: int, seed: int) -> Panel:
    """Two assets with consistent open/high/low/close/volume bars."""
    rng = np.random.default_rng(seed)
    r = 0.01 * rng.standard_t(5, (n, 2)) / np.sqrt(5 / 3)
    close = 50.0 * np.exp(np.cumsum(r, axis=0))
    prev = np.vstack([close[:1], close[:-1]])
    open_ = prev * np.exp(0.002 * rng.standard_normal((n, 2)))
    high = np.maximum(open_, close) * np.exp(np.abs(0.005 * rng.standard_normal((n, 2))))
    low = np.minimum(open_, close) * np.exp(-np.abs(0.005 * rng.standard_normal((n, 2))))
    volume = rng.integers(1_000, 10_000, (n, 2)).astype(float)
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    return Panel(calendar(n), ["X", "Y"], fields)
