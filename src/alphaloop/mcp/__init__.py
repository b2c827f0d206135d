"""The MCP server: alphaloop's tools for outside agents, over the Model Context Protocol.

``alphaloop mcp`` serves them on stdio (:func:`serve`). Each tool is a thin
wrapper around a use case of :mod:`alphaloop.app` and returns JSON:
datasets, factor evaluation and analysis, the strategy database, the model
registry and the run log (read-only, :mod:`.read_tools`); backtests,
validations, factor libraries and model training (they record something in
the workspace, :mod:`.write_tools`), offered only when the server is started
with ``allow_writes``. The sealed holdout stays sealed: the tools read data
through the workspace's catalog, which refuses it.

Errors of alphaloop (:class:`~alphaloop.errors.AlphaloopError`) become tool
errors carrying their message and hint (:mod:`.calls`); the server goes on.

>>> from alphaloop.mcp import build_server                 # doctest: +SKIP
>>> server = build_server(Workspace("/tmp/ws"), allow_writes=False)  # doctest: +SKIP
"""

from __future__ import annotations

from alphaloop.mcp.server import build_server, open_workspace, serve

__all__ = ["build_server", "open_workspace", "serve"]
