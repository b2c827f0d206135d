"""Train a ModelSpec into the registry, and turn a registered model into a signal.

:func:`train_from_spec` loads the spec's data through the catalog (so the
sealed holdout is out of reach), builds features and labels, evaluates the
model out of sample on purged splits, fits the final model, and registers it
with everything needed to reproduce its features (``recipe.json`` inside the
artifact, covered by its checksum). With ``training.schedule: rolling`` the
model is retrained through time instead
(:func:`~alphaloop.models.rolling.rolling_train`): one version whose artifact
is the :class:`~alphaloop.models.rolling_model.RollingModel` directory, its
metrics those of the stitched out-of-sample series, its segments in
``segments.json``.

:func:`predict_panel` computes a registered model's predictions on a panel,
point in time: the prediction for bar ``t`` uses features computed from
data up to ``t`` only, normalized across assets at ``t``; a rolling model
predicts ``t`` with the segment model trained before ``t``'s segment.

:func:`promote_model` moves a version to another stage (audited by the
registry; promoting to production archives the name's current one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.app.text_factors import attach_expression_texts
from alphaloop.app.workspace import Workspace
from alphaloop.data import Panel
from alphaloop.jsonsafe import json_safe
from alphaloop.models import (
    LabelSpec,
    LearningData,
    ModelError,
    ModelSpec,
    build_dataset,
)
from alphaloop.progress import Progress

__all__ = [
    "RECIPE",
    "Promotion",
    "TrainedModel",
    "check_model_spec",
    "load_recipe",
    "monitor_model",
    "monitor_panel",
    "predict_panel",
    "promote_model",
    "recipe_learning_data",
    "rolling_segments",
    "spec_augmenter",
    "spec_learning_data",
    "train_from_spec",
    "train_spec",
]

RECIPE = "recipe.json"
SEGMENTS = "segments.json"


@dataclass(frozen=True)
class TrainedModel:
    """A registered version and the training record behind it."""

    version: Any  # alphaloop.models.registry_records.ModelVersion
    training: Any  # TrainingResult, or RollingResult for schedule: rolling
    run_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "ref": self.version.ref,
                "run_id": self.run_id,
                "version": self.version.to_dict(),
                "training": self.training.summary(),
            }
        )


def _panel(ws: Workspace, spec: ModelSpec) -> Panel:
    end = None
    if spec.end is not None:
        end = pd.Timestamp(spec.end, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    panel = ws.data.load(spec.data, version=spec.version, end=end)
    if spec.universe != "all":
        unknown = [a for a in spec.universe if a not in panel.assets]
        if unknown:
            raise ModelError(f"universe names assets not in {spec.data!r}: {unknown[:5]}")
        panel = panel.select(spec.universe)
    return panel


def spec_learning_data(ws: Workspace, spec: ModelSpec, expressions: dict[str, str]) -> LearningData:
    """Features and labels of ``spec`` on its data up to its ``end`` (``expressions`` from
    :func:`check_model_spec`)."""
    panel, _ = attach_expression_texts(ws, _panel(ws, spec), expressions.values())
    return build_dataset(
        panel,
        expressions,
        LabelSpec(**spec.label.model_dump()),
        normalize=spec.normalize,
        winsorize=spec.winsorize,
        mode=spec.mode,
        start=spec.start,
        library_root=ws.root,
    )


def spec_augmenter(ws: Workspace, spec: ModelSpec, expressions: dict[str, str]) -> Any:
    """The :class:`~alphaloop.models.augment.TrainingAugmenter` of ``spec.augment`` (None
    without one): the spec's panel (before any sealed holdout), and its recipe's features and
    labels for the synthetic panels."""
    if spec.augment is None:
        return None
    from alphaloop.models.augment import TrainingAugmenter
    from alphaloop.models.families import SEQUENCE_FAMILIES
    from alphaloop.models.training import DEFAULT_SEQUENCE_WINDOW

    label = LabelSpec(**spec.label.model_dump())
    build = partial(  # a partial, not a closure: a search's process pool ships it
        build_dataset, features=expressions, label=label, normalize=spec.normalize,
        winsorize=spec.winsorize, mode=spec.mode, library_root=ws.root,
    )  # fmt: skip
    window = None
    if spec.model.family in SEQUENCE_FAMILIES:
        window = spec.training.sequence_window or DEFAULT_SEQUENCE_WINDOW
    return TrainingAugmenter(_panel(ws, spec), build, spec.augment.config(), sequence_window=window)


def train_spec(
    data: LearningData,
    spec: ModelSpec,
    *,
    on_fit: Any = None,
    on_fold: Any = None,
    augment: Any = None,
    executor: str = "local",
    workers: int = 1,
    address: str | None = None,
    concurrent: int = 1,
) -> Any:
    """Train ``spec``'s model on ``data`` with the spec's training settings: cross-validate
    and fit (a :class:`~alphaloop.models.TrainingResult`), or for ``schedule: rolling``
    retrain through time (a :class:`~alphaloop.models.RollingResult`). Both have
    ``oos_predictions``, ``metrics`` and ``summary()``. ``on_fit`` and ``on_fold`` go to
    :func:`~alphaloop.models.train` or :func:`~alphaloop.models.rolling_train` (where a
    fold is a segment). ``augment`` (:func:`spec_augmenter`) adds synthetic rows to each
    fit's training rows (schedule: cv only). ``executor``, ``workers``, ``address`` and
    ``concurrent`` say where and how many at a time the hyperparameter search's trials run
    (``hpo_*`` of :func:`~alphaloop.models.train`; the result depends on ``concurrent`` only)."""
    from alphaloop.models import rolling_train, train

    if spec.training.schedule == "rolling":
        return rolling_train(
            data,
            spec.model.family,
            params=spec.model.params or None,
            retrain_every=spec.training.retrain_every,
            window=spec.training.rolling_window,
            min_train=spec.training.min_train,
            seed=spec.seed,
            valid_fraction=spec.training.valid_fraction,
            sequence_window=spec.training.sequence_window,
            on_fit=on_fit,
            on_fold=on_fold,
        )
    return train(
        data,
        spec.model.family,
        params=spec.model.params or None,
        splitter=spec.training.splitter,
        n_splits=spec.training.n_splits,
        embargo=spec.training.embargo,
        seed=spec.seed,
        valid_fraction=spec.training.valid_fraction,
        hpo_trials=spec.training.hpo_trials,
        hpo_timeout=spec.training.hpo_timeout,
        sequence_window=spec.training.sequence_window,
        on_fit=on_fit,
        on_fold=on_fold,
        augment=augment,
        hpo_executor=executor,
        hpo_workers=workers,
        hpo_address=address,
        hpo_concurrent=concurrent,
    )


def _recipe(spec: ModelSpec, feature_names: tuple[str, ...], expressions: dict[str, str]) -> dict:
    return {
        "features": expressions,
        "feature_names": list(feature_names),
        "label": spec.label.model_dump(mode="json"),
        "normalize": spec.normalize,
        "winsorize": spec.winsorize,
        "mode": spec.mode,
        "sequence_window": spec.training.sequence_window,
        "family": spec.model.family,
        "spec": spec.model_dump(mode="json"),
    }


def check_model_spec(ws: Workspace, spec: ModelSpec) -> dict[str, str]:
    """Refuse a spec that cannot train in ``ws``, before any data is read.

    The estimator family and its parameters were checked when the spec
    loaded; here the dataset (and version), the feature library and the
    version named by ``supersedes`` must exist.

    Returns
    -------
    dict
        The feature expressions by name (libraries resolved, so the recipe stands alone).

    Raises
    ------
    DatasetNotFoundError, ModelNotFoundError, ModelError
        Naming what is missing.
    """
    from alphaloop.models import resolve_features

    ws.data.info(spec.data, spec.version)
    if spec.supersedes is not None:
        ws.models.get(spec.supersedes)
    return dict(resolve_features(spec.features, ws.root))


_FEATURES_STEP = "building features and labels"
_TRAIN_STEP = "training: fold models, then the final model"
_ROLLING_STEP = "training: segment models through time"


def _fit_progress(progress: Progress, n_splits: int) -> Any:
    """An ``on_fit`` hook: reports the fold and final fits done (it is called before each
    fit), and counts the fits of a hyperparameter search or of rolling retraining, whose
    number is not known."""
    fits, searched = 0, 0
    total = n_splits + 1

    def on_fit(record: Any) -> None:
        nonlocal fits, searched
        if record.stage == "rolling":
            fits += 1
            progress(_ROLLING_STEP, fits, None)
            return
        if record.stage == "hpo":
            searched += 1
            progress("hyperparameter search: models fitted", searched, None)
            return
        progress(_TRAIN_STEP, min(fits, total - 1), total)
        fits += 1

    return on_fit


def train_from_spec(
    ws: Workspace,
    spec: ModelSpec,
    *,
    progress: Progress | None = None,
    executor: str = "local",
    workers: int = 1,
    concurrent: int = 1,
) -> TrainedModel:
    """Build the dataset, train on purged splits, register ``spec.name/vN``, record the run.

    With ``training.hpo_trials``, ``executor`` (``local`` or ``ray``, at the
    settings' ``ray_address``) and ``workers`` say where the search's fits run;
    ``concurrent`` trials are asked per round (recorded in the run's parameters:
    the search depends on it, not on where it ran).

    The spec is checked first (:func:`check_model_spec`): a missing dataset,
    library or superseded version fails before any data is loaded or any run
    is recorded. ``progress`` (see :mod:`alphaloop.progress`) hears of each
    model fit.
    """
    from alphaloop.app.model_fit import fit_from_spec

    if concurrent < 1:
        raise ModelError(f"concurrent must be at least 1, got {concurrent}")
    if spec.training.hpo_trials == 0 and (executor != "local" or workers > 1 or concurrent > 1):
        raise ModelError(
            "executor, workers and concurrent run the hyperparameter search, and this spec "
            "has none (training.hpo_trials: 0)",
            hint="set training.hpo_trials, or leave these options out",
        )

    expressions = check_model_spec(ws, spec)
    params: dict[str, Any] = {"model_spec": spec.model_dump(mode="json")}
    if spec.training.hpo_trials:
        params["hpo_concurrent"] = concurrent
    with ws.runs.start("model-train", params) as run:
        fitted = fit_from_spec(
            ws,
            spec,
            expressions=expressions,
            progress=progress,
            executor=executor,
            workers=workers,
            concurrent=concurrent,
        )
        try:
            version = ws.models.commit_prepared(fitted.prepared)
        finally:
            fitted.discard()
        run.result = {"ref": version.ref, **fitted.result}
        run.data_hashes = dict(fitted.data_hashes)
    return TrainedModel(version, fitted.training, run.id)


def load_recipe(ws: Workspace, ref: str) -> tuple[Any, dict[str, Any]]:
    """The registered version and its feature recipe."""
    version = ws.models.get(ref)
    ws.models.verify(version)
    path = Path(version.artifact_path) / RECIPE
    if not path.exists():
        raise ModelError(f"model {version.ref} has no {RECIPE}: it cannot compute its features")
    return version, json.loads(path.read_text())


def recipe_learning_data(ws: Workspace, panel: Panel, recipe: dict[str, Any]) -> LearningData:
    """The rows of ``panel`` as a registered model takes them: its recipe's features,
    normalization and label, unlabelled rows kept (the latest bars have no label yet)."""
    panel, _ = attach_expression_texts(ws, panel, recipe["features"].values())
    return build_dataset(
        panel,
        recipe["features"],
        LabelSpec(**recipe["label"]),
        normalize=recipe["normalize"],
        winsorize=recipe["winsorize"],
        mode=recipe["mode"],
        keep_unlabeled=True,
    )


def predict_panel(ws: Workspace, ref: str, panel: Panel) -> tuple[np.ndarray, Any]:
    """Predictions of model ``ref`` on ``panel`` as a (time, asset) array, and its version.

    Features are computed from the panel as at training (same expressions,
    normalization, winsorizing); rows whose features cannot be computed are
    NaN. For sequence models, a row needs a full window of past features. A
    rolling model predicts each bar with the segment model covering it (later
    bars: the last one); bars before its first segment are NaN. A reinforcement-learning
    policy (family ``rl``) gives its target weights (:func:`alphaloop.app.rl.rl_signal`).
    """
    version = ws.models.get(ref)
    if version.family == "rl":
        from alphaloop.app.rl import rl_signal

        return rl_signal(ws, version, panel), version
    version, recipe = load_recipe(ws, ref)
    model = ws.models.load(version.ref)
    data = recipe_learning_data(ws, panel, recipe)
    if tuple(data.feature_names) != tuple(version.features):
        raise ModelError(
            f"model {version.ref} expects features {list(version.features)[:5]}...; "
            f"the recipe built {list(data.feature_names)[:5]}..."
        )
    pred = _predict_rows(version, model, data, recipe.get("sequence_window"))
    return data.to_panel(pred), version


def _predict_rows(version: Any, model: Any, data: LearningData, window: int | None) -> np.ndarray:
    """Each row's prediction: by the segment covering it for a rolling model (NaN before
    its first segment), else by the estimator (NaN without a complete sequence window)."""
    from alphaloop.models.rolling_model import RollingModel, prediction_inputs

    if isinstance(model, RollingModel):
        return model.predict_data(data, window)
    inputs, positions = prediction_inputs(data, version.family, window)
    pred = np.full(len(data), np.nan)
    if len(positions):
        pred[positions] = model.predict(inputs)
    return pred


def rolling_segments(version: Any) -> list[dict[str, Any]] | None:
    """The segments of a rolling version (from its artifact's ``segments.json``: each one's
    training span, label end, period and out-of-sample metrics); None for other versions."""
    path = Path(version.artifact_path) / SEGMENTS
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def monitor_model(
    ws: Workspace,
    ref: str,
    data: str | None = None,
    *,
    ic_drop: float = 0.5,
    psi_alert: float = 0.25,
    record: bool = True,
) -> Any:
    """Compare a model's recent behaviour with its training window; record alerts.

    The reference window is the model's training decisions; the recent window
    is every bar of ``data`` (default: the training dataset) after the
    model's training data ends. Recent IC is measured against realized
    forward returns there and compared with the out-of-sample IC recorded at
    training. Returns :class:`~alphaloop.models.monitor.DriftReport`.
    """
    version = ws.models.get(ref)
    panel = ws.data.load(data or version.dataset)
    return monitor_panel(
        ws, ref, panel, ic_drop=ic_drop, psi_alert=psi_alert, record=record,
        data_name=data or version.dataset,
    )  # fmt: skip


def monitor_panel(
    ws: Workspace,
    ref: str,
    panel: Panel,
    *,
    ic_drop: float = 0.5,
    psi_alert: float = 0.25,
    record: bool = True,
    data_name: str | None = None,
) -> Any:
    """:func:`monitor_model` on a panel in memory (e.g. a dataset read up to a date).

    ``data_name`` names the data in error messages (default the model's dataset).
    """
    from alphaloop.models import drift_report, prediction_metrics, record_alerts

    version, recipe = load_recipe(ws, ref)
    model = ws.models.load(version.ref)
    data = data_name or version.dataset
    panel, _ = attach_expression_texts(ws, panel, recipe["features"].values())
    built = build_dataset(
        panel,
        recipe["features"],
        LabelSpec(**recipe["label"]),
        normalize=recipe["normalize"],
        winsorize=recipe["winsorize"],
        mode=recipe["mode"],
    )
    times = built.panel_index[built.rows]
    train_start = pd.Timestamp(version.train_start).tz_convert("UTC")
    train_end = pd.Timestamp(version.train_end).tz_convert("UTC")
    label_end = pd.Timestamp(version.label_end or version.train_end).tz_convert("UTC")
    reference = np.flatnonzero((times >= train_start) & (times <= train_end))
    recent = np.flatnonzero(times > label_end)
    if len(recent) == 0:
        raise ModelError(
            f"{data!r} has no labelled bars after {version.ref}'s training "
            f"data ends ({label_end:%Y-%m-%d})",
            hint="monitor on newer data, or train on an earlier span (ModelSpec end:)",
        )
    if len(reference) == 0:
        reference = np.flatnonzero(times <= label_end)
    pred = _predict_rows(version, model, built, recipe.get("sequence_window"))
    recent_ic = prediction_metrics(built, pred, recent)["ic"]
    report = drift_report(
        built.X[reference],
        built.X[recent],
        built.feature_names,
        pred[reference],
        pred[recent],
        recent_ic=float(recent_ic),
        validation_ic=version.metrics.get("ic"),
        ic_drop=ic_drop,
        psi_alert=psi_alert,
    )
    if record:
        record_alerts(ws.db, version.ref, report)
    return report


@dataclass(frozen=True)
class Promotion:
    """A stage change of one model version, and the versions it archived."""

    version: Any  # alphaloop.models.registry.ModelVersion, after the change
    from_stage: str
    archived: tuple[str, ...]  # production versions of the same name archived by it
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.version.ref,
            "from_stage": self.from_stage,
            "to_stage": self.version.stage,
            "note": self.note,
            "archived": list(self.archived),
            "version": self.version.to_dict(),
        }


def promote_model(
    ws: Workspace, ref: str, stage: str, note: str = "", *, actor: str | None = None
) -> Promotion:
    """Move the version ``ref`` names to ``stage``; the registry records it with ``note``
    and the workspace's audit trail gets a ``model.promoted`` entry naming ``actor``
    (default: the login name).

    Allowed moves are the registry's (candidate -> production | archived,
    production -> archived, archived -> candidate); promoting to production
    archives the name's current production version.

    Raises
    ------
    RegistryError
        An unknown stage or a move the registry does not allow.
    ModelNotFoundError
        ``ref`` names no version.
    """
    registry = ws.models
    before = registry.get(ref)
    current = registry.list(name=before.name, stage="production") if stage == "production" else []
    after = registry.set_stage(before.ref, stage, reason=note)
    archived = tuple(v.ref for v in current if v.ref != after.ref)
    _audit_promotion(ws, after.ref, before.stage, stage, archived, note, actor)
    return Promotion(after, before.stage, archived, note)


def _audit_promotion(ws: Workspace, ref: str, before: str, after: str,
                     archived: tuple[str, ...], note: str, actor: str | None) -> None:  # fmt: skip
    """A ``model.promoted`` entry in the workspace's hash-chained audit trail."""
    from alphaloop.app.governance import current_user, governance

    governance(ws).audit.append(actor or current_user(), "model.promoted", f"model {ref}",
                                {"from": before, "to": after, "archived": list(archived),
                                 "note": note})  # fmt: skip
