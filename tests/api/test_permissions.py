"""Every route names a permission, and every mutating route refuses the roles below it.

The routes are read from the app itself, so a new route without a permission
(or a new mutating route) is caught here without editing this file.
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from alphaloop.api.app import create_app
from alphaloop.api.deps import api_routes
from alphaloop.api.deps import route_permission as _permission
from alphaloop.api.roles import PERMISSIONS, Role, allowed
from alphaloop.api.routes import PUBLIC_MUTATING
from tests.api.conftest import ROLES, Service

PUBLIC_READS = {"health"}
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def _routes() -> list[APIRoute]:
    # the route table does not depend on the workspace: build it once, offline
    import tempfile

    from alphaloop.app import Workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(tmp)
        from tests.api.conftest import make_settings

        app = create_app(ws, make_settings(), run_jobs=False)
        routes = api_routes(app)
        ws.close()
    return [_Route(path, r) for path, r in routes]


class _Route:
    """A route with its full path."""

    def __init__(self, path: str, route: APIRoute) -> None:
        self.path, self.name, self.methods, self.route = path, route.name, route.methods, route

    def __repr__(self) -> str:
        return self.path


ROUTES = _routes()
MUTATING_ROUTES = [
    (r, m) for r in ROUTES for m in sorted(r.methods & MUTATING) if r.name not in PUBLIC_MUTATING
]


def _path(route: _Route) -> str:
    """The route's path with harmless values for its parameters (ids that do not exist)."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name.endswith("id"):
            return "999999"
        if name == "ref":
            return "abcdef0123"
        return "nosuchthing"

    return re.sub(r"\{([^}]+)\}", fill, route.path)


def test_the_route_table_is_read_from_the_app() -> None:
    paths = {r.path for r in ROUTES}
    assert {"/api/v1/risk/kill", "/api/v1/backtests", "/api/v1/users"} <= paths
    assert len(MUTATING_ROUTES) >= 15


def test_every_route_names_a_known_permission() -> None:
    missing = [
        r.name
        for r in ROUTES
        if r.name not in PUBLIC_MUTATING | PUBLIC_READS
        and not r.path.endswith(("/openapi.json", "/docs", "/docs/oauth2-redirect"))
        and _permission(r.route) is None
    ]
    assert missing == []
    for r in ROUTES:
        perm = _permission(r.route)
        assert perm is None or perm in PERMISSIONS


def test_there_are_mutating_routes_of_every_guarded_kind() -> None:
    kinds = {_permission(r.route) for r, _ in MUTATING_ROUTES}
    assert {"research.run", "risk.manage", "policy.manage", "users.manage"} <= kinds


@pytest.mark.parametrize(
    ("route", "method"), MUTATING_ROUTES, ids=[f"{m} {r.path}" for r, m in MUTATING_ROUTES]
)
def test_mutating_routes_refuse_roles_below_their_permission(
    service: Service, route: _Route, method: str
) -> None:
    permission = _permission(route.route)
    assert permission is not None, f"{method} {route.path} has no permission"
    path = _path(route)
    before = len(_denials(service))
    for role in ROLES:
        r = service.client.request(method, path, json={}, headers=service.headers(role))
        if allowed(Role[role], permission):
            assert r.status_code != 403, f"{role} refused {method} {path}: {r.text}"
        else:
            assert r.status_code == 403, f"{role} got {r.status_code} on {method} {path}"
            body = r.json()["error"]
            assert body["type"] == "ForbiddenError"
            assert permission in body["message"]
    refused = sum(not allowed(Role[role], permission) for role in ROLES)
    assert len(_denials(service)) - before == refused  # every refusal is audited
    # without credentials: 401, never the handler
    assert service.client.request(method, path, json={}).status_code == 401


def _denials(service: Service) -> list[dict]:
    from alphaloop.app.governance import governance

    return [e.to_dict() for e in governance(service.ws).audit.entries(action="api.denied")]


@pytest.mark.parametrize(
    "route",
    [r for r in ROUTES if "GET" in r.methods and _permission(r.route) == "read"],
    ids=lambda r: r.path,
)
def test_reading_routes_need_credentials(service: Service, route: _Route) -> None:
    r = service.client.get(_path(route))
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "AuthError"
