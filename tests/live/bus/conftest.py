"""Fixtures of the bus tests: a Redis bus on the shared server under a key prefix of its own.

The server is ``ALPHALOOP_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``),
shared with other tests: each test writes under a fresh prefix and deletes
every key under it afterwards. Where no server answers, the Redis tests are
skipped with the reason, never silently dropped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = os.environ.get("ALPHALOOP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_unavailable() -> str | None:
    try:
        import redis
    except ImportError:
        return "redis is not installed (pip install 'alphaloop[live]')"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"no Redis server answers at {REDIS_URL}: {exc}"
    return None


_REDIS_REASON = redis_unavailable()


def drop_prefix(client: object, prefix: str) -> None:
    """Delete every key under ``prefix:``."""
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))  # type: ignore[attr-defined]
    if keys:
        client.delete(*keys)  # type: ignore[attr-defined]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A fresh key prefix on the test server; its keys are deleted afterwards."""
    if _REDIS_REASON:
        pytest.skip(_REDIS_REASON)
    import redis

    prefix = f"test-bus-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    drop_prefix(client, prefix)
    client.close()


@pytest.fixture
def redis_bus(redis_prefix: str) -> Iterator[object]:
    """A :class:`~alphaloop.live.bus.RedisBus` under a fresh prefix."""
    from alphaloop.live.bus import RedisBus

    bus = RedisBus(REDIS_URL, prefix=redis_prefix, max_attempts=3)
    yield bus
    bus.close()
