"""Per-user rate limits (429 with Retry-After), the request size limit, CORS closed by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alphaloop.api.app import create_app
from alphaloop.api.errors import RateLimitedError
from alphaloop.api.limits import RateLimiter
from alphaloop.api.users import UserStore
from alphaloop.app import Workspace
from tests.api.conftest import PASSWORD, login, make_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimitedError) as info:
        limiter.take("a")
    assert info.value.retry_after_s == pytest.approx(0.5)
    assert RateLimiter.retry_after(info.value) == "1"
    limiter.take("b")  # buckets are per key
    clock.now = 0.5
    limiter.take("a")
    with pytest.raises(RateLimitedError):
        limiter.take("a")


@pytest.fixture
def strict(tmp_path: Path) -> Iterator[TestClient]:
    ws = Workspace(tmp_path / "ws")
    UserStore(ws.db).add("eve", PASSWORD, "viewer")
    settings = make_settings(rate_per_s=0.01, rate_burst=3, max_body_bytes=2048)
    with TestClient(create_app(ws, settings, run_jobs=False)) as client:
        yield client
    ws.close()


def test_a_user_over_the_limit_gets_429_with_retry_after(strict: TestClient) -> None:
    token = login(strict, "eve")["access_token"]  # login has its own, per-address bucket
    headers = {"Authorization": f"Bearer {token}"}
    codes = [strict.get("/api/v1/auth/me", headers=headers).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = strict.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["type"] == "RateLimitedError"


def test_bodies_over_the_limit_get_413(strict: TestClient) -> None:
    r = strict.post("/api/v1/auth/login", content=b"x" * 4096)
    assert r.status_code == 413
    assert "2048 bytes" in r.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(8):
            yield b"y" * 512

    r = strict.post("/api/v1/auth/login", content=chunks())
    assert r.status_code == 413


def test_cors_is_closed_by_default_and_opens_to_configured_origins(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    preflight = {
        "Origin": "https://evil.example",
        "Access-Control-Request-Method": "POST",
    }
    with TestClient(create_app(ws, make_settings(), run_jobs=False)) as client:
        r = client.options("/api/v1/auth/login", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
        r = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    settings = make_settings(cors_origins=["https://desk.example"])
    with TestClient(create_app(ws, settings, run_jobs=False)) as client:
        ok = client.get("/api/v1/health", headers={"Origin": "https://desk.example"})
        assert ok.headers["access-control-allow-origin"] == "https://desk.example"
        r = client.get("/api/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
    ws.close()
