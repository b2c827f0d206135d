"""Fetch bars online and store them as a dataset version, exactly as a file import would.

The fetched bars of every symbol that answered are stamped the data layer's
way (:func:`~alphaloop.data.sources.base.stamp_bars`), written as one long
Parquet file and imported by :meth:`DataCatalog.import_file`: the same
quality checks, repairs, versioned store and sealed holdout as any file. The
version also records its origin in ``meta.json`` under ``origin``: the source,
the request, the symbols imported and those that failed (with the reason),
which answers came from the cache, and when it was fetched. Split and
dividend events are saved beside it (:mod:`~alphaloop.data.sources.events`).

A symbol is imported whole or not at all: one that fails (after retries) is
listed in :attr:`FetchOutcome.failures` and left out; when every symbol
fails nothing is imported.

:func:`update_dataset` extends a fetched dataset: it asks for the bars from a
few bars before the last stored one to now, checks that the bars it gets
again equal the stored ones and appends the new ones as a new version. When
a bar it gets again differs (a split or dividend restated the adjusted
history, or the vendor corrected it), that symbol's whole span is fetched
again and replaces the stored rows.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.catalog import DataCatalog, DatasetInfo, ImportResult
from alphaloop.data.sources.base import (
    BAR_FIELDS,
    INTERVALS,
    BarSource,
    FetchRequest,
    SymbolBars,
    SymbolFailure,
    empty_events,
    stamp_bars,
)
from alphaloop.data.sources.events import check_events, load_events, save_events
from alphaloop.data.store import ROWS
from alphaloop.errors import DataQualityError, DataSourceError, SourceOfflineError
from alphaloop.progress import Progress, no_progress

__all__ = [
    "FetchOutcome",
    "default_end",
    "fetch_dataset",
    "fetch_symbols",
    "origin_of",
    "stamped_rows",
    "update_dataset",
]

#: Bars asked again before the last stored one when updating.
UPDATE_OVERLAP_BARS = 3


def default_end(interval: str, now: datetime | None = None) -> pd.Timestamp:
    """The default end of a fetch: ``now`` floored to the interval (UTC).

    Bars open before it, so the bar still open now is never fetched, and the
    same command gives the same request (and cache key) within an interval.
    """
    if interval not in INTERVALS:
        raise DataSourceError(
            f"unknown interval {interval!r}", hint="use one of " + ", ".join(INTERVALS)
        )
    ts = pd.Timestamp(now or datetime.now(UTC))
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor(f"{INTERVALS[interval]}s")


@dataclass(frozen=True)
class FetchOutcome:
    """What a fetch or an update did.

    Attributes
    ----------
    dataset : DatasetInfo or None
        The version stored; None when an update found nothing new.
    request : FetchRequest
        What was asked of the source (an update: the new span only).
    imported : tuple of str
        Symbols whose bars are in the version.
    failures : tuple of SymbolFailure
        Symbols left out (or, in an update, not extended), with the reason.
    notes : tuple of str
        Per symbol: answers read from the cache, bars left out, restatements.
    events : int
        Split and dividend events saved with the version.
    new_bars : int
        Rows added (an update) or stored (a fetch).
    result : ImportResult or None
        The import's report, repairs and holdout notice.
    """

    dataset: DatasetInfo | None
    request: FetchRequest
    imported: tuple[str, ...]
    failures: tuple[SymbolFailure, ...] = ()
    notes: tuple[str, ...] = ()
    events: int = 0
    new_bars: int = 0
    result: ImportResult | None = None

    @property
    def up_to_date(self) -> bool:
        return self.dataset is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": None if self.dataset is None else self.dataset.to_dict(),
            "request": self.request.to_dict(),
            "imported": list(self.imported),
            "failures": [f.to_dict() for f in self.failures],
            "notes": list(self.notes),
            "events": self.events,
            "new_bars": self.new_bars,
            "up_to_date": self.up_to_date,
            "import": None if self.result is None else self.result.to_dict(),
        }


def fetch_symbols(
    source: BarSource, request: FetchRequest, progress: Progress = no_progress
) -> tuple[list[SymbolBars], list[SymbolFailure]]:
    """Every symbol's bars, one symbol at a time; a failing symbol becomes a failure."""
    got: list[SymbolBars] = []
    failed: list[SymbolFailure] = []
    total = len(request.symbols)
    step = f"fetching from {request.source}"
    progress(step, 0, total)
    for i, symbol in enumerate(request.symbols):
        try:
            bars = source.fetch_symbol(symbol, request)
        except SourceOfflineError as exc:
            failed.append(SymbolFailure(symbol, str(exc), offline=True))
        except DataSourceError as exc:
            failed.append(SymbolFailure(symbol, str(exc)))
        else:
            if len(bars.bars):
                got.append(bars)
            else:
                failed.append(SymbolFailure(symbol, "no bars in the span"))
        progress(step, i + 1, total)
    return got, failed


def stamped_rows(bars: list[SymbolBars], interval: str) -> pd.DataFrame:
    """Long rows ``timestamp, asset, open, high, low, close, volume`` stamped for the store."""
    frames = []
    for b in bars:
        stamps = stamp_bars(pd.DatetimeIndex(b.bars.index), interval, b.exchange_tz)
        frame = pd.DataFrame(
            {"timestamp": stamps.astype("datetime64[ns, UTC]"), "asset": b.symbol}
            | {f: b.bars[f].to_numpy(dtype="float64") for f in BAR_FIELDS}
        )
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["timestamp", "asset", *BAR_FIELDS])
    return pd.concat(frames, ignore_index=True)


def _notes(bars: list[SymbolBars]) -> list[str]:
    return [f"{b.symbol}: {n}" for b in bars for n in b.notes]


def _events(bars: list[SymbolBars]) -> pd.DataFrame:
    frames = [b.events for b in bars if len(b.events)]
    return check_events(pd.concat(frames, ignore_index=True)) if frames else empty_events()


def _store(
    catalog: DataCatalog,
    name: str,
    rows: pd.DataFrame,
    events: pd.DataFrame,
    origin: dict[str, Any],
    *,
    repair: bool,
    description: str,
    asset_class: str | None,
) -> tuple[ImportResult, int]:
    """Import ``rows`` through the file route; save the events beside the new version."""
    label = f"{origin['request']['source']}:{origin['request']['interval']}:" + ",".join(
        origin["imported"]
    )
    origin = {**origin, "events": len(events)}
    with tempfile.TemporaryDirectory(prefix="alphaloop-fetch-") as tmp:
        path = Path(tmp) / f"{name}.parquet"
        rows.to_parquet(path, index=False)
        try:
            result = catalog.import_file(
                path,
                name,
                layout="long",
                repair=repair,
                description=description or f"fetched from {label}",
                asset_class=asset_class,
                source=f"fetch:{label}",
                extra_meta={"origin": origin},
            )
        except DataQualityError as exc:
            raise DataQualityError(
                exc.message.replace(f"import of {path}", f"fetch of {name!r} from {label}"),
                exc.report,
                hint=exc.hint,
            ) from None
    info = result.dataset
    save_events(catalog.store.version_dir(info.name, info.version), events)
    return result, len(events)


def fetch_dataset(
    catalog: DataCatalog,
    source: BarSource,
    request: FetchRequest,
    name: str,
    *,
    repair: bool = False,
    description: str = "",
    asset_class: str | None = None,
    base_url: str | None = None,
    progress: Progress = no_progress,
) -> FetchOutcome:
    """Fetch ``request`` from ``source`` and store it as the next version of ``name``.

    Raises :class:`~alphaloop.errors.SourceOfflineError` when no symbol could
    be reached, :class:`~alphaloop.errors.DataSourceError` when none
    answered with bars, and what :meth:`DataCatalog.import_file` raises
    (quality, holdout).
    """
    catalog._validate_name(name)  # before any request
    got, failed = fetch_symbols(source, request, progress)
    _all_failed(request, failed, got, kept=_kept(catalog, name))
    origin = _origin(request, got, failed, base_url)
    result, n_events = _store(
        catalog,
        name,
        stamped_rows(got, request.interval),
        _events(got),
        origin,
        repair=repair,
        description=description,
        asset_class=asset_class or source.asset_class,
    )
    return FetchOutcome(
        result.dataset,
        request,
        tuple(b.symbol for b in got),
        tuple(failed),
        tuple(_notes(got)),
        n_events,
        result.dataset.rows,
        result,
    )


def _all_failed(
    request: FetchRequest,
    failed: list[SymbolFailure],
    got: list[SymbolBars],
    kept: str | None = None,
) -> None:
    """Raise when no symbol answered; ``kept`` says which stored version is still there."""
    if got:
        return
    reasons = "; ".join(f"{f.symbol}: {f.reason}" for f in failed)
    message = f"nothing fetched from {request.source}: {reasons}"
    if all(f.offline for f in failed):
        raise SourceOfflineError(
            message, hint=(kept + "; " if kept else "") + "try again when the source answers"
        )
    raise DataSourceError(message, hint=kept)


def _kept(catalog: DataCatalog, name: str) -> str | None:
    """``'NAME' vN is unchanged and usable`` when ``name`` has a version, else None."""
    versions = catalog.versions(name)
    return f"{name!r} v{versions[-1]} is unchanged and usable" if versions else None


def _origin(
    request: FetchRequest,
    got: list[SymbolBars],
    failed: list[SymbolFailure],
    base_url: str | None,
) -> dict[str, Any]:
    return {
        "request": request.to_dict(),
        "imported": [b.symbol for b in got],
        "failures": [f.to_dict() for f in failed],
        "cached": [b.symbol for b in got if b.cached],
        "fetched_at": datetime.now(UTC).isoformat(),
        "base_url": base_url,
    }


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
    end = end if end is not None else default_end(first.interval)
    stored = _stored(catalog, info)
    last = stored.groupby("asset")["timestamp"].max()
    step = pd.Timedelta(seconds=first.interval_s)
    lead = pd.Timedelta(days=1) if not first.intraday else step  # a stamp's distance past the open
    start = min(last.min() - lead - UPDATE_OVERLAP_BARS * step, end - step)
    request = replace(first, symbols=symbols, start=max(start, first.start), end=end)
    source = source_for(origin)
    got, failed = fetch_symbols(source, request, progress)
    if not got and len(failed) == len(symbols):
        _all_failed(request, failed, got, kept=f"{name!r} v{info.version} is unchanged and usable")
    fresh = stamped_rows(got, first.interval)
    notes = _notes(got)
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
    updated = _origin(
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
    result, n_events = _store(
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
