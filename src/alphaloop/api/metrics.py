"""Prometheus metrics of one app (its own registry, so two apps never share counters)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics", "TimingMiddleware"]


class Metrics:
    """Request counts and latencies by route template, plus gauges the routes set."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "alphaloop_http_requests",
            "HTTP requests by method, route and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "alphaloop_http_request_seconds",
            "HTTP request latency in seconds by route.",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.ws_clients = Gauge(
            "alphaloop_ws_clients", "Connected WebSocket clients.", registry=self.registry
        )
        self.jobs = Gauge(
            "alphaloop_jobs", "Background jobs by status.", ["status"], registry=self.registry
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)


class TimingMiddleware:
    """ASGI middleware: count and time every HTTP request by route template, and add the
    security headers (no sniffing, no framing, no caching of answers)."""

    _HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"cache-control", b"no-store"),
    )

    def __init__(self, app: Any, metrics: Metrics, prefix: str = "") -> None:
        self.app = app
        self.metrics = metrics
        self.prefix = prefix

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), *self._HEADERS]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None)
            if path is None:
                path = "unmatched"  # never the raw path: labels stay few
            elif not path.startswith(self.prefix):
                path = self.prefix + path
            self.metrics.observe(
                scope.get("method", "?"), path, status[0], time.perf_counter() - start
            )
