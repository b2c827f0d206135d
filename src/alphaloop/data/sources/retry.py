"""Retries with exponential backoff and seeded jitter; HTTP 429 honours ``Retry-After``.

A call is retried when it raises :class:`Transient` (a network error, HTTP 429
or 5xx). The wait before retry ``k`` (0-based) is
``min(max_s, initial_s * factor**k) * (1 + jitter * u)`` seconds with ``u``
uniform in [0, 1) from a :class:`random.Random` seeded with ``seed``, so the
same seed waits the same; a ``Retry-After`` given by the server replaces the
computed wait (capped at ``max_retry_after_s``). Other errors are not retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from alphaloop.errors import DataSourceError

__all__ = ["Retrier", "RetriesExhaustedError", "RetryPolicy", "Transient", "parse_retry_after"]

T = TypeVar("T")


class Transient(Exception):  # noqa: N818 - a signal between a call and its retrier
    """A failure worth retrying; ``retry_after_s`` is the server's wait, if it gave one."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class RetriesExhaustedError(DataSourceError):
    """Every attempt failed with a transient error (the source looks unreachable)."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date.

    A date in the past gives 0; a value that is neither gives None (the
    backoff decides).
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
    return seconds if seconds >= 0 else None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry (seconds).

    Attributes
    ----------
    attempts : int, default 4
        Calls in all (the first one included); at least 1.
    initial_s, factor, max_s : float
        The backoff: ``min(max_s, initial_s * factor**k)`` before retry ``k``.
    jitter : float, default 0.5
        Relative jitter added to each wait (0: none).
    max_retry_after_s : float, default 60
        Longest server-requested wait honoured; a longer one fails the call.
    seed : int, default 0
        Seed of the jitter.
    """

    attempts: int = 4
    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.5
    max_retry_after_s: float = 60.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise DataSourceError(f"retry attempts must be at least 1, got {self.attempts}")
        if min(self.initial_s, self.max_s, self.jitter, self.max_retry_after_s) < 0:
            raise DataSourceError("retry waits and jitter must not be negative")


@dataclass
class Retrier:
    """Runs calls under a :class:`RetryPolicy`; ``waits`` records every wait (seconds)."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    waits: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.policy.seed)

    def wait_s(self, retry: int, retry_after_s: float | None) -> float:
        """The wait before retry number ``retry`` (0-based)."""
        p = self.policy
        if retry_after_s is not None:
            return float(retry_after_s)
        base = min(p.max_s, p.initial_s * p.factor**retry)
        return base * (1.0 + p.jitter * self._rng.random())

    def call(self, fn: Callable[[], T], what: str) -> T:
        """``fn()``, retried on :class:`Transient`; raises DataSourceError when out of tries."""
        p = self.policy
        for attempt in range(p.attempts):
            try:
                return fn()
            except Transient as exc:
                last = exc
                if attempt == p.attempts - 1:
                    break
                if exc.retry_after_s is not None and exc.retry_after_s > p.max_retry_after_s:
                    raise DataSourceError(
                        f"{what}: the server asks to wait {exc.retry_after_s:.0f} s "
                        f"(longer than {p.max_retry_after_s:.0f} s)",
                        hint="try again later",
                    ) from None
                wait = self.wait_s(attempt, exc.retry_after_s)
                self.waits.append(wait)
                self.sleep(wait)
        raise RetriesExhaustedError(
            f"{what}: failed after {p.attempts} attempt(s): {last.reason}",
            hint="check the connection, or use the cached answers with --offline",
        )
