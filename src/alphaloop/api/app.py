"""The application factory: ``create_app(workspace, settings)`` -> a FastAPI app.

Everything is under ``/api/v1`` (the schema at ``/api/v1/openapi.json``,
interactive docs at ``/api/v1/docs``). Error answers have one shape,
``{"error": {"type", "message", "hint"}}``; bad input is a 4xx, never a
500. CORS is closed unless origins are configured; bodies over the size
limit get 413; each user has a token-bucket rate limit (429 with
``Retry-After``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from alphaloop import __version__
from alphaloop.api.context import ServiceContext
from alphaloop.api.errors import RateLimitedError, http_status
from alphaloop.api.hub import Hub
from alphaloop.api.limits import BodySizeLimit, RateLimiter
from alphaloop.api.metrics import Metrics, TimingMiddleware
from alphaloop.api.settings import ApiSettings
from alphaloop.api.users import UserStore
from alphaloop.api.webui import mount_dashboard
from alphaloop.errors import AlphaloopError

if TYPE_CHECKING:
    from alphaloop.app import Workspace
    from alphaloop.live.bus import InProcessBus

__all__ = ["PREFIX", "create_app"]

PREFIX = "/api/v1"
logger = logging.getLogger("alphaloop.api")


def _error(status: int, type_: str, message: str, hint: str | None = None, **headers: str) -> Any:
    return JSONResponse(
        {"error": {"type": type_, "message": message, "hint": hint}},
        status_code=status,
        headers=headers or None,
    )


def _describe_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AlphaloopError)
    async def alphaloop_error(_: Request, exc: AlphaloopError) -> Any:
        headers = {}
        if isinstance(exc, RateLimitedError):
            headers["Retry-After"] = RateLimiter.retry_after(exc)
        status = http_status(exc)
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return _error(status, type(exc).__name__, exc.message, exc.hint, **headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> Any:
        return _error(422, "ValidationError", _describe_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Any:
        return _error(exc.status_code, "HTTPError", str(exc.detail), **(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> Any:
        logger.exception("internal error")
        return _error(500, "InternalError", f"internal error ({type(exc).__name__})")


def _research_news(ctx: ServiceContext, job: dict[str, Any]) -> None:
    """A research job's progress on the ``research`` topic (its batch summary included)."""
    if job["kind"] == "research":
        ctx.hub.publish_threadsafe(
            "research",
            {"job": job["id"], "status": job["status"], "progress": job["progress"]},
        )


def create_app(
    ws: Workspace,
    settings: ApiSettings,
    *,
    run_jobs: bool = True,
    bus: InProcessBus | None = None,
) -> FastAPI:
    """The service over ``ws``.

    Parameters
    ----------
    ws : Workspace
        A writable workspace (users, jobs and the audit trail live in its database).
    settings : ApiSettings
        Validated settings (the secret among them).
    run_jobs : bool, default True
        Start the job dispatcher with the app (tests may step it by hand).
    bus : InProcessBus, optional
        An in-process live bus whose events (topic ``events``) feed the WebSocket
        topics; ``settings.bus_url`` names a Redis one instead.
    """
    from alphaloop.api.jobs import JobManager
    from alphaloop.api.jobs_ray import resolve_backend
    from alphaloop.api.routes import ROUTERS
    from alphaloop.api.ws import router as ws_router

    ray_address = ws.settings.ray_address
    jobs = JobManager(
        ws,
        workers=settings.workers,
        poll_s=settings.job_poll_s,
        backend=resolve_backend(settings.jobs, ray_address),
        ray_address=ray_address,
    )
    ctx = ServiceContext(
        ws=ws,
        settings=settings,
        users=UserStore(ws.db),
        limiter=RateLimiter(settings.rate_per_s, settings.rate_burst),
        login_limiter=RateLimiter(settings.login_rate_per_s, settings.login_burst),
        hub=Hub(),
        jobs=jobs,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        ctx.hub.attach(asyncio.get_running_loop())
        jobs.listen(lambda job: ctx.hub.publish_threadsafe("job", job))
        jobs.listen(lambda job: _research_news(ctx, job))
        if run_jobs:
            jobs.start()
        from alphaloop.api.watch import AuditWatcher

        watcher = AuditWatcher(ws, ctx.hub, settings.job_poll_s)
        watcher.start()
        bridge = None
        if settings.bus_url:
            from alphaloop.api.bus_bridge import RedisBridge

            bridge = RedisBridge(ctx.hub, settings.bus_url, settings.bus_topic)
            bridge.start()
        feeder = None
        if bus is not None:
            from alphaloop.api.bus_bridge import BUS_TOPICS, forward

            consumer = bus.subscribe(
                "events", "api", lambda e: forward(ctx.hub, e), types=set(BUS_TOPICS)
            )
            feeder = asyncio.create_task(consumer.run())
        try:
            yield
        finally:
            if feeder is not None:
                feeder.cancel()
            if bridge is not None:
                bridge.stop()
            watcher.stop()
            jobs.stop()

    app = FastAPI(
        title="alphaloop",
        version=__version__,
        summary="Research, validation, risk and trading supervision over one workspace.",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    metrics = Metrics()
    app.state.metrics = metrics
    _install_handlers(app)
    from alphaloop.api.routes._common import ERRORS

    for router in ROUTERS:
        app.include_router(router, prefix=PREFIX, responses=ERRORS)
    app.include_router(ws_router, prefix=PREFIX)
    mount_dashboard(app, PREFIX)

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
            allow_credentials=False,
        )
    app.add_middleware(TimingMiddleware, metrics=metrics, prefix=PREFIX)
    app.add_middleware(BodySizeLimit, max_body_bytes=settings.max_body_bytes)
    return app
