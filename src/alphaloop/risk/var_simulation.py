"""The simulated VaR methods: filtered historical (GARCH) and Monte Carlo.

Each takes checked (time, asset) ``values``, weights ``w`` (None for one
series), confidence ``c`` and horizon ``h`` in bars, and returns ``(var,
cvar, scaling note)``; :func:`alphaloop.risk.var.estimate_var` is the public
entry point and documents the conventions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphaloop.risk._inputs import check_covariance, single_threaded_blas
from alphaloop.risk.empirical import historical_var

__all__ = [
    "FHS_ONE_BAR",
    "filtered_historical_losses",
    "filtered_historical_var",
    "monte_carlo_var",
]

#: The scaling note of a one-bar filtered historical VaR.
FHS_ONE_BAR = "one bar: GARCH(1,1) volatility forecast x empirical standardized residuals"


def _portfolio_bars(values: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return values[:, 0] if w is None else values @ w


def _garch_fit(r: np.ndarray) -> tuple[Any, np.ndarray, float]:
    from arch import arch_model  # heavy import, only for this method

    scale = 1.0 / max(float(np.std(r)), 1e-12)  # fit in units of one standard deviation
    model = arch_model(
        r * scale, mean="Constant", vol="GARCH", p=1, q=1, dist="normal", rescale=False
    )
    fit = model.fit(disp="off", show_warning=False)
    resid = np.asarray(fit.resid) / np.asarray(fit.conditional_volatility)
    return fit, resid, scale


def _next_bar_losses(fit: Any, resid: np.ndarray, scale: float) -> np.ndarray:
    f = fit.forecast(horizon=1, reindex=False)
    mean = float(f.mean.values[-1, 0])
    sd = float(np.sqrt(f.variance.values[-1, 0]))
    return -(mean + sd * resid) / scale


def filtered_historical_losses(r: np.ndarray) -> np.ndarray:
    """The next bar's loss scenarios of one return series under filtered historical
    simulation: the GARCH(1,1) forecast of the next bar's mean and volatility times
    each standardized residual. Their empirical VaR/CVaR at any confidence is the
    one-bar ``filtered_historical`` estimate (one fit serves every confidence)."""
    fit, resid, scale = _garch_fit(np.asarray(r, dtype=float))
    return _next_bar_losses(fit, resid, scale)


def filtered_historical_var(
    values: np.ndarray,
    w: np.ndarray | None,
    c: float,
    h: int,
    *,
    n_paths: int = 10_000,
    seed: int = 0,
    **_: Any,
) -> tuple[float, float, str]:
    """Filtered historical VaR: GARCH(1,1) with constant mean (normal likelihood) on
    the portfolio's bar returns; one bar: the volatility forecast times the
    empirical standardized residuals; ``h`` bars: ``n_paths`` paths bootstrapping
    the residuals through the GARCH recursion (seeded), compounded."""
    r = _portfolio_bars(values, w)
    fit, resid, scale = _garch_fit(r)
    if h == 1:
        var, cvar = historical_var(_next_bar_losses(fit, resid, scale), c)
        return var, cvar, FHS_ONE_BAR
    rs = np.random.RandomState(seed)
    f = fit.forecast(
        horizon=h, method="bootstrap", simulations=n_paths, random_state=rs, reindex=False
    )
    paths = np.asarray(f.simulations.values)[-1] / scale  # (paths, h) bar returns
    total = np.expm1(np.sum(np.log1p(np.maximum(paths, -0.999999)), axis=1))
    var, cvar = historical_var(-total, c)
    return (
        var,
        cvar,
        f"GARCH(1,1) paths of {h} bars bootstrapping standardized residuals ({n_paths} paths)",
    )


def monte_carlo_var(
    values: np.ndarray,
    w: np.ndarray | None,
    c: float,
    h: int,
    *,
    n_paths: int = 10_000,
    seed: int = 0,
    covariance: Any = None,
    **_: Any,
) -> tuple[float, float, str]:
    """Monte Carlo VaR: ``n_paths`` multivariate normal draws (sample mean; the sample
    covariance, or ``covariance``), compounded per asset over ``h`` bars with the
    positions held; refuses a covariance that is not positive definite."""
    mean = values.mean(axis=0)
    n = values.shape[1]
    with single_threaded_blas():
        cov = (
            np.cov(values, rowvar=False, ddof=1).reshape(n, n) if covariance is None else covariance
        )
    chol = check_covariance(cov, values.shape[1])
    rng = np.random.default_rng(seed)
    if h == 1:
        # one bar: the portfolio's draw w'(mean + L z) needs z @ (L'w), not every asset's draw
        held = np.ones(values.shape[1]) if w is None else w
        total = rng.standard_normal((n_paths, values.shape[1])) @ (chol.T @ held) + mean @ held
        var, cvar = historical_var(-total, c)
        return var, cvar, f"{n_paths} multivariate normal draws of one bar, seed {seed}"
    growth = np.zeros((n_paths, values.shape[1]))
    for _step in range(h):
        draws = rng.standard_normal((n_paths, values.shape[1])) @ chol.T + mean
        growth += np.log1p(np.maximum(draws, -0.999999))
    asset_total = np.expm1(growth)
    total = asset_total[:, 0] if w is None else asset_total @ w
    var, cvar = historical_var(-total, c)
    return var, cvar, f"{n_paths} multivariate normal paths of {h} bar(s), compounded, seed {seed}"
