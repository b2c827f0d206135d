"""Log in, refresh, log out; who am I; users, roles and API keys (admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import Field

from alphaloop.api.deps import Reader, UserAdmin, audit_note, context, require
from alphaloop.api.routes._common import Body, Reasoned
from alphaloop.api.security import TokenClaims, issue_access_token

router = APIRouter(tags=["auth"])

PUBLIC_MUTATING = frozenset({"auth.login", "auth.refresh", "auth.logout"})
"""Mutating routes open to anyone (they take credentials in their body)."""

RoleName = Literal["viewer", "researcher", "trader", "admin"]
UserName = Annotated[
    str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
]


class Login(Body):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class Refresh(Body):
    refresh_token: str = Field(min_length=1, max_length=200)


class NewUser(Reasoned):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=12, max_length=1000)
    role: RoleName = "viewer"


class SetRole(Reasoned):
    role: RoleName


class NewKey(Reasoned):
    name: str = Field(min_length=1, max_length=100)


def _tokens(request: Request, user: Any) -> dict[str, Any]:
    ctx = context(request)
    access, exp = issue_access_token(
        TokenClaims(user.id, user.name, user.role), ctx.secret, ctx.settings.access_ttl_s
    )
    refresh = ctx.users.issue_refresh(user, ctx.settings.refresh_ttl_s)
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_at": exp,
        "refresh_token": refresh,
        "user": user.to_dict(),
    }


def _refresh_tokens(request: Request, user: Any, refresh: str) -> dict[str, Any]:
    ctx = context(request)
    access, exp = issue_access_token(
        TokenClaims(user.id, user.name, user.role), ctx.secret, ctx.settings.access_ttl_s
    )
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_at": exp,
        "refresh_token": refresh,
        "user": user.to_dict(),
    }


@router.post("/auth/login", name="auth.login")
def login(body: Login, request: Request) -> dict[str, Any]:
    """Exchange a user name and password for an access token (short-lived) and a
    refresh token. Limited per client address; failures are audited."""
    ctx = context(request)
    client = request.client.host if request.client else "?"
    ctx.login_limiter.take(f"login:{client}")
    try:
        user = ctx.users.authenticate(body.username, body.password)
    except Exception:
        ctx.audit(body.username[:100] or "?", "api.auth.login_failed", client)
        raise
    ctx.audit(user.name, "api.auth.login", client)
    return _tokens(request, user)


@router.post("/auth/refresh", name="auth.refresh")
def refresh(body: Refresh, request: Request) -> dict[str, Any]:
    """Spend a refresh token for a new access token and a new refresh token (rotation);
    a token used twice revokes every token of its login."""
    ctx = context(request)
    client = request.client.host if request.client else "?"
    ctx.login_limiter.take(f"login:{client}")
    user, new = ctx.users.rotate_refresh(body.refresh_token, ctx.settings.refresh_ttl_s)
    return _refresh_tokens(request, user, new)


@router.post("/auth/logout", name="auth.logout")
def logout(body: Refresh, request: Request) -> dict[str, Any]:
    """Revoke a refresh token and every token of its login."""
    return {"revoked": context(request).users.revoke_refresh(body.refresh_token)}


@router.get("/auth/me", name="auth.me")
async def me(principal: Reader) -> dict[str, Any]:
    """The caller: name, role, and how they authenticated (token or key)."""
    return {"name": principal.name, "role": principal.role.name, "via": principal.via}


# ------------------------------------------------------------------ users
@router.get("/users", name="users.list", dependencies=[require("users.manage")])
def users_list(request: Request) -> dict[str, Any]:
    """Every user with role and status (admins)."""
    return {"users": [u.to_dict() for u in context(request).users.list()]}


@router.post("/users", name="users.add", status_code=201)
def users_add(body: NewUser, request: Request, _: UserAdmin) -> dict[str, Any]:
    """Create a user (admins)."""
    user = context(request).users.add(body.name, body.password, body.role)
    audit_note(request, f"user:{user.name}", body.reason, {"role": user.role.name})
    return user.to_dict()


@router.put("/users/{name}/role", name="users.set_role")
def users_set_role(name: UserName, body: SetRole, request: Request, _: UserAdmin) -> dict[str, Any]:
    """Change a user's role (admins); effective at the user's next request."""
    user = context(request).users.set_role(name, body.role)
    audit_note(request, f"user:{name}", body.reason, {"role": body.role})
    return user.to_dict()


@router.post("/users/{name}/disable", name="users.disable")
def users_disable(name: UserName, body: Reasoned, request: Request, _: UserAdmin) -> dict[str, Any]:
    """Disable a user: their tokens and keys stop working at once (admins)."""
    user = context(request).users.set_disabled(name, True)
    audit_note(request, f"user:{name}", body.reason)
    return user.to_dict()


@router.post("/users/{name}/keys", name="users.key_create", status_code=201)
def key_create(name: UserName, body: NewKey, request: Request, _: UserAdmin) -> dict[str, Any]:
    """Create an API key for a user (admins); the key is in this answer only."""
    key = context(request).users.create_key(name, body.name)
    audit_note(request, f"user:{name}", body.reason, {"key_id": key.id, "prefix": key.prefix})
    return key.to_dict()


@router.get("/keys", name="keys.list", dependencies=[require("users.manage")])
def keys_list(request: Request) -> dict[str, Any]:
    """Every API key (prefixes only, never the keys) (admins)."""
    return {"keys": [k.to_dict() for k in context(request).users.list_keys()]}


@router.delete("/keys/{key_id}", name="keys.revoke")
def key_revoke(
    key_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    _: UserAdmin,
) -> dict[str, Any]:
    """Revoke an API key (admins)."""
    key = context(request).users.revoke_key(key_id)
    audit_note(request, f"key:{key_id}", "", {"user": key.user})
    return key.to_dict()
