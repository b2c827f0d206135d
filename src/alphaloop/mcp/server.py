"""The MCP server over one workspace: which tools it offers and how it starts.

Read-only tools are always offered; the tools that write (backtest,
validate, factor_library_add, model_train) only with ``allow_writes``, and
their descriptions start with ``WRITES:``. Tool annotations say the same to
clients (``readOnlyHint``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.mcp.calls import tool_call
from alphaloop.mcp.read_tools import ReadTools
from alphaloop.mcp.write_tools import WriteTools

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from alphaloop.app import Workspace

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "build_server", "open_workspace", "serve"]

READ_TOOLS: tuple[str, ...] = (
    "data_list",
    "data_describe",
    "factor_eval",
    "factor_analyze",
    "factor_libraries",
    "strategies_top",
    "strategies_recent",
    "strategies_show",
    "strategies_underexplored",
    "models_list",
    "model_show",
    "runs_list",
    "runs_show",
)
"""Tools that only read, in the order they are listed."""

WRITE_TOOLS: tuple[str, ...] = ("backtest", "validate", "factor_library_add", "model_train")
"""Tools that record something in the workspace (offered with ``allow_writes`` only)."""

INSTRUCTIONS = (
    "alphaloop: research, backtest and validate trading strategies on the datasets of one "
    "workspace. Start with data_list; factor_eval and factor_analyze test expressions; "
    "strategies_* query the strategy database. Numbers are on the search span: each "
    "dataset's sealed holdout is never readable here. Tools whose description starts with "
    "WRITES record runs or trials in the workspace."
)


def open_workspace(root: str | Path | None, *, allow_writes: bool) -> Workspace:
    """The workspace the server works on, opened as the CLI opens it.

    Without ``allow_writes`` a named directory must exist (a mistyped path
    never becomes a new workspace) and is opened read-only when it cannot be
    written; with ``allow_writes`` it is created when missing and must be
    writable.
    """
    from alphaloop.app import Workspace

    if allow_writes:
        return Workspace(root, create=True, read_only=False)
    return Workspace(root, create=root is None, read_only=None)


def _register(server: MCPServer, fn: Callable[..., dict[str, Any]], *, read_only: bool) -> None:
    from mcp.types import ToolAnnotations

    server.add_tool(
        tool_call(fn),
        name=fn.__name__,
        description=" ".join((fn.__doc__ or "").split()),
        annotations=ToolAnnotations(
            read_only_hint=read_only, destructive_hint=False, open_world_hint=False
        ),
    )


def build_server(ws: Workspace, *, allow_writes: bool = False) -> MCPServer:
    """An MCP server offering alphaloop's tools over ``ws``.

    Parameters
    ----------
    ws : Workspace
        The workspace every tool reads (and, with ``allow_writes``, writes).
    allow_writes : bool, default False
        Also offer :data:`WRITE_TOOLS`, which record runs, trials, libraries
        and models in ``ws``.
    """
    from mcp.server.mcpserver import MCPServer

    from alphaloop import __version__

    server: MCPServer = MCPServer(
        name="alphaloop", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING"
    )
    reader = ReadTools(ws)
    readers: dict[str, Callable[..., dict[str, Any]]] = {
        "data_list": reader.data_list,
        "data_describe": reader.data_describe,
        "factor_eval": reader.factor_eval,
        "factor_analyze": reader.factor_analyze,
        "factor_libraries": reader.factor_libraries,
        "strategies_top": reader.strategies_top,
        "strategies_recent": reader.strategies_recent,
        "strategies_show": reader.strategies_show,
        "strategies_underexplored": reader.strategies_underexplored,
        "models_list": reader.models_list,
        "model_show": reader.model_show,
        "runs_list": reader.runs_list,
        "runs_show": reader.runs_show,
    }
    for name in READ_TOOLS:
        _register(server, readers[name], read_only=True)
    if allow_writes:
        writer = WriteTools(ws)
        writers: dict[str, Callable[..., dict[str, Any]]] = {
            "backtest": writer.backtest,
            "validate": writer.validate,
            "factor_library_add": writer.factor_library_add,
            "model_train": writer.model_train,
        }
        for name in WRITE_TOOLS:
            _register(server, writers[name], read_only=False)
    return server


def serve(root: str | Path | None, *, allow_writes: bool = False) -> None:
    """Serve the tools over ``root``'s workspace on stdio until the client disconnects.

    Raises
    ------
    WorkspaceError
        The workspace cannot be opened as asked (before anything is served).
    """
    ws = open_workspace(root, allow_writes=allow_writes)
    try:
        build_server(ws, allow_writes=allow_writes).run("stdio")
    finally:
        ws.close()
