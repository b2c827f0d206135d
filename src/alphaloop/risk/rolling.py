"""Rolling out-of-sample VaR forecasts: the forecast for bar t uses bars up to t-1 only.

:func:`rolling_var_forecasts` slides a window of ``window`` bars: the
forecast for bar ``t`` is estimated on bars ``t - window .. t - 1``. Nothing
at or after ``t`` is read, so removing the data after ``t`` leaves every
forecast up to ``t`` unchanged (the tests check exactly that). Forecasts are
one bar ahead (the horizon of a VaR backtest is one bar).

``filtered_historical`` refits its GARCH model every ``refit_every`` bars
(on the window ending at t-1); between refits the last parameters filter
the newest window, still ending at t-1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alphaloop.risk._inputs import check_confidence
from alphaloop.risk.empirical import historical_var
from alphaloop.risk.errors import RiskInputError
from alphaloop.risk.var import VAR_METHODS, VarMethod, estimate_var, prepare_returns

__all__ = ["portfolio_returns", "rolling_var_forecasts"]


def portfolio_returns(returns: Any, weights: Any = None) -> pd.Series:
    """The bar returns of ``weights`` held in ``returns`` (rebalanced to the weights each bar).

    Without ``weights``, ``returns`` is already one series and is returned
    checked (no NaNs) as a Series.
    """
    values, w, _ = prepare_returns(returns, weights)
    series = values[:, 0] if w is None else values @ w
    index = returns.index if isinstance(returns, (pd.Series, pd.DataFrame)) else None
    return pd.Series(series, index=index, name="portfolio")


def _fhs_forecasts(r: np.ndarray, window: int, c: float, refit_every: int) -> np.ndarray:
    from arch import arch_model

    n = r.size
    out = np.full((n, 2), np.nan)
    params = None
    for t in range(window, n):
        past = r[t - window : t]
        scale = 1.0 / max(float(np.std(past)), 1e-12)
        model = arch_model(past * scale, mean="Constant", vol="GARCH", p=1, q=1, rescale=False)
        if params is None or (t - window) % refit_every == 0:
            res = model.fit(disp="off", show_warning=False)
            # parameters are kept in units of the series itself (scale-free form)
            mu, omega, alpha, beta = np.asarray(res.params)
            params = (mu / scale, omega / scale**2, alpha, beta)
        mu_r, omega_r, alpha, beta = params
        fixed = model.fix([mu_r * scale, omega_r * scale**2, alpha, beta])
        f = fixed.forecast(horizon=1, reindex=False)
        mean = float(f.mean.values[-1, 0])
        sd = float(np.sqrt(f.variance.values[-1, 0]))
        z = np.asarray(fixed.resid) / np.asarray(fixed.conditional_volatility)
        out[t] = historical_var(-(mean + sd * z[np.isfinite(z)]) / scale, c)
    return out


_BLOCK_ROWS = 4_096  # windows sorted at once by the historical fast path


def _historical_forecasts(r: np.ndarray, window: int, c: float) -> np.ndarray:
    """Rolling historical (VaR, CVaR): the same arithmetic as
    :func:`~alphaloop.risk.empirical.historical_var` on each window, sorted in blocks."""
    out = np.full((r.size, 2), np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(-r, window)[:-1]  # row j: bars j..j+w-1
    i = min(max(int(np.ceil(c * window - 1e-9)) - 1, 0), window - 1)
    for lo in range(0, windows.shape[0], _BLOCK_ROWS):
        x = np.sort(windows[lo : lo + _BLOCK_ROWS], axis=1)
        var = x[:, i]
        cvar = var + np.mean(np.maximum(x - var[:, None], 0.0), axis=1) / (1.0 - c)
        out[window + lo : window + lo + x.shape[0]] = np.column_stack([var, cvar])
    return out


def rolling_var_forecasts(
    returns: Any,
    *,
    weights: Any = None,
    window: int = 250,
    confidence: float = 0.99,
    method: VarMethod = "historical",
    refit_every: int = 20,
    **options: Any,
) -> pd.DataFrame:
    """One-bar-ahead VaR and CVaR forecasts, each from the ``window`` bars before it.

    Parameters
    ----------
    returns : Series, DataFrame or array
        Simple returns per bar (one series, or (time, asset) with ``weights``).
    weights : optional
        Portfolio weights (held constant: the portfolio is rebalanced to them each bar).
    window : int, default=250
        Bars of history per forecast (>= 20).
    confidence : float, default=0.99
    method : str, default="historical"
        One of :data:`~alphaloop.risk.var.VAR_METHODS`.
    refit_every : int, default=20
        ``filtered_historical`` only: bars between GARCH refits.
    **options
        Passed to :func:`~alphaloop.risk.var.estimate_var` (``dof``, ``n_paths``, ``seed``).

    Returns
    -------
    DataFrame
        Indexed like ``returns``, columns ``var``, ``cvar`` (positive losses)
        and ``realised`` (the bar's portfolio return); the first ``window``
        rows have no forecast (NaN).
    """
    c = check_confidence(confidence)
    if method not in VAR_METHODS:
        raise RiskInputError(
            f"method {method!r} is not a VaR method; choose one of {', '.join(VAR_METHODS)}",
            field="method",
        )
    series = portfolio_returns(returns, weights)
    r = series.to_numpy()
    if int(window) < 20:
        raise RiskInputError(f"window must be at least 20 bars, got {window!r}", field="window")
    if r.size <= window:
        raise RiskInputError(
            f"window of {window} bars leaves nothing to forecast in {r.size} bars", field="window"
        )
    if int(refit_every) < 1:
        raise RiskInputError(f"refit_every must be >= 1, got {refit_every!r}", field="refit_every")
    if method == "filtered_historical":
        out = _fhs_forecasts(r, int(window), c, int(refit_every))
    elif method == "historical":
        out = _historical_forecasts(r, int(window), c)
    else:
        out = np.full((r.size, 2), np.nan)
        for t in range(window, r.size):
            est = estimate_var(r[t - window : t], confidence=c, method=method, **options)
            out[t] = est.var, est.cvar
    frame = pd.DataFrame(out, index=series.index, columns=["var", "cvar"])
    frame["realised"] = r
    return frame
