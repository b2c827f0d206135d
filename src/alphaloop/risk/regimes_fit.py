"""Walk-forward fitting of hidden-state regime models: fit on the past, filter forward.

A hidden-state model (Gaussian HMM, Markov switching) has parameters that
are estimated from data; estimated on the whole series they would carry the
future into every past label. Here they never do:

- the parameters used at bar t are fitted on bars ``0 .. r - 1`` only, where
  ``r <= t`` is the last refit bar (``r = min_train, min_train + refit_every,
  ...``; with ``refit_every=None`` one fit on the first ``min_train`` bars);
- the regime probabilities at t are the *forward filter* with those
  parameters over bars ``0 .. t``: ``P(state_t | x_0 .. x_t)``, never the
  smoothed ``P(state_t | x_0 .. x_T)`` nor a Viterbi path;
- bars before ``min_train`` have no label (``-1``).

So the label at t depends on data up to t only, and appending bars never
changes it. Every fit sorts its states by variance (0 = calmest), so labels
mean the same across refits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from alphaloop.risk._checks import check_window
from alphaloop.risk.errors import RiskError
from alphaloop.risk.regimes import WARMUP, RegimeLabels, volatility_names

__all__ = ["labels_from_proba", "standardizer", "walk_forward_filter"]

P = TypeVar("P")


def walk_forward_filter(
    x: np.ndarray,
    fit: Callable[[np.ndarray, P | None], P],
    filter_proba: Callable[[P, np.ndarray], np.ndarray],
    *,
    n_states: int,
    min_train: int,
    refit_every: int | None,
) -> tuple[np.ndarray, list[P]]:
    """Filtered state probabilities of ``x`` with parameters fitted on past bars only.

    Parameters
    ----------
    x : ndarray, shape (T,)
        The observations.
    fit : callable
        ``fit(x_train, previous) -> params`` (states sorted, 0 = calmest);
        ``previous`` is the last fit (None at first), a deterministic warm start.
    filter_proba : callable
        ``filter_proba(params, x_head) -> (len(x_head), n_states)``: the
        forward-filtered probabilities, row t from ``x_head[:t + 1]`` only.
    n_states : int
        Number of states.
    min_train : int
        Bars in the first fit; earlier bars get NaN rows.
    refit_every : int or None
        Refit on the expanding past every this many bars; None fits once.

    Returns
    -------
    probabilities : ndarray, shape (T, n_states)
        NaN rows before ``min_train``.
    fits : list
        The parameters of each fit, in order.
    """
    min_train = check_window(min_train, "min_train", minimum=10)
    if refit_every is not None:
        refit_every = check_window(refit_every, "refit_every", minimum=1)
    n = x.shape[0]
    if n <= min_train:
        raise RiskError(
            f"returns: {n} bars is too short; the model is fitted on the first "
            f"min_train={min_train} bars and labels the bars after them",
            hint="pass a longer series or a smaller min_train",
        )
    out = np.full((n, n_states), np.nan)
    starts = [min_train] if refit_every is None else list(range(min_train, n, refit_every))
    fits: list[P] = []
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else n
        params = fit(x[:start], fits[-1] if fits else None)
        fits.append(params)
        out[start:end] = filter_proba(params, x[:end])[start:end]
    return out, fits


def standardizer(x: np.ndarray, name: str = "returns") -> tuple[float, float]:
    """Mean and standard deviation of a training span (for a scale-free fit)."""
    std = float(np.std(x))
    if not std > 0.0:
        raise RiskError(
            f"{name}: the training span is constant (zero variance); no regimes to find",
            hint="use a longer or different training span",
        )
    return float(np.mean(x)), std


def labels_from_proba(
    index: pd.Index, proba: np.ndarray, *, method: str, params: dict[str, Any]
) -> RegimeLabels:
    """Labels = argmax of filtered probabilities (ties to the calmer state); -1 on NaN rows."""
    names = volatility_names(proba.shape[1])
    known = np.isfinite(proba).all(axis=1)
    labels = np.where(known, np.argmax(np.nan_to_num(proba, nan=0.0), axis=1), WARMUP)
    return RegimeLabels(
        labels=pd.Series(labels.astype(np.int64), index=index, name="regime"),
        names=names,
        method=method,
        probabilities=pd.DataFrame(proba, index=index, columns=list(names)),
        params=params,
    )
