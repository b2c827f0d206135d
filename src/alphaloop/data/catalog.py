"""The workspace's datasets: bundled and imported, checked, versioned, loadable.

A dataset name maps to one or more immutable versions; importing under an
existing name adds a version and keeps the old one, so every earlier result
can still be traced to the exact data (by content hash) it used.

Registration is safe when several processes open one workspace at once: a
version's files are written under a staging directory, then its database row
claims ``(name, version)`` (a unique constraint) and the files are renamed
into place in the same transaction. A process that loses the race to register
a bundled dataset finds it registered and keeps the winner's version; an
import that loses a version number takes the next one.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from alphaloop.data.bundled import BUNDLED, load_bundled
from alphaloop.data.calendars import TradingCalendar
from alphaloop.data.combine import (
    CombineResult,
    CombineSource,
    SourceRows,
    check_calendar_mode,
    combine_rows,
    combined_market,
)
from alphaloop.data.derived import (
    DerivedSeal,
    ResampleOrigin,
    ResampleResult,
    check_not_all_sealed,
    default_name,
    derived_boundary,
    normalize_rule,
    panel_rows,
    rule_nanoseconds,
    source_label,
)
from alphaloop.data.holdout import (
    HoldoutError,
    HoldoutInfo,
    HoldoutKey,
    Holdouts,
    first_sealed_bar,
    new_record,
)
from alphaloop.data.long import NAT, LongData
from alphaloop.data.market_calendar import (
    MarketCalendar,
    check_asset_class,
    check_periods_per_year,
    infer_market_calendar,
    resolve_trading_calendar,
)
from alphaloop.data.normalize import normalize
from alphaloop.data.panel import Panel, SealedEnd, infer_frequency
from alphaloop.data.price_checks import main_price_field
from alphaloop.data.quality import (
    CARRIED_CHECKS,
    CHECKS,
    QualityIssue,
    QualityReport,
    Repair,
    apply_repairs,
    caveat_of,
    check_long,
    check_rows,
    merge_sealed,
    sort_for_checks,
)
from alphaloop.data.readers import PRICE_FIELDS, Layout, ReadOptions, read_table
from alphaloop.data.resample import Label
from alphaloop.data.resample import resample as _resample
from alphaloop.data.seal import SealedCopy, SealedSpan, find_copies
from alphaloop.data.store import ROWS, ParquetStore
from alphaloop.errors import (
    AlphaloopError,
    ConfigError,
    DataCombineError,
    DataQualityError,
    DataResampleError,
    DatasetExistsError,
    DatasetNotFoundError,
    HoldoutClippedWarning,
    StoreError,
    note_recorded_interruption,
)
from alphaloop.store import Database, DatasetRecord, HoldoutRecord, ImportRecord

__all__ = ["DataCatalog", "DatasetInfo", "ImportResult"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
STAGING = ".staging"  # under the data directory: versions being written
_RECORD_ATTEMPTS = 8


def _ts(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset version as recorded in the workspace.

    ``market`` is its calendar, asset class, annualization factor and volume
    kind (:class:`~alphaloop.data.market_calendar.MarketCalendar`), read from
    the timestamps at import unless the importer gave them.
    """

    name: str
    version: int
    source: str
    description: str
    frequency: str
    start: datetime
    end: datetime
    assets: int
    times: int
    rows: int
    fields: tuple[str, ...]
    asset_ids: tuple[str, ...]
    caveats: tuple[str, ...]
    quality: dict[str, Any]
    content_hash: str
    path: str
    created_at: datetime
    market: MarketCalendar
    combined: dict[str, Any] | None = None
    resampled: dict[str, Any] | None = None

    @property
    def bundled(self) -> bool:
        return self.source.startswith("bundled:")

    @property
    def quality_report(self) -> QualityReport:
        """The stored quality report: the state of the stored rows, after any repairs.

        In a version shown by the catalog, locations inside the dataset's
        sealed holdout are left out (counted in ``sealed_locations``).
        """
        return QualityReport.from_dict(self.quality)

    @property
    def repairs(self) -> tuple[Repair, ...]:
        """The repairs applied at import, in order (empty when none were needed)."""
        return tuple(
            Repair(str(r["check"]), str(r["action"]), int(r["count"]))
            for r in self.quality.get("repairs", [])
        )

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        """JSON-ready summary; ``full`` adds the asset ids and the quality report."""
        out: dict[str, Any] = {
            "name": self.name,
            "version": self.version,
            "assets": self.assets,
            "fields": list(self.fields),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "frequency": self.frequency,
            "market": self.market.to_dict(),
            "rows": self.rows,
            "times": self.times,
            "source": self.source,
            "description": self.description,
            "caveats": list(self.caveats),
            "content_hash": self.content_hash,
            "quality": {
                "errors": self.quality.get("errors", 0),
                "warnings": self.quality.get("warnings", 0),
                "repairs": len(self.quality.get("repairs", [])),
            },
        }
        if self.combined is not None:
            out["combined"] = self.combined
        if self.resampled is not None:
            out["resampled"] = self.resampled
        if full:
            out["asset_ids"] = list(self.asset_ids)
            out["quality"] = self.quality
            out["path"] = self.path
            out["created_at"] = self.created_at.isoformat()
        return out

    @classmethod
    def from_record(
        cls, rec: DatasetRecord, asset_ids: tuple[str, ...], market: MarketCalendar
    ) -> DatasetInfo:
        return cls(
            rec.name,
            rec.version,
            rec.source,
            rec.description,
            rec.frequency,
            _utc(rec.start),
            _utc(rec.end),
            rec.n_assets,
            rec.n_times,
            rec.rows,
            tuple(rec.fields),
            asset_ids,
            tuple(rec.caveats),
            dict(rec.quality),
            rec.content_hash,
            rec.path,
            _utc(rec.created_at),
            market,
        )


@dataclass(frozen=True)
class ImportResult:
    """Outcome of an accepted import."""

    dataset: DatasetInfo
    status: str  # "accepted" or "repaired"
    report: QualityReport
    repairs: tuple[Repair, ...] = field(default_factory=tuple)
    final_report: QualityReport | None = None
    options: ReadOptions = field(default_factory=ReadOptions)
    sealed_copies: tuple[SealedCopy, ...] = field(default_factory=tuple)
    holdout: HoldoutInfo | None = None

    @property
    def holdout_notice(self) -> str | None:
        """One line when the import copies sealed rows and the dataset inherits the seal."""
        if not self.sealed_copies or self.holdout is None or self.holdout.boundary is None:
            return None
        return (
            f"{self.dataset.name}: {_describe_copies(self.sealed_copies)}; the seal follows "
            f"the data: its holdout starts {self.holdout.boundary:%Y-%m-%d}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "options": self.options.to_dict(),
            "dataset": self.dataset.to_dict(),
            "report": self.report.to_dict(),
            "repairs": [r.to_dict() for r in self.repairs],
            "remaining_warnings": [
                i.to_dict() for i in (self.final_report or self.report).warnings
            ],
            "sealed_copies": [c.to_dict() for c in self.sealed_copies],
            "holdout_notice": self.holdout_notice,
        }


class DataCatalog:
    """Datasets of one workspace.

    Parameters
    ----------
    db : Database
        Where dataset versions and imports are recorded.
    root : Path
        The workspace's data directory (Parquet files).
    read_only : bool, default False
        Never write: bundled datasets not registered yet are skipped (and
        listed in ``unregistered_bundled``).
    """

    def __init__(
        self, db: Database, root: Path, *, holdout_fraction: float = 0.2, read_only: bool = False
    ) -> None:
        self.db = db
        self.store = ParquetStore(root)
        self.holdouts = Holdouts(db, holdout_fraction)
        self.read_only = read_only
        self.unregistered_bundled: tuple[str, ...] = ()
        self._bundled_ready = False

    # ---------------------------------------------------------------- bundled
    def ensure_bundled(self) -> list[str]:
        """Register every bundled dataset not yet in the workspace; returns the new names."""
        if self._bundled_ready:
            return []
        added = []
        with self.db.session() as s:
            present = set(
                s.scalars(
                    select(DatasetRecord.name).where(DatasetRecord.source.like("bundled:%"))
                ).all()
            )
        if self.read_only:
            self.unregistered_bundled = tuple(n for n in BUNDLED if n not in present)
            self._bundled_ready = True
            return []
        for name, spec in BUNDLED.items():
            if name in present:
                continue
            data = load_bundled(name)
            issues = check_long(data)
            report = QualityReport(spec.source, len(data), "long", tuple(issues))
            if report.errors:
                raise AlphaloopError(
                    f"bundled dataset {name!r} failed its quality checks: "
                    f"{[i.check for i in report.errors]}"
                )
            carried = [
                caveat_of(i, with_spans=True) for i in report.warnings if i.check in CARRIED_CHECKS
            ]
            info = self._record(
                name,
                data,
                spec.source,
                spec.description,
                [*spec.caveats, *carried],
                report,
                layout="long",
                repairs=[],
                status="accepted",
                asset_class=spec.asset_class,
                first_only=True,
            )
            if info is not None:  # None: another process registered it first
                added.append(name)
        self._bundled_ready = True
        return added

    # ------------------------------------------------------------------ query
    def list(self) -> list[DatasetInfo]:
        """The current (highest) version of every dataset, bundled first, then by name."""
        self.ensure_bundled()
        with self.db.session() as s:
            latest = (
                select(DatasetRecord.name, func.max(DatasetRecord.version).label("v"))
                .group_by(DatasetRecord.name)
                .subquery()
            )
            rows = s.scalars(
                select(DatasetRecord).join(
                    latest,
                    (DatasetRecord.name == latest.c.name) & (DatasetRecord.version == latest.c.v),
                )
            ).all()
        sealed = {h.dataset: h for h in self.holdouts.list()}
        infos = [
            self._visible(
                DatasetInfo.from_record(r, tuple(r.assets_preview), self._market(r)),
                sealed.get(r.name),
            )
            for r in rows
        ]
        return sorted(infos, key=lambda i: (not i.bundled, i.name))

    def info(self, name: str, version: int | None = None) -> DatasetInfo:
        """One dataset version (default: the current one), with all asset ids.

        Its quality report leaves out locations inside the sealed holdout
        (before first use: inside the holdout first use would seal now).
        """
        rec = self._get(name, version)
        meta = self.store.meta(rec.name, rec.version)
        info = DatasetInfo.from_record(rec, tuple(meta["assets"]), self._market(rec, meta))
        if "combined" in meta:
            info = replace(info, combined=meta["combined"])
        if "resampled" in meta:
            info = replace(info, resampled=meta["resampled"])
        return self._visible(info, self.holdouts.get(rec.name))

    def _market(self, rec: DatasetRecord, meta: dict[str, Any] | None = None) -> MarketCalendar:
        """The version's market calendar as recorded at import.

        Versions stored before calendars were recorded get theirs read from
        the stored timestamps now (bundled ones with their asset class).
        """
        meta = self.store.meta(rec.name, rec.version) if meta is None else meta
        if "market" in meta:
            return MarketCalendar.from_dict(meta["market"])
        bundled = BUNDLED.get(rec.name) if rec.source.startswith("bundled:") else None
        stamps = self.store.calendar(rec.name, rec.version)
        klass = bundled.asset_class if bundled else None
        return infer_market_calendar(
            stamps,
            rec.frequency,
            has_volume="volume" in rec.fields,
            asset_class=klass,
            trading_calendar=resolve_trading_calendar(None, stamps, rec.frequency, klass)[0],
        )

    def _visible(self, info: DatasetInfo, holdout: HoldoutInfo | None) -> DatasetInfo:
        """``info`` with its stored quality report cut at the holdout boundary.

        ``holdout`` is the dataset's holdout, or None before its first use:
        then the boundary first use would seal now is used.
        """
        if holdout is not None:
            boundary = holdout.boundary
        else:
            calendar = self.store.calendar(info.name, info.version)
            boundary = first_sealed_bar(self.holdouts.default_fraction, calendar)
        if boundary is None or not info.quality.get("issues"):
            return info
        report = QualityReport.from_dict(info.quality).without_sealed(boundary)
        quality = {**info.quality, "issues": [i.to_dict() for i in report.issues]}
        return _replace_quality(info, quality)

    def versions(self, name: str) -> list[int]:
        self.ensure_bundled()
        with self.db.session() as s:
            return list(
                s.scalars(
                    select(DatasetRecord.version)
                    .where(DatasetRecord.name == name)
                    .order_by(DatasetRecord.version)
                ).all()
            )

    def load(
        self,
        name: str,
        *,
        start: Any = None,
        end: Any = None,
        assets: list[str] | None = None,
        fields: list[str] | None = None,
        version: int | None = None,
        holdout_key: HoldoutKey | None = None,
    ) -> Panel:
        """Load a dataset (a date range, assets and fields of it) as a Panel.

        Loads stop before the dataset's sealed holdout (sealed here at first
        use; see :mod:`alphaloop.data.holdout`). Only the key handed out by
        unsealing reaches past it. An ``end`` inside the holdout is cut at it
        with a :class:`~alphaloop.errors.HoldoutClippedWarning`, whose line the
        panel keeps in :attr:`~alphaloop.data.panel.Panel.notice`; a ``start``
        inside it raises :class:`~alphaloop.errors.HoldoutError`. The panel's
        :attr:`~alphaloop.data.panel.Panel.sealed_end` says where the seal starts.
        """
        rec = self._get(name, version)
        boundary = self.holdout_boundary(rec.name, rec.version)
        if holdout_key is not None:
            if not isinstance(holdout_key, HoldoutKey) or holdout_key.dataset != rec.name:
                raise HoldoutError(f"that holdout key does not open {rec.name!r}")
            boundary = None
        sealed: SealedEnd | None = None
        notice = None
        if boundary is not None:
            if start is not None and _ts(start) >= boundary:
                raise HoldoutError(
                    f"{start} lies in the sealed holdout of {rec.name!r} "
                    f"(from {boundary:%Y-%m-%d}); research cannot read it",
                    hint="final strategies are evaluated on it once: `alphaloop holdout unseal`",
                )
            calendar = self.store.calendar(rec.name, rec.version)
            k = int(np.searchsorted(calendar, boundary.value))
            data_end = pd.Timestamp(int(calendar[k - 1]), tz="UTC") if k else None
            sealed = SealedEnd(rec.name, boundary, data_end)
            last = boundary - pd.Timedelta(1, "ns")
            if end is not None and _ts(end) >= boundary:
                notice = sealed.clipped(end)
                warnings.warn(notice, HoldoutClippedWarning, stacklevel=2)
            end = last if end is None else min(_ts(end), last)
        panel = self.store.load(
            rec.name, rec.version, start=start, end=end, assets=assets, fields=fields
        )
        return panel if sealed is None else panel.with_sealed_end(sealed, notice)

    def holdout_boundary(self, name: str, version: int | None = None) -> pd.Timestamp | None:
        """First sealed timestamp of ``name`` (sealing it now at first use), or None."""
        rec = self._get(name, version)
        info = self.holdouts.get(rec.name)
        if info is None:
            info = self.holdouts.seal(rec.name, self.store.calendar(rec.name, rec.version))
        return info.boundary

    def configure_holdout(self, name: str, fraction: float) -> HoldoutInfo:
        """Set the sealed share of ``name`` before its first use (this seals it)."""
        rec = self._get(name, None)
        return self.holdouts.configure(
            rec.name, fraction, self.store.calendar(rec.name, rec.version)
        )

    def preview(self, name: str, limit: int = 10, version: int | None = None) -> pd.DataFrame:
        """The last ``limit`` rows before the sealed holdout, long format."""
        rec = self._get(name, version)
        return self.store.preview(
            rec.name, rec.version, limit, before=self.holdout_boundary(rec.name, rec.version)
        )

    def _get(self, name: str, version: int | None) -> DatasetRecord:
        self.ensure_bundled()
        with self.db.session() as s:
            q = select(DatasetRecord).where(DatasetRecord.name == name)
            if version is not None:
                q = q.where(DatasetRecord.version == version)
            rec = s.scalars(q.order_by(DatasetRecord.version.desc()).limit(1)).first()
            if rec is None:
                names = s.scalars(select(DatasetRecord.name).distinct()).all()
                close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()]
                what = f"dataset {name!r}" + (f" v{version}" if version is not None else "")
                raise DatasetNotFoundError(
                    f"{what} is not in this workspace",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + "see `alphaloop data list`",
                )
            return rec

    # ----------------------------------------------------------------- checks
    @staticmethod
    def check_file(
        path: str | Path,
        *,
        options: ReadOptions | None = None,
        layout: Layout = "auto",
        field_name: str = "close",
        asset: str | None = None,
        delimiter: str | None = None,
        timezone: str = "UTC",
        stale_min_run: int = 5,
        calendar: str | None = None,
        asset_class: str | None = None,
    ) -> tuple[QualityReport, LongData]:
        """Read and check a file without importing it.

        ``calendar`` is the trading calendar of the gap checks (``"XNYS"``,
        ``"24/7"``, ``"24/5"``; ``"none"``: the file's own timestamps);
        default inferred from the timestamps (and ``asset_class``), see
        :func:`~alphaloop.data.market_calendar.infer_trading_calendar`.

        ``options`` says how to read the file (see
        :class:`~alphaloop.data.options.ReadOptions`); ``layout``,
        ``field_name``, ``asset``, ``delimiter`` and ``timezone`` are the
        same options one by one (each must agree with ``options`` if both
        are given). Returns the report and the parsed rows in file order.

        Raises :class:`~alphaloop.errors.DataReadError` or
        :class:`~alphaloop.errors.DataFormatError` (a
        :class:`~alphaloop.data.layout.LayoutError` when the layout cannot
        be told) if it cannot be read at all. Needs no workspace:
        ``DataCatalog.check_file(path)`` works too.
        """
        opts = ReadOptions.merge(
            options,
            layout=layout,
            field=field_name,
            asset=asset,
            delimiter=delimiter,
            timezone=timezone,
        )
        report, data, _, _ = DataCatalog._check_file(
            path,
            opts,
            stale_min_run=stale_min_run,
            calendar=calendar,
            asset_class=check_asset_class(asset_class),
        )
        return report, data

    @staticmethod
    def _check_file(
        path: str | Path,
        options: ReadOptions,
        *,
        stale_min_run: int = 5,
        calendar: str | None = None,
        asset_class: str | None = None,
        keep_file_rows: bool = True,
    ) -> tuple[QualityReport, LongData, LongData, tuple[str | None, bool]]:
        """:meth:`check_file`, also returning the checked rows sorted by (asset, time).

        The report's notes end with the options that differ from the defaults,
        then the trading calendar of the gap checks; the last item returned
        is that calendar's name (or None) and whether it was given. Without
        ``keep_file_rows`` the rows in file order are freed while the sorted
        rows are made (an import needs only the sorted ones): the first rows
        returned are then the sorted rows, or the file's rows without fields.
        """
        if calendar is not None:
            resolve_trading_calendar(calendar, (), "daily")  # a bad name fails before reading
        raw = read_table(path, options)
        n_rows = raw.table.num_rows  # before normalize may drop the columns it has parsed
        data, parse_issues = normalize(raw, release_columns=not keep_file_rows)
        described = options.describe()
        if described:
            raw.notes.append(described)
        file_layout, notes = raw.layout, tuple(raw.notes)
        del raw  # the Arrow table is parsed: free it before the checks copy the rows
        pa.default_memory_pool().release_unused()  # and give its memory back to the system
        trading = _file_calendar(data, calendar, asset_class)
        if trading[0] is not None:
            how = "given" if trading[1] else "inferred"
            notes = (*notes, f"gap checks on the {trading[0]} trading calendar ({how})")
        order_issues: list[QualityIssue] = []
        if not keep_file_rows and bool(np.all(data.timestamps != NAT)):
            # sort here, so that the rows in file order are freed (rebinding ``data``)
            # before the checks of the sorted rows make their temporaries
            data, order_issues = sort_for_checks(data)
        row_issues, rows = check_rows(
            data,
            stale_min_run=stale_min_run,
            calendar=TradingCalendar(trading[0]) if trading[0] else None,
            consume=not keep_file_rows,
        )
        issues = parse_issues + order_issues + row_issues
        order = {k: i for i, k in enumerate(CHECKS)}
        issues.sort(key=lambda i: order[i.check])
        report = QualityReport(str(path), n_rows, file_layout, tuple(issues), notes)
        return report, data, rows, trading

    def check_dataset(
        self, name: str, version: int | None = None, *, stale_min_run: int = 5
    ) -> QualityReport:
        """Run the row checks again on a stored dataset version.

        Counts cover every stored row; locations come only from the rows
        before the sealed holdout (sealed now at first use). Each issue
        counts its occurrences inside the holdout in ``sealed_locations``.
        """
        rec = self._get(name, version)
        data = self._stored_rows(rec)
        trading_name = self._market(rec).trading_calendar
        trading = TradingCalendar(trading_name) if trading_name else None
        issues = check_long(data, stale_min_run=stale_min_run, calendar=trading)
        notes = ["locations give row numbers of the stored rows (sorted by asset, then time)"]
        boundary = self.holdout_boundary(rec.name, rec.version)
        if boundary is not None and issues:
            research = data.take(data.timestamps < boundary.value)
            visible = (
                check_long(research, stale_min_run=stale_min_run, calendar=trading)
                if len(research)
                else []
            )
            issues = merge_sealed(issues, visible)
            notes.append(
                f"rows from {boundary:%Y-%m-%d} on are the sealed holdout: counted, not located"
            )
        return QualityReport(
            f"{rec.name} v{rec.version}", rec.rows, "stored", tuple(issues), tuple(notes)
        )

    def quality_report(self, name: str, version: int | None = None) -> QualityReport:
        """The quality report stored with a dataset version: its state after any repairs.

        What ``data show`` displays: locations inside the sealed holdout are
        left out (see :meth:`info`); the repairs applied at import are in
        ``info(name).repairs``.
        """
        return self.info(name, version).quality_report

    def _stored_rows(self, rec: DatasetRecord) -> LongData:
        vdir = self.store.version_dir(rec.name, rec.version)
        meta = self.store.meta(rec.name, rec.version)
        table = pq.read_table(vdir / ROWS)
        ts = table.column("timestamp").to_numpy().view(np.int64)
        fields = {f: table.column(f).to_numpy(zero_copy_only=False) for f in meta["fields"]}
        member = (
            table.column("member").to_numpy(zero_copy_only=False)
            if meta.get("has_member")
            else None
        )
        return LongData(
            ts.copy(),
            table.column("a").to_numpy().astype(np.int32),
            tuple(meta["assets"]),
            fields,
            np.arange(len(ts), dtype=np.int64) + 1,
            member,
        )

    # ----------------------------------------------------------------- import
    def import_file(
        self,
        path: str | Path,
        name: str,
        *,
        options: ReadOptions | None = None,
        layout: Layout = "auto",
        field_name: str = "close",
        asset: str | None = None,
        delimiter: str | None = None,
        timezone: str = "UTC",
        repair: bool = False,
        description: str = "",
        caveats: list[str] | None = None,
        asset_class: str | None = None,
        periods_per_year: float | None = None,
        calendar: str | None = None,
        source: str | None = None,
        extra_meta: dict[str, Any] | None = None,
    ) -> ImportResult:
        """Check a file and store it as a new dataset version.

        An import whose report has errors is refused (nothing is written to
        the data store or the datasets table; the attempt is recorded in the
        imports table). With ``repair=True`` the documented repairs are
        applied when every error has one, and the result lists them.
        Warnings never refuse an import; they are kept with the dataset. An
        interrupted import (Ctrl-C) stores nothing and is recorded as
        ``interrupted``.
        ``options`` (or the same options one by one, as in :meth:`check_file`)
        say how to read the file; those that differ from the defaults are
        recorded with the import, as the last note of its report.

        ``asset_class`` (equities, fx, crypto, other) and ``periods_per_year``
        (bars per year for annualization) override what the timestamps say
        (see :mod:`alphaloop.data.market_calendar`); both are recorded with
        the version. ``calendar`` is the trading calendar (``"XNYS"``,
        ``"24/7"``, ``"24/5"``, ``"none"``; default inferred, see
        :func:`~alphaloop.data.market_calendar.infer_trading_calendar`): the
        gap checks use it, the version records it, and an exchange's
        sessions give the bars per year.

        Warnings are also kept with the dataset (as
        caveats, and in the stored quality report, which describes the rows
        as stored: after the repairs, which it lists under ``repairs``).

        Rows that copy another dataset's sealed holdout make the new dataset
        inherit the seal: its holdout is sealed now and starts no later than
        the first copied bar (see :mod:`alphaloop.data.seal`). When the name
        already has a holdout that starts later (or none), the import is
        refused with :class:`~alphaloop.errors.HoldoutError`.

        ``source`` replaces the recorded source (default ``import:<path>``) and
        ``extra_meta`` adds JSON-ready keys to the version's ``meta.json``: a
        dataset fetched online records its origin so (see
        :mod:`alphaloop.data.sources`).
        """
        asset_class = check_asset_class(asset_class)
        periods_per_year = check_periods_per_year(periods_per_year)
        opts = ReadOptions.merge(
            options,
            layout=layout,
            field=field_name,
            asset=asset,
            delimiter=delimiter,
            timezone=timezone,
        )
        started = datetime.now(UTC)
        try:
            return self._import_file(
                path,
                name,
                opts,
                repair=repair,
                description=description,
                caveats=caveats,
                asset_class=asset_class,
                periods_per_year=periods_per_year,
                calendar=calendar,
                source=source,
                extra_meta=extra_meta,
            )
        except KeyboardInterrupt as exc:
            self._record_attempt(name, path, "interrupted", opts.layout, started)
            note_recorded_interruption(exc, f"import of {path} as {name!r}")
            raise

    def _import_file(
        self,
        path: str | Path,
        name: str,
        opts: ReadOptions,
        *,
        repair: bool,
        description: str,
        caveats: list[str] | None,
        asset_class: str | None,
        periods_per_year: float | None,
        calendar: str | None = None,
        source: str | None = None,
        extra_meta: dict[str, Any] | None = None,
    ) -> ImportResult:
        self._validate_name(name)
        self.ensure_bundled()
        # ``rows``: the rows with a parsed timestamp, sorted; every row when the import goes on
        report, data, rows, trading = self._check_file(
            path, opts, calendar=calendar, asset_class=asset_class, keep_file_rows=False
        )
        checks = TradingCalendar(trading[0]) if trading[0] else None
        del data  # the rows in file order: free them before the rows are stored
        if source:  # the report names what was imported, not the file it passed through
            report = replace(report, source=source)
        source = source or f"import:{Path(path).resolve()}"
        repairs: list[Repair] = []
        final = report
        if report.errors:
            if not repair or not report.repairable:
                self._record_refusal(name, path, report)
                unrepairable = [i.check for i in report.errors if i.repair is None]
                hint = (
                    "fix the file: these problems have no automatic repair: "
                    + ", ".join(unrepairable)
                    if unrepairable
                    else "pass --repair to apply the documented repairs listed in the report"
                )
                raise DataQualityError(
                    f"import of {path} refused: {len(report.errors)} problem(s) found "
                    f"({', '.join(i.check for i in report.errors)})",
                    report,
                    hint=hint,
                )
            repaired, repairs = apply_repairs(rows, report.issues)
            final_issues, rows = check_rows(repaired, calendar=checks)
            final = QualityReport(
                report.source, len(rows), report.layout, tuple(final_issues), report.notes
            )
            if final.errors:
                self._record_refusal(name, path, final)
                unrepairable = [i.check for i in final.errors if i.repair is None]
                raise DataQualityError(
                    f"import of {path} refused: problems remain after repair "
                    f"({', '.join(i.check for i in final.errors)})",
                    final,
                    hint=(
                        "fix the file: these problems have no automatic repair: "
                        + ", ".join(unrepairable)
                        if unrepairable
                        else None
                    ),
                )
        status = "repaired" if repairs else "accepted"
        copies = tuple(find_copies(rows, self._sealed_spans(rows)))
        try:
            info = self._record(
                name,
                rows,
                source,
                description,
                [*(caveats or []), *(caveat_of(i) for i in final.warnings)],
                final,
                layout=report.layout,
                repairs=repairs,
                status=status,
                source_path=str(path),
                import_report=report,
                copies=copies,
                asset_class=asset_class,
                periods_per_year=periods_per_year,
                trading_calendar=trading,
                extra_meta=extra_meta,
            )
        except HoldoutError:
            self._record_refusal(name, path, final)
            raise
        assert info is not None
        holdout = self.holdouts.get(name) if copies else None
        return ImportResult(
            info,
            status,
            report,
            tuple(repairs),
            final,
            options=opts,
            sealed_copies=copies,
            holdout=holdout,
        )

    # ---------------------------------------------------------------- combine
    def combine(
        self,
        name: str,
        sources: Sequence[str | CombineSource],
        *,
        calendar: str = "intersect",
        description: str = "",
        periods_per_year: float | None = None,
    ) -> CombineResult:
        """Store the assets of several datasets as a new version of ``name``.

        Parameters
        ----------
        name : str
            The combined dataset (a new name, or an imported one: a new version).
        sources : sequence of str or CombineSource
            ``"DATASET"`` (every asset) or ``"DATASET:ASSET,ASSET"``; the
            current version of each.
        calendar : {"intersect", "union"}, default "intersect"
            Bars where every source has a bar, or where any has one (a
            source's assets have no row, so NaN and membership False, where it
            has none; nothing is filled forward).
        description : str, optional
            Default: the sources and the calendar in words.
        periods_per_year : float, optional
            Bars per year for annualization; default read from the combined
            timestamps (see :func:`~alphaloop.data.combine.combined_market`).

        The rules for asset names, fields, caveats and the market calendar
        are those of :mod:`alphaloop.data.combine`. The seal follows the
        data: each source is sealed now if it was not (combining is a use),
        and the combined dataset inherits the seal of every source whose
        sealed rows it holds (its holdout starts no later than the first of
        them), as an import of copied rows would.

        Raises
        ------
        DatasetNotFoundError
            A source is not in the workspace.
        DataCombineError
            The sources cannot be combined (see
            :func:`~alphaloop.data.combine.combine_rows`), or the result fails
            a quality check with an error.
        HoldoutError
            ``name`` has a holdout already that starts after the copied
            sealed rows.
        """
        periods_per_year = check_periods_per_year(periods_per_year)
        check_calendar_mode(calendar)
        self._validate_name(name)
        self.ensure_bundled()
        requests = [CombineSource.parse(s) for s in sources]
        if name in {r.dataset for r in requests}:
            raise DataCombineError(
                f"{name!r} is one of the datasets being combined",
                hint="give the combined dataset a new name",
            )
        rows = [self._combine_source(r) for r in requests]
        combination = combine_rows(rows, calendar)
        data = combination.rows
        report = QualityReport(
            combination.source_text(), len(data), "combined", tuple(check_long(data))
        )
        if report.errors:
            raise DataCombineError(
                f"the combined rows fail quality checks: "
                f"{', '.join(i.check for i in report.errors)}",
                hint="select other assets or another calendar (`data check` on each source)",
            )
        # combining is a use: seal the sources not sealed yet (another process may have
        # sealed one since it was read: then its recorded boundary decides)
        sealed = [replace(s, boundary=self.holdout_boundary(s.name, s.version)) for s in rows]
        if any(a.boundary != b.boundary for a, b in zip(rows, sealed, strict=True)):
            rows, combination = sealed, combine_rows(sealed, calendar)
        others = [
            span for span in self._sealed_spans(data) if span.dataset not in {r.name for r in rows}
        ]
        copies = tuple(
            sorted(
                [*combination.copies, *find_copies(data, others)],
                key=lambda c: (c.first, c.dataset),
            )
        )
        info = self._record(
            name,
            data,
            combination.source_text(),
            description or combination.describe(),
            list(combination.caveats),
            report,
            layout="combined",
            repairs=[],
            status="accepted",
            copies=copies,
            market=combined_market(rows, data, periods_per_year=periods_per_year),
            extra_meta={"combined": combination.provenance()},
        )
        assert info is not None
        return CombineResult(
            self.info(name, info.version),
            replace(combination, copies=copies),
            self.holdouts.get(name) if copies else None,
        )

    def _combine_source(self, request: CombineSource) -> SourceRows:
        """The current version of a source: its stored rows of the assets asked, and more.

        Its holdout boundary is the sealed one, or the one first use would
        seal (sealed by :meth:`combine` once the combination is accepted).
        """
        rec = self._get(request.dataset, None)
        info = self.info(rec.name, rec.version)
        holdout = self.holdouts.get(rec.name)
        boundary = (
            holdout.boundary
            if holdout is not None
            else self.holdouts.prospective_boundary(
                rec.name, self.store.calendar(rec.name, rec.version)
            )
        )
        warned = tuple(caveat_of(w) for w in info.quality_report.warnings)
        source = SourceRows(
            rec.name,
            rec.version,
            rec.content_hash,
            info.market,
            tuple(dict.fromkeys([*info.caveats, *warned])),
            self._stored_rows(rec),
            boundary,
            holdout.unsealed_at if holdout is not None else None,
        )
        return source.select(request.assets)

    # --------------------------------------------------------------- resample
    def resample(
        self,
        name: str,
        to: str,
        *,
        as_name: str | None = None,
        version: int | None = None,
        label: str | None = None,
        description: str = "",
    ) -> ResampleResult:
        """Resample a stored dataset version to a coarser bar and store it as a dataset.

        Parameters
        ----------
        name : str
            The source dataset.
        to : str
            The target bar: ``"5min"``, ``"15min"``, ``"1h"``, ... or ``"daily"``
            (see :func:`~alphaloop.data.derived.normalize_rule`).
        as_name : str, optional
            The resampled dataset; default ``NAME-RULE`` (``nyse-1min-1h``). A
            name that exists must have been resampled from ``name`` at the
            same rule: the result is its next version.
        version : int, optional
            The source version (default: the current one).
        label : {"start", "end"}, optional
            How the source's bars are stamped; default read from the source's
            trading calendar (the grid its stamps fit), else ``"start"``.
        description : str, optional
            Default: the source and the rule in words.

        Every field and every stored bar (the sealed ones too) is resampled
        with :func:`alphaloop.data.resample.resample` on the source's trading
        calendar; the result goes through the quality checks of an import and
        is stored with its provenance (``meta.json`` ``resampled``: source
        name, version, content hash, rule, calendar, label, holdout
        boundaries). The seal follows the data: resampling is a use of the
        source (sealed now at first use), and the resampled dataset's holdout
        starts at the source's boundary, or earlier at the first resampled bar
        that aggregates a sealed bar (:func:`~alphaloop.data.derived.derived_boundary`).

        When the dataset's current version was resampled from the same source
        content at the same rule, nothing is stored and the result's status
        is ``"up-to-date"``.

        Raises
        ------
        DatasetNotFoundError
            ``name`` (or that version of it) is not in the workspace.
        DatasetExistsError
            ``as_name`` exists and was not resampled from ``name`` at this rule.
        DataResampleError
            A bad rule or label, a rule not coarser than the source's bars, no
            source bar inside the calendar's sessions, a result whose every
            bar would be sealed, or one that fails a quality check.
        HoldoutError
            ``as_name``'s holdout starts after the sealed bars it would hold.
        """
        rule = normalize_rule(to)
        if label is not None and label not in ("start", "end"):
            raise DataResampleError(
                f"label {label!r} is not a bar label",
                hint="start (bars stamped at their start, the default) or end",
            )
        rec = self._get(name, version)
        target = as_name or default_name(rec.name, rule)
        self._validate_name(target)
        if target == rec.name:
            raise DataResampleError(
                f"{target!r} is the dataset being resampled",
                hint="give the resampled dataset a new name with --as",
            )
        source = self.info(rec.name, rec.version)
        trading = source.market.trading_calendar
        stamps = self.store.calendar(rec.name, rec.version)
        stamped: Label = (
            ("end" if label == "end" else "start")
            if label is not None
            else source_label(stamps, source.frequency, source.market.trading_calendar)
        )
        current = self._resampled_current(target, rec.name, rule, stamped)
        prior = current.resampled if current is not None else None
        if current is not None and prior and prior.get("content_hash") == rec.content_hash:
            return ResampleResult(
                current, ResampleOrigin.from_dict(prior), "up-to-date", self.holdouts.get(target)
            )
        fine = int(np.diff(stamps).min()) if len(stamps) > 1 else None
        if fine is not None and rule_nanoseconds(rule) <= fine:
            raise DataResampleError(
                f"resample {rec.name!r} to {rule}: its bars ({source.frequency}) are not finer "
                f"than {rule}",
                hint="resample to a longer bar size than the source's",
            )
        panel = self.store.load(rec.name, rec.version)  # every stored bar: the sealed ones too
        try:
            out = _resample(panel, rule, calendar=trading, label=stamped)
        except ConfigError as exc:
            raise DataResampleError(
                f"resample {rec.name!r}: {exc.message}", hint=exc.hint
            ) from None
        source_boundary = self.holdouts.prospective_boundary(rec.name, stamps)

        def origin_at(source_boundary: pd.Timestamp | None) -> ResampleOrigin:
            return ResampleOrigin(
                rec.name,
                rec.version,
                rec.content_hash,
                rule,
                source.frequency,
                trading,
                stamped,
                len(stamps),
                len(out.panel.index),
                out.dropped,
                source_boundary,
                derived_boundary(
                    panel.index,
                    source_boundary,
                    rule,
                    calendar=trading,
                    label=stamped,
                ),
            )

        origin = origin_at(source_boundary)
        check_not_all_sealed(origin, out.panel.index[0])
        data = panel_rows(out.panel)
        checks = TradingCalendar(trading) if trading else None
        report = QualityReport(
            origin.source_text(), len(data), "resampled", tuple(check_long(data, calendar=checks))
        )
        if report.errors:
            raise DataResampleError(
                f"the resampled rows fail quality checks: "
                f"{', '.join(i.check for i in report.errors)}",
                hint=f"`alphaloop data check {rec.name}`, then repair and re-import the source",
            )
        # resampling is a use: seal the source now (another process may have sealed it
        # since it was read: then its recorded boundary decides)
        sealed = self.holdout_boundary(rec.name, rec.version)
        if sealed != source_boundary:
            origin = origin_at(sealed)
            check_not_all_sealed(origin, out.panel.index[0])
        holdout = self.holdouts.get(rec.name)
        others = [s for s in self._sealed_spans(data) if s.dataset not in (rec.name, target)]
        copies = tuple(find_copies(data, others))
        warned = tuple(caveat_of(w) for w in source.quality_report.warnings)
        caveats = [
            *origin.caveats(tuple(dict.fromkeys([*source.caveats, *warned]))),
            *(caveat_of(i) for i in report.warnings),
        ]
        if holdout is not None and holdout.unsealed_at is not None and holdout.boundary:
            caveats.append(
                f"the holdout of {rec.name} (from {holdout.boundary:%Y-%m-%d}) was evaluated on "
                f"{holdout.unsealed_at:%Y-%m-%d}: the resampled holdout's bars were seen before"
            )
        given = "trading_calendar" in source.market.given
        market = infer_market_calendar(
            data.calendar,
            infer_frequency(out.panel.index),
            has_volume="volume" in data.fields,
            asset_class=source.market.asset_class,
            volume=source.market.volume if "volume" in data.fields else None,
            trading_calendar=trading,
            calendar_given=given,
        )
        seal = DerivedSeal(
            origin.boundary,
            holdout.fraction if holdout is not None else self.holdouts.default_fraction,
            {**origin.to_dict(), "resampled": True},
        )
        info = self._record(
            target,
            data,
            origin.source_text(),
            description or origin.describe(),
            caveats,
            report,
            layout="resampled",
            repairs=[],
            status="accepted",
            copies=copies,
            market=market,
            extra_meta={"resampled": origin.to_dict()},
            derived=seal,
        )
        assert info is not None
        return ResampleResult(
            self.info(target, info.version), origin, "created", self.holdouts.get(target), copies
        )

    def _resampled_current(
        self, target: str, source: str, rule: str, label: str
    ) -> DatasetInfo | None:
        """The current version of ``target`` when it was resampled from ``source`` at ``rule``.

        None when ``target`` is not in the workspace. Raises
        :class:`~alphaloop.errors.DatasetExistsError` when it is, from
        another source, another rule or label, or not resampled at all.
        """
        try:
            info = self.info(target)
        except DatasetNotFoundError:
            return None
        prior = info.resampled
        if prior is None or prior.get("dataset") != source:
            was = (
                f"resampled from {prior.get('dataset')!r}"
                if prior
                else f"not resampled (source {info.source})"
            )
            raise DatasetExistsError(
                f"dataset {target!r} exists and was {was}, not from {source!r}",
                hint="give the resampled dataset another name with --as",
            )
        if prior.get("rule") != rule or prior.get("label", "start") != label:
            raise DatasetExistsError(
                f"dataset {target!r} holds {source!r} resampled to {prior.get('rule')} "
                f"({prior.get('label', 'start')}-stamped source bars), not to {rule} "
                f"({label}-stamped)",
                hint="give the resampled dataset another name with --as",
            )
        return info

    def _validate_name(self, name: str) -> None:
        if not NAME_PATTERN.match(name):
            raise AlphaloopError(
                f"invalid dataset name {name!r}",
                hint="use letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
        if name in BUNDLED:
            raise DatasetExistsError(
                f"{name!r} is a bundled dataset and cannot be replaced",
                hint="import under another name",
            )

    def _record(
        self,
        name: str,
        data: LongData,
        source: str,
        description: str,
        caveats: list[str],
        report: QualityReport,
        *,
        layout: str,
        repairs: list[Repair],
        status: str,
        source_path: str | None = None,
        import_report: QualityReport | None = None,
        copies: tuple[SealedCopy, ...] = (),
        first_only: bool = False,
        asset_class: str | None = None,
        periods_per_year: float | None = None,
        market: MarketCalendar | None = None,
        extra_meta: dict[str, Any] | None = None,
        trading_calendar: tuple[str | None, bool] = (None, False),
        derived: DerivedSeal | None = None,
    ) -> DatasetInfo | None:
        """Store ``data`` as the next version of ``name``; safe against concurrent writers.

        ``report`` describes the stored rows (after repairs); ``import_report``
        the file as read (default: ``report``), kept with the import attempt.
        With ``first_only`` (bundled datasets) nothing is stored when ``name``
        has a version already, and None is returned. ``copies``: sealed rows
        the data copies (the dataset inherits the seal, in the same transaction).
        The market calendar (asset class, bars per year) is read from the
        timestamps unless ``asset_class``/``periods_per_year`` say otherwise,
        and stored with the version, unless ``market`` gives it. ``extra_meta``
        adds keys to the version's ``meta.json`` (a combined dataset's sources).
        ``derived``: the holdout a resampled dataset inherits from its source.
        """
        calendar = data.calendar  # cached on the rows: the store reuses it
        if market is None:
            market = infer_market_calendar(
                calendar,
                infer_frequency(pd.DatetimeIndex(calendar.view("datetime64[ns]"))),
                has_volume="volume" in data.fields,
                asset_class=asset_class,
                periods_per_year_given=periods_per_year,
                trading_calendar=trading_calendar[0],
                calendar_given=trading_calendar[1],
            )
        staging = ParquetStore(self.store.root / STAGING / uuid.uuid4().hex)
        meta = {**(extra_meta or {}), "market": market.to_dict()}
        try:
            stored = staging.write(name, 0, data, extra_meta=meta)
            for attempt in range(_RECORD_ATTEMPTS):
                try:
                    return self._commit(
                        name,
                        stored.path,
                        stored,
                        data,
                        source=source,
                        description=description,
                        caveats=caveats,
                        report=report,
                        import_report=import_report or report,
                        layout=layout,
                        repairs=repairs,
                        status=status,
                        source_path=source_path,
                        copies=copies,
                        first_only=first_only,
                        market=market,
                        combined=(extra_meta or {}).get("combined"),
                        resampled=(extra_meta or {}).get("resampled"),
                        derived=derived,
                    )
                except IntegrityError as exc:
                    # another process took this version number (or sealed this name) first
                    if attempt == _RECORD_ATTEMPTS - 1:
                        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                        raise StoreError(f"cannot record dataset {name!r}: {reason}") from exc
                    time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            shutil.rmtree(staging.root, ignore_errors=True)

    def _commit(
        self,
        name: str,
        staged: Path,
        stored: Any,
        data: LongData,
        *,
        source: str,
        description: str,
        caveats: list[str],
        report: QualityReport,
        import_report: QualityReport,
        layout: str,
        repairs: list[Repair],
        status: str,
        source_path: str | None,
        copies: tuple[SealedCopy, ...],
        first_only: bool,
        market: MarketCalendar,
        combined: dict[str, Any] | None = None,
        resampled: dict[str, Any] | None = None,
        derived: DerivedSeal | None = None,
    ) -> DatasetInfo | None:
        """One attempt: claim (name, version) with a row and move the staged files in."""
        started = datetime.now(UTC)
        moved: Path | None = None
        try:
            with self.db.write_session() as s:
                q = select(func.count(DatasetRecord.id), func.max(DatasetRecord.version))
                n_versions, top = s.execute(q.where(DatasetRecord.name == name)).one()
                if first_only and n_versions:
                    return None
                version = int(top or 0) + 1
                final = self.store.version_dir(name, version)
                quality = {**report.to_dict(), "repairs": [r.to_dict() for r in repairs]}
                rec = DatasetRecord(
                    name=name,
                    version=version,
                    source=source,
                    description=description,
                    frequency=stored.frequency,
                    start=stored.start.to_pydatetime(),
                    end=stored.end.to_pydatetime(),
                    n_assets=len(stored.assets),
                    n_times=stored.n_times,
                    rows=stored.rows,
                    fields=list(stored.fields),
                    assets_preview=list(stored.assets[:50]),
                    caveats=caveats,
                    quality=quality,
                    content_hash=stored.content_hash,
                    path=str(final),
                )
                s.add(rec)
                s.flush()  # claims (name, version), or raises IntegrityError
                s.add(
                    ImportRecord(
                        dataset_id=rec.id,
                        name=name,
                        source_path=source_path or source,
                        layout=layout,
                        status=status,
                        rows_in=import_report.rows,
                        rows_out=stored.rows,
                        report=import_report.to_dict(),
                        repairs=[r.to_dict() for r in repairs],
                        started_at=started,
                        finished_at=datetime.now(UTC),
                    )
                )
                if copies or derived is not None:
                    self._inherit_seal(s, name, data, copies, derived)
                s.flush()
                if final.exists():
                    # files without a row (ours holds the version now): left by a
                    # process that stopped between moving its files in and committing
                    shutil.rmtree(final)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staged, final)
                moved = final
            moved = None  # committed: the files belong to the row
        except BaseException:
            # an interrupt (Ctrl-C) can land after the database committed but before the
            # session returned: the files then belong to the row and stay. When the row
            # is not there, or that cannot be told, the files stay too: files without a
            # row are cleared by the next writer of that version (above)
            if moved is not None and self._version_absent(name, version, stored.content_hash):
                os.rename(moved, staged)
            raise
        info = DatasetInfo.from_record(rec, stored.assets, market)
        return replace(info, combined=combined, resampled=resampled)

    def _version_absent(self, name: str, version: int, content_hash: str) -> bool:
        """True only when the database surely holds no row of this (name, version, hash)."""
        try:
            with self.db.session() as s:
                found = s.scalar(
                    select(func.count(DatasetRecord.id)).where(
                        DatasetRecord.name == name,
                        DatasetRecord.version == version,
                        DatasetRecord.content_hash == content_hash,
                    )
                )
        except Exception:
            return False
        return not found

    def _inherit_seal(
        self,
        s: Any,
        name: str,
        data: LongData,
        copies: tuple[SealedCopy, ...],
        derived: DerivedSeal | None = None,
    ) -> None:
        """Seal ``name`` from the first copied sealed bar, in the caller's transaction.

        ``derived``: the holdout a resampled dataset takes from its source
        (its boundary, or the first copied bar if earlier), instead of the
        dataset's own share. Refuses (HoldoutError) when ``name`` is sealed
        already from a later bar or has no holdout: its research span would
        hold sealed rows.
        """
        first = min(c.first for c in copies) if copies else None
        if derived is not None:
            target = derived.boundary
            if first is not None:
                target = first if target is None else min(target, first)
        else:
            assert first is not None
            own = first_sealed_bar(self.holdouts.default_fraction, data.calendar)
            target = first if own is None else min(own, first)
        existing = s.scalars(select(HoldoutRecord).where(HoldoutRecord.dataset == name)).first()
        if existing is not None:
            info = Holdouts._info(existing)
            limit = target if derived is not None else first  # the first sealed bar held
            if limit is None or (info.boundary is not None and info.boundary <= limit):
                return  # the sealed rows lie inside this dataset's own holdout already
            starts = f"starts {info.boundary:%Y-%m-%d}" if info.boundary is not None else "is 0"
            if derived is not None:
                raise HoldoutError(
                    f"resampling into {name!r} refused: its bars aggregate the sealed holdout "
                    f"of {derived.inherited.get('dataset')!r} from {target:%Y-%m-%d %H:%M} UTC, "
                    f"but the holdout of {name!r} {starts} and was fixed at its first use, so "
                    "those bars would be readable by research",
                    hint="resample under a new name (--as): a new dataset inherits the seal",
                )
            raise HoldoutError(
                f"import into {name!r} refused: {_describe_copies(copies)}, but the holdout of "
                f"{name!r} {starts} and was fixed at its first use, so the copied rows would "
                "be readable by research",
                hint="import the file under a new name: a new dataset inherits the seal",
            )
        if derived is not None:
            inherited = {**derived.inherited, "copies": [c.to_dict() for c in copies]}
            s.add(new_record(name, derived.fraction, target, inherited))
            return
        inherited = {**copies[0].to_dict(), "others": [c.dataset for c in copies[1:]]}
        s.add(new_record(name, self.holdouts.default_fraction, target, inherited))

    def _sealed_spans(self, rows: LongData) -> list[SealedSpan]:
        """Sealed rows of every dataset version that overlaps ``rows`` in time."""
        if not len(rows):
            return []
        lo = pd.Timestamp(int(rows.timestamps.min()), tz="UTC")
        hi = pd.Timestamp(int(rows.timestamps.max()), tz="UTC")
        spans: list[SealedSpan] = []
        for holdout in self.holdouts.list():
            if holdout.boundary is None or holdout.boundary > hi:
                continue
            with self.db.session() as s:
                recs = s.scalars(
                    select(DatasetRecord).where(
                        DatasetRecord.name == holdout.dataset,
                        DatasetRecord.end >= max(holdout.boundary, lo).to_pydatetime(),
                    )
                ).all()
            seen: set[str] = set()
            for rec in recs:
                if rec.content_hash in seen:
                    continue
                seen.add(rec.content_hash)
                span = self._sealed_span(rec, holdout.boundary, lo, hi)
                if span is not None:
                    spans.append(span)
        return spans

    def _sealed_span(
        self, rec: DatasetRecord, boundary: pd.Timestamp, lo: pd.Timestamp, hi: pd.Timestamp
    ) -> SealedSpan | None:
        meta = self.store.meta(rec.name, rec.version)
        price = main_price_field(tuple(meta["fields"]), sorted(PRICE_FIELDS)) or (
            meta["fields"][0] if meta["fields"] else None
        )
        if price is None:
            return None
        calendar = self.store.calendar(rec.name, rec.version)
        t0 = int(np.searchsorted(calendar, max(boundary, lo).value))
        t1 = int(np.searchsorted(calendar, hi.value, side="right"))
        if t0 >= t1:
            return None
        table = pq.read_table(
            self.store.version_dir(rec.name, rec.version) / ROWS,
            columns=["t", "a", price],
            filters=[("t", ">=", t0), ("t", "<", t1)],
        )
        t = table.column("t").to_numpy().astype(np.int64)
        return SealedSpan(
            rec.name,
            rec.version,
            boundary,
            calendar[t],
            table.column("a").to_numpy().astype(np.int32),
            tuple(meta["assets"]),
            table.column(price).to_numpy(zero_copy_only=False).astype(np.float64),
        )

    def _record_refusal(self, name: str, path: str | Path, report: QualityReport) -> None:
        now = datetime.now(UTC)
        with self.db.session() as s:
            s.add(
                ImportRecord(
                    dataset_id=None,
                    name=name,
                    source_path=str(path),
                    layout=report.layout,
                    status="refused",
                    rows_in=report.rows,
                    rows_out=0,
                    report=report.to_dict(),
                    repairs=[],
                    started_at=now,
                    finished_at=now,
                )
            )

    def _record_attempt(
        self, name: str, path: str | Path, status: str, layout: str, started: datetime
    ) -> None:
        with self.db.session() as s:
            s.add(
                ImportRecord(
                    dataset_id=None,
                    name=name,
                    source_path=str(path),
                    layout=layout,
                    status=status,
                    rows_in=0,
                    rows_out=0,
                    report={},
                    repairs=[],
                    started_at=started,
                    finished_at=datetime.now(UTC),
                )
            )

    def imports(self, name: str | None = None) -> list[dict[str, Any]]:
        """Import attempts (newest first), optionally for one dataset name."""
        with self.db.session() as s:
            q = select(ImportRecord).order_by(ImportRecord.id.desc())
            if name is not None:
                q = q.where(ImportRecord.name == name)
            return [
                {
                    "id": r.id,
                    "name": r.name,
                    "source_path": r.source_path,
                    "status": r.status,
                    "rows_in": r.rows_in,
                    "rows_out": r.rows_out,
                    "repairs": r.repairs,
                    "started_at": _utc(r.started_at).isoformat(),
                }
                for r in s.scalars(q).all()
            ]


def _describe_copies(copies: tuple[SealedCopy, ...]) -> str:
    """The first copy in words, and the other datasets whose sealed rows were copied."""
    text = copies[0].describe()
    if len(copies) > 1:
        text += " (also the sealed rows of " + ", ".join(repr(c.dataset) for c in copies[1:]) + ")"
    return text


def _replace_quality(info: DatasetInfo, quality: dict[str, Any]) -> DatasetInfo:
    return replace(info, quality=quality)


def _file_calendar(
    data: LongData, given: str | None, asset_class: str | None
) -> tuple[str | None, bool]:
    """The trading calendar of a file's gap checks (given or inferred) and whether given."""
    valid = data.timestamps != NAT
    stamps = np.unique(data.timestamps[valid]) if not valid.all() else data.calendar
    frequency = infer_frequency(pd.DatetimeIndex(stamps.view("datetime64[ns]")))
    return resolve_trading_calendar(given, stamps, frequency, asset_class)
