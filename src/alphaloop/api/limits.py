"""Per-user rate limits (token buckets) and the request size limit (ASGI middleware).

A bucket holds up to ``burst`` tokens and refills at ``rate_per_s``; each
request takes one. An empty bucket answers 429 with ``Retry-After`` (whole
seconds, rounded up) saying when one token will be back. Buckets are keyed
by user (or by client address before login), in memory, one per process.

The size limit refuses a body larger than ``max_body_bytes`` with 413: at
once when ``Content-Length`` says so, else (a chunked body) as soon as
what has arrived passes the limit.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from alphaloop.api.errors import RateLimitedError

__all__ = ["BodySizeLimit", "RateLimiter"]


class RateLimiter:
    """Token buckets by key.

    Parameters
    ----------
    rate_per_s : float
        Tokens added per second (sustained requests per second).
    burst : int
        Bucket size (requests allowed at once).
    clock : callable, optional
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> None:
        """Take one token for ``key``; RateLimitedError (with the wait) when there is none."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate_per_s)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                wait = (1.0 - tokens) / self.rate_per_s
                raise RateLimitedError(
                    f"rate limit of {self.rate_per_s:g} requests/s (burst {self.burst}) "
                    f"exceeded for {key}",
                    retry_after_s=wait,
                )
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget idle keys (full buckets)
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst - 1}

    @staticmethod
    def retry_after(exc: RateLimitedError) -> str:
        """The ``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(exc.retry_after_s)))


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_body_bytes``."""

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(
            {
                "error": {
                    "type": "RequestTooLargeError",
                    "message": f"the request body is larger than {self.max_body_bytes} bytes",
                    "hint": "send a smaller body (ALPHALOOP_API_MAX_BODY_BYTES sets the limit)",
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_body_bytes:
                    await self._refuse(send)
                    return
        if any(name == b"content-length" for name, _ in scope.get("headers", [])):
            await self.app(scope, receive, send)  # the server holds it to its declared length
            return
        # no length given (chunked): read it whole, up to the limit, then replay it
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_body_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
