"""The language-model client of a workspace: ``ALPHALOOP_LLM_*`` settings, a cache inside it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.llm import LLMClient

__all__ = ["llm_cache_path", "workspace_llm_client"]


def llm_cache_path(ws: Workspace) -> Path:
    """Where the workspace keeps language-model answers (SQLite)."""
    return ws.root / "llm" / "cache.sqlite"


def workspace_llm_client(ws: Workspace, cache: str = "use") -> LLMClient:
    """A client from ``ALPHALOOP_LLM_*`` whose answers are cached in the workspace.

    ``cache``: ``use`` (read, then ask and store), ``replay`` (the cache must
    answer; no network), ``off``.
    """
    from pydantic import ValidationError

    from alphaloop.llm import LLMClient, LLMConfigError, LLMSettings, ResponseCache

    try:
        settings = LLMSettings()
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LLMConfigError(
            f"ALPHALOOP_LLM_{where.upper()}: {first['msg']}", hint="see docs/llm.md"
        ) from None
    return LLMClient(settings, cache=ResponseCache(llm_cache_path(ws), mode=cache))  # type: ignore[arg-type]
