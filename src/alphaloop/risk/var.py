"""Value at risk (VaR) and conditional value at risk (CVaR, expected shortfall).

Conventions
-----------
- Inputs are simple returns per bar; a loss is positive and is a fraction
  of the portfolio's value (``0.023`` = 2.3% of value lost).
- ``confidence`` is the probability level (0.99 for the 99% VaR): the VaR is
  the loss exceeded with probability at most ``1 - confidence``; the CVaR is
  the mean loss in that tail (Rockafellar-Uryasev), so CVaR >= VaR always.
- ``weights`` turn a (time, asset) return matrix into a portfolio; without
  them, ``returns`` is one return series. Over a horizon of ``h`` bars the
  positions are held (bought at the start, not rebalanced).
- The horizon is handled as each method allows; :attr:`VarEstimate.scaling`
  says how:

  ===================== ===================================================
  method                horizon of h bars
  ===================== ===================================================
  historical            overlapping h-bar compounded returns (no scaling)
  normal                mean x h, volatility x sqrt(h): exact for i.i.d.
                        normal bar returns added over h bars
  student_t             mean x h, volatility x sqrt(h): an approximation
                        (a sum of Student-t variables is not Student-t)
  cornish_fisher        cumulants of an i.i.d. sum: mean x h, volatility x
                        sqrt(h), skewness / sqrt(h), excess kurtosis / h
  filtered_historical   GARCH(1,1) paths of h bars, bootstrapping the
                        standardized residuals (no scaling)
  monte_carlo           multivariate normal paths of h bars, compounded
                        (no scaling)
  ===================== ===================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from alphaloop.risk._inputs import (
    as_return_matrix,
    as_return_vector,
    as_weights,
    check_confidence,
    check_horizon,
    compounded_horizon_returns,
)
from alphaloop.risk.empirical import historical_var
from alphaloop.risk.errors import RiskInputError
from alphaloop.risk.var_simulation import filtered_historical_var, monte_carlo_var

__all__ = [
    "VAR_METHODS",
    "VarEstimate",
    "VarMethod",
    "estimate_var",
    "var_table",
]

VarMethod = Literal[
    "historical", "normal", "student_t", "cornish_fisher", "filtered_historical", "monte_carlo"
]


@dataclass(frozen=True)
class VarEstimate:
    """One VaR/CVaR estimate.

    Attributes
    ----------
    method : str
        One of :data:`VAR_METHODS`.
    confidence : float
        e.g. 0.99.
    horizon : int
        In bars.
    var : float
        Value at risk: a loss, positive, as a fraction of the portfolio's value.
    cvar : float
        Conditional value at risk (expected shortfall), >= ``var``.
    n_obs : int
        Bars of history used.
    scaling : str
        How the horizon was handled (see the module table).
    """

    method: str
    confidence: float
    horizon: int
    var: float
    cvar: float
    n_obs: int
    scaling: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return {
            "method": self.method,
            "confidence": self.confidence,
            "horizon": self.horizon,
            "var": self.var,
            "cvar": self.cvar,
            "n_obs": self.n_obs,
            "scaling": self.scaling,
        }


def _portfolio_bars(values: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return values[:, 0] if w is None else values @ w


def _historical(
    values: np.ndarray, w: np.ndarray | None, c: float, h: int, **_: Any
) -> tuple[float, float, str]:
    if w is None:
        path = compounded_horizon_returns(values[:, 0], h)
    else:
        path = compounded_horizon_returns(values, h) @ w
    var, cvar = historical_var(-path, c)
    note = "one bar" if h == 1 else f"overlapping {h}-bar compounded returns (no scaling)"
    return var, cvar, note


def _moments(r: np.ndarray, h: int) -> tuple[float, float]:
    mu, sigma = float(np.mean(r)), float(np.std(r, ddof=1))
    return mu * h, sigma * np.sqrt(h)


def _normal(
    values: np.ndarray, w: np.ndarray | None, c: float, h: int, **_: Any
) -> tuple[float, float, str]:
    mu, sigma = _moments(_portfolio_bars(values, w), h)
    z = stats.norm.ppf(c)
    var = -mu + sigma * z
    cvar = -mu + sigma * stats.norm.pdf(z) / (1.0 - c)
    return float(var), float(cvar), _sqrt_note(h, "exact for i.i.d. normal bar returns")


def _sqrt_note(h: int, why: str) -> str:
    return "one bar" if h == 1 else f"sqrt-time: mean x {h}, volatility x sqrt({h}) ({why})"


def student_t_dof(r: np.ndarray) -> float:
    """Student-t degrees of freedom fitted to ``r`` by maximum likelihood, clipped to [2.1, 200]."""
    dof, _, _ = stats.t.fit(r)
    return float(np.clip(dof, 2.1, 200.0))


def _student_t(
    values: np.ndarray,
    w: np.ndarray | None,
    c: float,
    h: int,
    *,
    dof: float | None = None,
    **_: Any,
) -> tuple[float, float, str]:
    r = _portfolio_bars(values, w)
    nu = student_t_dof(r) if dof is None else float(dof)
    if not nu > 2.0:
        raise RiskInputError(f"dof must be > 2 (finite variance), got {dof!r}", field="dof")
    mu, sigma = _moments(r, h)
    scale = sigma * np.sqrt((nu - 2.0) / nu)  # a t with this scale has standard deviation sigma
    q = stats.t.ppf(c, nu)
    var = -mu + scale * q
    tail = stats.t.pdf(q, nu) * (nu + q * q) / ((nu - 1.0) * (1.0 - c))
    cvar = -mu + scale * tail
    why = "an approximation: a sum of Student-t bar returns is not Student-t"
    return float(var), float(cvar), f"{_sqrt_note(h, why)}; dof {nu:.2f}"


def cornish_fisher_quantile(
    z: np.ndarray | float, skew: float, excess_kurtosis: float
) -> np.ndarray:
    """The Cornish-Fisher expansion of the standard normal quantile ``z``.

    ``z + (z^2 - 1) S / 6 + (z^3 - 3z) K / 24 - (2 z^3 - 5 z) S^2 / 36`` with
    skewness ``S`` and excess kurtosis ``K``. Not monotone in ``z`` for large
    ``|S|`` or ``K``; treat results on such data with care.
    """
    z = np.asarray(z, dtype=float)
    s, k = skew, excess_kurtosis
    return z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s**2 / 36


def _cornish_fisher(
    values: np.ndarray, w: np.ndarray | None, c: float, h: int, **_: Any
) -> tuple[float, float, str]:
    r = _portfolio_bars(values, w)
    mu, sigma = _moments(r, h)
    skew = float(stats.skew(r, bias=False)) / np.sqrt(h)
    kurt = float(stats.kurtosis(r, fisher=True, bias=False)) / h
    # losses are -returns: their skewness flips sign, the kurtosis stays
    loss_q = lambda u: -mu + sigma * cornish_fisher_quantile(stats.norm.ppf(u), -skew, kurt)  # noqa: E731
    var = float(loss_q(c))
    # CVaR = mean of the quantile function over (c, 1): midpoint rule on 2,000 levels
    u = c + (1.0 - c) * (np.arange(2000) + 0.5) / 2000
    cvar = float(np.mean(loss_q(u)))
    note = (
        "one bar"
        if h == 1
        else (
            f"i.i.d. cumulants: mean x {h}, volatility x sqrt({h}), skewness / sqrt({h}), "
            f"excess kurtosis / {h}"
        )
    )
    return var, cvar, note


_METHODS: dict[str, Callable[..., tuple[float, float, str]]] = {
    "historical": _historical,
    "normal": _normal,
    "student_t": _student_t,
    "cornish_fisher": _cornish_fisher,
    "filtered_historical": filtered_historical_var,
    "monte_carlo": monte_carlo_var,
}
VAR_METHODS: tuple[str, ...] = tuple(_METHODS)


def prepare_returns(returns: Any, weights: Any) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
    """Checked (time, asset) values, aligned weights (None for one series) and asset names."""
    if weights is None:
        vec = as_return_vector(returns)
        return vec[:, None], None, ["portfolio"]
    values, names = as_return_matrix(returns)
    return values, as_weights(weights, names), names


def estimate_var(
    returns: Any,
    *,
    weights: Any = None,
    confidence: float = 0.99,
    horizon: int = 1,
    method: VarMethod = "historical",
    dof: float | None = None,
    n_paths: int = 10_000,
    seed: int = 0,
    covariance: Any = None,
) -> VarEstimate:
    """VaR and CVaR of a return series, or of a portfolio of weights.

    Parameters
    ----------
    returns : Series, DataFrame or array
        Simple returns per bar: one series (1-D), or (time, asset) with ``weights``.
    weights : Series, mapping or sequence, optional
        Positions as fractions of value, by asset name or in column order.
    confidence : float, default=0.99
        Strictly between 0 and 1.
    horizon : int, default=1
        In bars; see the module table for how each method handles it.
    method : str, default="historical"
        One of :data:`VAR_METHODS`.
    dof : float, optional
        Student-t degrees of freedom (> 2); fitted by maximum likelihood when omitted.
    n_paths : int, default=10_000
        Simulated paths (``monte_carlo``, ``filtered_historical`` with horizon > 1).
    seed : int, default=0
        Seed of the simulations.
    covariance : array, optional
        (asset, asset) covariance for ``monte_carlo`` instead of the sample's;
        must be symmetric positive definite (else :class:`CovarianceError`).

    Raises
    ------
    RiskInputError
        NaNs in ``returns``, ``confidence`` outside (0, 1), an unknown ``method``.
    """
    c = check_confidence(confidence)
    h = check_horizon(horizon)
    run = _METHODS.get(method)
    if run is None:
        raise RiskInputError(
            f"method {method!r} is not a VaR method; choose one of {', '.join(VAR_METHODS)}",
            field="method",
        )
    if isinstance(n_paths, bool) or int(n_paths) < 100:
        raise RiskInputError(f"n_paths must be at least 100, got {n_paths!r}", field="n_paths")
    values, w, _ = prepare_returns(returns, weights)
    var, cvar, note = run(
        values, w, c, h, dof=dof, n_paths=int(n_paths), seed=seed, covariance=covariance
    )
    return VarEstimate(method, c, h, float(var), float(max(cvar, var)), values.shape[0], note)


def var_table(
    returns: Any,
    *,
    weights: Any = None,
    confidence: float = 0.99,
    horizon: int = 1,
    methods: tuple[str, ...] = VAR_METHODS,
    seed: int = 0,
) -> list[VarEstimate]:
    """:func:`estimate_var` for each of ``methods`` (default: all), in order."""
    return [
        estimate_var(
            returns,
            weights=weights,
            confidence=confidence,
            horizon=horizon,
            method=m,
            seed=seed,  # type: ignore[arg-type]
        )
        for m in methods
    ]
