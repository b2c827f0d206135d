"""What the route modules share: JSON-safe answers, the caller, request bodies' bases."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.jsonsafe import json_safe

__all__ = ["Body", "Reasoned", "to_json"]


def to_json(value: Any) -> Any:
    """``value`` as plain JSON types: NaN and infinities null, dates and paths as text."""
    return json.loads(json.dumps(json_safe(value), default=str, allow_nan=False))


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused (422 naming them)."""

    model_config = ConfigDict(extra="forbid")


class Reasoned(Body):
    """A mutating request with the reason recorded in the audit trail."""

    reason: str = Field("", max_length=2000, description="Why (kept in the audit trail).")
