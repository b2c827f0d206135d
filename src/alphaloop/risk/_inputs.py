"""Input checks and conversions shared by the risk measures.

Conventions used across :mod:`alphaloop.risk`:

- returns are *simple* returns per bar (``p_t / p_{t-1} - 1``), never log
  returns; a loss is a positive number, a fraction of the portfolio's value;
- ``weights`` are positions as fractions of the portfolio's value (long/short
  allowed, they need not sum to 1); over a multi-bar horizon they are held
  (bought at the start, not rebalanced);
- the confidence level is a probability strictly between 0 and 1 (``0.99``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data import Panel
from alphaloop.risk.errors import CovarianceError, RiskInputError

__all__ = [
    "as_return_matrix",
    "as_return_vector",
    "as_weights",
    "check_confidence",
    "check_covariance",
    "check_horizon",
    "compounded_horizon_returns",
    "panel_returns",
    "single_threaded_blas",
]


def check_confidence(confidence: float, field: str = "confidence") -> float:
    """``confidence`` as a float, or :class:`RiskInputError` unless 0 < confidence < 1."""
    try:
        value = float(confidence)
    except (TypeError, ValueError):
        raise RiskInputError(
            f"{field} must be a number strictly between 0 and 1, got {confidence!r}", field=field
        ) from None
    if not 0.0 < value < 1.0:
        raise RiskInputError(
            f"{field} must be strictly between 0 and 1, got {value!r}",
            field=field,
            hint="e.g. 0.99 for the 99% VaR",
        )
    return value


def check_horizon(horizon: int, field: str = "horizon") -> int:
    """``horizon`` in bars as an int >= 1, or :class:`RiskInputError`."""
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise RiskInputError(
            f"{field} must be a whole number of bars >= 1, got {horizon!r}", field=field
        )
    return int(horizon)


def _label(index: Any, i: int) -> str:
    if index is None:
        return f"row {i}"
    value = index[i]
    return f"{value.date()}" if isinstance(value, pd.Timestamp) else f"{value!r}"


def _reject_nan(values: np.ndarray, field: str, index: Any = None, columns: Any = None) -> None:
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    count = int(bad.sum())
    if values.ndim == 1:
        where = _label(index, int(np.argmax(bad)))
    else:
        i, j = np.argwhere(bad)[0]
        col = columns[j] if columns is not None else f"column {j}"
        where = f"{_label(index, int(i))}, asset {col}"
    raise RiskInputError(
        f"{field} has {count} missing or infinite value(s), first at {where}",
        field=field,
        hint="drop or fill them before measuring risk (e.g. returns.dropna())",
    )


def as_return_vector(returns: Any, field: str = "returns", min_obs: int = 2) -> np.ndarray:
    """A finite 1-D float array of simple returns from a Series, list or array."""
    index = returns.index if isinstance(returns, pd.Series) else None
    values = np.asarray(returns, dtype=float)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise RiskInputError(
            f"{field} must be one return series (1-D), got shape {values.shape}",
            field=field,
            hint="pass weights to measure a portfolio of several assets",
        )
    if values.size < min_obs:
        raise RiskInputError(
            f"{field} needs at least {min_obs} observations, got {values.size}", field=field
        )
    _reject_nan(values, field, index)
    return values


def as_return_matrix(
    returns: Any, field: str = "returns", min_obs: int = 2
) -> tuple[np.ndarray, list[str]]:
    """A finite (time, asset) float array and the asset names (``"0", "1", ...`` for arrays)."""
    if isinstance(returns, pd.DataFrame):
        values = returns.to_numpy(dtype=float)
        names = [str(c) for c in returns.columns]
        index = returns.index
    else:
        values = np.asarray(returns, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        names = [str(j) for j in range(values.shape[1])] if values.ndim == 2 else []
        index = None
    if values.ndim != 2:
        raise RiskInputError(
            f"{field} must be (time, asset), got shape {values.shape}", field=field
        )
    if values.shape[0] < min_obs:
        raise RiskInputError(
            f"{field} needs at least {min_obs} observations, got {values.shape[0]}", field=field
        )
    _reject_nan(values, field, index, names)
    return values, names


def as_weights(weights: Any, names: Sequence[str], field: str = "weights") -> np.ndarray:
    """Weights aligned to ``names``: a Series/mapping by name, or a sequence in column order."""
    if isinstance(weights, (pd.Series, Mapping)):
        given = pd.Series(weights, dtype=float)
        given.index = given.index.map(str)
        unknown = sorted(set(given.index) - set(names))
        if unknown:
            raise RiskInputError(
                f"{field} name assets the returns do not have: {unknown[:5]}", field=field
            )
        w = given.reindex(list(names)).fillna(0.0).to_numpy(dtype=float)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.size != len(names):
            raise RiskInputError(
                f"{field} has {w.size} entries, the returns have {len(names)} assets", field=field
            )
    if not np.all(np.isfinite(w)):
        raise RiskInputError(f"{field} has missing or infinite values", field=field)
    return w


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the enclosed linear algebra on one BLAS thread.

    Covariances and Cholesky factors of a few hundred assets take
    milliseconds on one thread; several BLAS threads on a busy machine can
    spin for a second or more waiting for each other (measured in
    bench/bench_var.py), so the risk measures keep such work on one thread.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def check_covariance(covariance: Any, n_assets: int, field: str = "covariance") -> np.ndarray:
    """The lower Cholesky factor of a symmetric positive-definite ``covariance``.

    Raises :class:`CovarianceError` naming ``field`` when the shape is wrong,
    the matrix is not symmetric, or it is not positive definite (e.g. more
    assets than observations, or perfectly collinear assets).
    """
    cov = np.asarray(covariance, dtype=float)
    if cov.shape != (n_assets, n_assets):
        raise CovarianceError(
            f"{field} must be ({n_assets}, {n_assets}), got shape {cov.shape}", field=field
        )
    if not np.all(np.isfinite(cov)):
        raise CovarianceError(f"{field} has missing or infinite values", field=field)
    scale = max(float(np.max(np.abs(cov))), 1e-300)
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12 * scale):
        raise CovarianceError(f"{field} is not symmetric", field=field)
    try:
        with single_threaded_blas():
            return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        smallest = float(np.linalg.eigvalsh(cov)[0])
        raise CovarianceError(
            f"{field} is not positive definite (smallest eigenvalue {smallest:.3g})",
            field=field,
            hint="use more observations than assets, drop collinear assets, or shrink it "
            "(e.g. sklearn.covariance.LedoitWolf)",
        ) from None


def compounded_horizon_returns(values: np.ndarray, horizon: int) -> np.ndarray:
    """Overlapping ``horizon``-bar compounded simple returns along axis 0.

    Row ``k`` is ``prod(1 + r[k : k + horizon]) - 1``; ``horizon == 1`` returns
    ``values`` itself. Computed through cumulative log growth, so it costs
    O(n) whatever the horizon.
    """
    if horizon == 1:
        return values
    if values.shape[0] < horizon:
        raise RiskInputError(
            f"horizon of {horizon} bars is longer than the {values.shape[0]} observations",
            field="horizon",
        )
    if np.any(values <= -1.0):
        raise RiskInputError("returns contain a loss of 100% or more", field="returns")
    cum = np.cumsum(np.log1p(values), axis=0)
    zero = np.zeros((1, *values.shape[1:]))
    cum = np.concatenate([zero, cum], axis=0)
    return np.expm1(cum[horizon:] - cum[:-horizon])


def panel_returns(panel: Panel, field: str = "close") -> pd.DataFrame:
    """Simple returns per bar of ``panel[field]`` as a (time, asset) DataFrame.

    The first bar (no previous price) is dropped; a NaN stays NaN where either
    price is missing, so drop or fill before measuring risk.
    """
    prices = panel.frame(field)
    return (prices / prices.shift(1) - 1.0).iloc[1:]
