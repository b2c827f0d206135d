"""The model registry: immutable versions ``name/vN`` with artifacts, provenance and usage.

A version is registered once and never changes: its metadata row is written
in one transaction, and its artifact (the files the estimator's ``save(path)``
wrote) is moved into ``<root>/models/<name>/v<N>/`` and made read-only.
Registering a name again creates ``v<N+1>``. ``load`` recomputes the
artifact's SHA-256 and refuses a modified artifact. Only the stage of a
version changes, and every change is audited.

References
----------
``"name/vN"`` is one version; ``"name"`` is the latest version of the name;
``"name@<stage>"`` is the latest version in that stage (``name@production``
is unique, see below).

Stages
------
Allowed transitions (anything else raises :class:`RegistryError`)::

    candidate  -> production | archived
    production -> archived
    archived   -> candidate   (revived; goes through candidate again)

A name has at most one production version: promoting ``name/vN`` archives
the current production version of the same name in the same transaction,
and both changes are audited. A partial unique index enforces the rule in
the database, so two concurrent promotions cannot both succeed.

>>> reg = ModelRegistry(ws.db, ws.root)  # doctest: +SKIP
>>> v = reg.register("ret5-lgbm", est, features=[...], label={"target": "fwd_return", "horizon": 5},
...                  dataset="sp500", dataset_hash=h, train_start="2015", train_end="2020",
...                  seed=7)  # doctest: +SKIP
>>> reg.set_stage(v.ref, "production")  # doctest: +SKIP
>>> reg.load("ret5-lgbm@production").predict(X)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import random
import re
import shutil
import stat
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from alphaloop import __version__
from alphaloop.errors import ExitCode, StoreError
from alphaloop.models.dataset import ModelError
from alphaloop.store import (
    Database,
    ModelStageChangeRecord,
    ModelUsageRecord,
    ModelVersionRecord,
)

if TYPE_CHECKING:
    from alphaloop.models.dataset import LabelSpec
    from alphaloop.models.monitor import RecordedAlert

__all__ = [
    "STAGES",
    "TRANSITIONS",
    "ArtifactTamperedError",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelUsage",
    "ModelVersion",
    "RegistryError",
    "StageChange",
    "artifact_sha256",
]

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}\Z")
REF_PATTERN = re.compile(
    r"(?P<name>[a-z0-9][a-z0-9_-]{0,99})(?:/v(?P<version>[1-9][0-9]*)|@(?P<stage>[a-z]+))?\Z"
)
STAGES = ("candidate", "production", "archived")
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "candidate": frozenset({"production", "archived"}),
    "production": frozenset({"archived"}),
    "archived": frozenset({"candidate"}),
}
_INSERT_ATTEMPTS = 20
_LIMITS = {  # column widths of the string fields
    "family": 100,
    "task": 40,
    "feature_family": 200,
    "target": 200,
    "dataset": 200,
    "dataset_hash": 64,
    "code_version": 100,
}
_V = ModelVersionRecord


class RegistryError(ModelError):
    """A model cannot be registered, found, loaded or moved to that stage."""


class ModelNotFoundError(RegistryError):
    """No registered model version matches the reference."""


class ArtifactTamperedError(RegistryError):
    """A version's artifact files no longer match the SHA-256 recorded at registration."""

    exit_code = ExitCode.WORKSPACE  # the workspace's storage was changed behind its back


class SavableEstimator(Protocol):
    """What the registry needs from an estimator: ``save(path)`` writes a directory."""

    def save(self, path: str | Path) -> object: ...


def _utc(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _utc_or_none(dt: datetime | None) -> datetime | None:
    return None if dt is None else _utc(dt)


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version, as recorded (times in UTC)."""

    id: int
    ref: str
    name: str
    version: int
    family: str
    task: str
    features: tuple[str, ...]
    feature_family: str
    target: str
    label: dict[str, Any]
    params: dict[str, Any]
    train_start: datetime | None
    train_end: datetime | None
    label_end: datetime | None
    dataset: str
    dataset_version: int | None
    dataset_hash: str
    code_version: str
    seed: int | None
    metrics: dict[str, float | None]
    stage: str
    supersedes: str | None
    note: str
    artifact_path: Path
    artifact_sha256: str
    created_at: datetime

    @classmethod
    def from_record(cls, rec: ModelVersionRecord) -> ModelVersion:
        return cls(
            id=rec.id,
            ref=rec.ref,
            name=rec.name,
            version=rec.version,
            family=rec.family,
            task=rec.task,
            features=tuple(rec.features),
            feature_family=rec.feature_family,
            target=rec.target,
            label=dict(rec.label),
            params=dict(rec.params),
            train_start=_utc_or_none(rec.train_start),
            train_end=_utc_or_none(rec.train_end),
            label_end=_utc_or_none(rec.label_end),
            dataset=rec.dataset,
            dataset_version=rec.dataset_version,
            dataset_hash=rec.dataset_hash,
            code_version=rec.code_version,
            seed=rec.seed,
            metrics=dict(rec.metrics),
            stage=rec.stage,
            supersedes=rec.supersedes,
            note=rec.note,
            artifact_path=Path(rec.artifact_path),
            artifact_sha256=rec.artifact_sha256,
            created_at=_utc(rec.created_at),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (times as ISO 8601 strings, the path as a string)."""
        return {key: _plain(value) for key, value in self.__dict__.items()}


@dataclass(frozen=True)
class ModelUsage:
    """A strategy that used a model version, and the Sharpe ratio it reached."""

    model_ref: str
    strategy_hash: str
    strategy_name: str
    sharpe: float | None
    run_id: int | None
    recorded_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "recorded_at": self.recorded_at.isoformat()}


@dataclass(frozen=True)
class StageChange:
    """One audited stage transition; ``from_stage`` is None at registration."""

    model_ref: str
    from_stage: str | None
    to_stage: str
    reason: str
    changed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "changed_at": self.changed_at.isoformat()}


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def artifact_sha256(path: Path) -> str:
    """SHA-256 of an artifact directory: its file names and contents, in sorted order.

    The digest covers, for every regular file in sorted relative-path order,
    the line ``<relative/posix/path> NUL <sha256 of the content> LF``; renaming,
    adding, removing or editing any file changes it. Symbolic links are refused.
    """
    if not path.is_dir():
        raise RegistryError(f"artifact directory {path} is missing")
    digest = hashlib.sha256()
    for file in sorted(path.rglob("*"), key=lambda p: p.relative_to(path).as_posix()):
        if file.is_symlink():
            raise RegistryError(f"artifact {path} contains a symbolic link: {file.name}")
        if not file.is_file():
            continue
        content = hashlib.sha256()
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                content.update(chunk)
        rel = file.relative_to(path).as_posix()
        digest.update(f"{rel}\0{content.hexdigest()}\n".encode())
    return digest.hexdigest()


def _make_read_only(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            file.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def _json_ready(what: str, value: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return json.loads(json.dumps(dict(value), allow_nan=False, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"{what} cannot be stored as JSON: {exc}",
            hint="use numbers, strings, booleans, lists and dictionaries (no NaN)",
        ) from exc


def _json_default(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()  # type: ignore[attr-defined]
    raise TypeError(f"{type(value).__name__} value {value!r} is not JSON")


def _metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        try:
            number = float(value) if value is not None else math.nan
        except (TypeError, ValueError) as exc:
            raise RegistryError(f"metric {key!r} is not a number: {value!r}") from exc
        out[str(key)] = number if math.isfinite(number) else None
    return out


def _timestamp(what: str, value: datetime | str | pd.Timestamp | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{what} is not a date or time: {value!r}") from exc
    if pd.isna(ts):
        raise RegistryError(f"{what} is missing (NaT)")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise :class:`RegistryError`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(
            f"invalid model name {name!r}",
            hint="use 1-100 characters: lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit",
        )
    return name


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
            :class:`~alphaloop.models.dataset.LabelSpec` is stored whole with
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
        check_name(name)
        family = family or getattr(estimator, "family", None)
        if not family:
            raise RegistryError(
                f"cannot tell the estimator family of {name!r}",
                hint="pass family=... or register an estimator with a 'family' attribute",
            )
        if dataclasses.is_dataclass(label) and not isinstance(label, type):
            # a LabelSpec: a forward return of its ``price``
            label = {"target": "forward_return", **dataclasses.asdict(label)}
        label_dict = _json_ready("label", label)
        target = label_dict.get("target")
        if not isinstance(target, str) or not target:
            raise RegistryError(
                f"label of {name!r} has no 'target' name: {label_dict!r}",
                hint='pass label={"target": "forward_return", "horizon": 5, ...}',
            )
        feature_list = [str(f) for f in features]
        if not feature_list:
            raise RegistryError(f"model {name!r} has no features")
        if params is None and hasattr(estimator, "get_params"):
            params = estimator.get_params(deep=False)  # type: ignore[union-attr]
        start = _timestamp("train_start", train_start)
        end = _timestamp("train_end", train_end)
        if start is None or end is None or start > end:
            raise RegistryError(
                f"training period of {name!r} is invalid: {train_start!r} to {train_end!r}"
            )
        if supersedes is not None:
            supersedes = self.get(supersedes).ref
        fields: dict[str, Any] = {
            "name": name,
            "family": str(family),
            "task": str(task or getattr(estimator, "task", None) or "regression"),
            "features": feature_list,
            "feature_family": feature_family,
            "target": target,
            "label": label_dict,
            "params": _json_ready("params", params or {}),
            "train_start": start,
            "train_end": end,
            "label_end": _timestamp("label_end", label_end),
            "dataset": dataset,
            "dataset_version": dataset_version,
            "dataset_hash": dataset_hash,
            "code_version": code_version or __version__,
            "seed": None if seed is None else int(seed),
            "metrics": _metrics(metrics or {}),
            "stage": "candidate",
            "supersedes": supersedes,
            "note": note,
        }
        _check_lengths(fields)
        staging = self.models_dir / ".staging" / uuid.uuid4().hex
        staging.mkdir(parents=True)
        try:
            artifact = staging / "artifact"
            self._save(name, estimator, artifact)
            _make_read_only(artifact)
            fields["artifact_sha256"] = artifact_sha256(artifact)
            rec = self._insert(fields, artifact)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return ModelVersion.from_record(rec)

    def _save(self, name: str, estimator: SavableEstimator | str | Path, artifact: Path) -> None:
        if isinstance(estimator, str | Path):
            source = Path(estimator)
            if not source.is_dir():
                raise RegistryError(f"saved model directory {source} does not exist")
            shutil.copytree(source, artifact, symlinks=True)
        else:
            estimator.save(artifact)
        if not artifact.is_dir() or not any(p.is_file() for p in artifact.rglob("*")):
            raise RegistryError(
                f"saving model {name!r} wrote no files into a directory at {artifact}",
                hint="the estimator's save(path) must write its files into the directory path",
            )

    def _insert(self, fields: dict[str, Any], artifact: Path) -> ModelVersionRecord:
        """Insert the next version's row and move the artifact in, in one transaction.

        The version number is ``max + 1`` read inside the transaction; the unique
        constraint (name, version) rejects a concurrent writer that read the same
        maximum, which then retries with a fresh number.
        """
        name = fields["name"]
        for attempt in range(_INSERT_ATTEMPTS):
            moved: Path | None = None
            try:
                with self.db.session() as s:
                    top = s.scalar(select(func.max(_V.version)).where(_V.name == name))
                    version = (top or 0) + 1
                    ref = f"{name}/v{version}"
                    target = self.version_dir(name, version)
                    rec = ModelVersionRecord(
                        **fields, version=version, ref=ref, artifact_path=str(target)
                    )
                    s.add(rec)
                    s.flush()
                    s.add(_change(ref, None, "candidate", "registered"))
                    s.flush()
                    if target.exists():
                        raise RegistryError(
                            f"artifact directory {target} already exists; "
                            f"refusing to overwrite it with {ref}",
                            hint="it has no registry row (left by an interrupted "
                            "registration?); inspect it and remove it to register "
                            f"{name!r} again",
                        )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(artifact, target)  # atomic within one file system
                    moved = target
                moved = None  # committed: the artifact now belongs to the row
                target.chmod(0o555)
                return rec
            except (IntegrityError, OperationalError) as exc:
                if moved is not None:
                    os.rename(moved, artifact)
                if attempt == _INSERT_ATTEMPTS - 1 or not _is_conflict(exc):
                    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                    raise StoreError(f"cannot record model {name!r}: {reason}") from exc
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
            except BaseException:
                if moved is not None:
                    os.rename(moved, artifact)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ discovery

    def get(self, ref: str) -> ModelVersion:
        """The version ``ref`` names: ``"name/vN"``, ``"name"`` (latest) or ``"name@stage"``."""
        with self.db.session() as s:
            return ModelVersion.from_record(self._resolve(s, ref))

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
        return self._fetch(q)

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
        q = select(_V)
        if target is not None:
            q = q.where(_V.target == target)
        if feature_family is not None:
            q = q.where(_V.feature_family == feature_family)
        if family is not None:
            q = q.where(_V.family == family)
        if stage is not None:
            q = q.where(_V.stage == _check_stage(stage))
        found = self._fetch(q)
        if feature is not None:
            found = [v for v in found if feature in v.features]
        if min_metric is not None:
            key, low = min_metric
            found = [v for v in found if (m := v.metrics.get(key)) is not None and m >= low]
        if max_metric is not None:
            key, high = max_metric
            found = [v for v in found if (m := v.metrics.get(key)) is not None and m <= high]
        return found

    def lineage(self, ref: str) -> list[ModelVersion]:
        """``ref`` and the versions it supersedes, newest first, back to the first."""
        with self.db.session() as s:
            chain = [self._resolve(s, ref)]
            seen = {chain[0].ref}
            while (previous := chain[-1].supersedes) is not None and previous not in seen:
                rec = s.scalars(select(_V).where(_V.ref == previous)).one()
                chain.append(rec)
                seen.add(rec.ref)
            return [ModelVersion.from_record(rec) for rec in chain]

    def _fetch(self, q: Select[ModelVersionRecord]) -> list[ModelVersion]:
        with self.db.session() as s:
            recs = s.scalars(q.order_by(_V.name, _V.version)).all()
            return [ModelVersion.from_record(rec) for rec in recs]

    def _resolve(self, s: Session, ref: str, *, lock: bool = False) -> ModelVersionRecord:
        match = REF_PATTERN.match(ref) if isinstance(ref, str) else None
        if match is None:
            raise RegistryError(
                f"invalid model reference {ref!r}",
                hint='use "name/vN", "name" (its latest version) or "name@production"',
            )
        name, version, stage = match["name"], match["version"], match["stage"]
        q = select(_V).where(_V.name == name)
        if version is not None:
            q = q.where(_V.version == int(version))
        if stage is not None:
            q = q.where(_V.stage == _check_stage(stage))
        q = q.order_by(_V.version.desc()).limit(1)
        rec = s.scalars(q.with_for_update() if lock else q).first()
        if rec is None:
            message, hint = _not_found(s, name, ref)
            raise ModelNotFoundError(message, hint=hint)
        return rec

    # ------------------------------------------------------------------ artifacts

    def load(self, ref: str, *, loader: Callable[[Path], Any] | None = None) -> Any:
        """Load the estimator of ``ref`` after checking its artifact's SHA-256.

        Parameters
        ----------
        ref : str
            Model reference.
        loader : callable, optional
            ``loader(path) -> estimator``; default
            :meth:`alphaloop.models.estimators.Estimator.load`, which reads
            any family ``Estimator.save`` wrote.

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
        try:
            actual = artifact_sha256(version.artifact_path)
        except RegistryError as exc:
            raise ArtifactTamperedError(f"artifact of {version.ref} is unusable: {exc}") from exc
        if actual != version.artifact_sha256:
            raise ArtifactTamperedError(
                f"artifact of {version.ref} at {version.artifact_path} was modified after "
                f"registration (sha256 {actual[:12]}..., "
                f"registered {version.artifact_sha256[:12]}...)",
                hint="do not use it; register a retrained model as a new version",
            )

    # ------------------------------------------------------------------ stages

    def set_stage(self, ref: str, stage: str, *, reason: str = "") -> ModelVersion:
        """Move ``ref`` to ``stage`` (see the module's transition table); audited.

        Promoting to ``production`` archives the name's current production
        version in the same transaction.
        """
        _check_stage(stage)
        try:
            with self.db.session() as s:
                rec = self._resolve(s, ref, lock=True)
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
        with self.db.session() as s:
            model_ref = self._resolve(s, ref).ref
            q = select(ModelStageChangeRecord).where(ModelStageChangeRecord.model_ref == model_ref)
            rows = s.scalars(q.order_by(ModelStageChangeRecord.id)).all()
            return [
                StageChange(r.model_ref, r.from_stage, r.to_stage, r.reason, _utc(r.changed_at))
                for r in rows
            ]

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
                rec = self._resolve(s, ref)
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
        with self.db.session() as s:
            model_ref = self._resolve(s, ref).ref
            q = select(ModelUsageRecord).where(ModelUsageRecord.model_ref == model_ref)
            return [_usage(r) for r in s.scalars(q.order_by(ModelUsageRecord.id)).all()]

    # ------------------------------------------------------------------ monitoring

    def alerts(self, ref: str) -> list[RecordedAlert]:
        """Monitoring alerts recorded for ``ref``, oldest first (see ``monitor.record_alerts``)."""
        from alphaloop.models.monitor import list_alerts

        return list_alerts(self.db, self.get(ref).ref)


def _is_conflict(exc: IntegrityError | OperationalError) -> bool:
    """A clash with a concurrent writer: worth retrying with a fresh version number."""
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc.orig).lower()
    return any(word in text for word in ("locked", "busy", "deadlock"))


def _check_lengths(fields: Mapping[str, Any]) -> None:
    for key, limit in _LIMITS.items():
        value = fields[key]
        if not isinstance(value, str) or not value or len(value) > limit:
            raise RegistryError(
                f"{key} must be a non-empty string of at most {limit} characters, got {value!r}"
            )


def _check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise RegistryError(f"unknown stage {stage!r}", hint=f"stages: {', '.join(STAGES)}")
    return stage


def _change(ref: str, old: str | None, new: str, reason: str) -> ModelStageChangeRecord:
    return ModelStageChangeRecord(
        model_ref=ref, from_stage=old, to_stage=new, reason=reason, changed_at=datetime.now(UTC)
    )


def _usage(row: ModelUsageRecord) -> ModelUsage:
    return ModelUsage(
        row.model_ref,
        row.strategy_hash,
        row.strategy_name,
        row.sharpe,
        row.run_id,
        _utc(row.recorded_at),
    )


def _not_found(s: Session, name: str, ref: str) -> tuple[str, str]:
    q = select(_V.version, _V.stage).where(_V.name == name).order_by(_V.version)
    versions = s.execute(q).all()
    if versions:
        listed = ", ".join(f"v{v} ({stage})" for v, stage in versions[-10:])
        return f"no model version {ref!r}", f"{name!r} has {listed}"
    names = s.scalars(select(_V.name).distinct().order_by(_V.name).limit(20)).all()
    return f"no model named {name!r}", (
        f"registered: {', '.join(names)}" if names else "no models are registered yet"
    )


def _default_loader() -> Callable[[Path], Any]:
    from alphaloop.models.estimators import Estimator

    return Estimator.load
