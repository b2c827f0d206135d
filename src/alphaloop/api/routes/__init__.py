"""The service's routes, one module per resource family (all under ``/api/v1``)."""

from __future__ import annotations

from alphaloop.api.routes import auth, data, governance, paper, registry, system, work

__all__ = ["PUBLIC_MUTATING", "ROUTERS"]

ROUTERS = (
    system.router,
    auth.router,
    data.router,
    work.router,
    registry.router,
    governance.router,
    paper.router,
)
PUBLIC_MUTATING = auth.PUBLIC_MUTATING
