"""Bring a fetched dataset up to date: new bars appended, restated histories fetched again.

:func:`update_dataset` asks for the bars from a few bars before the last
stored one to now, checks that the bars it gets again equal the stored ones
and appends the new ones as a new version. When a bar it gets again differs
(a split or dividend restated the adjusted history, or the vendor corrected
it), that symbol's whole span is fetched again and replaces its stored rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.catalog import DataCatalog, DatasetInfo
from alphaloop.data.sources.base import BAR_FIELDS, BarSource, FetchRequest, SymbolBars
from alphaloop.data.sources.events import check_events, load_events
from alphaloop.data.sources.fetch import (
    FetchOutcome,
    default_end,
    fetch_symbols,
    origin_record,
    raise_if_none_fetched,
    stamped_rows,
    store_rows,
    symbol_notes,
)
from alphaloop.data.store import ROWS
from alphaloop.errors import DataSourceError
from alphaloop.progress import Progress, no_progress

__all__ = ["UPDATE_OVERLAP_BARS", "origin_of", "update_dataset"]

#: Bars asked again before the last stored one when updating.
UPDATE_OVERLAP_BARS = 3


def origin_of(catalog: DataCatalog, name: str, version: int | None = None) -> dict[str, Any]:
    """The origin recorded with a fetched version; DataSourceError for other datasets."""
    info = catalog.info(name, version)
    meta = catalog.store.meta(info.name, info.version)
    origin = meta.get("origin")
    if not origin:
        raise DataSourceError(
            f"{name!r} v{info.version} was not fetched from an online source "
            f"(its source: {info.source})",
            hint="`alphaloop data update` extends datasets made by `alphaloop data fetch`",
        )
    return dict(origin)


def _stored(catalog: DataCatalog, info: DatasetInfo) -> pd.DataFrame:
    """The stored rows of a version (every row: the copy keeps the holdout's rows)."""
    path = catalog.store.version_dir(info.name, info.version) / ROWS
    frame = pd.read_parquet(path, columns=["timestamp", "asset", *info.fields])
    frame["asset"] = frame["asset"].astype(str)
    return frame


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two row sets on the same stamps hold the same values (NaN equals NaN)."""
    x = a[list(BAR_FIELDS)].to_numpy(dtype="float64")
    y = b[list(BAR_FIELDS)].to_numpy(dtype="float64")
    return bool(np.allclose(x, y, rtol=1e-9, atol=0.0, equal_nan=True))


def update_dataset(
    catalog: DataCatalog,
    source_for: Callable[[dict[str, Any]], BarSource],
    name: str,
    *,
    end: pd.Timestamp | None = None,
    repair: bool = False,
    progress: Progress = no_progress,
) -> FetchOutcome:
    """Extend the fetched dataset ``name`` to ``end`` (default :func:`default_end`).

    ``source_for(origin)`` gives the source to ask (built from the recorded
    origin). Symbols that fail keep their stored rows and are listed in the
    outcome's failures. Nothing new: no version, ``outcome.up_to_date``.
    """
    info = catalog.info(name)
    origin = origin_of(catalog, name)
    first = FetchRequest.from_dict(origin["request"])
    symbols = tuple(origin["imported"])
    end = min(end, default_end(first.interval)) if end is not None else default_end(first.interval)
    stored = _stored(catalog, info)
    last = stored.groupby("asset")["timestamp"].max()
    step = pd.Timedelta(seconds=first.interval_s)
    lead = pd.Timedelta(days=1) if not first.intraday else step  # a stamp's distance past the open
    start = min(last.min() - lead - UPDATE_OVERLAP_BARS * step, end - step)
    request = replace(first, symbols=symbols, start=max(start, first.start), end=end)
    source = source_for(origin)
    got, failed = fetch_symbols(source, request, progress)
    if not got and len(failed) == len(symbols):
        raise_if_none_fetched(
            request, failed, got, kept=f"{name!r} v{info.version} is unchanged and usable"
        )
    fresh = stamped_rows(got, first.interval)
    notes = symbol_notes(got)
    parts, added = [], 0
    restated: list[SymbolBars] = []
    for symbol in symbols:
        old = stored[stored["asset"] == symbol]
        new = fresh[fresh["asset"] == symbol]
        if not len(new):
            parts.append(old)
            continue
        both = old.merge(new, on=["timestamp", "asset"], suffixes=("", "_new"))
        again = both[["timestamp", "asset", *(f"{f}_new" for f in BAR_FIELDS)]]
        again.columns = ["timestamp", "asset", *BAR_FIELDS]
        if len(both) and _same(both, again):
            later = new[new["timestamp"] > old["timestamp"].max()]
            parts.extend([old, later])
            added += len(later)
            continue
        # the bars asked again differ (or none overlap): fetch the symbol's whole span
        whole = replace(first, symbols=(symbol,), end=end)
        redo, redo_failed = fetch_symbols(source, whole)
        if redo_failed:
            failed.extend(redo_failed)
            parts.append(old)
            continue
        rows = stamped_rows(redo, first.interval)
        parts.append(rows)
        added += max(len(rows) - len(old), 0)
        restated.extend(redo)
        notes.append(
            f"{symbol}: stored bars were restated by the source; its whole span was fetched again"
        )
    if not added and not restated:
        return FetchOutcome(None, request, (), tuple(failed), tuple(notes))
    rows = pd.concat(parts, ignore_index=True)
    version_dir = catalog.store.version_dir(info.name, info.version)
    events = pd.concat(
        [load_events(version_dir), *(b.events for b in got), *(b.events for b in restated)],
        ignore_index=True,
    )
    whole_request = replace(first, symbols=symbols, end=end)
    updated = origin_record(
        whole_request, [b for b in got if b.symbol in symbols], failed, origin.get("base_url")
    )
    updated["imported"] = list(symbols)
    updated["updates"] = [
        *origin.get("updates", []),
        {
            "from_version": info.version,
            "request": request.to_dict(),
            "fetched_at": updated["fetched_at"],
        },
    ]
    result, n_events = store_rows(
        catalog,
        name,
        rows,
        check_events(events),
        updated,
        repair=repair,
        description=info.description,
        asset_class=info.market.asset_class,
    )
    return FetchOutcome(
        result.dataset, request, symbols, tuple(failed), tuple(notes), n_events, added, result
    )
