"""A real HTTP + WebSocket server (aiohttp) in a background thread, for the broker tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web


class LocalServer:
    """Serve an aiohttp application on 127.0.0.1 (a free port) from a daemon thread.

    ``call(coro_fn)`` runs a coroutine on the server's loop and waits for it;
    ``requests`` lists ``(method, path)`` of every HTTP request served.
    """

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []
        self.loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self.port = 0
        started = threading.Event()

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            self.requests.append((request.method, request.path))
            return await handler(request)

        app.middlewares.insert(0, record)  # outermost: sees refused requests too

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self._runner = web.AppRunner(app)
            self.loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            self.loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            started.set()
            self.loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("local server did not start")

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def call(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(10)

    def send_soon(self, fn: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        """Run ``fn()`` on the server's loop: scheduled from a handler, awaited from elsewhere."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.loop.create_task(fn())
        else:
            self.call(fn)

    def close(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
