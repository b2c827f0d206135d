"""How a tool call runs: one at a time, off the event loop, with typed errors as tool errors.

Every tool body is a plain function over the workspace. :func:`tool_call`
turns it into the coroutine the MCP server registers:

- calls are serialized (one workspace, one database connection pool) and
  run in a worker thread, so the server keeps answering pings meanwhile;
- an :class:`~alphaloop.errors.AlphaloopError` becomes an MCP tool error
  (``is_error``) whose text is ``TYPE: message (hint: ...)``; any other
  exception becomes ``internal error (TYPE): message``, its traceback goes
  to the server's log (stderr), and the server stays up;
- a request cut at a sealed holdout (:class:`~alphaloop.errors.HoldoutClippedWarning`)
  is reported in the result's ``notes``;
- results are made JSON-safe (NaN and infinities become null, timestamps ISO text).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver.exceptions import ToolError

from alphaloop.errors import AlphaloopError, HoldoutClippedWarning
from alphaloop.jsonsafe import json_safe

__all__ = ["describe_error", "to_json", "tool_call"]

logger = logging.getLogger("alphaloop.mcp")
_LOCK = threading.Lock()


def describe_error(exc: AlphaloopError) -> str:
    """``TYPE: message (hint: ...)``: what an agent reads when a tool fails."""
    text = f"{type(exc).__name__}: {exc.message}"
    return f"{text} (hint: {exc.hint})" if exc.hint else text


def to_json(value: Any) -> Any:
    """``value`` as plain JSON types: NaN and infinities null, dates and paths as text."""
    return json.loads(json.dumps(json_safe(value), default=str, allow_nan=False))


def _run(fn: Callable[..., dict[str, Any]], kwargs: dict[str, Any]) -> dict[str, Any]:
    with _LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", HoldoutClippedWarning)
        result = fn(**kwargs)
    clipped = [w for w in caught if issubclass(w.category, HoldoutClippedWarning)]
    for w in caught:
        if w not in clipped:
            logger.warning("%s: %s", w.category.__name__, w.message)
    notes = sorted({str(w.message) for w in clipped})
    if notes:
        result = {**result, "notes": [*result.get("notes", []), *notes]}
    return to_json(result)


def tool_call(fn: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """The coroutine that runs ``fn`` as an MCP tool (its signature and docstring kept).

    Parameters
    ----------
    fn : callable
        A tool body: keyword arguments in, a JSON-able dict out; raises
        :class:`~alphaloop.errors.AlphaloopError` for bad input.
    """

    @functools.wraps(fn)
    async def call(**kwargs: Any) -> dict[str, Any]:
        context = contextvars.copy_context()  # the workspace's factor references go along
        try:
            return await anyio.to_thread.run_sync(context.run, _run, fn, kwargs)
        except AlphaloopError as exc:
            raise ToolError(describe_error(exc)) from exc
        except Exception as exc:
            logger.exception("tool %s failed", fn.__name__)
            raise ToolError(f"internal error ({type(exc).__name__}): {exc}") from exc

    return call
