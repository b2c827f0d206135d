"""An exact active-set solver for the long-only, fully invested maximum Sharpe portfolio.

With excess means ``a = mu - rf`` and covariance ``S`` (both per bar, from the
sample window), the max-Sharpe weights ``w >= 0, sum w = 1`` are ``y / sum y``
where ``y`` solves the convex quadratic program (Cornuejols and Tutuncu's
homogenization, the same problem skfolio hands to its conic solver)::

    minimize y' S y   subject to   a' y = 1,  y >= 0.

A primal active-set method solves it exactly: on the free set ``F`` the
equality-constrained minimum is ``y_F = S_FF^-1 a_F / (a_F' S_FF^-1 a_F)``;
a step towards it stops where a weight reaches 0 (that asset leaves ``F``);
at the minimum on ``F`` an asset outside it whose multiplier
``(2 S y)_j - lambda a_j`` is negative enters. Each step keeps ``a' y = 1``
and lowers ``y' S y``, so the method ends in finitely many steps with the
global minimum (the problem is convex).

It is the fast path of :func:`~alphaloop.portfolio.optimize.optimize_weights`
for ``max_sharpe`` without a lower weight bound, turnover or group
constraints. Where it does not apply it returns None and skfolio solves the
window: no asset has a mean above the risk-free rate, a covariance that is
singular or badly conditioned on the free set, or weights above
``max_weight`` (the bound then binds, which this solver does not model).
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_sharpe_weights"]

_COND_LIMIT = 1e10
_KKT_TOL = 1e-12


def _on_free_set(cov: np.ndarray, a: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """The minimum of ``y' S y`` with ``a' y = 1`` on the free set (None: ill-conditioned)."""
    sub = cov[np.ix_(free, free)]
    if free.size > 1 and np.linalg.cond(sub) > _COND_LIMIT:
        return None
    try:
        z = np.linalg.solve(sub, a[free])
    except np.linalg.LinAlgError:
        return None
    denom = float(a[free] @ z)
    if not np.isfinite(denom) or denom <= 0.0:
        return None
    return z / denom


def max_sharpe_weights(
    mean: np.ndarray,
    cov: np.ndarray,
    *,
    risk_free_rate: float = 0.0,
    max_weight: float = 1.0,
) -> np.ndarray | None:
    """Long-only weights summing to 1 of maximum ``(w' mean - rf) / sqrt(w' cov w)``.

    Parameters
    ----------
    mean : ndarray, shape (n,)
        Expected return per bar of each asset.
    cov : ndarray, shape (n, n)
        Covariance of returns per bar (symmetric, positive definite).
    risk_free_rate : float, default 0.0
        Per bar, in the units of ``mean``.
    max_weight : float, default 1.0
        Upper bound of each weight; the solution is returned only when it
        does not bind.

    Returns
    -------
    ndarray or None
        The weights, or None where this solver does not apply (see the module
        docstring): the caller then uses the general solver.
    """
    a = np.asarray(mean, dtype=np.float64) - float(risk_free_rate)
    cov = np.asarray(cov, dtype=np.float64)
    n = a.size
    if cov.shape != (n, n) or not np.isfinite(a).all() or not np.isfinite(cov).all():
        return None
    if n == 0 or a.max() <= 0.0 or (np.diag(cov) <= 0.0).any():
        return None
    # start: the single asset of best Sharpe ratio, y = e_j / a_j
    j = int(np.argmax(a / np.sqrt(np.diag(cov))))
    y = np.zeros(n)
    y[j] = 1.0 / a[j]
    free = np.zeros(n, dtype=bool)
    free[j] = True
    for _ in range(50 * n + 50):
        idx = np.flatnonzero(free)
        target = _on_free_set(cov, a, idx)
        if target is None:
            return None
        if (target >= 0.0).all():
            y = np.zeros(n)
            y[idx] = target
            lam = 2.0 * float(y @ cov @ y)  # a' y = 1, so lambda = 2 y' S y
            dual = 2.0 * (cov @ y) - lam * a
            dual[free] = np.inf
            k = int(np.argmin(dual))
            if dual[k] >= -_KKT_TOL * max(1.0, abs(lam)):
                break
            free[k] = True
            continue
        # step from y towards the target until the first free weight reaches 0
        current = y[idx]
        falling = target < current
        ratios = np.full(idx.size, np.inf)
        ratios[falling] = current[falling] / (current[falling] - target[falling])
        step = float(min(1.0, ratios.min()))
        y[idx] = current + step * (target - current)
        out = idx[int(np.argmin(ratios))]
        y[out] = 0.0
        free[out] = False
    else:
        return None
    y = np.clip(y, 0.0, None)
    weights = y / y.sum()
    if (weights > max_weight + 1e-9).any():
        return None
    return weights
