"""The service under test: one workspace per module, an app on it, a user of every role.

``service`` builds the app with the job dispatcher off (tests that run jobs
build their own); ``client`` is FastAPI's TestClient over it; ``tokens``
maps each role to a valid access token of a user with that role.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the service needs the service extra")

from fastapi.testclient import TestClient

from alphaloop.api.app import create_app
from alphaloop.api.settings import ApiSettings, load_settings
from alphaloop.api.users import UserStore
from alphaloop.app import Workspace

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "researcher", "trader", "admin")
STRONG_SECRET = "k3Jx9-Qm2Lp7Vt4Zr8Yw1Nb6Hc5Fd0Gs_Ae"  # test-only, 36 distinct-ish chars


def make_settings(**overrides: Any) -> ApiSettings:
    base: dict[str, Any] = {
        "secret": STRONG_SECRET,
        "rate_per_s": 1000.0,
        "rate_burst": 1000,
        "login_rate_per_s": 1000.0,
        "login_burst": 1000,
    }
    return load_settings(**{**base, **overrides})


@dataclass
class Service:
    ws: Workspace
    client: TestClient
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def login(client: TestClient, name: str, password: str = PASSWORD) -> dict[str, Any]:
    r = client.post("/api/v1/auth/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root: Path = tmp_path_factory.mktemp("api") / "ws"
    ws = Workspace(root)
    users = UserStore(ws.db)
    for role in ROLES:
        users.add(role, PASSWORD, role)
    app = create_app(ws, make_settings(), run_jobs=False)
    with TestClient(app) as client:
        tokens = {role: login(client, role)["access_token"] for role in ROLES}
        yield Service(ws, client, tokens)
    ws.close()


@pytest.fixture
def fresh_name() -> str:
    return f"u{secrets.token_hex(4)}"
