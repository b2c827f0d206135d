"""Permutation importance of a model's features, per feature and per feature family.

:func:`permutation_importance` measures how much a model's per-date
information coefficient falls when one feature (or one family of features)
is shuffled across assets within each date: the cross-section loses that
feature's information while every date keeps its own values, so nothing
moves through time. :func:`feature_family` and :func:`group_features` give
the grouping.

Conventions
-----------
Score
    The mean over dates of the cross-sectional Pearson correlation between
    the prediction and the target (the forward return), over dates with at
    least ``min_assets`` rows whose prediction and target are finite.
Importance
    ``baseline score - score with the feature shuffled``, one value per
    repeat; reported as the mean and the standard deviation (ddof 1) over
    ``n_repeats`` repeats. Positive: the model loses skill without the
    feature; about zero: unused, or used without skill; negative: the model
    does better without it.
Shuffling
    Within each date, the rows' values of the feature are permuted among
    that date's rows (assets). A family's columns are permuted together with
    one permutation, so the family's joint distribution is kept. For
    sequence inputs ``(n, window, n_features)`` a row's whole window of the
    feature moves together (all window positions).
Seeds
    Repeat ``r`` draws its permutations from ``numpy.random.default_rng([seed,
    r])``: results are identical for the same inputs and seed.
Where to measure
    On rows the model did not train on (a walk-forward test fold): on
    training rows importance measures what the model memorised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.models.errors import ModelError

__all__ = [
    "KBAR_FEATURES",
    "PermutationImportance",
    "feature_family",
    "group_features",
    "per_date_ic",
    "permutation_importance",
]

#: The candlestick features of Alpha158, one family ``"KBAR"`` (their names end in 2, not a window).
KBAR_FEATURES = frozenset(
    {"KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2"}
)
_TRAILING_DIGITS = re.compile(r"^(?P<stem>.*?[^0-9])[0-9]+$")


def feature_family(name: str) -> str:
    """The family of a feature name, following the Alpha158 / Alpha360 naming.

    The rule, in order:

    1. The nine candlestick features (:data:`KBAR_FEATURES`: ``KMID``,
       ``KLEN``, ``KMID2``, ``KUP``, ``KUP2``, ``KLOW``, ``KLOW2``,
       ``KSFT``, ``KSFT2``) are the family ``"KBAR"``.
    2. Otherwise trailing digits (a window or a lag) are removed: ``"ROC5"``
       and ``"ROC60"`` are ``"ROC"``, ``"OPEN0"`` is ``"OPEN"``, ``"CLOSE59"``
       (Alpha360) is ``"CLOSE"``, ``"mom20"`` is ``"mom"``.
    3. A name without trailing digits, or made only of digits, is its own family.

    Examples
    --------
    >>> [feature_family(n) for n in ("ROC5", "VSUMP10", "KLOW2", "rsi", "ret_5d")]
    ['ROC', 'VSUMP', 'KBAR', 'rsi', 'ret_5d']
    """
    if name in KBAR_FEATURES:
        return "KBAR"
    m = _TRAILING_DIGITS.match(name)
    return m.group("stem") if m else name


def group_features(
    names: Sequence[str],
    groups: Mapping[str, str] | Callable[[str], str] | None = None,
) -> dict[str, tuple[int, ...]]:
    """Column positions of each feature family, families in order of first appearance.

    Parameters
    ----------
    names : sequence of str
        Feature names in column order.
    groups : mapping or callable, optional
        Feature name -> family; default :func:`feature_family`. A mapping
        must name every feature.

    Returns
    -------
    dict of str to tuple of int
    """
    if groups is None:
        family_of: Callable[[str], str] = feature_family
    elif callable(groups):
        family_of = groups
    else:
        missing = [n for n in names if n not in groups]
        if missing:
            raise ModelError(
                f"the feature groups do not name {len(missing)} feature(s): {missing[:5]}",
                hint="map every feature name to a family, or pass groups=None",
            )
        family_of = groups.__getitem__
    out: dict[str, list[int]] = {}
    for k, name in enumerate(names):
        out.setdefault(family_of(name), []).append(k)
    return {family: tuple(cols) for family, cols in out.items()}


@dataclass(frozen=True)
class PermutationImportance:
    """Importance of each feature and feature family: the fall of the per-date IC when shuffled.

    Attributes
    ----------
    features, families : DataFrame
        Indexed by feature (family) name, most important first, with columns
        ``importance`` (mean fall of the score over repeats), ``std`` (over
        repeats, ddof 1; 0 for one repeat) and, for families, ``n_features``.
    baseline : float
        The score with nothing shuffled.
    n_rows, n_dates, n_repeats, seed : int
    metric : str
        ``"ic"`` (see the module conventions).
    """

    features: pd.DataFrame
    families: pd.DataFrame
    baseline: float
    n_rows: int
    n_dates: int
    n_repeats: int
    seed: int
    metric: str = "ic"
    groups: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: settings, baseline, and one record per feature and per family."""
        return {
            "metric": self.metric,
            "baseline": _finite(self.baseline),
            "n_rows": self.n_rows,
            "n_dates": self.n_dates,
            "n_repeats": self.n_repeats,
            "seed": self.seed,
            "features": _records(self.features, "feature"),
            "families": _records(self.families, "family"),
            "groups": self.groups,
        }


def per_date_ic(
    prediction: np.ndarray, target: np.ndarray, dates: np.ndarray, *, min_assets: int = 5
) -> float:
    """Mean over dates of the cross-sectional Pearson correlation of prediction and target.

    Rows with a non-finite prediction or target are ignored; dates with
    fewer than ``min_assets`` remaining rows, or a constant prediction or
    target, are skipped. NaN when no date is left.
    """
    ok = np.isfinite(prediction) & np.isfinite(target)
    codes, _ = pd.factorize(dates[ok], sort=False)
    if codes.size == 0:
        return float("nan")
    p, t = prediction[ok], target[ok]
    n = np.bincount(codes).astype(np.float64)
    p = p - (np.bincount(codes, p) / n)[codes]
    t = t - (np.bincount(codes, t) / n)[codes]
    cov = np.bincount(codes, p * t)
    var = np.bincount(codes, p * p) * np.bincount(codes, t * t)
    use = (n >= min_assets) & (var > 1e-24)
    if not use.any():
        return float("nan")
    return float(np.mean(cov[use] / np.sqrt(var[use])))


def permutation_importance(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,  # noqa: N803 (scikit-learn's name)
    target: np.ndarray,
    dates: np.ndarray,
    feature_names: Sequence[str],
    *,
    groups: Mapping[str, str] | Callable[[str], str] | None = None,
    n_repeats: int = 5,
    seed: int = 0,
    per_feature: bool = True,
    min_assets: int = 5,
) -> PermutationImportance:
    """Permutation importance on ``(X, target)``, per feature and per family.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> (n,)`` predictions, e.g. a fitted estimator's ``predict``.
    X : ndarray of shape (n, n_features) or (n, window, n_features)
        Inputs of rows the model did not train on (see the module conventions).
    target : ndarray of shape (n,)
        What the predictions are scored against (the forward return).
    dates : ndarray of shape (n,)
        Each row's decision time; shuffling and the IC are within a date.
    feature_names : sequence of str
        Names of the last axis of ``X``.
    groups : mapping or callable, optional
        Feature -> family (default :func:`feature_family`).
    n_repeats : int, default=5
        Shuffles per feature; the spread over them is the reported ``std``.
    seed : int, default=0
    per_feature : bool, default=True
        Also score each feature alone (one prediction per feature and
        repeat); families are always scored.
    min_assets : int, default=5
        Fewest rows a date needs to count in the IC.

    Returns
    -------
    PermutationImportance

    Raises
    ------
    ModelError
        For mismatched shapes, or no date with ``min_assets`` scored rows.
    """
    x = np.asarray(X)
    target = np.asarray(target, dtype=np.float64)
    dates = np.asarray(dates)
    names = list(feature_names)
    if x.ndim not in (2, 3) or x.shape[-1] != len(names):
        raise ModelError(
            f"X must be (n, {len(names)}) or (n, window, {len(names)}) for the feature names "
            f"given, got shape {x.shape}"
        )
    if target.shape != (len(x),) or dates.shape != (len(x),):
        raise ModelError(f"target and dates need one value per row of X ({len(x)})")
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, int) or n_repeats < 1:
        raise ModelError(f"n_repeats must be an integer >= 1, got {n_repeats!r}")

    def score(values: np.ndarray) -> float:
        pred = np.asarray(predict(values), dtype=np.float64).reshape(len(values))
        return per_date_ic(pred, target, dates, min_assets=min_assets)

    work = np.array(x, copy=True)
    baseline = score(work)
    if not np.isfinite(baseline):
        raise ModelError(
            f"no date has {min_assets} or more rows with a finite prediction and target",
            hint="measure on more assets per date, or lower min_assets",
        )
    families = group_features(names, groups)
    units = {f"family:{f}": cols for f, cols in families.items()}
    if per_feature:
        units.update({f"feature:{n}": (k,) for k, n in enumerate(names)})
    codes = pd.factorize(dates)[0]
    order = np.argsort(codes, kind="stable")
    drops = {unit: np.empty(n_repeats) for unit in units}
    for r in range(n_repeats):
        rng = np.random.default_rng([seed, r])
        for unit, cols in units.items():
            perm = _within_date_permutation(codes, order, rng)
            saved = work[..., list(cols)].copy()
            work[..., list(cols)] = saved[perm]
            drops[unit][r] = baseline - score(work)
            work[..., list(cols)] = saved
    feature_frame = _frame(
        {n: drops[f"feature:{n}"] for n in names} if per_feature else {}, "feature"
    )
    family_frame = _frame({f: drops[f"family:{f}"] for f in families}, "family")
    family_frame["n_features"] = [len(families[f]) for f in family_frame.index]
    return PermutationImportance(
        features=feature_frame,
        families=family_frame,
        baseline=baseline,
        n_rows=len(x),
        n_dates=int(pd.unique(dates).size),
        n_repeats=n_repeats,
        seed=seed,
        groups={f: [names[k] for k in cols] for f, cols in families.items()},
    )


def _within_date_permutation(
    codes: np.ndarray, order: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``perm`` with ``codes[perm] == codes`` and rows of each date randomly permuted.

    ``codes`` are integer date codes; ``order`` is a stable sort of the rows
    by code. Sorting again by (code, random key) gives the same codes in the
    same sorted slots, with rows shuffled inside each date.
    """
    shuffled = np.lexsort((rng.random(len(codes)), codes))
    perm = np.empty(len(codes), dtype=np.int64)
    perm[order] = shuffled
    return perm


def _frame(drops: Mapping[str, np.ndarray], index_name: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "importance": [float(np.mean(d)) for d in drops.values()],
            "std": [float(np.std(d, ddof=1)) if d.size > 1 else 0.0 for d in drops.values()],
        },
        index=pd.Index(list(drops), name=index_name, dtype=object),
    )
    return frame.sort_values("importance", ascending=False, kind="stable")


def _finite(value: Any) -> float | None:
    v = float(value)
    return v if np.isfinite(v) else None


def _records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
    out = []
    for name, row in frame.iterrows():
        rec: dict[str, Any] = {key: str(name)}
        for col, value in row.items():
            rec[str(col)] = int(value) if col == "n_features" else _finite(value)
        out.append(rec)
    return out
