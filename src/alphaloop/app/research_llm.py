"""The LLM research policy on a workspace: its client, its response cache, its guard figures.

:func:`llm_policy` builds the :class:`~alphaloop.research.llm_policy.LLMPolicy`
of a session from :class:`~alphaloop.llm.LLMSettings` (``ALPHALOOP_LLM_*``)
with the workspace's response cache
(:func:`~alphaloop.app.llm_workspace.llm_cache_path`, shared with the other
LLM features, or a file given), in mode ``use`` (call on a miss and store), ``replay`` (answers from
the cache only, no network) or ``off``. :func:`guard_summary` adds the
memorisation guard (post-cut-off figures of LLM-proposed candidates) to a
session's summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.errors import ResearchError

if TYPE_CHECKING:
    import pandas as pd

    from alphaloop.app.workspace import Workspace
    from alphaloop.llm import LLMSettings
    from alphaloop.research.llm_policy import LLMPolicy
    from alphaloop.research.policy import Policy
    from alphaloop.research.session_config import SessionConfig

__all__ = [
    "LLMOptions",
    "guard_summary",
    "llm_policy",
    "llm_record",
    "session_policy",
]


@dataclass(frozen=True)
class LLMOptions:
    """How a session reaches its language model.

    ``cache``: ``use`` (answers from the cache, else the endpoint, stored),
    ``replay`` (the cache only: no network, a miss is an error) or ``off``;
    ``cache_path``: the cache file (default: the workspace's, ``<workspace>/llm/cache.sqlite``);
    ``settings``: the model's settings (default ``ALPHALOOP_LLM_*``).
    """

    cache: str = "use"
    cache_path: Path | None = None
    settings: LLMSettings | None = None


def _settings(settings: LLMSettings | None) -> LLMSettings:
    from pydantic import ValidationError

    from alphaloop.llm import LLMConfigError, LLMSettings

    if settings is not None:
        return settings
    try:
        return LLMSettings()
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LLMConfigError(
            f"ALPHALOOP_LLM_{where.upper()}: {first['msg']}",
            hint="see `ALPHALOOP_LLM_*` in docs/llm.md",
        ) from None


def llm_policy(
    ws: Workspace,
    *,
    seed: int,
    cache_mode: str = "use",
    cache_path: Path | None = None,
    settings: LLMSettings | None = None,
) -> LLMPolicy:
    """The LLM policy of a session on ``ws``.

    Parameters
    ----------
    ws : Workspace
    seed : int
        The session's seed (sent with every request).
    cache_mode : {"use", "replay", "off"}
    cache_path : Path, optional
        The response cache file; default the workspace's (``llm/cache.sqlite``).
    settings : LLMSettings, optional
        Default: read from ``ALPHALOOP_LLM_*``.

    Raises
    ------
    LLMConfigError
        Bad settings or cache mode.
    """
    from alphaloop.app.llm_workspace import llm_cache_path
    from alphaloop.llm import LLMClient, ResponseCache
    from alphaloop.research.llm_policy import LLMPolicy

    resolved = _settings(settings)
    path = Path(cache_path) if cache_path is not None else llm_cache_path(ws)
    cache = ResponseCache(path, cache_mode)  # type: ignore[arg-type]
    return LLMPolicy(LLMClient(resolved, cache=cache, retry_seed=seed), seed=seed)


def session_policy(
    ws: Workspace, config: SessionConfig, policy: Policy | None, llm: LLMOptions | None
) -> Policy | None:
    """The policy given, else the LLM policy when ``config.policy`` is ``llm``, else None
    (the session's default, the bandit)."""
    if policy is not None or config.policy != "llm":
        return policy
    options = llm or LLMOptions()
    return llm_policy(
        ws,
        seed=config.seed,
        cache_mode=options.cache,
        cache_path=options.cache_path,
        settings=options.settings,
    )


def llm_record(policy: Any) -> dict[str, Any] | None:
    """What a session stores about its model (no key): provider, model, endpoint, cut-off."""
    client = getattr(policy, "client", None)
    if client is None:
        return None
    s = client.settings
    return {
        "provider": s.provider,
        "model": s.model,
        "base_url": s.endpoint_root,
        "knowledge_cutoff": s.knowledge_cutoff.isoformat() if s.knowledge_cutoff else None,
    }


def guard_summary(
    ws: Workspace,
    loop: Any,
    summary: dict[str, Any],
    times: pd.DatetimeIndex,
    periods_per_year: float,
) -> None:
    """Add ``summary["llm"]`` (the memorisation guard) for a session with LLM proposals, and
    each LLM-proposed survivor's post-cut-off Sharpe (``post_cutoff_sharpe``)."""
    from alphaloop.research.llm_guard import llm_guard

    record = (loop.session.get("config") or {}).get("llm")
    policy = getattr(loop, "policy", None)
    live = llm_record(policy)
    if record is None and live is None:
        return
    info = live or record or {}
    cutoff = info.get("knowledge_cutoff")
    try:
        day = dt.date.fromisoformat(cutoff) if cutoff else None
    except ValueError:
        raise ResearchError(f"bad knowledge cut-off {cutoff!r} in the LLM settings") from None
    guard = llm_guard(
        ws.strategies,
        loop.session_id,
        loop.protocol_key,
        times,
        cutoff=day,
        periods_per_year=periods_per_year,
        model=info.get("model"),
    )
    summary["llm"] = guard
    post = {c["hash"]: c.get("post_cutoff") for c in guard["candidates"]}
    survivors = summary.get("survivors") or []
    for i, row in enumerate(survivors):
        if row["hash"] in post:
            figures = post[row["hash"]] or {}
            # the post-cut-off figure first, then the whole search span's
            survivors[i] = {
                "hash": row["hash"],
                "origin": "llm",
                "post_cutoff_sharpe": figures.get("sharpe"),
                **{k: v for k, v in row.items() if k != "hash"},
            }
