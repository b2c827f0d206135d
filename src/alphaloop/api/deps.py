"""Who is calling, may they, and the audit of what they changed: the routes' dependencies.

Credentials: ``Authorization: Bearer <access token>`` (a JWT from
``/auth/login``) or ``Authorization: Bearer alk_...`` / ``X-API-Key: alk_...``
(an API key). The role and the disabled flag are read from the database on
every request, so a role change or a disabled user takes effect at once.
Each authenticated request takes one token from the caller's rate-limit
bucket.

:class:`Require` guards a route with one permission of
:data:`~alphaloop.api.roles.PERMISSIONS`. On a mutating route (any method
but GET and HEAD) it also writes the audit entry once the handler has
succeeded: actor (the user), action (``api.<route name>``), target (what
the handler set in ``request.state.audit_target``, else the path) and the
reason the caller gave; a refused call is audited as ``api.denied``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request

from alphaloop.api.context import ServiceContext
from alphaloop.api.errors import AuthError, ForbiddenError
from alphaloop.api.roles import PERMISSIONS, Role, allowed
from alphaloop.api.security import API_KEY_PREFIX, TokenClaims, decode_access_token

__all__ = [
    "PolicyAdmin",
    "Principal",
    "Reader",
    "Require",
    "Researcher",
    "Trader",
    "UserAdmin",
    "authenticate",
    "context",
    "route_permission",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The caller: user id, name, current role, and how they authenticated."""

    user_id: int
    name: str
    role: Role
    via: str


def context(request: Request) -> ServiceContext:
    """The service's context (the app's state)."""
    return request.app.state.ctx  # type: ignore[no-any-return]


def credentials(ctx: ServiceContext, authorization: str | None, api_key: str | None) -> Principal:
    """The principal of an ``Authorization`` header or an API key (AuthError otherwise)."""
    claims: TokenClaims
    if api_key:
        claims = ctx.users.authenticate_key(api_key.strip())
    elif authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        value = value.strip()
        if value.startswith(API_KEY_PREFIX):
            claims = ctx.users.authenticate_key(value)
        else:
            claims = decode_access_token(value, ctx.secret)
    else:
        raise AuthError(
            "no credentials: send 'Authorization: Bearer <token>' or 'X-API-Key: <key>'",
            hint="get a token at POST /api/v1/auth/login",
        )
    user = ctx.users.active(claims.user_id)
    return Principal(user.id, user.name, user.role, claims.via)


async def authenticate(request: Request) -> Principal:
    """The authenticated caller of ``request``; takes one rate-limit token.

    Runs on the event loop (a signature check and one indexed read: cheaper
    than a hop to a worker thread and back)."""
    ctx = context(request)
    principal = credentials(
        ctx, request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    ctx.limiter.take(f"user:{principal.name}")
    request.state.principal = principal
    return principal


class Require:
    """Route dependency: the caller must hold ``permission``; mutating calls are audited.

    Parameters
    ----------
    permission : str
        A key of :data:`~alphaloop.api.roles.PERMISSIONS`.
    """

    def __init__(self, permission: str) -> None:
        if permission not in PERMISSIONS:
            raise KeyError(f"unknown permission {permission!r}")
        self.permission = permission

    async def __call__(
        self, request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> AsyncIterator[Principal]:
        ctx = context(request)
        mutating = request.method not in SAFE_METHODS
        if not allowed(principal.role, self.permission):
            if mutating:
                await anyio.to_thread.run_sync(
                    lambda: ctx.audit(
                        principal.name,
                        "api.denied",
                        f"{request.method} {request.url.path}",
                        detail={"role": principal.role.name, "needs": self.permission},
                    )
                )
            raise ForbiddenError(
                f"role {principal.role.name} may not do this: it needs the permission "
                f"{self.permission!r} (role {PERMISSIONS[self.permission].name} or higher)"
            )
        yield principal
        if mutating:
            route = request.scope.get("route")
            name = getattr(route, "name", None) or request.url.path
            target = getattr(request.state, "audit_target", None) or request.url.path
            reason = getattr(request.state, "audit_reason", "") or ""
            detail = getattr(request.state, "audit_detail", None)
            await anyio.to_thread.run_sync(
                lambda: ctx.audit(principal.name, f"api.{name}", target, reason, detail)
            )


def audit_note(
    request: Request, target: str, reason: str = "", detail: dict[str, Any] | None = None
) -> None:
    """What the audit entry of this (mutating) request says it changed, and why."""
    request.state.audit_target = target
    request.state.audit_reason = reason
    request.state.audit_detail = detail


def route_permission(route: Any) -> str | None:
    """The permission a route requires (None when it has no :class:`Require`)."""
    dependant = getattr(route, "dependant", None)
    stack = list(dependant.dependencies) if dependant is not None else []
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, Require):
            return dep.call.permission
        stack.extend(dep.dependencies)
    return None


def require(permission: str) -> Any:
    """``Depends(Require(permission))`` in function-scope, so audits are written before
    the response is sent."""
    try:
        return Depends(Require(permission), scope="function")
    except TypeError:  # FastAPI without dependency scopes
        return Depends(Require(permission))


Reader = Annotated[Principal, require("read")]
"""A caller holding ``read`` (any role)."""
Researcher = Annotated[Principal, require("research.run")]
"""A caller holding ``research.run`` (researcher or higher)."""
Trader = Annotated[Principal, require("risk.manage")]
"""A caller holding ``risk.manage`` (trader or higher)."""
PolicyAdmin = Annotated[Principal, require("policy.manage")]
"""A caller holding ``policy.manage`` (admin)."""
UserAdmin = Annotated[Principal, require("users.manage")]
"""A caller holding ``users.manage`` (admin)."""


def api_routes(app: Any) -> list[tuple[str, Any]]:
    """Every HTTP route of ``app`` as ``(full path, route)``, included routers walked."""
    from fastapi.routing import APIRoute

    out: list[tuple[str, Any]] = []

    def walk(routes: Any, prefix: str) -> None:
        for r in routes:
            included = getattr(r, "original_router", None)
            if included is not None:  # FastAPI's included-router node
                walk(included.routes, prefix + getattr(r.include_context, "prefix", ""))
            elif isinstance(r, APIRoute):
                out.append((prefix + r.path, r))
            elif hasattr(r, "routes") and hasattr(r, "path"):  # a mount
                walk(r.routes, prefix + r.path)

    walk(app.routes, "")
    return out
