"""The REST and WebSocket service over one workspace (FastAPI).

``alphaloop serve`` runs it; :func:`create_app` builds the app (tests and
embedding). Users, roles and the permission table: :mod:`.users`,
:mod:`.roles`; tokens and keys: :mod:`.security`; settings (the secret):
:mod:`.settings`; background jobs: :mod:`.jobs` and :mod:`.job_kinds`;
WebSocket topics: :mod:`.hub` and :mod:`.ws`; routes: :mod:`.routes`.
Domain logic stays in :mod:`alphaloop.app`; routes only call it.
See docs/service.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alphaloop.api.app import create_app
    from alphaloop.api.server import serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from alphaloop.api.app import create_app

        return create_app
    if name == "serve":
        from alphaloop.api.server import serve

        return serve
    raise AttributeError(name)
