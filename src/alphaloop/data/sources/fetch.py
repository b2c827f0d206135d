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

:mod:`~alphaloop.data.sources.update` extends a fetched dataset.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
from alphaloop.data.sources.events import check_events, save_events
from alphaloop.errors import DataQualityError, DataSourceError, SourceOfflineError
from alphaloop.progress import Progress, no_progress

__all__ = [
    "FetchOutcome",
    "closed_only",
    "default_end",
    "fetch_dataset",
    "fetch_symbols",
    "stamped_rows",
]


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


def closed_only(
    request: FetchRequest, now: datetime | None = None
) -> tuple[FetchRequest, str | None]:
    """The request with its end cut at :func:`default_end`: bars still open are never fetched.

    Returns the request and a note when it was cut. A span that holds no
    closed bar raises :class:`~alphaloop.errors.DataSourceError`.
    """
    last = default_end(request.interval, now)
    if request.end <= last:
        return request, None
    if request.start >= last:
        raise DataSourceError(
            f"no {request.interval} bar from {request.start:%Y-%m-%d %H:%M} UTC has closed yet",
            hint="a bar is fetched once it has closed",
        )
    note = (
        f"end cut to {last:%Y-%m-%d %H:%M} UTC (asked {request.end:%Y-%m-%d %H:%M}): "
        "bars still open are not fetched"
    )
    return replace(request, end=last), note


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


def symbol_notes(bars: list[SymbolBars]) -> list[str]:
    return [f"{b.symbol}: {n}" for b in bars for n in b.notes]


def _events(bars: list[SymbolBars]) -> pd.DataFrame:
    frames = [b.events for b in bars if len(b.events)]
    return check_events(pd.concat(frames, ignore_index=True)) if frames else empty_events()


def store_rows(
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
    request, cut = closed_only(request)
    got, failed = fetch_symbols(source, request, progress)
    raise_if_none_fetched(request, failed, got, kept=_kept(catalog, name))
    origin = origin_record(request, got, failed, base_url)
    result, n_events = store_rows(
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
        tuple([*([cut] if cut else []), *symbol_notes(got)]),
        n_events,
        result.dataset.rows,
        result,
    )


def raise_if_none_fetched(
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


def origin_record(
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
