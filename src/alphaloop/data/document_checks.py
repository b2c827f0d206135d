"""The quality rules of a document import, applied to the rows of a file.

Any error refuses the whole import with one :class:`~alphaloop.errors.DocumentError`
naming the rows (see :mod:`alphaloop.data.documents` for the rules); the
rows that pass get their ``doc_id``: the SHA-256 of asset, publication time
(UTC, microseconds), source, kind and text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from alphaloop.data.document_files import DocumentTable, RowLocator
from alphaloop.data.document_times import iso_us, parse_publication_times
from alphaloop.data.long import NAT
from alphaloop.errors import DocumentError

__all__ = ["CheckedDocuments", "check_documents", "document_id"]

_SHOWN = 5  # assets named in a message
_MAX_ASSET, _MAX_SOURCE, _MAX_KIND = 200, 200, 100  # the database's column sizes


def document_id(asset: str, published_at: Any, source: str, kind: str, text: str) -> str:
    """The SHA-256 (hex) identifying a document: equal for the same asset, publication
    time (UTC, microseconds), source, kind and text."""
    ts = pd.Timestamp(published_at)
    ns = (ts.tz_localize("UTC") if ts.tzinfo is None else ts).value
    return _hash(asset, iso_us(np.array([ns], dtype=np.int64))[0], source, kind, text)


def _hash(asset: str, when: str, source: str, kind: str, text: str) -> str:
    payload = json.dumps([asset, when, source, kind, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CheckedDocuments:
    """The rows to store, with what the checks counted.

    Attributes
    ----------
    frame : pandas.DataFrame
        ``doc_id, asset, published_at, source, kind, text``: one row per
        distinct document, in file order.
    duplicates : int
        Rows repeating a document earlier in the file.
    skipped : int
        Rows skipped for an unknown asset.
    unknown : tuple of str
        The unknown assets (sorted).
    warnings : tuple of str
    """

    frame: pd.DataFrame  # DOCUMENT_COLUMNS, one row per distinct doc_id, in file order
    duplicates: int
    skipped: int
    unknown: tuple[str, ...]
    warnings: tuple[str, ...]


def check_documents(
    table: DocumentTable,
    *,
    assets: frozenset[str] | None,
    timezone: str | None,
    skip_unknown: bool,
    source: str,
    kind: str,
    now: pd.Timestamp,
    assets_name: str,
) -> CheckedDocuments:
    """The file's documents after the quality rules; DocumentError on any error."""
    n = table.n_rows
    times = parse_publication_times(table.columns["published_at"], timezone)
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
    where = RowLocator(table)
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
    when = iso_us(times.ns[index])
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
    return CheckedDocuments(
        distinct, len(frame) - len(distinct), int((~keep).sum()), unknown, tuple(warnings)
    )


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
