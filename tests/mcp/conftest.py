"""A real MCP client session against ``python -m alphaloop.cli mcp`` on stdio.

The client (the ``mcp`` package's ``stdio_client`` and ``ClientSession``)
runs on an event loop in a thread of its own, so module-scoped fixtures can
share one server process and synchronous tests can call it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "mcp", reason="the MCP server needs the llm extra: pip install 'alphaloop[llm]'"
)

SRC = Path(__file__).resolve().parents[2] / "src"
TIMEOUT = 300.0  # seconds a call may take before the test fails (first calls compile kernels)


class McpClient:
    """One MCP client session with a server process, callable from synchronous code."""

    def __init__(self, workspace: Path, *, allow_writes: bool) -> None:
        self.args = ["-m", "alphaloop.cli", "--workspace", str(workspace), "mcp"]
        if allow_writes:
            self.args.append("--allow-writes")
        env = {k: v for k, v in os.environ.items() if k != "ALPHALOOP_HOLDOUT_FRACTION"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
        self.env = env  # the product's default sealed holdout, as a user's workspace has
        self.loop = asyncio.new_event_loop()
        self.ready: Future[None] = Future()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> McpClient:
        self.thread.start()
        self.stop = asyncio.run_coroutine_threadsafe(self._hold(), self.loop)
        self.ready.result(timeout=TIMEOUT)
        return self

    async def _hold(self) -> None:
        from mcp import ClientSession, StdioServerParameters, stdio_client

        params = StdioServerParameters(command=sys.executable, args=self.args, env=self.env)
        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(stdio_client(params))
                self.session = await stack.enter_async_context(ClientSession(read, write))
                await self.session.initialize()
                self.closing = asyncio.Event()
                self.ready.set_result(None)
                await self.closing.wait()
        except BaseException as exc:
            if not self.ready.done():
                self.ready.set_exception(exc)
            raise

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=TIMEOUT)

    def tools(self) -> dict[str, Any]:
        """Tool name -> its description (the Tool object)."""
        return {t.name: t for t in self._run(self.session.list_tools()).tools}

    def call(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        """The raw CallToolResult."""
        return self._run(self.session.call_tool(name, arguments or {}))

    def json(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """A successful call's JSON answer (fails the test on a tool error)."""
        result = self.call(name, arguments)
        assert not result.is_error, result.content[0].text
        return json.loads(result.content[0].text)

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.closing.set)
        self.stop.result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def mcp_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mcp") / "ws"
    root.mkdir()
    return root


@pytest.fixture(scope="module")
def writer(mcp_workspace: Path) -> Iterator[McpClient]:
    """A server started with --allow-writes."""
    with McpClient(mcp_workspace, allow_writes=True) as client:
        yield client


@pytest.fixture(scope="module")
def reader(mcp_workspace: Path, writer: McpClient) -> Iterator[McpClient]:
    """A read-only server on the same workspace (after the writer created it)."""
    with McpClient(mcp_workspace, allow_writes=False) as client:
        yield client
