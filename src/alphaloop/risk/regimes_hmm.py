"""Gaussian hidden-Markov regimes: hmmlearn fits, our forward filter labels.

hmmlearn's ``predict`` is a Viterbi path over the whole sequence and its
``predict_proba`` is the smoothed posterior: both use later bars for an
earlier label, so neither is used here. :func:`forward_filter` runs the
normalised forward recursion over the fitted parameters instead,

    alpha_0 ∝ pi * b_0,    alpha_t ∝ (alpha_{t-1} @ A) * b_t,

where ``b_t`` is the Gaussian density of bar t in each state, so
``alpha_t = P(state_t | x_0 .. x_t)``. Fitting is walk-forward
(:mod:`alphaloop.risk.regimes_fit`). hmmlearn is the ``risk`` extra
(``pip install 'alphaloop[risk]'``); it is imported only when fitting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphaloop.risk._checks import check_window, finite_series
from alphaloop.risk.errors import RiskError
from alphaloop.risk.regimes import RegimeLabels
from alphaloop.risk.regimes_fit import labels_from_proba, standardizer, walk_forward_filter

__all__ = ["GaussianHMMParams", "fit_gaussian_hmm", "forward_filter", "hmm_regimes"]


@dataclass(frozen=True)
class GaussianHMMParams:
    """A fitted one-dimensional Gaussian HMM, states sorted by variance (0 = calmest).

    Attributes
    ----------
    startprob : ndarray, shape (k,)
    transmat : ndarray, shape (k, k)
        ``transmat[i, j] = P(state_{t+1} = j | state_t = i)``.
    means, variances : ndarray, shape (k,)
        Per-state mean and variance of the *standardised* observations.
    center, scale : float
        The training span's mean and standard deviation; observations are
        standardised as ``(x - center) / scale`` before the filter.
    log_likelihood : float
        Of the training span under these parameters.
    """

    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    center: float
    scale: float
    log_likelihood: float

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for provenance and JSON (variances in return units squared)."""
        return {
            "transmat": self.transmat.tolist(),
            "means": (self.center + self.scale * self.means).tolist(),
            "variances": (self.scale**2 * self.variances).tolist(),
            "log_likelihood": self.log_likelihood,
        }


def _hmmlearn() -> Any:
    try:
        from hmmlearn import hmm
    except ImportError:
        raise RiskError(
            "method 'hmm' needs hmmlearn, which is not installed",
            hint="pip install 'alphaloop[risk]'",
        ) from None
    return hmm


def fit_gaussian_hmm(
    x: np.ndarray,
    *,
    n_states: int = 2,
    seed: int = 0,
    n_init: int = 3,
    n_iter: int = 200,
    start: GaussianHMMParams | None = None,
) -> GaussianHMMParams:
    """Fit a Gaussian HMM to a training span by EM (hmmlearn), best of ``n_init`` seeds.

    The observations are standardised by the span's own mean and standard
    deviation first (hmmlearn's variance floor, 1e-3, would otherwise swamp
    daily return variances near 1e-4). The first start splits the span into
    volatility quantiles; restarts jitter it with seeds ``seed + 1 ..
    seed + n_init - 1``; ``start`` (a previous fit, for walk-forward refits)
    adds one more start from its parameters. The fit with the highest
    likelihood wins, ties to the earliest start.
    """
    hmm = _hmmlearn()
    center, scale = standardizer(x)
    z = ((x - center) / scale).reshape(-1, 1)
    best: Any = None
    best_score = -math.inf
    for i in range(n_init + (start is not None)):
        model = hmm.GaussianHMM(
            n_components=n_states,
            covariance_type="diag",
            n_iter=n_iter,
            tol=1e-4,
            random_state=seed + i,
            init_params="",
        )
        if i < n_init:
            _start(model, z[:, 0], n_states, np.random.default_rng(seed + i) if i else None)
        else:
            _warm_start(model, start, center, scale)  # type: ignore[arg-type]
        model.fit(z)
        score = float(model.score(z))
        if score > best_score:
            best, best_score = model, score
    variances = np.asarray(best.covars_, dtype=float).reshape(n_states, -1)[:, 0]
    order = np.argsort(variances, kind="stable")
    return GaussianHMMParams(
        startprob=np.asarray(best.startprob_, dtype=float)[order],
        transmat=np.asarray(best.transmat_, dtype=float)[np.ix_(order, order)],
        means=np.asarray(best.means_, dtype=float)[order, 0],
        variances=variances[order],
        center=center,
        scale=scale,
        log_likelihood=best_score,
    )


def _start(model: Any, z: np.ndarray, n_states: int, rng: np.random.Generator | None) -> None:
    """Starting values: states by volatility quantiles of the span; jittered for restarts.

    Set here rather than by hmmlearn's k-means start, which is slower and
    clusters on the *level* of returns, not on their volatility.
    """
    magnitude = np.abs(z - np.median(z))
    groups = np.array_split(np.argsort(magnitude, kind="stable"), n_states)
    means = np.array([z[g].mean() for g in groups])
    variances = np.array([max(z[g].var(), 1e-3) for g in groups])
    stay = 0.95
    if rng is not None:
        variances = variances * np.exp(rng.normal(0.0, 0.5, n_states))
        stay = float(rng.uniform(0.8, 0.99))
    transmat = np.full((n_states, n_states), (1.0 - stay) / (n_states - 1))
    np.fill_diagonal(transmat, stay)
    model.startprob_ = np.full(n_states, 1.0 / n_states)
    model.transmat_ = transmat
    model.means_ = means.reshape(-1, 1)
    model.covars_ = variances.reshape(-1, 1)


def _warm_start(model: Any, previous: GaussianHMMParams, center: float, scale: float) -> None:
    """Start from a previous fit, re-expressed in this span's standardisation."""
    ratio = previous.scale / scale
    model.startprob_ = previous.startprob
    model.transmat_ = previous.transmat
    means = (previous.center + previous.scale * previous.means - center) / scale
    model.means_ = means.reshape(-1, 1)
    model.covars_ = np.maximum(previous.variances * ratio**2, 1e-3).reshape(-1, 1)


def forward_filter(params: GaussianHMMParams, x: np.ndarray) -> np.ndarray:
    """Filtered state probabilities ``P(state_t | x_0 .. x_t)``, shape ``(len(x), k)``.

    Row t uses ``x[:t + 1]`` only. Emission densities are scaled per row
    (which cancels in the normalisation), so long series do not underflow.
    """
    z = (np.asarray(x, dtype=float) - params.center) / params.scale
    log_b = -0.5 * (
        np.log(2.0 * np.pi * params.variances)[None, :]
        + (z[:, None] - params.means[None, :]) ** 2 / params.variances[None, :]
    )
    b = np.exp(log_b - log_b.max(axis=1, keepdims=True))
    out = np.empty_like(b)
    alpha = params.startprob
    for t in range(b.shape[0]):
        prior = alpha if t == 0 else alpha @ params.transmat
        alpha = prior * b[t]
        total = alpha.sum()
        alpha = alpha / total if total > 0.0 else b[t] / b[t].sum()
        out[t] = alpha
    return out


def hmm_regimes(
    returns: object,
    *,
    n_regimes: int = 2,
    min_train: int = 504,
    refit_every: int | None = 252,
    seed: int = 0,
    n_init: int = 3,
    n_iter: int = 200,
) -> RegimeLabels:
    """Regimes of a Gaussian HMM fitted on past bars and forward-filtered.

    Parameters
    ----------
    returns : Series or 1-D array
        Simple per-bar returns, no NaN.
    n_regimes : int, default 2
        Hidden states; sorted by variance, 0 = calmest.
    min_train : int, default 504
        Bars in the first fit (two years of daily bars); they get no label.
    refit_every : int or None, default 252
        Refit on all bars before every ``min_train + i * refit_every``
        (yearly on daily bars), each fit warm-started from the last; None
        fits once on the first ``min_train`` bars and filters on, which
        leaves every later label to a model of the first span only.
    seed, n_init, n_iter : int
        The first fit runs ``n_init`` EM starts (seeds ``seed ..
        seed + n_init - 1``, :func:`fit_gaussian_hmm`); each refit runs two,
        from the previous fit and from the volatility-quantile split. At
        most ``n_iter`` EM iterations each.

    Returns
    -------
    RegimeLabels
        ``labels`` = argmax of the filtered probabilities (ties to the
        calmer state); ``probabilities`` the filtered probabilities.
    """
    n_regimes = check_window(n_regimes, "n_regimes")
    n_init = check_window(n_init, "n_init", minimum=1)
    n_iter = check_window(n_iter, "n_iter", minimum=1)
    series = finite_series(returns, "returns")
    x = series.to_numpy()

    def fit(train: np.ndarray, previous: GaussianHMMParams | None) -> GaussianHMMParams:
        # restarts on the first fit; a refit starts from the last fit and the quantile split
        restarts = n_init if previous is None else 1
        return fit_gaussian_hmm(
            train, n_states=n_regimes, seed=seed, n_init=restarts, n_iter=n_iter, start=previous
        )

    proba, fits = walk_forward_filter(
        x, fit, forward_filter, n_states=n_regimes, min_train=min_train, refit_every=refit_every
    )
    return labels_from_proba(
        series.index,
        proba,
        method="hmm",
        params={
            "n_regimes": n_regimes,
            "min_train": min_train,
            "refit_every": refit_every,
            "seed": seed,
            "n_init": n_init,
            "n_iter": n_iter,
            "fits": [f.to_dict() for f in fits],
        },
    )
