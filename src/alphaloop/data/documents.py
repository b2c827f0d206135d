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

Files are read by :mod:`alphaloop.data.document_files`, times parsed by
:mod:`alphaloop.data.document_times`, the rules applied by
:mod:`alphaloop.data.document_checks`; this module stores and reads.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from alphaloop.data.document_checks import check_documents, document_id
from alphaloop.data.document_files import read_documents
from alphaloop.data.timestamps import check_timezone
from alphaloop.errors import DocumentError
from alphaloop.store import Database, DocumentRow

__all__ = ["DOCUMENT_COLUMNS", "DocumentImport", "DocumentStore", "document_id"]

#: columns of :meth:`DocumentStore.load`
DOCUMENT_COLUMNS = ("doc_id", "asset", "published_at", "source", "kind", "text")
_CHUNK = 500  # rows per INSERT statement and ids per IN (...) query


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
        rows = check_documents(
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
