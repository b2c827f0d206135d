"""The seal follows the data: find imported rows that copy another dataset's sealed rows.

Someone can export the sealed rows of a dataset (its Parquet files are plain
files) and import them under another name. The catalog compares every import
with the sealed spans of the datasets already in the workspace and the new
dataset **inherits the seal**: its holdout starts no later than the first
copied bar (see :meth:`alphaloop.data.catalog.DataCatalog.import_file`).

Detection
---------
Each sealed row is reduced to a 64-bit key of (timestamp, value of its main
price field: close, else adj_close, price, vwap). Each imported row gives one
key per field, whatever the field is called, and a row matches when any of
its keys is a sealed key. Matches are counted per pair (imported asset,
sealed asset), so renaming assets or fields does not hide a copy, while
chance equalities between unrelated assets do not add up: a pair counts as
copied when at least :data:`MIN_COPIED_ROWS` of its rows match and they are
at least :data:`MIN_COPIED_SHARE` of the imported asset's rows on the sealed
asset's sealed timestamps. A different vendor's prices for the same asset
rarely agree to the last bit on every bar; exact copies always do.

The cost is one sort of the sealed keys and one binary search per imported
value: O((n + m) log m) for n imported values and m sealed rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.long import LongData

__all__ = ["MIN_COPIED_ROWS", "MIN_COPIED_SHARE", "SealedCopy", "SealedSpan", "find_copies"]

#: fewest matching rows of one (imported asset, sealed asset) pair that make a copy
MIN_COPIED_ROWS = 5
#: share of the imported asset's rows on the sealed timestamps that must match
MIN_COPIED_SHARE = 0.5
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SALT = np.uint64(0xD6E8FEB86659FD93)


@dataclass(frozen=True)
class SealedSpan:
    """The sealed rows of one dataset version: timestamps, asset codes and main prices."""

    dataset: str
    version: int
    boundary: pd.Timestamp
    timestamps: np.ndarray  # int64 ns, UTC, all at or after ``boundary``
    asset_codes: np.ndarray
    assets: tuple[str, ...]
    values: np.ndarray  # float64, the main price field


@dataclass(frozen=True)
class SealedCopy:
    """Imported rows that copy rows of a sealed span.

    Attributes
    ----------
    dataset : str
        The dataset whose sealed rows were copied.
    boundary : pandas.Timestamp
        Its holdout boundary.
    first : pandas.Timestamp
        The earliest copied timestamp in the imported data.
    rows : int
        Imported rows that match a sealed row.
    assets : tuple of (str, str)
        (imported asset, sealed asset) pairs found copied.
    """

    dataset: str
    boundary: pd.Timestamp
    first: pd.Timestamp
    rows: int
    assets: tuple[tuple[str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "boundary": self.boundary.isoformat(),
            "first_copied": self.first.isoformat(),
            "rows": self.rows,
            "assets": [list(p) for p in self.assets[:20]],
        }

    def describe(self) -> str:
        pairs = ", ".join(a if a == b else f"{a} (= {b})" for a, b in self.assets[:5])
        more = " ..." if len(self.assets) > 5 else ""
        return (
            f"{self.rows} row(s) from {self.first:%Y-%m-%d} copy the sealed holdout of "
            f"{self.dataset!r} (from {self.boundary:%Y-%m-%d}); assets: {pairs}{more}"
        )


def value_keys(timestamps: np.ndarray, values: np.ndarray) -> np.ndarray:
    """64-bit keys of (timestamp, value) pairs; -0.0 and 0.0 give the same key."""
    v = np.asarray(values, dtype=np.float64) + 0.0
    k = np.asarray(timestamps, dtype=np.int64).view(np.uint64) * _MIX
    k ^= (v.view(np.uint64) ^ _SALT) * _MIX
    k ^= k >> np.uint64(29)
    return k


def find_copies(rows: LongData, spans: list[SealedSpan]) -> list[SealedCopy]:
    """Sealed spans that ``rows`` copy, one :class:`SealedCopy` per copied dataset.

    ``rows`` and every span's rows must be sorted by asset code (then time),
    as imports and stored versions are.
    """
    out: dict[str, SealedCopy] = {}
    for span in spans:
        found = _copy_of(rows, span)
        if found is None:
            continue
        prior = out.get(span.dataset)
        if prior is None or found.rows > prior.rows:
            out[span.dataset] = found
    return sorted(out.values(), key=lambda c: (c.first, c.dataset))


def _copy_of(rows: LongData, span: SealedSpan) -> SealedCopy | None:
    ok = np.isfinite(span.values)
    if not ok.any() or not len(rows):
        return None
    keys = value_keys(span.timestamps[ok], span.values[ok])
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    sealed_codes = span.asset_codes[ok][order]
    # the sealed asset each imported row matches (-1: none), over every field
    match = np.full(len(rows), -1, dtype=np.int64)
    lo_ts = int(span.timestamps.min())
    candidate = rows.timestamps >= lo_ts
    if not candidate.any():
        return None
    idx = np.flatnonzero(candidate)
    ts = rows.timestamps[idx]
    for values in rows.fields.values():
        v = values[idx]
        finite = np.isfinite(v)
        if not finite.any():
            continue
        k = value_keys(ts[finite], v[finite])
        pos = np.searchsorted(sorted_keys, k)
        pos[pos == len(sorted_keys)] = 0
        hit = sorted_keys[pos] == k
        target = idx[finite][hit]
        free = match[target] < 0
        match[target[free]] = sealed_codes[pos[hit][free]]
    matched = np.flatnonzero(match >= 0)
    if len(matched) < MIN_COPIED_ROWS:
        return None
    n_sealed = max(len(span.assets), 1)
    pair = rows.asset_codes[matched].astype(np.int64) * n_sealed + match[matched]
    pairs, counts = np.unique(pair, return_counts=True)
    copied_ids: list[int] = []
    copied_pairs: list[tuple[str, str]] = []
    for p, c in zip(pairs, counts, strict=True):
        if c < MIN_COPIED_ROWS:
            continue
        a, b = divmod(int(p), n_sealed)
        overlap = int(
            np.isin(
                _rows_of(rows.asset_codes, rows.timestamps, a),
                _rows_of(span.asset_codes, span.timestamps, b),
            ).sum()
        )
        if c < MIN_COPIED_SHARE * max(overlap, 1):
            continue
        copied_ids.append(int(p))
        copied_pairs.append((rows.assets[a], span.assets[b]))
    if not copied_pairs:
        return None
    copied_rows = matched[np.isin(pair, copied_ids)]
    first = int(rows.timestamps[copied_rows].min())
    return SealedCopy(
        span.dataset,
        span.boundary,
        pd.Timestamp(first, tz="UTC"),
        len(copied_rows),
        tuple(copied_pairs),
    )


def _rows_of(codes: np.ndarray, timestamps: np.ndarray, code: int) -> np.ndarray:
    """Timestamps of one asset in rows sorted by asset code."""
    lo = int(np.searchsorted(codes, code, side="left"))
    hi = int(np.searchsorted(codes, code, side="right"))
    return timestamps[lo:hi]
