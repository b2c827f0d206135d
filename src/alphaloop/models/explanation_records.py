"""Stored explanations of model versions: the ``model_explanations`` rows and their view.

An explanation is derived from a registered version (the version itself
never changes): computing one again adds a row, and :func:`list_explanations`
returns the newest row of each kind unless asked for the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alphaloop.jsonsafe import json_safe
from alphaloop.models.errors import RegistryError
from alphaloop.store import Database, ModelExplanationRecord

__all__ = ["EXPLANATION_KINDS", "ModelExplanation", "list_explanations", "record_explanation"]

EXPLANATION_KINDS = ("permutation", "shap", "tft")
"""Permutation importance, SHAP summary, TFT variable selection and attention."""


@dataclass(frozen=True)
class ModelExplanation:
    """One stored explanation of a version (``created_at`` in UTC)."""

    id: int
    model_ref: str
    kind: str
    payload: dict[str, Any]
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


def _check_kind(kind: str) -> str:
    if kind not in EXPLANATION_KINDS:
        raise RegistryError(
            f"unknown explanation kind {kind!r}", hint=f"kinds: {', '.join(EXPLANATION_KINDS)}"
        )
    return kind


def _view(row: ModelExplanationRecord, ref: str) -> ModelExplanation:
    at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return ModelExplanation(row.id, ref, row.kind, dict(row.payload), at.astimezone(UTC))


def record_explanation(
    db: Database, model_id: int, ref: str, kind: str, payload: Mapping[str, Any]
) -> ModelExplanation:
    """Store ``payload`` for version ``model_id`` (made JSON-safe: non-finite numbers -> None)."""
    row = ModelExplanationRecord(
        model_id=model_id,
        kind=_check_kind(kind),
        payload=json_safe(dict(payload)),
        created_at=datetime.now(UTC),
    )
    with db.session() as s:
        s.add(row)
        s.flush()
        return _view(row, ref)


def list_explanations(
    db: Database, model_id: int, ref: str, *, history: bool = False
) -> list[ModelExplanation]:
    """Explanations of version ``model_id``: the newest of each kind (in
    :data:`EXPLANATION_KINDS` order), or every row oldest first with ``history``."""
    q = select(ModelExplanationRecord).where(ModelExplanationRecord.model_id == model_id)
    with db.session() as s:
        rows = [_view(r, ref) for r in s.scalars(q.order_by(ModelExplanationRecord.id)).all()]
    if history:
        return rows
    newest = {r.kind: r for r in rows}
    return [newest[k] for k in EXPLANATION_KINDS if k in newest]
