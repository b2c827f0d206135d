"""The dashboard: static pages under ``/ui/`` served by the service itself.

The pages are plain HTML, CSS and JavaScript modules written for alphaloop
(``alphaloop/api/web/``; no third-party front-end code, no build step, no CDN):
they call the REST API and the WebSocket like any other client, so the server
refuses what a role may not do whatever the page shows. ``/ui/permissions.json``
publishes the permission table (:data:`alphaloop.api.roles.PERMISSIONS`) so the
pages hide the buttons a role may not use. ``/`` redirects to ``/ui/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.routing import Route

from alphaloop.api.roles import PERMISSIONS, Role

__all__ = ["WEB_DIR", "mount_dashboard"]

WEB_DIR = Path(__file__).with_name("web")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


class _Pages(StaticFiles):
    """Static files with a content security policy: scripts and styles of this origin only."""

    async def get_response(self, path: str, scope: Any) -> Any:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CSP
        return response


def permission_table() -> dict[str, Any]:
    """The roles in order and, per permission, the lowest role holding it."""
    return {
        "roles": [r.name for r in Role],
        "permissions": {name: role.name for name, role in PERMISSIONS.items()},
    }


def mount_dashboard(app: FastAPI, prefix: str) -> None:
    """Serve the pages at ``/ui/`` and their extra reading routes under ``prefix``."""
    from alphaloop.api.dashboard import router

    app.include_router(router, prefix=prefix)

    async def permissions(_: Request) -> JSONResponse:
        return JSONResponse(permission_table())

    async def root(_: Request) -> RedirectResponse:
        return RedirectResponse("/ui/")

    # plain routes (public, outside the API and its schema), then the pages
    app.router.routes.append(Route("/ui/permissions.json", permissions, methods=["GET"]))
    app.router.routes.append(Route("/", root, methods=["GET"]))
    app.mount("/ui", _Pages(directory=WEB_DIR, html=True), name="ui")
