"""Settings of the language-model provider, from ``ALPHALOOP_LLM_*`` or given explicitly."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_BASE_URLS", "JSON_MODES", "JsonMode", "LLMSettings"]

JsonMode = Literal["json_schema", "json_object_schema"]
JSON_MODES: tuple[str, ...] = ("json_schema", "json_object_schema")
"""How an OpenAI-compatible request asks for a schema-shaped answer.

``json_schema``: ``response_format = {"type": "json_schema", "json_schema":
{"name", "schema", "strict": true}}`` (OpenAI, vLLM, llama.cpp's own server).
``json_object_schema``: ``response_format = {"type": "json_object", "schema":
...}``, the only form llama-cpp-python's server (``alphaloop llm serve``)
turns into a grammar; it refuses a ``json_schema`` request."""

DEFAULT_BASE_URLS: dict[str, str] = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
"""Base URL per provider when none is set. An OpenAI-compatible base URL ends
with the API version (``/v1``: the client appends ``/chat/completions``); the
Anthropic base URL does not (the client appends ``/v1/messages``)."""


class LLMSettings(BaseSettings):
    """Which model to ask, where, and what it costs.

    Every field reads from ``ALPHALOOP_LLM_<FIELD>`` (e.g.
    ``ALPHALOOP_LLM_PROVIDER=anthropic``) unless given explicitly.

    Attributes
    ----------
    provider : {"openai", "anthropic"}
        ``openai``: any OpenAI-compatible chat-completions endpoint (OpenAI,
        Ollama, vLLM, llama.cpp server, LM Studio, chosen by ``base_url``);
        ``anthropic``: the Anthropic Messages API.
    model : str
        The model name the endpoint knows.
    base_url : str or None
        Endpoint root; default :data:`DEFAULT_BASE_URLS` of the provider.
    api_key_env : str or None
        NAME of the environment variable that holds the API key (e.g.
        ``OPENAI_API_KEY``), read at request time only; the key itself is
        never stored, logged, shown or cached. None: no key is sent (local
        servers).
    timeout_s : float
        Seconds allowed to connect and between bytes of an answer.
    max_retries : int
        Retries after the first attempt on connection errors, timeouts,
        HTTP 408, 429 and 5xx.
    knowledge_cutoff : date or None
        The model's training cut-off; results are also reported on the
        span after it (the memorisation guard).
    price_input_per_1k, price_output_per_1k : float or None
        Price in USD per 1,000 prompt / completion tokens, for the cost
        account; None: cost not computed.
    json_mode : {"json_schema", "json_object_schema"}
        How an ``openai`` request carries the answer's schema (see
        :data:`JSON_MODES`); ``json_object_schema`` for llama-cpp-python's
        server. Ignored by ``anthropic`` (a forced tool call).
    """

    # hide_input_in_errors: a key pasted where its variable's NAME belongs is not echoed
    model_config = SettingsConfigDict(
        env_prefix="ALPHALOOP_LLM_", extra="forbid", hide_input_in_errors=True
    )

    provider: Literal["openai", "anthropic"] = "openai"
    model: str = Field(default="gpt-4o-mini", min_length=1)
    base_url: str | None = None
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    timeout_s: float = Field(default=60.0, gt=0.0)
    max_retries: int = Field(default=3, ge=0, le=20)
    knowledge_cutoff: dt.date | None = None
    price_input_per_1k: float | None = Field(default=None, ge=0.0)
    price_output_per_1k: float | None = Field(default=None, ge=0.0)
    json_mode: JsonMode = "json_schema"

    @property
    def endpoint_root(self) -> str:
        """The base URL in use, without a trailing slash."""
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")
