"""The service's errors and how every alphaloop error becomes an HTTP answer.

Every error answer has one shape: ``{"error": {"type", "message", "hint"}}``
with a 4xx status for anything the caller caused (never a 500 on bad
input). Unknown names (datasets, runs, strategies, ...) are 404; conflicts
(a name taken, a read-only workspace, the sealed holdout) 409; bad values
422; storage that cannot be reached 503.
"""

from __future__ import annotations

from alphaloop.errors import (
    AlphaloopError,
    ConfigError,
    DatasetExistsError,
    ExitCode,
    HoldoutError,
    ReadOnlyWorkspaceError,
    StoreError,
)

__all__ = [
    "AuthError",
    "ConflictError",
    "ForbiddenError",
    "JobNotFoundError",
    "NotFoundError",
    "RateLimitedError",
    "ServiceConfigError",
    "http_status",
]


class ServiceConfigError(ConfigError):
    """The service cannot start as configured (no secret, a weak secret, a bad TLS file);
    the CLI exits 3, as for any invalid ``ALPHALOOP_*`` setting."""

    exit_code = ExitCode.WORKSPACE


class AuthError(AlphaloopError):
    """No valid credentials: a missing, expired, revoked or malformed token or key (401)."""


class ForbiddenError(AlphaloopError):
    """The caller's role may not do this (403)."""


class NotFoundError(AlphaloopError):
    """A resource of the service (a user, a key, a job, a route) does not exist (404)."""


class ConflictError(AlphaloopError):
    """The resource is not in a state that allows this (409), e.g. a job that has ended."""


class JobNotFoundError(NotFoundError):
    """No background job with that id."""


class RateLimitedError(AlphaloopError):
    """Too many requests from one user; ``retry_after_s`` says when to try again (429)."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message, hint=f"retry after {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s


def http_status(exc: AlphaloopError) -> int:
    """The HTTP status of an alphaloop error (4xx for what the caller caused)."""
    if isinstance(exc, AuthError):
        return 401
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, RateLimitedError):
        return 429
    if isinstance(exc, NotFoundError) or type(exc).__name__.endswith("NotFoundError"):
        return 404
    if isinstance(exc, ConflictError | DatasetExistsError | HoldoutError | ReadOnlyWorkspaceError):
        return 409
    if isinstance(exc, StoreError):
        return 503
    return 422
