"""Risk parity weights: inverse volatility and equal risk contribution (ERC).

Weights are long-only fractions of capital that sum to 1. The rolling
functions are causal like every sizing function (:mod:`alphaloop.risk.sizing`):
the weights at t come from the ``window`` bars ``t - window .. t - 1`` and
are held over bar t; the first ``window`` rows are NaN. An asset whose
trailing volatility is zero (no price change in the window) gets weight 0
at that bar; a bar where every asset is flat gets NaN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from alphaloop.risk._checks import check_choice, check_window, finite_frame
from alphaloop.risk.errors import RiskError

__all__ = [
    "PARITY_METHODS",
    "equal_risk_contribution",
    "inverse_volatility",
    "rolling_risk_parity",
    "variance_shares",
]


def inverse_volatility(cov: np.ndarray) -> np.ndarray:
    """Weights proportional to ``1 / sigma_i`` (the ERC answer when assets are uncorrelated).

    Parameters
    ----------
    cov : ndarray, shape (n, n)
        Covariance matrix of returns (any consistent unit).
    """
    sigma = np.sqrt(np.diag(_checked_cov(cov)))
    if np.any(sigma <= 0.0):
        raise RiskError("cov: an asset has zero variance; inverse-volatility weight undefined")
    inverse = 1.0 / sigma
    return inverse / inverse.sum()


def variance_shares(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Each asset's share of portfolio variance, ``w_i (cov w)_i / (w' cov w)``; sums to 1."""
    w = np.asarray(weights, dtype=float)
    marginal = _checked_cov(cov) @ w
    total = float(w @ marginal)
    if not total > 0.0:
        raise RiskError("weights: the portfolio has zero variance; contributions undefined")
    return w * marginal / total


def equal_risk_contribution(
    cov: np.ndarray, *, tol: float = 1e-12, max_iter: int = 10_000
) -> np.ndarray:
    """Long-only weights whose risk contributions are equal (Maillard, Roncalli, Teiletche).

    Solved by cyclical coordinate descent on ``0.5 w' cov w - sum(log w_i) / n``,
    whose minimiser, normalised to sum 1, is the ERC portfolio; each step
    has a closed form (the positive root of a quadratic in ``w_i``). Stops
    when no weight moves by more than ``tol`` (relative).

    Raises
    ------
    RiskError
        A covariance that is not square, symmetric, finite, with positive
        variances; or no convergence within ``max_iter`` sweeps.
    """
    sigma = _checked_cov(cov)
    n = sigma.shape[0]
    variances = np.diag(sigma)
    if np.any(variances <= 0.0):
        raise RiskError("cov: an asset has zero variance; equal risk contribution undefined")
    budget = 1.0 / n
    w = 1.0 / np.sqrt(variances)
    w /= w.sum()
    for _ in range(max_iter):
        previous = w.copy()
        for i in range(n):
            cross = float(sigma[i] @ w - variances[i] * w[i])
            w[i] = (-cross + np.sqrt(cross * cross + 4.0 * variances[i] * budget)) / (
                2.0 * variances[i]
            )
        if np.max(np.abs(w - previous) / previous) < tol:
            return w / w.sum()
    raise RiskError(
        f"cov: equal risk contribution did not converge in {max_iter} sweeps",
        hint="check that the covariance is positive definite",
    )


PARITY_METHODS: Mapping[str, Callable[[np.ndarray], np.ndarray]] = {
    "inverse_vol": inverse_volatility,
    "erc": equal_risk_contribution,
}
"""Method name -> the weighting function of a covariance matrix."""


def rolling_risk_parity(
    returns: pd.DataFrame | np.ndarray, *, window: int = 63, method: str = "erc"
) -> pd.DataFrame:
    """Risk-parity weights at each bar from the ``window`` bars before it.

    Parameters
    ----------
    returns : DataFrame or 2-D array, shape (time, asset)
        Simple per-bar returns, no NaN.
    window : int, default 63
        Bars in the trailing sample covariance (ddof=1), ``t - window .. t - 1``.
    method : {"erc", "inverse_vol"}, default "erc"

    Returns
    -------
    DataFrame
        Weights (rows sum to 1), same index and columns; NaN in the first
        ``window`` rows.
    """
    check_choice(method, "method", PARITY_METHODS)
    window = check_window(window, "window")
    frame = finite_frame(returns, "returns", min_length=window + 1)
    weigh = PARITY_METHODS[method]
    x = frame.to_numpy()
    out = np.full(x.shape, np.nan)
    for t in range(window, x.shape[0]):
        cov = np.atleast_2d(np.cov(x[t - window : t], rowvar=False, ddof=1))
        live = np.diag(cov) > 0.0
        if not live.any():
            continue
        row = np.zeros(x.shape[1])
        row[live] = weigh(cov[np.ix_(live, live)])
        out[t] = row
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def _checked_cov(cov: np.ndarray) -> np.ndarray:
    sigma = np.asarray(cov, dtype=float)
    if sigma.ndim != 2 or sigma.shape[0] != sigma.shape[1] or sigma.shape[0] == 0:
        raise RiskError(f"cov: expected a square matrix, got shape {sigma.shape}")
    if not np.all(np.isfinite(sigma)):
        raise RiskError("cov: has missing or infinite entries")
    if not np.allclose(sigma, sigma.T, rtol=1e-8, atol=1e-14):
        raise RiskError("cov: must be symmetric")
    return sigma
