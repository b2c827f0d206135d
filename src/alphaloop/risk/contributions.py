"""Marginal and component risk per asset (Euler allocation).

Two measures, each adding up exactly to the portfolio's figure:

- ``normal``: component VaR under a normal model. With mean vector ``mu``
  and covariance ``S`` of bar returns, portfolio volatility ``s_p =
  sqrt(w'Sw)`` and ``z`` the normal quantile, the portfolio VaR over ``h``
  bars is ``-h w'mu + z sqrt(h) s_p``; the marginal VaR of asset i is its
  derivative ``-h mu_i + z sqrt(h) (S w)_i / s_p`` and the component VaR is
  ``w_i`` times it. The components sum to the portfolio VaR.
- ``historical``: component CVaR (expected shortfall). The portfolio CVaR is
  a probability-weighted mean of the worst scenarios (the losses beyond the
  VaR, plus a share of the scenario at the VaR); asset i's component is the
  same weighted mean of its own loss ``-w_i r_i``. The components sum to the
  historical CVaR; the marginal is the component divided by the weight.

Losses are positive, fractions of the portfolio's value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from alphaloop.risk._inputs import (
    as_return_matrix,
    as_weights,
    check_confidence,
    check_covariance,
    check_horizon,
    compounded_horizon_returns,
)
from alphaloop.risk.empirical import historical_var
from alphaloop.risk.errors import RiskInputError

__all__ = ["RiskContributions", "risk_contributions"]


@dataclass(frozen=True)
class RiskContributions:
    """Per-asset risk of a portfolio.

    Attributes
    ----------
    measure : str
        ``"normal VaR"`` or ``"historical CVaR"``.
    confidence, horizon :
        As asked (horizon in bars).
    total : float
        The portfolio's VaR (normal) or CVaR (historical), a positive loss.
    frame : DataFrame
        Indexed by asset: ``weight``, ``marginal`` (d total / d weight),
        ``component`` (weight x marginal; the column sums to ``total``) and
        ``share`` (component / total).
    """

    measure: str
    confidence: float
    horizon: int
    total: float
    frame: pd.DataFrame


def _normal(
    values: np.ndarray, w: np.ndarray, c: float, h: int, covariance: Any
) -> tuple[float, np.ndarray]:
    n = values.shape[1]
    cov = np.cov(values, rowvar=False, ddof=1).reshape(n, n) if covariance is None else covariance
    check_covariance(cov, n)
    cov = np.asarray(cov, dtype=float)
    mu = values.mean(axis=0)
    sigma_p = float(np.sqrt(w @ cov @ w))
    if sigma_p == 0.0:
        raise RiskInputError(
            "the portfolio has zero volatility (all weights zero?)", field="weights"
        )
    z = stats.norm.ppf(c)
    marginal = -h * mu + z * np.sqrt(h) * (cov @ w) / sigma_p
    return float(w @ marginal), marginal


def _historical(values: np.ndarray, w: np.ndarray, c: float, h: int) -> tuple[float, np.ndarray]:
    asset = compounded_horizon_returns(values, h)
    losses = -(asset @ w)
    var, cvar = historical_var(losses, c)
    n = losses.size
    p = np.where(losses > var, 1.0 / (n * (1.0 - c)), 0.0)
    at_var = losses == var
    p[at_var] = (1.0 - p.sum()) / at_var.sum()  # the rest of the tail's mass, shared by ties
    component = p @ (-asset * w)
    with np.errstate(divide="ignore", invalid="ignore"):
        marginal = np.where(w != 0, component / w, p @ -asset)
    return cvar, marginal


def risk_contributions(
    returns: Any,
    weights: Any,
    *,
    confidence: float = 0.99,
    horizon: int = 1,
    method: Literal["normal", "historical"] = "normal",
    covariance: Any = None,
) -> RiskContributions:
    """Marginal and component VaR (``normal``) or CVaR (``historical``) per asset.

    Parameters
    ----------
    returns : DataFrame or array
        (time, asset) simple returns per bar, no NaNs.
    weights : Series, mapping or sequence
        Positions as fractions of value.
    confidence : float, default=0.99
    horizon : int, default=1
        Bars; ``normal`` scales by sqrt-time (i.i.d. normal), ``historical``
        uses overlapping compounded returns.
    method : {"normal", "historical"}
    covariance : array, optional
        Replaces the sample covariance (``normal`` only); must be positive
        definite (else :class:`CovarianceError`).
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    values, names = as_return_matrix(returns)
    w = as_weights(weights, names)
    if method == "normal":
        total, marginal = _normal(values, w, c, h, covariance)
        measure = "normal VaR"
    elif method == "historical":
        total, marginal = _historical(values, w, c, h)
        measure = "historical CVaR"
    else:
        raise RiskInputError(
            f"method {method!r} is unknown; choose 'normal' or 'historical'", field="method"
        )
    component = w * marginal
    frame = pd.DataFrame(
        {"weight": w, "marginal": marginal, "component": component, "share": component / total},
        index=pd.Index(names, name="asset"),
    )
    return RiskContributions(measure, c, h, float(total), frame)
