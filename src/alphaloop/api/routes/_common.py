"""What the route modules share: JSON-safe answers, the caller, request bodies' bases."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.jsonsafe import json_safe

__all__ = ["ERRORS", "Body", "ErrorBody", "JobOut", "Reasoned", "to_json"]


def to_json(value: Any) -> Any:
    """``value`` as plain JSON types: NaN and infinities null, dates and paths as text."""
    return json.loads(json.dumps(json_safe(value), default=str, allow_nan=False))


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused (422 naming them)."""

    model_config = ConfigDict(extra="forbid")


class Reasoned(Body):
    """A mutating request with the reason recorded in the audit trail."""

    reason: str = Field("", max_length=2000, description="Why (kept in the audit trail).")


class ErrorDetail(BaseModel):
    """What went wrong: the error's type, a sentence naming what and where, what to do."""

    type: str
    message: str
    hint: str | None = None


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"type", "message", "hint"}}``."""

    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No valid credentials."},
    403: {"model": ErrorBody, "description": "The caller's role lacks the permission."},
    404: {"model": ErrorBody, "description": "No such resource."},
    409: {"model": ErrorBody, "description": "The resource's state forbids it."},
    413: {"model": ErrorBody, "description": "The request body is too large."},
    422: {"model": ErrorBody, "description": "Invalid input: which field, and why."},
    429: {"model": ErrorBody, "description": "Rate limit; see the Retry-After header."},
}
"""The error answers every route may give, documented in the schema (always JSON, also on
routes whose success is HTML or text)."""
for _doc in ERRORS.values():
    _doc["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


class JobProgressOut(BaseModel):
    """How far a job is: the stage, units done and the total (None: unknown)."""

    model_config = ConfigDict(extra="allow")

    step: str | None = None
    done: int | None = None
    total: int | None = None


class JobOut(BaseModel):
    """A background job."""

    id: int
    kind: str
    status: str = Field(description="queued, running, succeeded, failed, cancelled, interrupted")
    owner: str
    params: dict[str, Any]
    progress: JobProgressOut
    error: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    result: dict[str, Any] | None = None
