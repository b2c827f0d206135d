"""The model registry: immutable versions ``name/vN`` with artifacts, provenance and usage.

A version is registered once and never changes: its metadata row is written
in one transaction, and its artifact (the files the estimator's ``save(path)``
wrote) is moved into ``<root>/models/<name>/v<N>/`` and made read-only.
Registering a name again creates ``v<N+1>``. ``load`` recomputes the
artifact's SHA-256 and refuses a modified artifact. Only the stage of a
version changes, and every change is audited.

:class:`ModelRegistry` is the one entry point; the work is done by
:mod:`~alphaloop.models.registration` (checks and the insert),
:mod:`~alphaloop.models.artifacts` (files on disk and their checksum) and
:mod:`~alphaloop.models.registry_queries` (references, discovery, lineage,
usage). References (``"name/vN"``, ``"name"``, ``"name@stage"``) and the
stage transitions are described in :mod:`~alphaloop.models.registry_records`.

>>> reg = ModelRegistry(ws.db, ws.root)  # doctest: +SKIP
>>> v = reg.register("ret5-lgbm", est, features=[...], label={"target": "fwd_return", "horizon": 5},
...                  dataset="sp500", dataset_hash=h, train_start="2015", train_end="2020",
...                  seed=7)  # doctest: +SKIP
>>> reg.set_stage(v.ref, "production")  # doctest: +SKIP
>>> reg.load("ret5-lgbm@production").predict(X)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import shutil
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alphaloop.models import registry_queries as queries
from alphaloop.models.artifacts import (
    SavableEstimator,
    _default_loader,
    _make_read_only,
    artifact_sha256,
    save_artifact,
    verify_artifact,
)
from alphaloop.models.errors import ModelNotFoundError, RegistryError
from alphaloop.models.registration import insert_version, version_fields
from alphaloop.models.registry_records import (
    TRANSITIONS,
    ModelUsage,
    ModelVersion,
    StageChange,
    _change,
    _check_stage,
    _usage,
    check_name,
)
from alphaloop.store import Database, ModelUsageRecord, ModelVersionRecord

if TYPE_CHECKING:
    from alphaloop.models.explanation_records import ModelExplanation
    from alphaloop.models.labels import LabelSpec
    from alphaloop.models.monitor import RecordedAlert

__all__ = ["ModelRegistry", "PreparedVersion"]

_V = ModelVersionRecord
#: the defaults of :meth:`ModelRegistry.register`'s optional metadata
_OPTIONAL: dict[str, Any] = {
    "dataset_version": None, "label_end": None, "metrics": None, "params": None,
    "family": None, "task": None, "feature_family": "custom", "code_version": None,
    "supersedes": None, "note": "",
}  # fmt: skip


class PreparedVersion:
    """A version ready to register: checked metadata and a staged, read-only artifact
    (see :meth:`ModelRegistry.prepare`)."""

    def __init__(self, name: str, fields: dict[str, Any], staging: Path) -> None:
        self.name, self.fields, self.staging = name, fields, staging

    @property
    def artifact_sha256(self) -> str:
        return str(self.fields["artifact_sha256"])

    def discard(self) -> None:
        """Remove the staged files (nothing once :meth:`ModelRegistry.commit_prepared`
        moved the artifact into place, but the empty staging directory)."""
        _remove_tree(self.staging)


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    for p in [path, *path.rglob("*")]:
        if p.is_dir() and not p.is_symlink():
            p.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


class ModelRegistry:
    """Registered model versions of one workspace: database rows plus artifacts on disk.

    Parameters
    ----------
    db : Database
        Where versions, usage, stage changes and alerts are recorded.
    root : str or Path
        Workspace root; artifacts live under ``root/models/<name>/v<N>/``.
    """

    def __init__(self, db: Database, root: str | Path) -> None:
        self.db = db
        self.models_dir = Path(root) / "models"

    def version_dir(self, name: str, version: int) -> Path:
        """Directory of the artifact of ``name/v<version>``."""
        return self.models_dir / check_name(name) / f"v{version}"

    # ------------------------------------------------------------------ register

    def register(
        self,
        name: str,
        estimator: SavableEstimator | str | Path,
        *,
        features: Sequence[str],
        label: Mapping[str, Any] | LabelSpec,
        dataset: str,
        dataset_hash: str,
        train_start: datetime | str,
        train_end: datetime | str,
        seed: int | None,
        dataset_version: int | None = None,
        label_end: datetime | str | None = None,
        metrics: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        family: str | None = None,
        task: str | None = None,
        feature_family: str = "custom",
        code_version: str | None = None,
        supersedes: str | None = None,
        note: str = "",
    ) -> ModelVersion:
        """Register a new immutable version ``name/v<N+1>`` in stage ``candidate``.

        Parameters
        ----------
        name : str
            Model name (``[a-z0-9][a-z0-9_-]*``).
        estimator : estimator or path
            A fitted estimator whose ``save(path)`` writes a directory, or the
            path of a directory already saved (then ``family`` is required).
        features : sequence of str
            Feature names, in the column order the estimator expects.
        label : mapping or LabelSpec
            The target: ``{"target": <name>, "horizon": <bars>, "kind": ...}``;
            ``target`` is required and searchable. A
            :class:`~alphaloop.models.labels.LabelSpec` is stored whole with
            ``target="forward_return"``.
        dataset, dataset_hash, dataset_version : str, str, int
            The training data: dataset name, content hash and version.
        train_start, train_end : datetime or str
            First and last timestamp of the training features (UTC if naive).
        seed : int or None
            Seed of the training run (None only for deterministic estimators).
        label_end : datetime or str, optional
            Last timestamp whose prices the training labels used.
        metrics : mapping, optional
            Validation metrics, e.g. ``{"ic": 0.04, "rank_ic": 0.05}``; non-finite
            values are stored as None.
        params : mapping, optional
            Hyperparameters; default ``estimator.get_params()`` if it has one.
        family, task : str, optional
            Estimator family and task; default the estimator's ``family`` and
            ``task`` attributes (task falls back to ``"regression"``).
        feature_family : str, default "custom"
            Searchable feature-set name, e.g. ``"alpha158-close"``.
        code_version : str, optional
            Default: the installed alphaloop version.
        supersedes : str, optional
            Reference of the version this one improves on; must exist. Stored
            resolved (``"name"`` becomes the concrete ``"name/vN"``).
        note : str
            What changed and why (the improvement note of the lineage).

        Returns
        -------
        ModelVersion
        """
        fields = version_fields(
            name,
            estimator,
            features=features,
            label=label,
            dataset=dataset,
            dataset_hash=dataset_hash,
            train_start=train_start,
            train_end=train_end,
            seed=seed,
            dataset_version=dataset_version,
            label_end=label_end,
            metrics=metrics,
            params=params,
            family=family,
            task=task,
            feature_family=feature_family,
            code_version=code_version,
            supersedes=supersedes,
            note=note,
            resolve=lambda ref: self.get(ref).ref,
        )
        prepared = self._stage(name, estimator, fields, tag="")
        try:
            return self.commit_prepared(prepared)
        finally:
            prepared.discard()

    def prepare(self, name: str, estimator: SavableEstimator | str | Path, *, tag: str = "",
                **meta: Any) -> PreparedVersion:  # fmt: skip
        """Everything :meth:`register` does but the database row: the metadata checked,
        the artifact written read-only under ``<root>/models/.staging/<tag>-<random>/``
        and its checksum taken. :meth:`commit_prepared` registers it later, in a short
        transaction; :meth:`PreparedVersion.discard` removes it. ``meta`` are
        :meth:`register`'s keyword arguments; ``tag`` marks the staging directory so its
        owner can remove what a killed process left (:meth:`drop_staged`)."""
        meta = {**_OPTIONAL, **meta}
        fields = version_fields(name, estimator, **meta, resolve=lambda ref: self.get(ref).ref)
        return self._stage(name, estimator, fields, tag=tag)

    def _stage(self, name: str, estimator: SavableEstimator | str | Path,
               fields: dict[str, Any], *, tag: str) -> PreparedVersion:  # fmt: skip
        staging = self.models_dir / ".staging" / ((f"{tag}-" if tag else "") + uuid.uuid4().hex)
        staging.mkdir(parents=True)
        try:
            artifact = staging / "artifact"
            save_artifact(name, estimator, artifact)
            _make_read_only(artifact)
            fields["artifact_sha256"] = artifact_sha256(artifact)
        except BaseException:
            _remove_tree(staging)
            raise
        return PreparedVersion(name, fields, staging)

    def commit_prepared(self, prepared: PreparedVersion) -> ModelVersion:
        """Register ``prepared`` as ``name/v<N+1>``: insert its row and move its artifact
        in (inside the caller's :meth:`~alphaloop.store.Database.atomic` block, if any)."""
        if not (prepared.staging / "artifact").is_dir():
            raise RegistryError(f"prepared version of {prepared.name!r} at {prepared.staging} "
                                "has no artifact (registered or discarded already)")  # fmt: skip
        rec = insert_version(self.db, dict(prepared.fields), prepared.staging / "artifact",
                             self.version_dir)  # fmt: skip
        return ModelVersion.from_record(rec)

    def drop_staged(self, tag: str) -> list[str]:
        """Remove the staging directories marked ``tag`` (left by a process killed between
        :meth:`prepare` and :meth:`commit_prepared`); returns their paths."""
        root = self.models_dir / ".staging"
        if not tag or not root.is_dir():
            return []
        gone = []
        for d in sorted(root.glob(f"{tag}-*")):
            if d.is_dir() and d.name[len(tag) + 1 :].isalnum():
                _remove_tree(d)
                gone.append(str(d))
        return gone

    # ------------------------------------------------------------------ discovery

    def get(self, ref: str) -> ModelVersion:
        """The version ``ref`` names: ``"name/vN"``, ``"name"`` (latest) or ``"name@stage"``."""
        with self.db.session() as s:
            return ModelVersion.from_record(queries.resolve(s, ref))

    def latest(self, name: str) -> ModelVersion:
        """The highest version of ``name``, whatever its stage."""
        return self.get(check_name(name))

    def get_by_id(self, model_id: int) -> ModelVersion:
        """The version with database id ``model_id``."""
        with self.db.session() as s:
            rec = s.get(_V, model_id)
            if rec is None:
                raise ModelNotFoundError(f"no model version has id {model_id}")
            return ModelVersion.from_record(rec)

    def list(self, name: str | None = None, stage: str | None = None) -> list[ModelVersion]:
        """Registered versions, by name then version; optionally of one name or stage."""
        q = select(_V)
        if name is not None:
            q = q.where(_V.name == check_name(name))
        if stage is not None:
            q = q.where(_V.stage == _check_stage(stage))
        return queries.fetch(self.db, q)

    def search(
        self,
        *,
        target: str | None = None,
        feature_family: str | None = None,
        family: str | None = None,
        stage: str | None = None,
        feature: str | None = None,
        min_metric: tuple[str, float] | None = None,
        max_metric: tuple[str, float] | None = None,
    ) -> list[ModelVersion]:
        """Versions matching every criterion given, by name then version.

        Parameters
        ----------
        target : str, optional
            The label's ``target`` name, e.g. ``"forward_return"``.
        feature_family : str, optional
            Feature-set name, e.g. ``"alpha158-close"``.
        family : str, optional
            Estimator family, e.g. ``"lightgbm"``.
        stage : str, optional
            One of ``candidate``, ``production``, ``archived``.
        feature : str, optional
            A feature name the version uses.
        min_metric, max_metric : (str, float), optional
            ``(key, bound)``: keep versions whose metric ``key`` is recorded and
            at least (at most) ``bound``.
        """
        return queries.search_versions(
            self.db,
            target=target,
            feature_family=feature_family,
            family=family,
            stage=stage,
            feature=feature,
            min_metric=min_metric,
            max_metric=max_metric,
        )

    def lineage(self, ref: str) -> list[ModelVersion]:
        """``ref`` and the versions it supersedes, newest first, back to the first."""
        return queries.lineage(self.db, ref)

    # ------------------------------------------------------------------ artifacts

    def load(self, ref: str, *, loader: Callable[[Path], Any] | None = None) -> Any:
        """Load the estimator of ``ref`` after checking its artifact's SHA-256.

        Parameters
        ----------
        ref : str
            Model reference.
        loader : callable, optional
            ``loader(path) -> estimator``; default: a
            :class:`~alphaloop.models.rolling_model.RollingModel` for a
            rolling version, else :meth:`alphaloop.models.estimators.Estimator.load`,
            which reads any family ``Estimator.save`` wrote.

        Raises
        ------
        ArtifactTamperedError
            The artifact's files differ from those registered.
        """
        version = self.get(ref)
        self.verify(version)
        return (loader or _default_loader())(version.artifact_path)

    def verify(self, version: ModelVersion) -> None:
        """Raise :class:`ArtifactTamperedError` unless the artifact matches its SHA-256."""
        verify_artifact(version)

    # ------------------------------------------------------------------ stages

    def set_stage(self, ref: str, stage: str, *, reason: str = "") -> ModelVersion:
        """Move ``ref`` to ``stage`` (see the transition table in ``registry_records``); audited.

        Promoting to ``production`` archives the name's current production
        version in the same transaction.
        """
        _check_stage(stage)
        try:
            with self.db.session() as s:
                rec = queries.resolve(s, ref, lock=True)
                allowed = TRANSITIONS[rec.stage]
                if stage not in allowed:
                    raise RegistryError(
                        f"{rec.ref} cannot move from {rec.stage} to {stage}",
                        hint=f"from {rec.stage} it can move to: {', '.join(sorted(allowed))}",
                    )
                if stage == "production":
                    q = select(_V).where(_V.name == rec.name, _V.stage == "production")
                    for current in s.scalars(q.with_for_update()).all():
                        s.add(
                            _change(current.ref, "production", "archived", f"replaced by {rec.ref}")
                        )
                        current.stage = "archived"
                    s.flush()
                s.add(_change(rec.ref, rec.stage, stage, reason))
                rec.stage = stage
        except IntegrityError as exc:
            raise RegistryError(
                f"cannot move {ref} to {stage}: another version was promoted at the same time",
                hint="check the current production version and retry",
            ) from exc
        return ModelVersion.from_record(rec)

    def stage_history(self, ref: str) -> list[StageChange]:
        """Audited stage changes of ``ref``, oldest first (registration included)."""
        return queries.stage_history(self.db, ref)

    # ------------------------------------------------------------------ usage

    def record_usage(
        self,
        ref: str,
        strategy_hash: str,
        strategy_name: str,
        sharpe: float | None,
        *,
        run_id: int | None = None,
    ) -> ModelUsage:
        """Record that a strategy uses ``ref`` (resolved to its concrete version now).

        ``sharpe`` is the strategy's annualized Sharpe ratio; a non-finite value
        is stored as None.
        """
        value = None if sharpe is None or not math.isfinite(float(sharpe)) else float(sharpe)
        try:
            with self.db.session() as s:
                rec = queries.resolve(s, ref)
                row = ModelUsageRecord(
                    model_ref=rec.ref,
                    strategy_hash=strategy_hash,
                    strategy_name=strategy_name,
                    sharpe=value,
                    run_id=run_id,
                    recorded_at=datetime.now(UTC),
                )
                s.add(row)
                s.flush()
                return _usage(row)
        except IntegrityError as exc:
            raise RegistryError(
                f"cannot record usage of {ref}: no run has id {run_id}",
                hint="pass the id of a recorded run, or run_id=None",
            ) from exc

    def usage(self, ref: str) -> list[ModelUsage]:
        """Strategies recorded as using ``ref``, oldest first."""
        return queries.usage_of(self.db, ref)

    # ------------------------------------------------------------------ monitoring

    def alerts(self, ref: str) -> list[RecordedAlert]:
        """Monitoring alerts recorded for ``ref``, oldest first (see ``monitor.record_alerts``)."""
        from alphaloop.models.monitor import list_alerts

        return list_alerts(self.db, self.get(ref).ref)

    # ------------------------------------------------------------------ explanations

    def record_explanation(
        self, ref: str, kind: str, payload: Mapping[str, Any]
    ) -> ModelExplanation:
        """Store an explanation of ``ref``: ``kind`` permutation | shap | tft, a JSON payload.

        The version is unchanged; a later explanation of the same kind
        supersedes this one in :meth:`explanations` (both are kept).
        """
        from alphaloop.models.explanation_records import record_explanation

        version = self.get(ref)
        return record_explanation(self.db, version.id, version.ref, kind, payload)

    def explanations(self, ref: str, *, history: bool = False) -> list[ModelExplanation]:
        """The newest stored explanation of each kind for ``ref`` (every one with ``history``)."""
        from alphaloop.models.explanation_records import list_explanations

        version = self.get(ref)
        return list_explanations(self.db, version.id, version.ref, history=history)
