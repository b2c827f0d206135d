"""What the registry records: versions, usage, stage changes, and the rules for refs and stages.

:class:`ModelVersion`, :class:`ModelUsage` and :class:`StageChange` are the
frozen views of the rows in ``model_versions``, ``model_usage`` and
``model_stage_changes`` (times in UTC).

References
----------
``"name/vN"`` is one version; ``"name"`` is the latest version of the name;
``"name@<stage>"`` is the latest version in that stage (``name@production``
is unique, see below).

Stages
------
Allowed transitions (anything else raises
:class:`~alphaloop.models.errors.RegistryError`)::

    candidate  -> production | archived
    production -> archived
    archived   -> candidate   (revived; goes through candidate again)

A name has at most one production version: promoting ``name/vN`` archives
the current production version of the same name in the same transaction,
and both changes are audited. A partial unique index enforces the rule in
the database, so two concurrent promotions cannot both succeed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alphaloop.models.errors import RegistryError
from alphaloop.store import ModelStageChangeRecord, ModelUsageRecord, ModelVersionRecord

__all__ = [
    "NAME_PATTERN",
    "REF_PATTERN",
    "STAGES",
    "TRANSITIONS",
    "ModelUsage",
    "ModelVersion",
    "StageChange",
    "check_name",
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


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid model name, else raise :class:`RegistryError`."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(
            f"invalid model name {name!r}",
            hint="use 1-100 characters: lowercase letters, digits, '-' and '_', "
            "starting with a letter or digit",
        )
    return name


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
