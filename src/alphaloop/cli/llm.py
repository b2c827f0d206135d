"""``alphaloop llm``: the offline language model (``serve``).

``alphaloop llm serve`` runs SmolLM2-135M-Instruct (or another GGUF model)
on llama-cpp-python's OpenAI-compatible server in the foreground, prints the
base URL and the ``ALPHALOOP_LLM_*`` settings that reach it, and stops the
server on Ctrl-C. The process handling is in :mod:`alphaloop.llm.local`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from alphaloop.cli.common import err, out

llm_app = typer.Typer(help="The offline language model: serve it over an OpenAI-compatible API.")


@llm_app.command("serve")
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (this machine only by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port; 0 picks a free one.")
    ] = 8080,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="A GGUF model file (default: the bundled SmolLM2-135M-Instruct)."
        ),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="CPU threads (default: half the cores)."),
    ] = None,
    context: Annotated[
        int, typer.Option("--context", min=256, help="Context window in tokens.")
    ] = 4096,
) -> None:
    """Serve a local model over an OpenAI-compatible API until Ctrl-C (needs the local extra)."""
    from alphaloop.llm import LLMTransportError, LocalServer, LocalServerConfig

    config = LocalServerConfig(
        host=host, port=port, model_path=model, threads=threads, context_tokens=context
    )
    server = LocalServer(config, log=_stderr_file())
    err.print("starting the local model server ...", markup=False)
    with server:  # started and ready; stopped on the way out, whatever happens
        settings = " ".join(f"{k}={v}" for k, v in server.config.environment().items())
        out.print(f"local model server: {server.base_url}", markup=False, soft_wrap=True)
        out.print(f"settings: export {settings}", markup=False, soft_wrap=True)
        out.print("stop with Ctrl-C", markup=False)
        sys.stdout.flush()
        code = server.serve()
    if code is None:
        err.print("local model server stopped", markup=False)
        return
    raise LLMTransportError(
        f"the local model server exited with code {code}", hint="see its output above"
    )


def _stderr_file() -> IO[Any] | None:
    """stderr when it is a real file (the server writes there), else None (a log file)."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return sys.stderr
