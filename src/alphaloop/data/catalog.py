"""The workspace's datasets: bundled and imported, checked, versioned, loadable.

A dataset name maps to one or more immutable versions; importing under an
existing name adds a version and keeps the old one, so every earlier result
can still be traced to the exact data (by content hash) it used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sqlalchemy import func, select

from alphaloop.data.bundled import BUNDLED, load_bundled
from alphaloop.data.holdout import HoldoutError, HoldoutInfo, HoldoutKey, Holdouts
from alphaloop.data.long import LongData
from alphaloop.data.market_calendar import (
    MarketCalendar,
    check_asset_class,
    check_periods_per_year,
    infer_market_calendar,
)
from alphaloop.data.normalize import normalize
from alphaloop.data.panel import Panel, infer_frequency
from alphaloop.data.quality import (
    CHECKS,
    QualityIssue,
    QualityReport,
    Repair,
    apply_repairs,
    check_long,
    check_rows,
)
from alphaloop.data.readers import Layout, ReadOptions, read_table
from alphaloop.data.store import ROWS, ParquetStore
from alphaloop.errors import (
    AlphaloopError,
    DataQualityError,
    DatasetExistsError,
    DatasetNotFoundError,
    note_recorded_interruption,
)
from alphaloop.store import Database, DatasetRecord, ImportRecord

__all__ = ["DataCatalog", "DatasetInfo", "ImportResult"]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


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

    @property
    def bundled(self) -> bool:
        return self.source.startswith("bundled:")

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
            },
        }
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
            self._record(
                name,
                data,
                spec.source,
                spec.description,
                list(spec.caveats),
                report,
                layout="long",
                repairs=[],
                status="accepted",
                asset_class=spec.asset_class,
            )
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
        infos = [DatasetInfo.from_record(r, tuple(r.assets_preview), self._market(r)) for r in rows]
        return sorted(infos, key=lambda i: (not i.bundled, i.name))

    def info(self, name: str, version: int | None = None) -> DatasetInfo:
        """One dataset version (default: the current one), with all asset ids."""
        rec = self._get(name, version)
        meta = self.store.meta(rec.name, rec.version)
        return DatasetInfo.from_record(rec, tuple(meta["assets"]), self._market(rec, meta))

    def _market(self, rec: DatasetRecord, meta: dict[str, Any] | None = None) -> MarketCalendar:
        """The version's market calendar as recorded at import.

        Versions stored before calendars were recorded get theirs read from
        the stored timestamps now (bundled ones with their asset class).
        """
        meta = self.store.meta(rec.name, rec.version) if meta is None else meta
        if "market" in meta:
            return MarketCalendar.from_dict(meta["market"])
        bundled = BUNDLED.get(rec.name) if rec.source.startswith("bundled:") else None
        return infer_market_calendar(
            self.store.calendar(rec.name, rec.version),
            rec.frequency,
            has_volume="volume" in rec.fields,
            asset_class=bundled.asset_class if bundled else None,
        )

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
        unsealing reaches past it.
        """
        rec = self._get(name, version)
        boundary = self.holdout_boundary(rec.name, rec.version)
        if holdout_key is not None:
            if not isinstance(holdout_key, HoldoutKey) or holdout_key.dataset != rec.name:
                raise HoldoutError(f"that holdout key does not open {rec.name!r}")
            boundary = None
        if boundary is not None:
            if start is not None and _ts(start) >= boundary:
                raise HoldoutError(
                    f"{start} lies in the sealed holdout of {rec.name!r} "
                    f"(from {boundary:%Y-%m-%d}); research cannot read it",
                    hint="final strategies are evaluated on it once: `alphaloop holdout unseal`",
                )
            last = boundary - pd.Timedelta(1, "ns")
            end = last if end is None else min(_ts(end), last)
        return self.store.load(
            rec.name, rec.version, start=start, end=end, assets=assets, fields=fields
        )

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
    ) -> tuple[QualityReport, LongData]:
        """Read and check a file without importing it.

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
        report, data, _ = DataCatalog._check_file(path, opts, stale_min_run=stale_min_run)
        return report, data

    @staticmethod
    def _check_file(
        path: str | Path, options: ReadOptions, *, stale_min_run: int = 5
    ) -> tuple[QualityReport, LongData, LongData]:
        """:meth:`check_file`, also returning the checked rows sorted by (asset, time).

        The report's notes end with the options that differ from the defaults.
        """
        raw = read_table(path, options)
        data, parse_issues = normalize(raw)
        described = options.describe()
        if described:
            raw.notes.append(described)
        n_rows, file_layout, notes = raw.table.num_rows, raw.layout, tuple(raw.notes)
        del raw  # the Arrow table is parsed: free it before the checks copy the rows
        row_issues, rows = check_rows(data, stale_min_run=stale_min_run)
        issues = parse_issues + row_issues
        order = {k: i for i, k in enumerate(CHECKS)}
        issues.sort(key=lambda i: order[i.check])
        report = QualityReport(str(path), n_rows, file_layout, tuple(issues), notes)
        return report, data, rows

    def check_dataset(
        self, name: str, version: int | None = None, *, stale_min_run: int = 5
    ) -> QualityReport:
        """Run the row checks again on a stored dataset version."""
        rec = self._get(name, version)
        data = self._stored_rows(rec)
        issues = check_long(data, stale_min_run=stale_min_run)
        note = "locations give row numbers of the stored rows (sorted by asset, then time)"
        return QualityReport(
            f"{rec.name} v{rec.version}", rec.rows, "stored", tuple(issues), (note,)
        )

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
        the version.
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
    ) -> ImportResult:
        self._validate_name(name)
        self.ensure_bundled()
        # ``rows``: the rows with a parsed timestamp, sorted; every row when the import goes on
        report, data, rows = self._check_file(path, opts)
        del data  # the rows in file order: free them before the rows are stored
        source = f"import:{Path(path).resolve()}"
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
            final_issues, rows = check_rows(repaired)
            final = QualityReport(
                report.source, len(rows), report.layout, tuple(final_issues), report.notes
            )
            if final.errors:
                self._record_refusal(name, path, final)
                raise DataQualityError(
                    f"import of {path} refused: problems remain after repair "
                    f"({', '.join(i.check for i in final.errors)})",
                    final,
                )
        status = "repaired" if repairs else "accepted"
        warnings = [f"{i.check}: {i.message}" for i in final.warnings]
        info = self._record(
            name,
            rows,
            source,
            description,
            [*(caveats or []), *warnings],
            report,
            layout=report.layout,
            repairs=repairs,
            status=status,
            source_path=str(path),
            asset_class=asset_class,
            periods_per_year=periods_per_year,
        )
        return ImportResult(info, status, report, tuple(repairs), final, opts)

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

    def _next_version(self, name: str) -> int:
        with self.db.session() as s:
            current = s.scalar(
                select(func.max(DatasetRecord.version)).where(DatasetRecord.name == name)
            )
        return int(current or 0) + 1

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
        asset_class: str | None = None,
        periods_per_year: float | None = None,
    ) -> DatasetInfo:
        version = self._next_version(name)
        if self.store.version_dir(name, version).exists():
            # Files without a database row: left by a crash between the two
            # writes. Nothing refers to them, so the new version takes their place.
            self.store.delete(name, version)
        calendar = data.calendar  # cached on the rows: the store reuses it
        market = infer_market_calendar(
            calendar,
            infer_frequency(pd.DatetimeIndex(calendar.view("datetime64[ns]"))),
            has_volume="volume" in data.fields,
            asset_class=asset_class,
            periods_per_year_given=periods_per_year,
        )
        stored = self.store.write(name, version, data, extra_meta={"market": market.to_dict()})
        started = datetime.now(UTC)
        try:
            with self.db.session() as s:
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
                    quality=report.to_dict(),
                    content_hash=stored.content_hash,
                    path=str(stored.path),
                )
                s.add(rec)
                s.flush()
                s.add(
                    ImportRecord(
                        dataset_id=rec.id,
                        name=name,
                        source_path=source_path or source,
                        layout=layout,
                        status=status,
                        rows_in=report.rows,
                        rows_out=stored.rows,
                        report=report.to_dict(),
                        repairs=[r.to_dict() for r in repairs],
                        started_at=started,
                        finished_at=datetime.now(UTC),
                    )
                )
        except BaseException:
            self.store.delete(name, version)
            raise
        return DatasetInfo.from_record(rec, stored.assets, market)

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


def summarize_issue(issue: QualityIssue) -> str:
    """One line for a terminal: severity, check, message, first location."""
    where = ""
    if issue.locations:
        loc = issue.locations[0]
        parts = [
            f"line {loc['line']}" if loc.get("line") else None,
            loc.get("asset"),
            loc.get("timestamp"),
            loc.get("column"),
        ]
        where = " (first at " + ", ".join(str(p) for p in parts if p) + ")"
    return f"{issue.severity}: {issue.check}: {issue.message}{where}"
