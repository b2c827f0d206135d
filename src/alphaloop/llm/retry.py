"""When to retry a call and how long to wait: exponential backoff with full jitter.

The wait before retry ``n`` (0-based) is uniform on ``[0, min(cap_s, base_s * 2**n)]``
("full jitter"), drawn from a seeded :class:`random.Random` so a run is
reproducible. An answer's ``Retry-After`` header (seconds, or an HTTP date)
replaces the jittered wait, capped at ``cap_s``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "is_retryable_status", "parse_retry_after"]

RETRYABLE_STATUSES = frozenset({408, 429})
"""Client-error statuses worth retrying; every 5xx is retried too."""


def is_retryable_status(status: int) -> bool:
    """True for 408, 429 and every 5xx; other 4xx will fail again as sent."""
    return status in RETRYABLE_STATUSES or 500 <= status <= 599


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None if absent or unreadable.

    Parameters
    ----------
    value : str or None
        Delay in seconds (``"3"``, ``"1.5"``) or an HTTP date
        (``"Fri, 04 Dec 2026 14:00:05 GMT"``).
    now : datetime, optional
        The current time (UTC) for an HTTP date; default the clock.

    Returns
    -------
    float or None
        Seconds, at least 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        current = now or dt.datetime.now(dt.UTC)
        seconds = (when - current).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


@dataclass
class RetryPolicy:
    """How many retries, and the wait before each.

    Attributes
    ----------
    max_retries : int
        Retries after the first attempt.
    base_s : float
        Ceiling of the first jittered wait (seconds); it doubles each retry.
    cap_s : float
        Largest wait (seconds), also the cap on ``Retry-After``.
    seed : int
        Seed of the jitter's random generator.
    """

    max_retries: int = 3
    base_s: float = 0.5
    cap_s: float = 30.0
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def wait_s(self, retry: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        if retry_after_s is not None:
            return min(self.cap_s, retry_after_s)
        ceiling = min(self.cap_s, self.base_s * 2.0**retry)
        return self._rng.uniform(0.0, ceiling)
