"""Markov-switching regimes (statsmodels): Hamilton-filtered, never smoothed.

A :class:`~statsmodels.tsa.regime_switching.markov_regression.MarkovRegression`
with a switching mean and variance is fitted by maximum likelihood on past
bars (walk-forward, :mod:`alphaloop.risk.regimes_fit`); the labels come from
``filtered_marginal_probabilities`` of the model's ``filter`` at those fixed
parameters, ``P(regime_t | x_0 .. x_t)``. The smoothed probabilities (which
use the whole sample) are never read.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaloop.risk._checks import check_window, finite_series
from alphaloop.risk.errors import RiskError
from alphaloop.risk.regimes import RegimeLabels
from alphaloop.risk.regimes_fit import labels_from_proba, standardizer, walk_forward_filter

__all__ = ["MarkovSwitchingParams", "fit_markov_switching", "markov_filter", "markov_regimes"]


@dataclass(frozen=True)
class MarkovSwitchingParams:
    """A fitted Markov-switching model of standardised returns.

    Attributes
    ----------
    params : ndarray
        statsmodels' parameter vector (its own regime order).
    order : ndarray of int
        ``order[k]`` is statsmodels' regime that is our regime ``k``
        (sorted by variance, 0 = calmest).
    center, scale : float
        The training span's mean and standard deviation.
    n_states : int
    log_likelihood : float
    """

    params: np.ndarray
    order: np.ndarray
    center: float
    scale: float
    n_states: int
    log_likelihood: float

    def to_dict(self) -> dict[str, Any]:
        """Per-regime variances in return units squared, sorted, and the likelihood."""
        sigma2 = self.params[-self.n_states :][self.order]
        return {
            "variances": (self.scale**2 * sigma2).tolist(),
            "log_likelihood": self.log_likelihood,
        }


def _model(z: np.ndarray, n_states: int) -> Any:
    from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

    return MarkovRegression(z, k_regimes=n_states, trend="c", switching_variance=True)


def fit_markov_switching(
    x: np.ndarray, *, n_states: int = 2, start: MarkovSwitchingParams | None = None
) -> MarkovSwitchingParams:
    """Maximum-likelihood fit (EM start, then BFGS) on a training span; deterministic.

    ``start``: a previous fit whose parameters start the optimiser (a warm
    start for walk-forward refits); default statsmodels' own start.
    """
    center, scale = standardizer(x)
    z = (x - center) / scale
    with warnings.catch_warnings():
        # the optimiser's convergence chatter; the likelihood is kept for the record
        warnings.simplefilter("ignore")
        result = _model(z, n_states).fit(
            start_params=None if start is None else start.params, disp=False
        )
    params = np.asarray(result.params, dtype=float)
    if not np.all(np.isfinite(params)):
        raise RiskError(
            "returns: the Markov-switching fit did not converge on the training span",
            hint="use a longer min_train or fewer regimes",
        )
    sigma2 = params[-n_states:]
    return MarkovSwitchingParams(
        params=params,
        order=np.argsort(sigma2, kind="stable"),
        center=center,
        scale=scale,
        n_states=n_states,
        log_likelihood=float(result.llf),
    )


def markov_filter(params: MarkovSwitchingParams, x: np.ndarray) -> np.ndarray:
    """Hamilton-filtered regime probabilities, shape ``(len(x), k)``, regimes sorted."""
    z = (np.asarray(x, dtype=float) - params.center) / params.scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filtered = _model(z, params.n_states).filter(params.params)
    proba = np.asarray(filtered.filtered_marginal_probabilities, dtype=float)
    return proba[:, params.order]


def markov_regimes(
    returns: object,
    *,
    n_regimes: int = 2,
    min_train: int = 504,
    refit_every: int | None = 252,
) -> RegimeLabels:
    """Regimes of a Markov-switching mean/variance model fitted on past bars, filtered.

    Parameters
    ----------
    returns : Series or 1-D array
        Simple per-bar returns, no NaN.
    n_regimes : int, default 2
        Regimes; sorted by variance, 0 = calmest.
    min_train : int, default 504
        Bars in the first fit; they get no label.
    refit_every : int or None, default 252
        Refit on all bars before every ``min_train + i * refit_every``
        (yearly on daily bars), each fit warm-started from the last; None
        fits once on the first ``min_train`` bars and filters on, which
        leaves every later label to a model of the first span only.

    Returns
    -------
    RegimeLabels
        ``labels`` = argmax of the filtered probabilities; ``probabilities``
        the filtered probabilities. The fit is deterministic (no seed).
    """
    n_regimes = check_window(n_regimes, "n_regimes")
    series = finite_series(returns, "returns")

    def fit(train: np.ndarray, previous: MarkovSwitchingParams | None) -> MarkovSwitchingParams:
        return fit_markov_switching(train, n_states=n_regimes, start=previous)

    proba, fits = walk_forward_filter(
        series.to_numpy(),
        fit,
        markov_filter,
        n_states=n_regimes,
        min_train=min_train,
        refit_every=refit_every,
    )
    return labels_from_proba(
        series.index,
        proba,
        method="markov",
        params={
            "n_regimes": n_regimes,
            "min_train": min_train,
            "refit_every": refit_every,
            "fits": [f.to_dict() for f in fits],
        },
    )
