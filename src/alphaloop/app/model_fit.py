"""Training in two steps: fit a ModelSpec without recording anything, then record it.

:func:`fit_from_spec` does the long part of
:func:`~alphaloop.app.models.train_from_spec` (features, purged out-of-sample
evaluation, the final fit) and stages the artifact, checked and checksummed, under
the registry's staging directory (:meth:`~alphaloop.models.registry.ModelRegistry.prepare`).
It writes nothing to the database. :func:`record_fitted` then registers the
version and records the training run: a few rows and one directory rename, short
enough for a transaction that other writers must not wait long for (a bar of the
live loop). :meth:`FittedModel.discard` removes a fitted model never recorded.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alphaloop.app.workspace import Workspace
from alphaloop.jsonsafe import json_safe
from alphaloop.models import ModelSpec
from alphaloop.progress import Progress, no_progress

__all__ = ["FittedModel", "fit_from_spec", "record_fitted"]


@dataclass
class FittedModel:
    """A model fitted from ``spec`` and staged, not yet registered.

    ``prepared`` is the registry's staged version
    (:class:`~alphaloop.models.registry.PreparedVersion`), ``training`` the training
    result, ``params``/``data_hashes``/``result`` what the training run records.
    """

    spec: ModelSpec
    training: Any
    prepared: Any
    params: dict[str, Any]
    data_hashes: dict[str, str]
    result: dict[str, Any]

    def discard(self) -> None:
        """Remove the staged artifact (nothing after :func:`record_fitted`)."""
        self.prepared.discard()


def fit_from_spec(
    ws: Workspace,
    spec: ModelSpec,
    *,
    expressions: dict[str, str] | None = None,
    progress: Progress | None = None,
    tag: str = "",
    executor: str = "local",
    workers: int = 1,
    concurrent: int = 1,
) -> FittedModel:
    """Fit ``spec`` and stage its artifact; no database writes.

    ``expressions`` are :func:`~alphaloop.app.models.check_model_spec`'s result (the
    spec is checked when they are not given); ``tag`` marks the staging directory
    (:meth:`~alphaloop.models.registry.ModelRegistry.drop_staged`). ``executor``,
    ``workers`` and ``concurrent`` say where and how the hyperparameter search's fits
    run (see :func:`~alphaloop.app.models.train_from_spec`).
    """
    from alphaloop.app.models import (
        _FEATURES_STEP,
        _TRAIN_STEP,
        RECIPE,
        SEGMENTS,
        _fit_progress,
        _recipe,
        check_model_spec,
        spec_augmenter,
        spec_learning_data,
        train_spec,
    )

    if expressions is None:
        expressions = check_model_spec(ws, spec)
    report = progress or no_progress
    report(_FEATURES_STEP, 0, 1)
    info = ws.data.info(spec.data, spec.version)
    data = spec_learning_data(ws, spec, expressions)
    report(_FEATURES_STEP, 1, 1)
    augmenter = spec_augmenter(ws, spec, expressions)
    result = train_spec(
        data,
        spec,
        on_fit=_fit_progress(report, spec.training.n_splits),
        augment=augmenter,
        executor=executor,
        workers=workers,
        address=ws.settings.ray_address if executor == "ray" else None,
        concurrent=concurrent,
    )
    augmented = result.settings.get("augment") if augmenter is not None else None
    metrics = dict(result.metrics)
    if augmented is not None:
        metrics["n_synthetic_train"] = float(augmented["synthetic_rows"])
    rolling = spec.training.schedule == "rolling"
    if not rolling:
        report(_TRAIN_STEP, spec.training.n_splits + 1, spec.training.n_splits + 1)
    staging = Path(tempfile.mkdtemp(prefix="alphaloop-model-"))
    try:
        artifact = staging / "artifact"
        if rolling:
            from alphaloop.models.rolling import segment_records

            result.model.save(artifact)
            segments = segment_records(result.segments)
            (artifact / SEGMENTS).write_text(json.dumps(segments, indent=2) + "\n")
        else:
            result.estimator.save(artifact)
        recipe = _recipe(spec, result.feature_names, expressions)
        if augmented is not None:
            recipe["augment"] = augmented
        (artifact / RECIPE).write_text(json.dumps(recipe, indent=2, default=str))
        prepared = ws.models.prepare(
            spec.name,
            artifact,
            tag=tag,
            features=result.feature_names,
            label={"target": "forward_return", **spec.label.model_dump(mode="json")},
            dataset=spec.data,
            dataset_version=info.version,
            dataset_hash=info.content_hash,
            train_start=result.period.first_decision.to_pydatetime(),
            train_end=result.period.last_decision.to_pydatetime(),
            label_end=result.period.last_label_end.to_pydatetime(),
            seed=spec.seed,
            metrics=metrics,
            params=result.params,
            family=result.family,
            task=result.task,
            feature_family=spec.feature_family,
            supersedes=spec.supersedes,
            note=spec.note,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    out: dict[str, Any] = {"metrics": json_safe(metrics)}
    if augmented is not None:
        out["augment"] = json_safe(augmented)
    return FittedModel(
        spec=spec,
        training=result,
        prepared=prepared,
        params={"model_spec": spec.model_dump(mode="json")},
        data_hashes={spec.data: info.content_hash},
        result=out,
    )


def record_fitted(ws: Workspace, fitted: FittedModel) -> Any:
    """Register ``fitted`` (``name/v<N+1>``, stage ``candidate``) and record its training
    run; returns :class:`~alphaloop.app.models.TrainedModel`. Short: meant for the
    caller's :meth:`~alphaloop.store.Database.atomic` block."""
    from alphaloop.app.models import TrainedModel

    with ws.runs.start("model-train", dict(fitted.params)) as run:
        version = ws.models.commit_prepared(fitted.prepared)
        run.result = {"ref": version.ref, **fitted.result}
        run.data_hashes = dict(fitted.data_hashes)
    fitted.discard()
    return TrainedModel(version, fitted.training, run.id)
