"""The Panel: named fields as (time, asset) float arrays on one calendar.

Conventions
-----------
- Timestamps are tz-aware UTC (``pandas.DatetimeIndex``), strictly increasing.
  Daily bars are stamped at 00:00 UTC of their trading date; a bar's values are
  known at its close.
- Every field is a ``float64`` (or ``float32``) array of shape
  ``(n_times, n_assets)``; missing values are NaN.
- ``membership[t, j]`` is True when asset ``j`` belongs to the universe at
  ``t`` (point-in-time universes). For imported long-format data it is True
  exactly where the source had a row.
- A Panel is immutable: its arrays are read-only, and slicing returns views
  that share memory with the parent, so time slices cost O(1) memory.
- A Panel loaded from a dataset with a sealed holdout knows where the seal
  starts (:attr:`Panel.sealed_end`). Slicing past its end into the holdout
  says so (:class:`~alphaloop.errors.HoldoutClippedWarning`, and the slice's
  :attr:`Panel.notice`); a slice that starts inside the holdout raises
  :class:`~alphaloop.errors.HoldoutError`.
- A Panel drawn from a generator is synthetic (:attr:`Panel.synthetic`, a
  :class:`~alphaloop.data.origin.SyntheticOrigin`): slices, selections and
  added fields keep the label, and its content hash never equals a real one.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.origin import SyntheticOrigin
from alphaloop.errors import HoldoutClippedWarning, HoldoutError, PanelError

__all__ = ["Panel", "SealedEnd", "hash_content", "infer_frequency"]


@dataclass(frozen=True)
class SealedEnd:
    """Where a loaded Panel stops because the rest of its dataset is sealed.

    Attributes
    ----------
    dataset : str
    boundary : pandas.Timestamp
        First sealed timestamp (UTC).
    data_end : pandas.Timestamp or None
        Last timestamp of the dataset before the boundary (UTC).
    """

    dataset: str
    boundary: pd.Timestamp
    data_end: pd.Timestamp | None

    def clipped(self, requested_end: Any) -> str:
        """One line: a requested end inside the holdout, the boundary and where the data ends.

        e.g. ``"sp500-stocks: end 2022-12-28 is inside the sealed holdout
        (from 2016-05-03); data ends 2016-05-02"``.
        """
        ends = f"{self.data_end:%Y-%m-%d}" if self.data_end is not None else "before it"
        return (
            f"{self.dataset}: end {_day(requested_end)} is inside the sealed holdout "
            f"(from {self.boundary:%Y-%m-%d}); data ends {ends}"
        )

    def refused_start(self, requested_start: Any) -> str:
        """One line: a requested start inside the holdout leaves no data to read."""
        return (
            f"{self.dataset}: start {_day(requested_start)} is inside the sealed holdout "
            f"(from {self.boundary:%Y-%m-%d}); research data ends "
            + (f"{self.data_end:%Y-%m-%d}" if self.data_end is not None else "before it")
        )


def _day(value: Any) -> str:
    """A date when ``value`` is the start or the last instant of a day (UTC), else ISO."""
    ts = as_utc(value)
    whole_day = (
        ts == ts.normalize()
        or ts + pd.Timedelta(1, "ns") == (ts + pd.Timedelta(1, "ns")).normalize()
    )
    return f"{ts:%Y-%m-%d}" if whole_day else ts.isoformat()


def hash_content(
    index_ns: np.ndarray,
    assets: Sequence[str],
    membership: np.ndarray,
    fields: Iterable[tuple[str, np.ndarray]],
) -> str:
    """SHA-256 of a panel's content: what :meth:`Panel.content_hash` returns.

    Parameters
    ----------
    index_ns : ndarray of int64
        The calendar, nanoseconds since the epoch (UTC).
    assets : sequence of str
    membership : ndarray of bool, shape (time, asset)
    fields : iterable of (name, ndarray)
        Every field, in name order, as a (time, asset) array; each array is
        hashed before the next is taken, so a generator may refill one buffer.
    """
    h = hashlib.sha256()
    h.update(b"alphaloop-panel-v1")
    h.update(np.ascontiguousarray(index_ns, dtype=np.int64).tobytes())
    h.update("\x1f".join(assets).encode())
    h.update(np.packbits(np.ascontiguousarray(membership)).tobytes())
    for name, values in fields:
        h.update(name.encode())
        arr = np.ascontiguousarray(values, dtype=np.float64)
        h.update(arr.data)
    return h.hexdigest()


def _readonly(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _field_array(name: object, values: Any, shape: tuple[int, int]) -> np.ndarray:
    """A field's read-only (time, asset) array: float32 kept, anything else float64."""
    arr = np.asarray(values)
    if arr.shape != shape:
        raise PanelError(f"field {name!r} has shape {arr.shape}, expected {shape} (time, asset)")
    if arr.dtype not in (np.float64, np.float32):
        arr = arr.astype(np.float64)
    return _readonly(arr)


def _as_utc_index(index: Any) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(index)
    if idx.tz is None:
        raise PanelError(
            "Panel timestamps must be tz-aware",
            hint="localize them first, e.g. index.tz_localize('UTC')",
        )
    return idx.tz_convert("UTC").as_unit("ns")


def infer_frequency(index: pd.DatetimeIndex) -> str:
    """Name the sampling frequency of a calendar from its median step.

    Returns one of ``"daily"``, ``"weekly"``, ``"monthly"``, ``"quarterly"``,
    ``"annual"``, an intraday step such as ``"5min"`` or ``"1h"``, or
    ``"irregular"`` (fewer than two timestamps, or a step that fits none).
    Daily means a median step between 20 hours and 4 days, so trading-day
    calendars with weekends and holidays count as daily.
    """
    if len(index) < 2:
        return "irregular"
    steps = np.diff(pd.DatetimeIndex(index).as_unit("ns").asi8)
    median_s = float(np.median(steps)) / 1e9
    day = 86_400.0
    if median_s < 20 * 3600:
        if median_s < 60:
            return f"{round(median_s)}s"
        minutes = median_s / 60
        if minutes < 60 or minutes % 60:
            return f"{round(minutes)}min"
        return f"{round(minutes / 60)}h"
    for name, low, high in (
        ("daily", 20 * 3600, 4 * day),
        ("weekly", 5 * day, 9 * day),
        ("monthly", 27 * day, 32 * day),
        ("quarterly", 88 * day, 93 * day),
        ("annual", 360 * day, 367 * day),
    ):
        if low <= median_s <= high:
            return name
    return "irregular"


class Panel:
    """Aligned (time x asset) arrays for named fields, with a membership mask.

    Parameters
    ----------
    index : array-like of datetime
        The calendar: tz-aware, strictly increasing; converted to UTC.
    assets : sequence of str
        Asset identifiers, unique.
    fields : mapping of str to ndarray
        Each array has shape ``(len(index), len(assets))``; integer and bool
        arrays are converted to float64, float32 is kept.
    membership : ndarray of bool, optional
        Shape ``(len(index), len(assets))``; defaults to all True.
    frequency : str, optional
        Overrides :func:`infer_frequency`.
    """

    __slots__ = (
        "_asset_pos",
        "_assets",
        "_fields",
        "_frequency",
        "_index",
        "_membership",
        "_notice",
        "_origin",
        "_sealed_end",
    )

    def __init__(
        self,
        index: Any,
        assets: Sequence[str],
        fields: Mapping[str, np.ndarray],
        membership: np.ndarray | None = None,
        *,
        frequency: str | None = None,
        _trusted: bool = False,
    ) -> None:
        idx = index if _trusted else _as_utc_index(index)
        asset_list = tuple(str(a) for a in assets)
        if not _trusted:
            if len(idx) > 1 and not bool(np.all(np.diff(idx.asi8) > 0)):
                raise PanelError("Panel timestamps must be strictly increasing and unique")
            if len(set(asset_list)) != len(asset_list):
                dupes = sorted({a for a in asset_list if asset_list.count(a) > 1})
                raise PanelError(f"Panel assets must be unique; repeated: {dupes[:5]}")
            if not fields:
                raise PanelError("a Panel needs at least one field")
        shape = (len(idx), len(asset_list))
        arrays = {str(name): _field_array(name, values, shape) for name, values in fields.items()}
        if membership is not None:
            mem = np.asarray(membership, dtype=bool)
            if mem.shape != shape:
                raise PanelError(f"membership has shape {mem.shape}, expected {shape}")
            membership = _readonly(mem)
        self._index: pd.DatetimeIndex = idx
        self._assets = asset_list
        self._asset_pos = {a: j for j, a in enumerate(asset_list)}
        self._fields = arrays
        self._membership = membership
        self._frequency = frequency
        self._sealed_end: SealedEnd | None = None
        self._notice: str | None = None
        self._origin: SyntheticOrigin | None = None

    # ------------------------------------------------------------------ shape
    @property
    def index(self) -> pd.DatetimeIndex:
        """The calendar (UTC)."""
        return self._index

    @property
    def assets(self) -> tuple[str, ...]:
        """Asset identifiers, in column order."""
        return self._assets

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the fields, in insertion order."""
        return tuple(self._fields)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_times, n_assets)``."""
        return (len(self._index), len(self._assets))

    @property
    def n_times(self) -> int:
        return len(self._index)

    @property
    def n_assets(self) -> int:
        return len(self._assets)

    @property
    def start(self) -> pd.Timestamp | None:
        return self._index[0] if len(self._index) else None

    @property
    def end(self) -> pd.Timestamp | None:
        return self._index[-1] if len(self._index) else None

    @property
    def frequency(self) -> str:
        """Sampling frequency (see :func:`infer_frequency`)."""
        if self._frequency is None:
            self._frequency = infer_frequency(self._index)
        return self._frequency

    @property
    def sealed_end(self) -> SealedEnd | None:
        """Where this panel stops because its dataset's holdout is sealed, or None.

        Set on panels loaded through the catalog from a dataset with a sealed
        holdout (without a holdout key) and kept by slices that reach the
        panel's last bar.
        """
        return self._sealed_end

    @property
    def notice(self) -> str | None:
        """One line to show the user about this panel's span, or None.

        Set when the request that made the panel reached into a sealed
        holdout and was cut at its boundary (see :meth:`SealedEnd.clipped`).
        """
        return self._notice

    def with_sealed_end(self, sealed_end: SealedEnd | None, notice: str | None = None) -> Panel:
        """The same panel (sharing its arrays) marked as stopping at a sealed holdout."""
        out = Panel(
            self._index,
            self._assets,
            self._fields,
            self._membership,
            frequency=self._frequency,
            _trusted=True,
        )
        out._sealed_end = sealed_end
        out._notice = notice
        out._origin = self._origin
        return out

    def with_fields(self, extra: Mapping[str, np.ndarray]) -> Panel:
        """The same panel (sharing its arrays and seal) with ``extra`` fields added or replaced.

        Each array must have the panel's (time, asset) shape. Text factors are
        attached this way, as fields named ``text:NAME``.
        """
        fields = dict(self._fields)
        for name, values in extra.items():
            fields[str(name)] = _field_array(name, values, self.shape)
        out = Panel(
            self._index,
            self._assets,
            fields,
            self._membership,
            frequency=self._frequency,
            _trusted=True,
        )
        out._sealed_end = self._sealed_end
        out._notice = self._notice
        out._origin = self._origin
        return out

    @property
    def synthetic(self) -> SyntheticOrigin | None:
        """Where this panel came from when a generator drew it, or None for real data."""
        return self._origin

    @property
    def is_synthetic(self) -> bool:
        """True when a generator drew this panel (see :attr:`synthetic`)."""
        return self._origin is not None

    def as_synthetic(self, origin: SyntheticOrigin) -> Panel:
        """The same panel (sharing its arrays) labelled as drawn by a generator."""
        if not isinstance(origin, SyntheticOrigin):
            raise PanelError(f"origin must be a SyntheticOrigin, got {type(origin).__name__}")
        out = self.with_fields({})
        out._origin = origin
        return out

    @property
    def membership(self) -> np.ndarray:
        """Boolean (time, asset) mask of universe membership (read-only)."""
        if self._membership is None:
            return _readonly(np.ones(self.shape, dtype=bool))
        return self._membership

    def __repr__(self) -> str:
        span = f"{self.start:%Y-%m-%d} .. {self.end:%Y-%m-%d}" if self.n_times else "empty"
        label = "SYNTHETIC " if self._origin is not None else ""
        return (
            f"{label}Panel({self.n_times} times x {self.n_assets} assets, "
            f"fields={list(self._fields)}, {span}, {self.frequency})"
        )

    # ----------------------------------------------------------------- access
    def __getitem__(self, field: str) -> np.ndarray:
        return self.field(field)

    def __contains__(self, field: object) -> bool:
        return field in self._fields

    def field(self, name: str) -> np.ndarray:
        """The read-only (time, asset) array of one field."""
        try:
            return self._fields[name]
        except KeyError:
            raise PanelError(
                f"field {name!r} is not in this panel", hint=f"fields: {list(self._fields)}"
            ) from None

    def asset_index(self, asset: str) -> int:
        """Column position of ``asset``."""
        try:
            return self._asset_pos[asset]
        except KeyError:
            raise PanelError(f"asset {asset!r} is not in this panel") from None

    def frame(self, field: str) -> pd.DataFrame:
        """One field as a wide DataFrame (timestamps x assets); copies the data."""
        return pd.DataFrame(self.field(field).copy(), index=self._index, columns=list(self._assets))

    def to_long(self, *, members_only: bool = True) -> pd.DataFrame:
        """Long format: one row per (timestamp, asset), columns per field.

        With ``members_only`` (default) only cells where the asset is a member
        are returned, so a Panel built from long data round-trips its rows.
        """
        t_idx, a_idx = (
            np.nonzero(self.membership) if members_only else np.indices(self.shape).reshape(2, -1)
        )
        out = pd.DataFrame(
            {
                "timestamp": self._index[t_idx],
                "asset": np.asarray(self._assets, dtype=object)[a_idx],
            }
        )
        for name, arr in self._fields.items():
            out[name] = arr[t_idx, a_idx]
        return out.sort_values(["asset", "timestamp"], kind="stable").reset_index(drop=True)

    # ---------------------------------------------------------------- slicing
    def iloc(self, rows: slice) -> Panel:
        """Positional time slice (a view; no data is copied)."""
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise PanelError("Panel.iloc takes a contiguous slice such as panel.iloc(10:20)")
        fields = {k: v[rows] for k, v in self._fields.items()}
        mem = None if self._membership is None else self._membership[rows]
        out = Panel(
            self._index[rows], self._assets, fields, mem, frequency=self._frequency, _trusted=True
        )
        out._origin = self._origin
        n = len(self._index)
        if self._sealed_end is not None and n and rows.indices(n)[1] >= n:
            # the slice keeps the last bar: it still stops where the seal starts
            out._sealed_end = self._sealed_end
            out._notice = self._notice
        return out

    def slice(self, start: Any = None, end: Any = None) -> Panel:
        """Time slice by label, both ends inclusive (a view; no data is copied).

        ``start`` and ``end`` may be strings or timestamps; naive values are
        taken as UTC.

        On a panel that stops at a sealed holdout (:attr:`sealed_end`), an
        ``end`` inside the holdout is cut at the panel's end with a
        :class:`~alphaloop.errors.HoldoutClippedWarning` (the slice's
        :attr:`notice` repeats it), and a ``start`` inside the holdout raises
        :class:`~alphaloop.errors.HoldoutError`: the span it asks for is sealed.
        """
        sealed = self._sealed_end
        if sealed is not None and start is not None and as_utc(start) >= sealed.boundary:
            raise HoldoutError(
                sealed.refused_start(start),
                hint="final strategies are evaluated on it once: `alphaloop holdout unseal`",
            )
        i0 = 0 if start is None else int(self._index.searchsorted(as_utc(start), side="left"))
        i1 = (
            len(self._index)
            if end is None
            else int(self._index.searchsorted(as_utc(end), side="right"))
        )
        out = self.iloc(slice(i0, max(i0, i1)))
        if sealed is not None and end is not None and as_utc(end) >= sealed.boundary:
            notice = sealed.clipped(end)
            warnings.warn(notice, HoldoutClippedWarning, stacklevel=2)
            out = out.with_sealed_end(sealed, notice)
        return out

    def select(
        self, assets: Iterable[str] | None = None, fields: Iterable[str] | None = None
    ) -> Panel:
        """Subset of assets and/or fields (asset selection copies the columns)."""
        names = list(self._fields) if fields is None else list(fields)
        for name in names:
            self.field(name)
        if assets is None:
            cols: slice | np.ndarray = slice(None)
            asset_list: tuple[str, ...] = self._assets
        else:
            asset_list = tuple(assets)
            cols = np.array([self.asset_index(a) for a in asset_list], dtype=np.intp)
        out = {n: self._fields[n][:, cols] for n in names}
        mem = None if self._membership is None else self._membership[:, cols]
        panel = Panel(self._index, asset_list, out, mem, frequency=self._frequency, _trusted=True)
        panel._sealed_end = self._sealed_end
        panel._notice = self._notice
        panel._origin = self._origin
        return panel

    # ------------------------------------------------------------- identity
    def content_hash(self) -> str:
        """SHA-256 of the calendar, assets, membership and every field's values.

        Two panels with equal content have equal hashes whatever file or
        process they came from; the hash is the dataset version's identity in
        every later result's provenance. A synthetic panel's hash also covers
        its origin, so it never equals the hash of real data.
        """
        digest = hash_content(
            self._index.asi8,
            self._assets,
            self.membership,
            ((name, self._fields[name]) for name in sorted(self._fields)),
        )
        if self._origin is None:
            return digest
        h = hashlib.sha256(b"alphaloop-synthetic-v1")
        h.update(self._origin.canonical())
        h.update(digest.encode())
        return h.hexdigest()

    def equals(self, other: Panel) -> bool:
        """True when both panels hold the same calendar, assets, fields and values."""
        if not isinstance(other, Panel):
            return False
        if self._origin != other._origin:
            return False
        if self.shape != other.shape or self._assets != other._assets:
            return False
        if not self._index.equals(other._index):
            return False
        if set(self._fields) != set(other._fields):
            return False
        if not np.array_equal(self.membership, other.membership):
            return False
        return all(
            np.array_equal(self._fields[k], other._fields[k], equal_nan=True) for k in self._fields
        )

    # ---------------------------------------------------------- constructors
    @classmethod
    def from_frames(
        cls, frames: Mapping[str, pd.DataFrame], *, membership: pd.DataFrame | None = None
    ) -> Panel:
        """Build from wide DataFrames (index: timestamps, columns: assets), one per field.

        Frames are aligned on the union of their timestamps and assets; naive
        timestamps are taken as UTC.
        """
        if not frames:
            raise PanelError("from_frames needs at least one field")
        index = None
        columns: list[str] = []
        for frame in frames.values():
            fidx = _localize(pd.DatetimeIndex(frame.index))
            index = fidx if index is None else index.union(fidx)
            columns.extend(str(c) for c in frame.columns if str(c) not in columns)
        assert index is not None
        fields = {}
        for name, frame in frames.items():
            f = frame.copy()
            f.index = _localize(pd.DatetimeIndex(f.index))
            f.columns = [str(c) for c in f.columns]
            fields[name] = f.reindex(index=index, columns=columns).to_numpy(dtype=np.float64)
        mem = None
        if membership is not None:
            m = membership.copy()
            m.index = _localize(pd.DatetimeIndex(m.index))
            m.columns = [str(c) for c in m.columns]
            mem = m.reindex(index=index, columns=columns).fillna(False).to_numpy(dtype=bool)
        return cls(index, columns, fields, mem)


def _localize(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")


def as_utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
