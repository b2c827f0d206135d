"""Typed errors of the event bus: what went wrong, where, and what to do.

All derive from :class:`~alphaloop.errors.AlphaloopError`, so the CLI shows
them on one line and exits with their code: bad input (2) for a rejected
event or an offset out of range, the environment (3) for a Redis server
that does not answer or a missing ``live`` extra.
"""

from __future__ import annotations

from alphaloop.errors import AlphaloopError, ExitCode

__all__ = [
    "BusBackendMissingError",
    "BusError",
    "BusUnavailableError",
    "EventRejectedError",
    "OffsetError",
]


class BusError(AlphaloopError):
    """The event bus cannot do what was asked."""


class EventRejectedError(BusError):
    """An event cannot be read: unknown type or version, or a payload that fails validation.

    Attributes
    ----------
    reason : str
        One line naming the problem (the dead-letter stream records it).
    """

    def __init__(self, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"event rejected: {reason}", hint=hint)
        self.reason = reason


class OffsetError(BusError):
    """A consumer was asked to seek to an offset the topic does not hold."""


class BusUnavailableError(BusError):
    """The bus's server cannot be reached (the message names the URL, without a password)."""

    exit_code = ExitCode.WORKSPACE


class BusBackendMissingError(BusError):
    """The Redis Streams backend needs the ``live`` extra (the redis package)."""

    exit_code = ExitCode.WORKSPACE
