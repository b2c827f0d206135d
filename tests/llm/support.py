"""Small answer models and a client factory shared by the LLM tests."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.llm import LLMClient, LLMSettings, ResponseCache
from tests.llm.servers import ProtocolServer


class Leg(BaseModel):
    """One leg of a trade idea."""

    model_config = ConfigDict(extra="forbid")

    asset: str = Field(min_length=1, description="Ticker.")
    weight: float = Field(ge=-1.0, le=1.0)


class Idea(BaseModel):
    """A trade idea: the answer model of most tests."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, title="Name")
    window: int = Field(ge=1, le=250, description="Look-back in bars.")
    side: Literal["long", "short"]
    weight: float | None = None
    tags: list[str] = Field(default_factory=list)
    legs: list[Leg] = Field(default_factory=list)


VALID = {"name": "mom", "window": 20, "side": "long", "weight": None, "tags": [], "legs": []}
VALID_TEXT = json.dumps(VALID)


def make_client(
    server: ProtocolServer,
    sleeps: list[float],
    *,
    cache: ResponseCache | None = None,
    **settings: Any,
) -> LLMClient:
    """A client of ``server`` whose waits are recorded in ``sleeps``.

    The timeout is generous (a loaded machine answers slowly); a test of
    timeouts passes a short ``timeout_s`` itself.
    """
    options: dict[str, Any] = {
        "provider": server.protocol,
        "model": "local-model",
        "base_url": server.url,
        "timeout_s": 10.0,
        "max_retries": 2,
    }
    options.update(settings)
    return LLMClient(LLMSettings(**options), cache=cache, sleep=sleeps.append)
