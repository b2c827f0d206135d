"""One raw answer: from the network under retries, stored in the cache, or from the cache.

Online, the network is asked first (a fresh answer replaces the cached one);
when every attempt fails with a transient error and the cache holds an
answer to the same request, that answer is used and a note says so (with the
time it was fetched). Offline, only the cache is read; a miss is a
:class:`~alphaloop.errors.SourceOfflineError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alphaloop.data.sources.cache import ResponseCache
from alphaloop.data.sources.retry import Retrier, RetriesExhaustedError
from alphaloop.errors import SourceOfflineError

__all__ = ["Answer", "Fetcher"]


@dataclass(frozen=True)
class Answer:
    """A raw answer and where it came from (``note`` says when it came from the cache)."""

    body: Any
    cached: bool = False
    note: str | None = None


@dataclass
class Fetcher:
    """Cache, retries and the offline switch, shared by the sources of one fetch.

    Parameters
    ----------
    cache : ResponseCache or None
        Where raw answers are kept; None keeps none (and ``offline`` finds nothing).
    retrier : Retrier
    offline : bool, default False
        Read only the cache; never touch the network.
    """

    cache: ResponseCache | None
    retrier: Retrier = field(default_factory=Retrier)
    offline: bool = False
    #: requests sent to the network (not counting retries), for reports and tests
    network_calls: int = 0

    def get(
        self, source: str, request: Mapping[str, Any], call: Callable[[], Any], what: str
    ) -> Answer:
        """The answer to ``request``; ``call()`` asks the network (raising ``Transient``)."""
        cached = self.cache.get(source, request) if self.cache is not None else None
        if self.offline:
            if cached is None:
                raise SourceOfflineError(
                    f"{what}: offline and no cached answer to this request",
                    hint="fetch it once online; the cache keeps every answer",
                )
            return Answer(
                cached.body,
                True,
                f"offline: cached answer from {cached.fetched_at:%Y-%m-%d %H:%M} UTC",
            )
        self.network_calls += 1
        try:
            body = self.retrier.call(call, what)
        except RetriesExhaustedError as exc:
            if cached is None:
                raise SourceOfflineError(exc.message, hint=exc.hint) from None
            return Answer(
                cached.body,
                True,
                f"{exc.message}; used the cached answer from "
                f"{cached.fetched_at:%Y-%m-%d %H:%M} UTC",
            )
        if self.cache is not None:
            self.cache.put(source, request, body)
        return Answer(body)
