"""Login, tokens (expiry, rotation, reuse, revocation), API keys, disabled users."""

from __future__ import annotations

import jwt

from alphaloop.api.roles import Role
from alphaloop.api.security import TokenClaims, issue_access_token
from alphaloop.api.users import UserStore
from tests.api.conftest import PASSWORD, STRONG_SECRET, Service, login


def _me(service: Service, token: str) -> int:
    r = service.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def test_login_gives_a_short_lived_signed_token(service: Service) -> None:
    doc = login(service.client, "viewer")
    claims = jwt.decode(doc["access_token"], STRONG_SECRET, algorithms=["HS256"])
    assert claims["sub"] == "viewer"
    assert claims["role"] == "viewer"
    assert 0 < claims["exp"] - claims["iat"] <= 900
    assert doc["refresh_token"].startswith("rt_")
    me = service.client.get("/api/v1/auth/me", headers=service.headers("viewer")).json()
    assert me == {"name": "viewer", "role": "viewer", "via": "token"}


def test_wrong_password_and_unknown_user_look_the_same(service: Service) -> None:
    bad = service.client.post(
        "/api/v1/auth/login", json={"username": "viewer", "password": "wrong password!"}
    )
    unknown = service.client.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": "wrong password!"}
    )
    assert bad.status_code == unknown.status_code == 401
    assert bad.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert bad.headers["www-authenticate"] == "Bearer"


def test_no_forged_or_expired_or_missing_token_gets_in(service: Service) -> None:
    assert service.client.get("/api/v1/auth/me").status_code == 401
    claims = TokenClaims(1, "admin", Role.admin)
    forged, _ = issue_access_token(claims, "another-secret-" + STRONG_SECRET, 900)
    assert _me(service, forged) == 401
    expired, _ = issue_access_token(claims, STRONG_SECRET, -120)
    r = service.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert "expired" in r.json()["error"]["message"]
    r = service.client.get("/api/v1/auth/me", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_refresh_rotates_and_a_reused_token_revokes_the_login(service: Service) -> None:
    first = login(service.client, "researcher")["refresh_token"]
    r = service.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200
    second = r.json()["refresh_token"]
    assert second != first
    assert _me(service, r.json()["access_token"]) == 200
    # the first token again: someone copied it; the whole login is revoked
    again = service.client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert again.status_code == 401
    assert "revoked" in again.json()["error"]["message"]
    after = service.client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401


def test_logout_revokes_the_refresh_token(service: Service) -> None:
    token = login(service.client, "trader")["refresh_token"]
    assert service.client.post("/api/v1/auth/logout", json={"refresh_token": token}).json() == {
        "revoked": True
    }
    r = service.client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    assert r.status_code == 401


def test_api_keys_are_shown_once_stored_hashed_and_revocable(
    service: Service, fresh_name: str
) -> None:
    users = UserStore(service.ws.db)
    users.add(fresh_name, PASSWORD, "researcher")
    r = service.client.post(
        f"/api/v1/users/{fresh_name}/keys",
        json={"name": "nightly", "reason": "cron job"},
        headers=service.headers("admin"),
    )
    assert r.status_code == 201
    key = r.json()["key"]
    assert key.startswith("alk_")
    listed = service.client.get("/api/v1/keys", headers=service.headers("admin")).json()["keys"]
    assert all("key" not in k for k in listed)
    with service.ws.db.session() as s:
        stored = s.connection().exec_driver_sql("SELECT key_hash FROM service_api_keys").all()
    assert all(key not in row[0] for row in stored)
    for headers in ({"X-API-Key": key}, {"Authorization": f"Bearer {key}"}):
        me = service.client.get("/api/v1/auth/me", headers=headers)
        assert me.json() == {"name": fresh_name, "role": "researcher", "via": "key"}
    kid = r.json()["id"]
    assert service.client.delete(f"/api/v1/keys/{kid}", headers=service.headers("admin")).json()[
        "revoked"
    ]
    assert service.client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401


def test_role_changes_and_disabling_take_effect_at_once(service: Service, fresh_name: str) -> None:
    UserStore(service.ws.db).add(fresh_name, PASSWORD, "viewer")
    doc = login(service.client, fresh_name)
    headers = {"Authorization": f"Bearer {doc['access_token']}"}
    admin = service.headers("admin")
    r = service.client.put(
        f"/api/v1/users/{fresh_name}/role", json={"role": "trader", "reason": "on call"},
        headers=admin,
    )  # fmt: skip
    assert r.json()["role"] == "trader"
    assert service.client.get("/api/v1/auth/me", headers=headers).json()["role"] == "trader"
    service.client.post(f"/api/v1/users/{fresh_name}/disable", json={}, headers=admin)
    assert service.client.get("/api/v1/auth/me", headers=headers).status_code == 401
    refresh = service.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": doc["refresh_token"]}
    )
    assert refresh.status_code == 401
    r = service.client.post(
        "/api/v1/auth/login", json={"username": fresh_name, "password": PASSWORD}
    )
    assert r.status_code == 401
    assert "disabled" in r.json()["error"]["message"]


def test_passwords_are_stored_as_argon2_hashes(service: Service) -> None:
    with service.ws.db.session() as s:
        rows = s.connection().exec_driver_sql("SELECT password_hash FROM service_users").all()
    assert rows
    assert all(r[0].startswith("$argon2id$") for r in rows)
    assert all(PASSWORD not in r[0] for r in rows)
