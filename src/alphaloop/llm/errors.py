"""The typed errors of :mod:`alphaloop.llm`.

:class:`LLMError` covers every failure of a language-model call that this
package raises on purpose; callers catch it and fall back to their offline
policy. No message ever contains an API key: keys are read from the
environment at request time and any echo of one in a server's answer is
redacted before it reaches an error.
"""

from __future__ import annotations

from alphaloop.errors import AlphaloopError, ConfigError

__all__ = [
    "LLMAnswerError",
    "LLMConfigError",
    "LLMError",
    "LLMHTTPError",
    "LLMReplayMissError",
    "LLMSchemaError",
    "LLMTransportError",
]


class LLMError(AlphaloopError):
    """A language-model call failed; the caller falls back to its offline policy."""


class LLMConfigError(LLMError, ConfigError):
    """The LLM settings cannot be used: unknown provider, missing key variable, bad URL."""


class LLMTransportError(LLMError):
    """The endpoint could not be reached or kept failing: connection errors, timeouts,
    retryable HTTP statuses after the last retry."""


class LLMHTTPError(LLMTransportError):
    """The endpoint answered with an HTTP error status.

    Attributes
    ----------
    status : int
        The HTTP status code of the last answer.
    """

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class LLMAnswerError(LLMError):
    """The endpoint answered, but not with what was asked: a body that is not the
    protocol's JSON, no message, no JSON object in the text, or an object that does
    not validate against the schema after the repair rounds."""


class LLMReplayMissError(LLMError):
    """Replay mode: the request is not in the response cache (no HTTP call was made)."""


class LLMSchemaError(LLMError):
    """A pydantic model has no schema in the portable subset (recursion, free-form maps)."""
