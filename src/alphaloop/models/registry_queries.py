"""Registry queries: resolving references, discovery, lineage, stage history and usage.

Each function runs in its own session of the registry's database and returns
the frozen records of :mod:`alphaloop.models.registry_records`; except
:func:`resolve`, which returns the row inside the caller's session (locked with
``lock=True``) for writers that change it.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from alphaloop.models.errors import ModelNotFoundError, RegistryError
from alphaloop.models.registry_records import (
    REF_PATTERN,
    ModelUsage,
    ModelVersion,
    StageChange,
    _check_stage,
    _usage,
    _utc,
)
from alphaloop.store import Database, ModelStageChangeRecord, ModelUsageRecord, ModelVersionRecord

__all__ = ["fetch", "lineage", "resolve", "search_versions", "stage_history", "usage_of"]

_V = ModelVersionRecord


def resolve(s: Session, ref: str, *, lock: bool = False) -> ModelVersionRecord:
    """The row ``ref`` names in session ``s``: ``"name/vN"``, ``"name"`` or ``"name@stage"``."""
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


def fetch(db: Database, q: Select[ModelVersionRecord]) -> list[ModelVersion]:
    """The versions ``q`` selects, by name then version."""
    with db.session() as s:
        recs = s.scalars(q.order_by(_V.name, _V.version)).all()
        return [ModelVersion.from_record(rec) for rec in recs]


def search_versions(
    db: Database,
    *,
    target: str | None = None,
    feature_family: str | None = None,
    family: str | None = None,
    stage: str | None = None,
    feature: str | None = None,
    min_metric: tuple[str, float] | None = None,
    max_metric: tuple[str, float] | None = None,
) -> list[ModelVersion]:
    """Versions matching every criterion given (see :meth:`ModelRegistry.search`)."""
    q = select(_V)
    if target is not None:
        q = q.where(_V.target == target)
    if feature_family is not None:
        q = q.where(_V.feature_family == feature_family)
    if family is not None:
        q = q.where(_V.family == family)
    if stage is not None:
        q = q.where(_V.stage == _check_stage(stage))
    found = fetch(db, q)
    if feature is not None:
        found = [v for v in found if feature in v.features]
    if min_metric is not None:
        key, low = min_metric
        found = [v for v in found if (m := v.metrics.get(key)) is not None and m >= low]
    if max_metric is not None:
        key, high = max_metric
        found = [v for v in found if (m := v.metrics.get(key)) is not None and m <= high]
    return found


def lineage(db: Database, ref: str) -> list[ModelVersion]:
    """``ref`` and the versions it supersedes, newest first, back to the first."""
    with db.session() as s:
        chain = [resolve(s, ref)]
        seen = {chain[0].ref}
        while (previous := chain[-1].supersedes) is not None and previous not in seen:
            rec = s.scalars(select(_V).where(_V.ref == previous)).one()
            chain.append(rec)
            seen.add(rec.ref)
        return [ModelVersion.from_record(rec) for rec in chain]


def stage_history(db: Database, ref: str) -> list[StageChange]:
    """Audited stage changes of ``ref``, oldest first (registration included)."""
    with db.session() as s:
        model_ref = resolve(s, ref).ref
        q = select(ModelStageChangeRecord).where(ModelStageChangeRecord.model_ref == model_ref)
        rows = s.scalars(q.order_by(ModelStageChangeRecord.id)).all()
        return [
            StageChange(r.model_ref, r.from_stage, r.to_stage, r.reason, _utc(r.changed_at))
            for r in rows
        ]


def usage_of(db: Database, ref: str) -> list[ModelUsage]:
    """Strategies recorded as using ``ref``, oldest first."""
    with db.session() as s:
        model_ref = resolve(s, ref).ref
        q = select(ModelUsageRecord).where(ModelUsageRecord.model_ref == model_ref)
        return [_usage(r) for r in s.scalars(q.order_by(ModelUsageRecord.id)).all()]


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
