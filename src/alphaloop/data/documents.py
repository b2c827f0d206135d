"""The workspace's documents (news, filings, transcripts): checked imports, point-in-time reads.

A document is text about one asset with the time it was published. The
publication time is what makes a document usable without lookahead: a text
factor counts a document at a bar only once ``published_at`` (plus a
latency) has passed. Times are stored in UTC, rounded *up* to the
microsecond (the databases' precision), so rounding never makes a document
available earlier than its file says.

Quality rules of an import (see :meth:`DocumentStore.import_file`); any
error refuses the whole import, which is one transaction (all or nothing):

- a missing or unparseable publication time is an error naming the rows
  (1-based file lines in CSV and JSON Lines files, row numbers in Parquet);
- a time without a UTC offset is refused unless a time zone is given, in
  which it is then read; times with an offset are read at their offset;
- a publication time in the future is an error;
- a missing asset, or empty (or blank) text, is an error;
- assets outside the given set are an error listing them, or with
  ``skip_unknown`` their rows are skipped and counted;
- a document is identified by ``doc_id``, the SHA-256 of its asset,
  publication time, source, kind and text: a document repeated in the file,
  or stored by an earlier import, is kept once and counted.

Warnings never refuse an import: dates without a time of day (taken as
midnight at the start of the day, in the given zone), and dates whose day
and month could be read either way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from alphaloop.data.document_files import DocumentTable, read_documents
from alphaloop.data.long import NAT
from alphaloop.data.timestamps import check_timezone, parse_timestamps
from alphaloop.errors import DocumentError
from alphaloop.store import Database, DocumentRow

__all__ = ["DOCUMENT_COLUMNS", "DocumentImport", "DocumentStore", "document_id"]

#: columns of :meth:`DocumentStore.load`
DOCUMENT_COLUMNS = ("doc_id", "asset", "published_at", "source", "kind", "text")
_OFFSET = r"(Z|z|[+-]\d{2}:?\d{2})$"
_TIME_OF_DAY = r"\d:\d"
_SHOWN = 5  # rows or assets named in a message
_CHUNK = 500  # rows per INSERT statement and ids per IN (...) query
_US = 1_000  # nanoseconds per microsecond
_MAX_ASSET, _MAX_SOURCE, _MAX_KIND = 200, 200, 100  # the database's column sizes
_YYYYMMDD = (1_000_01_01, 3_000_12_31)  # integers read as dates (as the price import does)


@dataclass(frozen=True)
class DocumentImport:
    """What an accepted import did.

    Attributes
    ----------
    path : str
    rows : int
        Data rows in the file.
    imported : int
        New documents stored.
    duplicates : int
        Rows repeating a document earlier in the same file (kept once).
    already_stored : int
        Rows whose document an earlier import stored (not stored again).
    skipped_unknown : int
        Rows skipped because their asset is not among the known assets
        (``skip_unknown=True``); ``unknown_assets`` names those assets.
    unknown_assets : tuple of str
    assets : int
        Distinct assets of the rows kept (new or already stored).
    first, last : datetime or None
        Earliest and latest publication time of the rows kept (UTC).
    warnings : tuple of str
    notes : tuple of str
    """

    path: str
    rows: int
    imported: int
    duplicates: int
    already_stored: int
    skipped_unknown: int = 0
    unknown_assets: tuple[str, ...] = ()
    assets: int = 0
    first: datetime | None = None
    last: datetime | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def rejected(self) -> dict[str, int]:
        """Rows left out of the store, by reason (``unknown_asset``, ``duplicate``,
        ``already_stored``); reasons with no rows are left out."""
        counts = {
            "unknown_asset": self.skipped_unknown,
            "duplicate": self.duplicates,
            "already_stored": self.already_stored,
        }
        return {k: v for k, v in counts.items() if v}

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows": self.rows,
            "imported": self.imported,
            "duplicates": self.duplicates,
            "already_stored": self.already_stored,
            "skipped_unknown": self.skipped_unknown,
            "unknown_assets": list(self.unknown_assets),
            "rejected": self.rejected,
            "assets": self.assets,
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }


def document_id(asset: str, published_at: Any, source: str, kind: str, text: str) -> str:
    """The SHA-256 (hex) identifying a document: equal for the same asset, publication
    time (UTC, microseconds), source, kind and text."""
    ts = pd.Timestamp(published_at)
    ns = (ts.tz_localize("UTC") if ts.tzinfo is None else ts).value
    return _hash(asset, _iso_us(np.array([ns], dtype=np.int64))[0], source, kind, text)


def _iso_us(ns: np.ndarray) -> np.ndarray:
    """UTC nanoseconds as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (truncated to microseconds)."""
    return np.char.add(np.datetime_as_string(ns.astype("datetime64[ns]"), unit="us"), "Z")


def _hash(asset: str, when: str, source: str, kind: str, text: str) -> str:
    payload = json.dumps([asset, when, source, kind, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class DocumentStore:
    """Documents of one database (table ``documents``).

    Parameters
    ----------
    db : Database
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ----------------------------------------------------------------- import
    def import_file(
        self,
        path: str | Path,
        *,
        assets: Collection[str] | None = None,
        timezone: str | None = None,
        skip_unknown: bool = False,
        source: str | None = None,
        kind: str | None = None,
        now: datetime | None = None,
        assets_name: str = "the known assets",
    ) -> DocumentImport:
        """Check a document file and store its documents, in one transaction.

        Parameters
        ----------
        path : str or Path
            CSV, JSON Lines or Parquet (see :mod:`alphaloop.data.document_files`).
        assets : collection of str, optional
            The known assets (e.g. a dataset's); default: any asset.
        timezone : str, optional
            IANA zone of times written without a UTC offset; without it such
            times are refused.
        skip_unknown : bool, default False
            Skip (and count) rows of assets outside ``assets`` instead of
            refusing the import.
        source, kind : str, optional
            Source and kind of rows whose file gives none (no column, or an
            empty cell); default: empty.
        now : datetime, optional
            The present, for the future-time rule; default: the clock.
        assets_name : str, default "the known assets"
            What ``assets`` are, for messages (e.g. ``"dataset 'sp500'"``).

        Raises
        ------
        DocumentError
            The file cannot be read, or breaks a quality rule (the message
            names the rows); nothing is stored.
        ConfigError
            ``timezone`` is not a time zone.
        """
        if timezone is not None:
            check_timezone(timezone)
        table = read_documents(path)
        rows = _checked_rows(
            table,
            assets=None if assets is None else frozenset(assets),
            timezone=timezone,
            skip_unknown=skip_unknown,
            source=source or "",
            kind=kind or "",
            now=pd.Timestamp(_bound(now or datetime.now(UTC))),
            assets_name=assets_name,
        )
        try:
            stored = self._store(rows.frame, str(Path(path).resolve()))
        except IntegrityError:  # a concurrent import stored some of them first: look again
            stored = self._store(rows.frame, str(Path(path).resolve()))
        frame = rows.frame
        return DocumentImport(
            path=str(path),
            rows=table.n_rows,
            imported=stored,
            duplicates=rows.duplicates,
            already_stored=len(frame) - stored,
            skipped_unknown=rows.skipped,
            unknown_assets=rows.unknown,
            assets=int(frame["asset"].nunique()),
            first=frame["published_at"].min().to_pydatetime() if len(frame) else None,
            last=frame["published_at"].max().to_pydatetime() if len(frame) else None,
            warnings=rows.warnings,
            notes=table.notes,
        )

    def _store(self, frame: pd.DataFrame, import_file: str) -> int:
        """Insert the documents not stored yet; how many were new."""
        with self.db.write_session() as s:
            ids = frame["doc_id"].tolist()
            known: set[str] = set()
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                known.update(
                    s.scalars(select(DocumentRow.doc_id).where(DocumentRow.doc_id.in_(chunk)))
                )
            new = frame[~frame["doc_id"].isin(known)]
            imported_at = datetime.now(UTC)
            published = pd.DatetimeIndex(new["published_at"]).to_pydatetime()
            records = [
                {
                    "doc_id": doc_id,
                    "asset": asset,
                    "published_at": when,
                    "source": source,
                    "kind": kind,
                    "text": text,
                    "import_file": import_file[-1000:],
                    "imported_at": imported_at,
                }
                for doc_id, asset, when, source, kind, text in zip(
                    new["doc_id"],
                    new["asset"],
                    published,
                    new["source"],
                    new["kind"],
                    new["text"],
                    strict=True,
                )
            ]
            for i in range(0, len(records), _CHUNK):
                _insert_chunk(s, records[i : i + _CHUNK])
        return len(records)

    # ------------------------------------------------------------------- read
    def load(
        self,
        *,
        assets: Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        sources: Iterable[str] | None = None,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> pd.DataFrame:
        """Stored documents, sorted by ``published_at``, then ``doc_id``.

        Parameters
        ----------
        assets, sources, kinds : iterable of str, optional
            Keep only these (default: all).
        start, end : datetime-like, optional
            Keep ``start <= published_at <= end`` (naive values are UTC).
        limit : int, optional
            Keep only the ``limit`` most recently published of them.

        Returns
        -------
        pandas.DataFrame
            Columns ``doc_id, asset, published_at`` (datetime64[ns, UTC])
            ``, source, kind, text``.
        """
        query = select(
            DocumentRow.doc_id,
            DocumentRow.asset,
            DocumentRow.published_at,
            DocumentRow.source,
            DocumentRow.kind,
            DocumentRow.text,
        )
        if assets is not None:
            query = query.where(DocumentRow.asset.in_(list(assets)))
        if sources is not None:
            query = query.where(DocumentRow.source.in_(list(sources)))
        if kinds is not None:
            query = query.where(DocumentRow.kind.in_(list(kinds)))
        if start is not None:
            query = query.where(DocumentRow.published_at >= _bound(start))
        if end is not None:
            query = query.where(DocumentRow.published_at <= _bound(end))
        if limit is not None:
            if limit < 0:
                raise DocumentError(f"limit must be 0 or more, got {limit}")
            query = query.order_by(
                DocumentRow.published_at.desc(), DocumentRow.doc_id.desc()
            ).limit(limit)
        with self.db.session() as s:
            rows = s.execute(query).all()
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(DOCUMENT_COLUMNS))
        frame["published_at"] = pd.to_datetime(
            [_utc(t) for t in frame["published_at"]], utc=True
        ).as_unit("ns")
        return frame.sort_values(["published_at", "doc_id"], ignore_index=True)

    def summary(self) -> dict[str, Any]:
        """Counts of the stored documents.

        Returns
        -------
        dict
            ``documents``, ``assets`` (distinct), ``first`` and ``last``
            publication times (ISO 8601, UTC, or None), ``sources`` and
            ``kinds`` (name -> count), ``per_asset`` (asset -> ``documents``,
            ``first``, ``last``).
        """
        with self.db.session() as s:
            per_asset = s.execute(
                select(
                    DocumentRow.asset,
                    func.count(),
                    func.min(DocumentRow.published_at),
                    func.max(DocumentRow.published_at),
                )
                .group_by(DocumentRow.asset)
                .order_by(DocumentRow.asset)
            ).all()
            sources = s.execute(
                select(DocumentRow.source, func.count())
                .group_by(DocumentRow.source)
                .order_by(DocumentRow.source)
            ).all()
            kinds = s.execute(
                select(DocumentRow.kind, func.count())
                .group_by(DocumentRow.kind)
                .order_by(DocumentRow.kind)
            ).all()
        firsts = [_utc(r[2]) for r in per_asset]
        lasts = [_utc(r[3]) for r in per_asset]
        return {
            "documents": sum(int(r[1]) for r in per_asset),
            "assets": len(per_asset),
            "first": min(firsts).isoformat() if firsts else None,
            "last": max(lasts).isoformat() if lasts else None,
            "sources": {str(name): int(n) for name, n in sources},
            "kinds": {str(name): int(n) for name, n in kinds},
            "per_asset": {
                str(a): {
                    "documents": int(n),
                    "first": _utc(lo).isoformat(),
                    "last": _utc(hi).isoformat(),
                }
                for a, n, lo, hi in per_asset
            },
        }


def _insert_chunk(session: Any, records: list[dict[str, Any]]) -> None:
    session.execute(insert(DocumentRow), records)


def _utc(value: Any) -> datetime:
    """A datetime read back from the database, in UTC (SQLite returns it naive)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _bound(value: Any) -> datetime:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DocumentError(f"not a date/time: {value!r}") from exc
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.to_pydatetime()


# ------------------------------------------------------------------- the checks
@dataclass(frozen=True)
class _Rows:
    """The rows to store, with what the checks counted."""

    frame: pd.DataFrame  # DOCUMENT_COLUMNS, one row per distinct doc_id, in file order
    duplicates: int
    skipped: int
    unknown: tuple[str, ...]
    warnings: tuple[str, ...]


def _checked_rows(
    table: DocumentTable,
    *,
    assets: frozenset[str] | None,
    timezone: str | None,
    skip_unknown: bool,
    source: str,
    kind: str,
    now: pd.Timestamp,
    assets_name: str,
) -> _Rows:
    """The file's documents after the quality rules; DocumentError on any error."""
    n = table.n_rows
    times = _parse_times(table.columns["published_at"], timezone)
    asset = _strings(table.columns["asset"], strip=True)
    text = _strings(table.columns["text"], strip=False)
    sources = _defaulted(table.columns.get("source"), source, n)
    kinds = _defaulted(table.columns.get("kind"), kind, n)

    keep = np.ones(n, dtype=bool)
    unknown: tuple[str, ...] = ()
    no_asset = np.array([a is None for a in asset], dtype=bool)
    outside = np.zeros(n, dtype=bool)
    if assets is not None:
        outside = np.array([a is not None and a not in assets for a in asset], dtype=bool)
        unknown = tuple(sorted({a for a, o in zip(asset, outside, strict=True) if o}))
        if skip_unknown:
            keep &= ~outside
    problems: list[str] = []
    where = _Locator(table)
    if (no_asset & keep).any():
        problems.append(f"no asset in {where(no_asset & keep)}")
    if unknown and not skip_unknown:
        shown = ", ".join(unknown[:_SHOWN]) + (" ..." if len(unknown) > _SHOWN else "")
        problems.append(
            f"{len(unknown)} asset(s) not in {assets_name}: {shown} "
            f"(in {where(outside)}); skip their rows with --skip-unknown (skip_unknown=True)"
        )
    missing = times.missing & keep
    if missing.any():
        problems.append(f"no publication time in {where(missing)}")
    bad = times.unparseable & keep
    if bad.any():
        problems.append(
            f"publication time(s) that cannot be read as a date/time in {where(bad, times.text)}"
        )
    naive = times.naive & keep
    if naive.any():
        problems.append(
            f"publication time(s) without a UTC offset in {where(naive, times.text)}; "
            "give each time an offset (2024-01-02T14:30:00Z) or a time zone (--timezone)"
        )
    future = (times.ns > now.value) & (times.ns != NAT) & keep
    if future.any():
        problems.append(
            f"publication time(s) in the future (after {now.tz_convert('UTC'):%Y-%m-%d %H:%M} "
            f"UTC) in {where(future, times.text)}"
        )
    empty = np.array([t is None or not t.strip() for t in text], dtype=bool) & keep
    if empty.any():
        problems.append(f"empty text in {where(empty)}")
    for name, values, limit in (
        ("asset", asset, _MAX_ASSET),
        ("source", sources, _MAX_SOURCE),
        ("kind", kinds, _MAX_KIND),
    ):
        long = np.array([v is not None and len(v) > limit for v in values], dtype=bool) & keep
        if long.any():
            problems.append(f"{name} longer than {limit} characters in {where(long, values)}")
    if problems:
        raise DocumentError(
            f"{table.path}: import refused: " + "; ".join(problems),
            hint="fix those rows; nothing was stored",
        )
    index = np.flatnonzero(keep)
    published = pd.to_datetime(times.ns[index], utc=True).as_unit("ns")
    frame = pd.DataFrame(
        {
            "asset": [asset[i] for i in index],
            "published_at": published,
            "source": [sources[i] for i in index],
            "kind": [kinds[i] for i in index],
            "text": [text[i] for i in index],
        }
    )
    when = _iso_us(times.ns[index])
    frame.insert(
        0,
        "doc_id",
        [
            _hash(a, w, so, k, t)
            for a, w, so, k, t in zip(
                frame["asset"], when, frame["source"], frame["kind"], frame["text"], strict=True
            )
        ],
    )
    distinct = frame.drop_duplicates("doc_id", ignore_index=True)
    warnings = list(times.warnings(where))
    return _Rows(distinct, len(frame) - len(distinct), int((~keep).sum()), unknown, tuple(warnings))


class _Locator:
    """Names the first rows of a mask: ``lines 3, 7, 9 (and 2 more)``."""

    def __init__(self, table: DocumentTable) -> None:
        self.locators = table.locators
        self.unit = table.unit

    def __call__(self, mask: np.ndarray, written: list[str | None] | None = None) -> str:
        rows = np.flatnonzero(mask)
        parts = []
        for r in rows[:_SHOWN]:
            part = str(int(self.locators[r]))
            if written is not None and written[r] is not None:
                part += f" {str(written[r])[:40]!r}"
            parts.append(part)
        more = f" and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
        unit = self.unit if len(rows) == 1 else f"{self.unit}s"
        return f"{len(rows)} row(s): {unit} {', '.join(parts)}{more}"


def _strings(col: pa.ChunkedArray, *, strip: bool) -> list[str | None]:
    values = col.to_pylist()
    if not strip:
        return values
    out = [v.strip() if v is not None else None for v in values]
    return [v if v else None for v in out]


def _defaulted(col: pa.ChunkedArray | None, default: str, n: int) -> list[str]:
    if col is None:
        return [default] * n
    return [(v or "").strip() or default for v in col.to_pylist()]


# ------------------------------------------------------------------------ times
@dataclass
class _Times:
    """Publication times parsed to UTC nanoseconds (ceiled to microseconds), per row."""

    ns: np.ndarray  # int64, NAT where missing or unparseable
    missing: np.ndarray
    unparseable: np.ndarray
    naive: np.ndarray  # read, but without a UTC offset and no time zone was given
    date_only: np.ndarray
    text: list[str | None]  # as written, for messages
    ambiguous: list[tuple[np.ndarray, bool]]  # (rows, read day first) per parsed part

    def warnings(self, where: _Locator) -> Iterable[str]:
        date_only = self.date_only & (self.ns != NAT)
        if date_only.any():
            yield (
                f"dates without a time of day, taken as midnight at the start of the day, in "
                f"{where(date_only, self.text)}: a document published later that day would "
                "count early; give times of day, or a latency of at least one day"
            )
        for rows, day_first in self.ambiguous:
            mask = np.zeros(len(self.ns), dtype=bool)
            mask[rows] = True
            taken = "day first" if day_first else "month first"
            yield (
                f"dates whose day and month could be read either way were read {taken} in "
                f"{where(mask, self.text)}; write them as ISO 8601 (2024-01-02) to be sure"
            )


def _parse_times(col: pa.ChunkedArray, timezone: str | None) -> _Times:
    """Parse a publication-time column; rows without an offset need ``timezone``."""
    n = len(col)
    written = [None if v is None else str(v) for v in col.to_pylist()]
    col = _integers_if_all(col)
    typ = col.type
    present = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
    ns = np.full(n, NAT, dtype=np.int64)
    unparseable = np.zeros(n, dtype=bool)
    naive = np.zeros(n, dtype=bool)
    date_only = np.zeros(n, dtype=bool)
    ambiguous: list[tuple[np.ndarray, bool]] = []
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ) or pa.types.is_integer(typ):
        values, info = parse_timestamps(col, "UTC" if _aware(col) else (timezone or "UTC"))
        ns[:] = values
        unparseable = np.asarray(info["unparseable"], dtype=bool) & present
        if not _aware(col):
            naive = present & ~unparseable & (timezone is None)
            if not pa.types.is_timestamp(typ):  # dates, and integers written as YYYYMMDD
                date_only = present.copy()
    else:
        text = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
        nonempty = pc.fill_null(pc.not_equal(text, ""), False)
        present &= np.asarray(nonempty.to_numpy(zero_copy_only=False), dtype=bool)
        offset = np.asarray(
            pc.fill_null(pc.match_substring_regex(text, _OFFSET), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        clock = np.asarray(
            pc.fill_null(pc.match_substring_regex(text, _TIME_OF_DAY), False).to_numpy(
                zero_copy_only=False
            ),
            dtype=bool,
        )
        for part, zone in ((present & offset, "UTC"), (present & ~offset, timezone or "UTC")):
            rows = np.flatnonzero(part)
            if not len(rows):
                continue
            values, info = parse_timestamps(text.take(pa.array(rows)), zone)
            ns[rows] = values
            unparseable[rows] = np.asarray(info["unparseable"], dtype=bool)
            if info.get("ambiguous") is not None:
                ambiguity = info["ambiguous"]
                ambiguous.append((rows[ambiguity.rows], ambiguity.day_first))
        naive = present & ~offset & ~unparseable & (timezone is None)
        date_only = present & ~clock
    ns[unparseable | ~present] = NAT
    ns = _ceil_us(ns)
    return _Times(ns, ~present, unparseable, naive, date_only, written, ambiguous)


def _integers_if_all(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """A text column of whole numbers only (epochs, YYYYMMDD dates in CSV) as int64."""
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return col
    text = pc.utf8_trim_whitespace(col)
    digits = pc.match_substring_regex(text, r"^-?\d{1,19}$")
    if pc.all(pc.fill_null(digits, True)).as_py() and pc.any(pc.is_valid(text)).as_py():
        try:
            return pc.cast(text, pa.int64())
        except (pa.ArrowInvalid, OverflowError):
            return col
    return col


def _aware(col: pa.ChunkedArray) -> bool:
    """Typed times that carry their instant: zoned timestamps, epoch integers."""
    typ = col.type
    if pa.types.is_timestamp(typ):
        return typ.tz is not None
    if pa.types.is_integer(typ):
        values = pc.drop_null(col).to_numpy(zero_copy_only=False)
        lo, hi = _YYYYMMDD
        return not (len(values) and values.min() >= lo and values.max() <= hi)
    return False


def _ceil_us(ns: np.ndarray) -> np.ndarray:
    """Nanoseconds rounded up to whole microseconds (NAT kept)."""
    valid = ns != NAT
    out = ns.copy()
    out[valid] = -((-ns[valid]) // _US) * _US
    return out
