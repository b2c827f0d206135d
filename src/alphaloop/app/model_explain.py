"""Explain a registered model version: what it uses, measured where it can be trusted.

:func:`explain_model` computes three kinds of explanation and stores them
with the version (``ModelRegistry.record_explanation``); asked again, it
returns the stored ones unless ``recompute``.

permutation (out of sample)
    The version's recipe and spec rebuild its data through the catalog (the
    sealed holdout stays out of reach) and its cross-validation is run
    again with the same seed, so each walk-forward fold's model is the one
    that produced the version's out-of-sample metrics (``reproduced`` says
    whether the re-run's IC matches the recorded one). Each fold model's
    importance is measured on its own test fold, rows it never trained on
    (:func:`alphaloop.models.permutation_importance`), then averaged over
    folds: ``importance`` is the mean over folds, ``std_folds`` the spread
    of the fold means, ``std_repeats`` the mean spread over shuffles.
shap (in sample for the registered model)
    SHAP values of the registered (final) model on rows of the last test
    fold (:func:`alphaloop.models.shap_explanation`). The final model was
    fitted on those rows: SHAP describes how the model maps inputs to its
    output, not whether that mapping has skill out of sample.
tft (in sample for the registered model)
    For an estimator with an ``interpret(X)`` method (the Temporal Fusion
    Transformer), its mean variable-selection weight per feature (and per
    feature family, summed) and its mean attention per past window position
    on the same rows as SHAP.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.app.models import load_recipe, spec_learning_data, train_spec
from alphaloop.app.workspace import Workspace
from alphaloop.jsonsafe import json_safe
from alphaloop.models import ModelError, ModelSpec
from alphaloop.progress import Progress, no_progress

__all__ = ["TFT_ROWS", "ExplainedModel", "explain_model", "tft_payload"]

TFT_ROWS = 512
"""Rows (windows) passed to a model's ``interpret``."""


@dataclass(frozen=True)
class ExplainedModel:
    """A version and its stored explanations; ``computed`` is False when they were reused."""

    version: Any  # alphaloop.models.ModelVersion
    explanations: list[Any]  # alphaloop.models.ModelExplanation, newest of each kind
    computed: bool

    def payload(self, kind: str) -> dict[str, Any] | None:
        """The stored payload of ``kind`` (permutation | shap | tft), or None."""
        return next((e.payload for e in self.explanations if e.kind == kind), None)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "ref": self.version.ref,
                "family": self.version.family,
                "computed": self.computed,
                "explanations": {e.kind: e.to_dict() for e in self.explanations},
            }
        )


def explain_model(
    ws: Workspace,
    ref: str,
    *,
    recompute: bool = False,
    n_repeats: int = 5,
    seed: int = 0,
    shap_rows: int = 200,
    progress: Progress | None = None,
) -> ExplainedModel:
    """Compute (or reuse) and store the explanations of ``ref``.

    Parameters
    ----------
    ws : Workspace
    ref : str
        ``NAME/vN``, ``NAME`` or ``NAME@stage``.
    recompute : bool, default=False
        Compute again even when explanations are stored (a new row per kind;
        the old ones are kept).
    n_repeats : int, default=5
        Shuffles per feature and fold for the permutation importance.
    seed : int, default=0
        Seeds the shuffles and the SHAP row sample (recorded in each payload).
    shap_rows : int, default=200
        Most rows SHAP explains (fewer for model-agnostic and sequence models).
    progress : Progress, optional

    Raises
    ------
    ModelNotFoundError
        ``ref`` names no version.
    ModelError
        The version has no recipe, or its data no longer builds its features.
    """
    registry = ws.models
    version = registry.get(ref)
    stored = registry.explanations(version.ref)
    if stored and not recompute:
        return ExplainedModel(version, stored, computed=False)
    report = progress or no_progress
    payloads = _compute(ws, version.ref, n_repeats, seed, shap_rows, report)
    for kind, payload in payloads.items():
        registry.record_explanation(version.ref, kind, payload)
    return ExplainedModel(version, registry.explanations(version.ref), computed=True)


_DATA_STEP = "rebuilding the version's data"
_FOLD_STEP = "permutation importance: fold models on their test folds"


def _compute(
    ws: Workspace, ref: str, n_repeats: int, seed: int, shap_rows: int, report: Progress
) -> dict[str, dict[str, Any]]:
    from alphaloop.models import permutation_importance, shap_explanation

    version, recipe = load_recipe(ws, ref)
    spec = ModelSpec.model_validate(recipe["spec"])
    report(_DATA_STEP, 0, 1)
    data = spec_learning_data(ws, spec, recipe["features"])
    report(_DATA_STEP, 1, 1)
    names = tuple(data.feature_names)
    if names != tuple(version.features):
        raise ModelError(
            f"the data rebuilt for {ref} has features {list(names)[:5]}..., the version "
            f"{list(version.features)[:5]}...",
            hint="the feature library changed since training: retrain the model",
        )
    folds: list[dict[str, Any]] = []
    results: list[Any] = []
    last: dict[str, Any] = {}
    rolling = spec.training.schedule == "rolling"
    n_splits = spec.training.n_splits

    def on_fold(k: int, estimator: Any, test_rows: np.ndarray, x_test: np.ndarray) -> None:
        report(_FOLD_STEP, k, n_splits)
        imp = permutation_importance(
            estimator.predict,
            x_test,
            data.forward_return[test_rows],
            data.times[test_rows].asi8,
            names,
            n_repeats=n_repeats,
            seed=seed + k,
        )
        results.append(imp)
        times = data.times[test_rows]
        folds.append(
            {
                "fold": k,
                "test_start": times[0].isoformat(),
                "test_end": times[-1].isoformat(),
                "n_rows": imp.n_rows,
                "n_dates": imp.n_dates,
                "baseline_ic": imp.baseline,
            }
        )
        last["x"], last["rows"], last["estimator"] = x_test, test_rows, estimator

    rerun = train_spec(data, spec, on_fold=on_fold)
    if rolling:
        n_splits = len(folds)
    report(_FOLD_STEP, n_splits, n_splits)
    recorded, again = version.metrics.get("ic"), rerun.metrics.get("ic")
    reproduced = (
        recorded is not None and again is not None and math.isclose(recorded, again, abs_tol=1e-9)
    )
    permutation = {
        "method": (
            "segment models on their own periods (out of sample)"
            if rolling
            else "fold models on their own test folds (out of sample)"
        ),
        "splitter": "rolling" if rolling else spec.training.splitter,
        "in_sample": False,
        "metric": "ic",
        "n_repeats": n_repeats,
        "seed": seed,
        "reproduced": reproduced,
        "recorded_ic": recorded,
        "rerun_ic": again,
        "folds": folds,
        "features": _combine([r.features for r in results], "feature"),
        "families": _combine([r.families for r in results], "family"),
        "groups": results[-1].groups if results else {},
    }
    times = data.times[last["rows"]]
    if rolling:
        # the live (last) segment model on its own period: rows it did not train on
        estimator, in_sample = last["estimator"], False
        rows_note = (
            f"the last segment's period ({times[0]:%Y-%m-%d} .. {times[-1]:%Y-%m-%d}), "
            "explained with that segment's model, which did not train on it (out of sample)"
        )
    else:
        estimator, in_sample = ws.models.load(version.ref), True
        rows_note = (
            f"the last test fold ({times[0]:%Y-%m-%d} .. {times[-1]:%Y-%m-%d}), inside the "
            "registered model's training span (in sample)"
        )
    shap = shap_explanation(
        estimator, last["x"], names, family=version.family, max_rows=shap_rows, seed=seed
    )
    out = {
        "permutation": permutation,
        "shap": {**shap.to_dict(), "rows": rows_note, "in_sample": in_sample},
    }
    tft = tft_payload(estimator, last["x"][-TFT_ROWS:], names)
    if tft is not None:
        out["tft"] = {**tft, "rows": rows_note, "in_sample": in_sample}
    return out


def tft_payload(
    estimator: Any,
    x: np.ndarray,
    feature_names: tuple[str, ...],
    groups: Callable[[str], str] | None = None,
) -> dict[str, Any] | None:
    """Variable-selection weights and attention of an estimator with ``interpret(X)``, or None.

    ``interpret(X)`` returns an object with ``variable_weights`` (one mean
    weight per feature, summing to 1) and ``attention`` (one mean weight per
    past window position, oldest first, summing to 1). A family's weight is
    the sum of its features' weights.
    """
    from alphaloop.models import group_features

    interpret = getattr(estimator, "interpret", None)
    if not callable(interpret):
        return None
    result = interpret(x)
    weights = np.asarray(result.variable_weights, dtype=np.float64).ravel()
    attention = np.asarray(result.attention, dtype=np.float64).ravel()
    if weights.shape != (len(feature_names),):
        raise ModelError(
            f"interpret() gave {weights.size} variable weights for {len(feature_names)} features"
        )
    families = group_features(feature_names, groups)
    by_feature = sorted(zip(feature_names, weights.tolist(), strict=True), key=lambda p: -p[1])
    by_family = sorted(
        ((f, float(weights[list(cols)].sum())) for f, cols in families.items()),
        key=lambda p: -p[1],
    )
    return {
        "n_rows": len(x),
        "variable_weights": [{"feature": f, "weight": w} for f, w in by_feature],
        "families": [{"family": f, "weight": w} for f, w in by_family],
        "attention": attention.tolist(),
    }


def _combine(frames: list[pd.DataFrame], key: str) -> list[dict[str, Any]]:
    """Fold frames (importance, std[, n_features]) -> records averaged over folds, largest first."""
    if not frames:
        return []
    means = pd.concat([f["importance"] for f in frames], axis=1)
    stds = pd.concat([f["std"] for f in frames], axis=1)
    table = pd.DataFrame(
        {
            "importance": means.mean(axis=1),
            "std_folds": means.std(axis=1, ddof=1) if len(frames) > 1 else 0.0,
            "std_repeats": stds.mean(axis=1),
            "positive_folds": (means > 0).sum(axis=1),
        }
    )
    if "n_features" in frames[0]:
        table["n_features"] = frames[0]["n_features"]
    table = table.sort_values("importance", ascending=False, kind="stable")
    return [{key: str(name), **row} for name, row in json_safe(table.to_dict("index")).items()]
