"""SHAP values of a fitted estimator, summarised per feature and per feature family.

:func:`shap_explanation` uses the ``shap`` package's TreeExplainer for tree
families (exact and fast) and, for every other family, a model-agnostic
fallback written here: sampled Shapley values over random feature orders
(the permutation method), vectorized over rows, so the rows explained are
capped.

Conventions
-----------
Output explained
    Regression: the prediction. Classification: LightGBM and XGBoost are
    explained in their raw score (log-odds), a random forest and every
    other family in the predicted probability of label 1. The output
    actually explained is recorded in ``output``.
Additivity
    For every row, the SHAP values sum to the explained output minus
    ``base_value`` (tree: the model's expected output; fallback: the mean
    prediction over the background rows).
Rows (seeded)
    At most ``max_rows`` rows are explained, drawn without replacement with
    ``numpy.random.default_rng(seed)``. The fallback's background (the
    values a "missing" feature takes) is ``background_rows`` further rows
    drawn from the same inputs (never the explained rows unless there are
    no others). Each row walks ``permutations`` random feature orders and
    their reverses; a walk costs ``n_inputs + 1`` predictions of
    ``rows * background`` inputs. All draws come from the one seeded
    generator: no global random state is read or changed.
Sequence families
    A window ``(window, n_features)`` is flattened to ``window * n_features``
    inputs; a feature's SHAP value is the sum over its window positions.
    The fallback runs on at most ``SEQUENCE_ROWS`` rows, and is skipped (the
    reason is recorded) when a window has more than ``SEQUENCE_MAX_INPUTS``
    inputs.
Summary
    ``mean_abs``: the mean over rows of |SHAP value| of a feature; a family's
    is the mean over rows of |sum of its features' SHAP values|.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.models.errors import ModelError
from alphaloop.models.explain import group_features

__all__ = [
    "BACKGROUND_ROWS",
    "MAX_ROWS",
    "SEQUENCE_MAX_INPUTS",
    "SEQUENCE_ROWS",
    "TREE_FAMILIES",
    "ShapExplanation",
    "shap_explanation",
]

TREE_FAMILIES = frozenset({"lightgbm", "xgboost", "random_forest"})
MAX_ROWS = 200
"""Rows explained by default (tree and fallback)."""
BACKGROUND_ROWS = 50
"""Background rows of the model-agnostic fallback."""
SEQUENCE_ROWS = 16
"""Rows the fallback explains for a sequence family."""
SEQUENCE_MAX_INPUTS = 256
"""Largest flattened window (``window * n_features``) the fallback explains."""


@dataclass(frozen=True)
class ShapExplanation:
    """SHAP values of some rows and their summary.

    Attributes
    ----------
    method : {"tree", "permutation", "skipped"}
    values : ndarray or None
        ``(rows, n_features)``, or ``(rows, window, n_features)`` for
        sequences; None when skipped.
    rows : ndarray of int or None
        Positions in ``X`` of the rows explained (sorted), None when skipped.
    base_value : float
    output : str
        What is explained: ``"prediction"``, ``"probability"`` or ``"log-odds"``.
    features, families : DataFrame
        ``mean_abs`` per feature (family), largest first.
    positions : list of float
        Sequences only: mean over rows of |sum over features| per window
        position, oldest first.
    n_rows, n_background, seed : int
    reason : str
        Why this method (or why skipped).
    """

    method: str
    values: np.ndarray | None
    rows: np.ndarray | None
    base_value: float
    output: str
    features: pd.DataFrame
    families: pd.DataFrame
    positions: list[float]
    n_rows: int
    n_background: int
    seed: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the per-row values are left out)."""

        def records(frame: pd.DataFrame, key: str) -> list[dict[str, Any]]:
            return [{key: str(k), "mean_abs": float(v)} for k, v in frame["mean_abs"].items()]

        return {
            "method": self.method,
            "output": self.output,
            "base_value": self.base_value if np.isfinite(self.base_value) else None,
            "n_rows": self.n_rows,
            "n_background": self.n_background,
            "seed": self.seed,
            "reason": self.reason,
            "features": records(self.features, "feature"),
            "families": records(self.families, "family"),
            "positions": self.positions,
        }


def shap_explanation(
    estimator: Any,
    X: np.ndarray,  # noqa: N803 (scikit-learn's name)
    feature_names: Sequence[str],
    *,
    family: str | None = None,
    groups: Mapping[str, str] | Callable[[str], str] | None = None,
    max_rows: int = MAX_ROWS,
    background_rows: int = BACKGROUND_ROWS,
    permutations: int = 2,
    seed: int = 0,
) -> ShapExplanation:
    """SHAP values of ``estimator`` on (a seeded sample of) ``X``.

    Parameters
    ----------
    estimator : Estimator
        A fitted alphaloop estimator.
    X : ndarray of shape (n, n_features) or (n, window, n_features)
    feature_names : sequence of str
    family : str, optional
        Default ``estimator.family``; tree families use TreeExplainer.
    groups : mapping or callable, optional
        Feature -> family (default :func:`alphaloop.models.explain.feature_family`).
    max_rows, background_rows, permutations, seed
        See the module conventions.

    Raises
    ------
    ModelError
        If the inputs do not match the names, or a tree family needs ``shap``
        and it is not installed.
    """
    x = np.asarray(X)
    names = list(feature_names)
    family = family or getattr(estimator, "family", "")
    if x.ndim not in (2, 3) or x.shape[-1] != len(names) or len(x) == 0:
        raise ModelError(f"X must be non-empty with {len(names)} features, got shape {x.shape}")
    rng = np.random.default_rng(seed)
    sequence = x.ndim == 3
    n_inputs = int(np.prod(x.shape[1:]))
    if sequence and n_inputs > SEQUENCE_MAX_INPUTS:
        reason = (
            f"a window has {n_inputs} inputs ({x.shape[1]} x {x.shape[2]}), more than "
            f"{SEQUENCE_MAX_INPUTS}: model-agnostic SHAP would take too long; see the "
            "permutation importance instead"
        )
        return _skipped(reason, seed)
    cap = min(max_rows, SEQUENCE_ROWS) if sequence else max_rows
    rows = np.sort(rng.choice(len(x), size=min(cap, len(x)), replace=False))
    sample = x[rows]
    if family in TREE_FAMILIES and not sequence:
        values, base, output = _tree_values(estimator, family, sample)
        method, n_background = "tree", 0
        reason = "TreeExplainer: exact SHAP values of the trees (path-dependent)"
    else:
        rest = np.setdiff1d(np.arange(len(x)), rows)
        pool = rest if rest.size else np.arange(len(x))
        background = x[np.sort(rng.choice(pool, min(background_rows, pool.size), replace=False))]
        values, base = _permutation_values(estimator, sample, background, permutations, rng)
        method, n_background = "permutation", len(background)
        classifier = getattr(estimator, "task", "") == "classification"
        output = "probability" if classifier else "prediction"
        reason = (
            f"sampled Shapley values (model-agnostic fallback) on {len(sample)} rows with "
            f"{len(background)} background rows, {permutations} random feature orders per row "
            "and their reverses"
        )
        values = values.reshape(sample.shape)
    per_feature = values.sum(axis=1) if sequence else values
    families = group_features(names, groups)
    feature_frame = _summary({n: per_feature[:, k] for k, n in enumerate(names)}, "feature")
    family_frame = _summary(
        {f: per_feature[:, list(cols)].sum(axis=1) for f, cols in families.items()}, "family"
    )
    positions = np.abs(values.sum(axis=2)).mean(axis=0).tolist() if sequence else []
    return ShapExplanation(
        method, values, rows, float(base), output, feature_frame, family_frame, positions,
        len(sample), n_background, seed, reason,
    )  # fmt: skip


def _tree_values(estimator: Any, family: str, x: np.ndarray) -> tuple[np.ndarray, float, str]:
    try:
        import shap
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ModelError("SHAP needs the shap package", hint="pip install 'alphaloop[ml]'") from exc
    classification = getattr(estimator, "task", "") == "classification"
    if family == "lightgbm":
        import lightgbm as lgb

        text = estimator.booster_.model_to_string(num_iteration=estimator.best_iteration_)
        model: Any = lgb.Booster(model_str=text)
        output = "log-odds" if classification else "prediction"
    elif family == "xgboost":
        model = estimator.booster_
        output = "log-odds" if classification else "prediction"
    else:
        model = estimator.model_
        output = "probability" if classification else "prediction"
    explainer = shap.TreeExplainer(model)
    raw = explainer.shap_values(np.asarray(x, dtype=np.float64))
    base = np.asarray(explainer.expected_value, dtype=np.float64).ravel()
    values = np.asarray(raw[-1] if isinstance(raw, list) else raw, dtype=np.float64)
    if values.ndim == 3:  # (rows, features, classes): explain class 1
        values = values[..., -1]
    return values, float(base[-1]), output


def _permutation_values(
    estimator: Any,
    x: np.ndarray,
    background: np.ndarray,
    permutations: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    """Sampled Shapley values: each row walks its own random feature orders (and their reverses).

    Along an order, features switch one at a time from the background rows'
    values to the row's own; each feature is credited with the change of the
    prediction averaged over the background. The credits of one walk sum to
    ``f(row) - mean f(background)`` exactly, so the average over walks does too.
    """
    shape = x.shape[1:]
    flat = x.reshape(len(x), -1)
    bg = background.reshape(len(background), -1)
    n, d = flat.shape

    def mean_prediction(mask: np.ndarray) -> np.ndarray:
        z = np.where(mask[:, None, :], flat[:, None, :], bg[None, :, :])
        pred = estimator.predict(z.reshape((n * len(bg), *shape)).astype(x.dtype, copy=False))
        return np.asarray(pred, dtype=np.float64).reshape(n, len(bg)).mean(axis=1)

    phi = np.zeros((n, d))
    walks = 0
    for _ in range(permutations):
        orders = np.argsort(rng.random((n, d)), axis=1)
        for order in (orders, orders[:, ::-1]):
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(d)[None, :].repeat(n, axis=0), axis=1)
            before = mean_prediction(rank < 0)
            for j in range(d):
                after = mean_prediction(rank <= j)
                phi[np.arange(n), order[:, j]] += after - before
                before = after
            walks += 1
    base = float(estimator.predict(background).mean())
    return phi / walks, base


def _summary(columns: Mapping[str, np.ndarray], key: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"mean_abs": [float(np.mean(np.abs(v))) for v in columns.values()]},
        index=pd.Index(list(columns), name=key, dtype=object),
    )
    return frame.sort_values("mean_abs", ascending=False, kind="stable")


def _skipped(reason: str, seed: int) -> ShapExplanation:
    empty = pd.DataFrame({"mean_abs": pd.Series(dtype=float)})
    return ShapExplanation(
        "skipped", None, None, float("nan"), "", empty, empty, [], 0, 0, seed, reason
    )
