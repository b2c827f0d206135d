"""Machine learning on factor panels: learning datasets, estimators, training, registry, monitoring.

The public names below are importable from ``alphaloop.models`` directly;
each is loaded from its module on first use, so ``import alphaloop.models``
stays cheap (no numba, scikit-learn, torch, LightGBM or XGBoost until a name
that needs them is touched). The modules, by what they are responsible for:

Datasets
    :mod:`~alphaloop.models.labels` (:class:`LabelSpec`, forward-return
    labels), :mod:`~alphaloop.models.normalization` (per-timestamp
    cross-sectional kernels, numba), :mod:`~alphaloop.models.learning_data`
    (:class:`LearningData`), :mod:`~alphaloop.models.dataset`
    (:func:`build_dataset`: feature evaluation and assembly).
Estimators
    :mod:`~alphaloop.models.estimators` (the :class:`Estimator` contract and
    its on-disk format), :mod:`~alphaloop.models.families` (:data:`FAMILIES`,
    :func:`make_estimator`), :mod:`~alphaloop.models.boosting`,
    :mod:`~alphaloop.models.sklearn_models`, :mod:`~alphaloop.models.torch_models`,
    :mod:`~alphaloop.models.tft` (Temporal Fusion Transformer, with
    :mod:`~alphaloop.models.tft_network` and :class:`TFTInterpretation`).
Training
    :mod:`~alphaloop.models.date_splits` (whole-date purged splits, tail
    validation), :mod:`~alphaloop.models.metrics` (:func:`prediction_metrics`),
    :mod:`~alphaloop.models.tuning` (optuna inside training rows),
    :mod:`~alphaloop.models.training` (:func:`train`),
    :mod:`~alphaloop.models.training_results` (:class:`TrainingResult`),
    :mod:`~alphaloop.models.rolling` (:func:`rolling_train`: a model per period),
    :mod:`~alphaloop.models.rolling_model` (:class:`RollingModel`),
    :mod:`~alphaloop.models.compare` (:func:`compare_predictions`).
Registry
    :mod:`~alphaloop.models.registry` (:class:`ModelRegistry`),
    :mod:`~alphaloop.models.registry_records` (versions, refs, stages),
    :mod:`~alphaloop.models.registration`, :mod:`~alphaloop.models.artifacts`,
    :mod:`~alphaloop.models.registry_queries`,
    :mod:`~alphaloop.models.explanation_records` (stored explanations).
Explanations
    :mod:`~alphaloop.models.explain` (permutation importance, feature
    families), :mod:`~alphaloop.models.explain_shap` (SHAP values).
Monitoring and specs
    :mod:`~alphaloop.models.monitor` (drift, alerts),
    :mod:`~alphaloop.models.spec` (:class:`ModelSpec`).
ONNX export
    :mod:`~alphaloop.models.onnx_export` (:func:`export_onnx`, :func:`check_parity`),
    :mod:`~alphaloop.models.onnx_converters` (one converter per family).

Errors raised on purpose derive from :class:`ModelError`
(:mod:`~alphaloop.models.errors`). Training from a spec and predicting a
model's signal on a workspace are use cases in :mod:`alphaloop.app.models`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.models.artifacts import artifact_sha256
    from alphaloop.models.boosting import LightGBMEstimator, XGBoostEstimator
    from alphaloop.models.compare import ComparisonStats, compare_predictions
    from alphaloop.models.dataset import build_dataset, resolve_features
    from alphaloop.models.errors import (
        ArtifactTamperedError,
        ModelError,
        ModelNotFoundError,
        RegistryError,
    )
    from alphaloop.models.estimators import Estimator
    from alphaloop.models.explain import (
        PermutationImportance,
        feature_family,
        group_features,
        permutation_importance,
    )
    from alphaloop.models.explain_shap import ShapExplanation, shap_explanation
    from alphaloop.models.explanation_records import ModelExplanation
    from alphaloop.models.families import (
        FAMILIES,
        SEQUENCE_FAMILIES,
        estimator_class,
        make_estimator,
    )
    from alphaloop.models.labels import LabelSpec
    from alphaloop.models.learning_data import LearningData
    from alphaloop.models.metrics import prediction_metrics
    from alphaloop.models.monitor import (
        DriftReport,
        RecordedAlert,
        drift_report,
        kl_divergence,
        ks_statistic,
        list_alerts,
        population_stability_index,
        record_alerts,
    )
    from alphaloop.models.onnx_export import OnnxExport, Parity, check_parity, export_onnx
    from alphaloop.models.registry import ModelRegistry
    from alphaloop.models.registry_records import ModelUsage, ModelVersion, StageChange
    from alphaloop.models.rolling import RollingResult, rolling_train
    from alphaloop.models.rolling_model import RollingModel
    from alphaloop.models.sklearn_models import (
        LinearEstimator,
        RandomForestEstimator,
        RidgeEstimator,
    )
    from alphaloop.models.spec import ModelSpec, load_model_spec
    from alphaloop.models.tft_interpretation import TFTInterpretation
    from alphaloop.models.training import train
    from alphaloop.models.training_results import FitRecord, TrainingPeriod, TrainingResult
    from alphaloop.models.tuning import SEARCH_SPACES, SearchSummary

_HOME: dict[str, str] = {
    # errors
    "ArtifactTamperedError": "errors",
    "ModelError": "errors",
    "ModelNotFoundError": "errors",
    "RegistryError": "errors",
    # datasets
    "LabelSpec": "labels",
    "LearningData": "learning_data",
    "build_dataset": "dataset",
    "resolve_features": "dataset",
    # estimators
    "Estimator": "estimators",
    "FAMILIES": "families",
    "SEQUENCE_FAMILIES": "families",
    "estimator_class": "families",
    "make_estimator": "families",
    "LightGBMEstimator": "boosting",
    "XGBoostEstimator": "boosting",
    "LinearEstimator": "sklearn_models",
    "RandomForestEstimator": "sklearn_models",
    "RidgeEstimator": "sklearn_models",
    "TFTInterpretation": "tft_interpretation",
    # training
    "train": "training",
    "FitRecord": "training_results",
    "TrainingPeriod": "training_results",
    "TrainingResult": "training_results",
    "prediction_metrics": "metrics",
    "SEARCH_SPACES": "tuning",
    "SearchSummary": "tuning",
    "ComparisonStats": "compare",
    "compare_predictions": "compare",
    "rolling_train": "rolling",
    "RollingResult": "rolling",
    "RollingModel": "rolling_model",
    # registry
    "ModelRegistry": "registry",
    "ModelUsage": "registry_records",
    "ModelVersion": "registry_records",
    "StageChange": "registry_records",
    "artifact_sha256": "artifacts",
    # explanations
    "ModelExplanation": "explanation_records",
    "PermutationImportance": "explain",
    "ShapExplanation": "explain_shap",
    "feature_family": "explain",
    "group_features": "explain",
    "permutation_importance": "explain",
    "shap_explanation": "explain_shap",
    # monitoring
    "DriftReport": "monitor",
    "RecordedAlert": "monitor",
    "drift_report": "monitor",
    "kl_divergence": "monitor",
    "ks_statistic": "monitor",
    "list_alerts": "monitor",
    "population_stability_index": "monitor",
    "record_alerts": "monitor",
    # ONNX export
    "OnnxExport": "onnx_export",
    "Parity": "onnx_export",
    "check_parity": "onnx_export",
    "export_onnx": "onnx_export",
    # specs
    "ModelSpec": "spec",
    "load_model_spec": "spec",
}
"""Public name -> the module of this package that defines it."""

_HOMES: dict[str, str] = {name: f"alphaloop.models.{module}" for name, module in _HOME.items()}

__all__ = [
    "FAMILIES",
    "SEARCH_SPACES",
    "SEQUENCE_FAMILIES",
    "ArtifactTamperedError",
    "ComparisonStats",
    "DriftReport",
    "Estimator",
    "FitRecord",
    "LabelSpec",
    "LearningData",
    "LightGBMEstimator",
    "LinearEstimator",
    "ModelError",
    "ModelExplanation",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelSpec",
    "ModelUsage",
    "ModelVersion",
    "OnnxExport",
    "Parity",
    "PermutationImportance",
    "RandomForestEstimator",
    "RecordedAlert",
    "RegistryError",
    "RidgeEstimator",
    "RollingModel",
    "RollingResult",
    "SearchSummary",
    "ShapExplanation",
    "StageChange",
    "TFTInterpretation",
    "TrainingPeriod",
    "TrainingResult",
    "XGBoostEstimator",
    "artifact_sha256",
    "build_dataset",
    "check_parity",
    "compare_predictions",
    "drift_report",
    "estimator_class",
    "export_onnx",
    "feature_family",
    "group_features",
    "kl_divergence",
    "ks_statistic",
    "list_alerts",
    "load_model_spec",
    "make_estimator",
    "permutation_importance",
    "population_stability_index",
    "prediction_metrics",
    "record_alerts",
    "resolve_features",
    "rolling_train",
    "shap_explanation",
    "train",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first access (PEP 562)."""
    value = load_public(__name__, _HOMES, name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
