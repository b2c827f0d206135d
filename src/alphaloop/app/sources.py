"""Fetch datasets from online sources into a workspace, and bring them up to date.

The raw answers are cached under the workspace
(``.alphaloop/cache/sources/<source>/<key>.json``); retries use a seeded
backoff (``seed``), so the same failures wait the same. See
:mod:`alphaloop.data.sources` and ``docs/sources.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alphaloop.app.workspace import Workspace
from alphaloop.data.sources import (
    Fetcher,
    FetchOutcome,
    FetchRequest,
    ResponseCache,
    Retrier,
    RetryPolicy,
    check_source_name,
    default_end,
    fetch_dataset,
    make_source,
    parse_time,
    update_dataset,
)
from alphaloop.progress import Progress, no_progress

__all__ = ["cache_dir", "fetch", "update"]


def cache_dir(ws: Workspace) -> Path:
    """Where the workspace keeps the sources' raw answers."""
    return ws.root / ".alphaloop" / "cache" / "sources"


def _fetcher(ws: Workspace, offline: bool, retry: RetryPolicy | None) -> Fetcher:
    return Fetcher(ResponseCache(cache_dir(ws)), Retrier(retry or RetryPolicy()), offline)


def fetch(
    ws: Workspace,
    source: str,
    symbols: list[str],
    name: str,
    *,
    start: Any,
    end: Any = None,
    interval: str = "1d",
    adjusted: bool = True,
    offline: bool = False,
    base_url: str | None = None,
    repair: bool = False,
    description: str = "",
    asset_class: str | None = None,
    retry: RetryPolicy | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> FetchOutcome:
    """Fetch ``symbols`` from ``source`` as the next version of dataset ``name``.

    ``start``/``end``: dates or ISO times (UTC when naive); ``end`` defaults
    to now floored to the interval (the bar still open is never fetched).
    """
    check_source_name(source)
    request = FetchRequest(
        source,
        tuple(s.strip() for s in symbols),
        parse_time(start, "--start"),
        parse_time(end, "--end") if end is not None else default_end(interval),
        interval,
        adjusted,
    )
    src = make_source(source, _fetcher(ws, offline, retry), base_url=base_url, environ=environ)
    return fetch_dataset(
        ws.data,
        src,
        request,
        name,
        repair=repair,
        description=description,
        asset_class=asset_class,
        base_url=base_url,
        progress=progress,
    )


def update(
    ws: Workspace,
    name: str,
    *,
    end: Any = None,
    offline: bool = False,
    base_url: str | None = None,
    repair: bool = False,
    retry: RetryPolicy | None = None,
    environ: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> FetchOutcome:
    """Extend the fetched dataset ``name`` with the bars since its last one.

    ``base_url`` defaults to the one recorded at the fetch (if any).
    """
    fetcher = _fetcher(ws, offline, retry)

    def source_for(origin: Mapping[str, Any]) -> Any:
        return make_source(
            str(origin["request"]["source"]),
            fetcher,
            base_url=base_url or origin.get("base_url"),
            environ=environ,
        )

    return update_dataset(
        ws.data,
        source_for,
        name,
        end=parse_time(end, "--end") if end is not None else None,
        repair=repair,
        progress=progress,
    )
