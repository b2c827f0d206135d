"""``alphaloop mcp``: serve alphaloop's tools to outside agents over MCP (stdio).

The protocol owns stdout while the server runs; notes go to stderr. The
tools and their behaviour are in :mod:`alphaloop.mcp`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from alphaloop.cli.common import err


def mcp(
    ctx: typer.Context,
    allow_writes: Annotated[
        bool,
        typer.Option(
            "--allow-writes",
            help="Also offer the tools that record in the workspace: backtest, validate, "
            "factor_library_add, model_train.",
        ),
    ] = False,
) -> None:
    """Serve alphaloop's tools over the Model Context Protocol on stdio (read-only by default)."""
    try:
        from alphaloop.mcp import serve
    except ModuleNotFoundError as exc:
        from alphaloop.errors import ConfigError

        raise ConfigError(
            f"the MCP server needs the mcp package ({exc.name} is not installed)",
            hint="pip install 'alphaloop[llm]'",
        ) from None
    root = ctx.find_root().obj["workspace"]
    mode = "read and write" if allow_writes else "read-only"
    err.print(f"alphaloop MCP server on stdio ({mode})", markup=False, soft_wrap=True)
    serve(root, allow_writes=allow_writes)
