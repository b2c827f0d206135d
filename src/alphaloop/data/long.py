"""Long-format rows as parallel arrays: the form data takes between file and Panel."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import pandas as pd

from alphaloop.data.panel import Panel, hash_content

__all__ = ["LongData", "sort_rows"]

NAT = np.iinfo(np.int64).min
#: numpy sorts 16-bit integers with a radix sort: O(n), and stable
_RADIX_MAX_ASSETS = 1 << 16
#: arrays at least this long are gathered on several threads
_PARALLEL_ROWS = 1 << 20
#: rows per block where a full-size temporary is avoided
_BLOCK_ROWS = 1 << 20


@dataclass(frozen=True)
class LongData:
    """One row per (timestamp, asset) observation, as arrays of equal length.

    Attributes
    ----------
    timestamps : ndarray of int64
        Nanoseconds since the epoch, UTC; ``NAT`` (int64 minimum) where the
        source value could not be parsed.
    asset_codes : ndarray of int32
        Positions into ``assets``.
    assets : tuple of str
    fields : dict of str to ndarray of float64
    lines : ndarray of int64
        Source line of each row (1-based, the header being line 1), for
        messages that point back into the file.
    member : ndarray of bool, optional
        Explicit universe membership per row.

    The arrays are shared, not copied, between a LongData and those derived
    from it (``take`` of every row returns the same object); never write to them.
    """

    timestamps: np.ndarray
    asset_codes: np.ndarray
    assets: tuple[str, ...]
    fields: dict[str, np.ndarray]
    lines: np.ndarray
    member: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.timestamps)

    def take(self, rows: np.ndarray) -> LongData:
        """Rows at ``rows`` (an index or boolean array), in that order.

        Returns ``self`` when ``rows`` selects every row in order.
        """
        rows = np.asarray(rows)
        if _is_identity(rows, len(self)):
            return self
        return replace(
            self,
            timestamps=self.timestamps[rows],
            asset_codes=self.asset_codes[rows],
            fields={k: v[rows] for k, v in self.fields.items()},
            lines=self.lines[rows],
            member=None if self.member is None else self.member[rows],
        )

    def with_fields(self, fields: dict[str, np.ndarray]) -> LongData:
        return replace(self, fields=fields)

    def is_sorted(self) -> bool:
        """True when rows are ordered by asset, then strictly by timestamp."""
        if len(self) < 2:
            return True
        a, t = self.asset_codes, self.timestamps
        da = a[1:] - a[:-1]
        return bool(np.all((da > 0) | ((da == 0) & (t[1:] > t[:-1]))))

    def sort_order(self) -> np.ndarray:
        """Stable order by (asset, timestamp)."""
        order = _sort_plan(self.asset_codes, self.timestamps, len(self.assets)).order
        return np.arange(len(self)) if order is None else order

    def sorted(self) -> LongData:
        """The rows in stable (asset, timestamp) order; ``self`` when they already are."""
        return sort_rows(self)[0]

    @cached_property
    def calendar(self) -> np.ndarray:
        """The distinct timestamps, ascending (computed once per object)."""
        return np.unique(self.timestamps)

    @cached_property
    def time_positions(self) -> np.ndarray:
        """Position (int32) of each row's timestamp in :attr:`calendar` (computed once)."""
        calendar, ts = self.calendar, self.timestamps
        out = np.empty(len(ts), dtype=np.int32)
        for i in range(0, len(ts), _BLOCK_ROWS):  # blocks: no full-size int64 temporary
            out[i : i + _BLOCK_ROWS] = np.searchsorted(calendar, ts[i : i + _BLOCK_ROWS])
        return out

    def content_hash(self) -> str:
        """``self.to_panel().content_hash()``, without building the Panel.

        The Panel's field arrays are made one at a time in one reused buffer,
        so this needs the memory of one field instead of all of them.
        """
        calendar = self.calendar
        t_idx = self.time_positions
        codes = self.asset_codes
        shape = (len(calendar), len(self.assets))
        membership = np.zeros(shape, dtype=bool)
        membership[t_idx, codes] = True if self.member is None else self.member

        def cells() -> Iterator[tuple[str, np.ndarray]]:
            buffer = np.empty(shape, dtype=np.float64)
            for name in sorted(self.fields):
                buffer.fill(np.nan)
                buffer[t_idx, codes] = self.fields[name]
                yield name, buffer

        return hash_content(calendar, self.assets, membership, cells())

    def to_panel(self) -> Panel:
        """Scatter rows into a Panel on the union calendar.

        Requires unique (asset, timestamp) pairs and parsed timestamps; the
        membership mask is True exactly where a row exists (and, with an
        explicit member column, where it says so).
        """
        calendar = self.calendar
        t_idx = self.time_positions
        shape = (len(calendar), len(self.assets))
        fields = {}
        for name, values in self.fields.items():
            arr = np.full(shape, np.nan)
            arr[t_idx, self.asset_codes] = values
            fields[name] = arr
        membership = np.zeros(shape, dtype=bool)
        membership[t_idx, self.asset_codes] = True if self.member is None else self.member
        index = pd.DatetimeIndex(calendar.view("datetime64[ns]")).tz_localize("UTC")
        return Panel(index, self.assets, fields, membership)


def sort_rows(data: LongData, *, consume: bool = False) -> tuple[LongData, np.ndarray]:
    """Sort rows stably by (asset, timestamp); also find the rows out of time order.

    Parameters
    ----------
    data : LongData
    consume : bool, default False
        ``data`` is not used after the call but for its timestamps, asset
        codes and lines: each field array is removed from ``data.fields`` as
        soon as its sorted copy is made, so that the rows in both orders never
        sit in memory together (the peak is one or a few fields above the
        sorted rows, not twice the rows). ``data.fields`` is empty afterwards.

    Returns
    -------
    sorted : LongData
        ``data`` itself when its rows already are in that order.
    backward : ndarray of intp
        Positions in ``data`` of the rows whose timestamp is earlier than that
        of the previous row of the same asset (rows of one asset taken in
        their order in ``data``).
    """
    plan = _sort_plan(data.asset_codes, data.timestamps, len(data.assets))
    if plan.order is None:
        return data, plan.backward
    rows = plan.order
    todo: dict[object, np.ndarray] = {("field", k): v for k, v in data.fields.items()}
    if plan.timestamps is None or plan.codes is None:
        todo["timestamps"], todo["codes"] = data.timestamps, data.asset_codes
    if data.member is not None:
        todo["member"] = data.member
    first_line = _first_of_consecutive(data.lines)
    if first_line is None:
        todo["lines"] = data.lines
    if consume:
        names = list(todo)
        del todo
        out = {}
        step = 1  # one array at a time: the peak is one field above the rows
        for i in range(0, len(names), step):
            batch = names[i : i + step]
            arrays = [_source(data, key) for key in batch]
            out.update(zip(batch, _gather(arrays, rows), strict=True))
            del arrays
            for key in batch:  # the last reference to the file-order copy of a field
                if isinstance(key, tuple):
                    del data.fields[key[1]]
    else:
        out = dict(zip(todo, _gather(list(todo.values()), rows), strict=True))
    # consecutive lines (no blank lines in the file) follow from the order itself,
    # written over it: the order is not needed any more
    lines = out["lines"] if first_line is None else np.add(rows, first_line, out=rows)
    result = replace(
        data,
        timestamps=out["timestamps"] if plan.timestamps is None else plan.timestamps,
        asset_codes=out["codes"] if plan.codes is None else plan.codes,
        fields={k[1]: v for k, v in out.items() if isinstance(k, tuple)},
        lines=lines,
        member=out.get("member"),
    )
    if "calendar" in vars(data):  # the same timestamps in another order: the same calendar
        vars(result)["calendar"] = data.calendar
    return result, plan.backward


def _source(data: LongData, key: object) -> np.ndarray:
    """The array of ``data`` that :func:`sort_rows` names ``key``."""
    if isinstance(key, tuple):
        return data.fields[key[1]]
    sources = {
        "timestamps": data.timestamps,
        "codes": data.asset_codes,
        "member": data.member,
        "lines": data.lines,
    }
    array = sources[str(key)]
    assert array is not None
    return array


def _workers(n_arrays: int, n_rows: int) -> int:
    """Threads :func:`_gather` uses for ``n_arrays`` arrays of ``n_rows`` rows."""
    workers = min(n_arrays, os.cpu_count() or 1, 4)
    return 1 if n_rows < _PARALLEL_ROWS or workers < 2 else workers


def _first_of_consecutive(lines: np.ndarray) -> int | None:
    """``lines[0]`` when ``lines`` counts up by one from it, else None."""
    n = len(lines)
    if not n or int(lines[-1]) - int(lines[0]) != n - 1:
        return None
    return int(lines[0]) if bool(np.all(lines[1:] > lines[:-1])) else None


def _gather(arrays: list[np.ndarray], rows: np.ndarray) -> list[np.ndarray]:
    """``[a[rows] for a in arrays]``; large arrays on several threads.

    A gather in sorted order jumps through memory (one cache line, often one
    page, per element); numpy releases the GIL while it gathers, so the
    arrays are spread over up to 4 cores.
    """
    workers = _workers(len(arrays), len(rows))
    if workers < 2:
        return [a[rows] for a in arrays]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda a: a[rows], arrays))


@dataclass(frozen=True)
class _SortPlan:
    order: np.ndarray | None  # None: the rows already are in order
    backward: np.ndarray
    codes: np.ndarray | None = None  # codes and timestamps in ``order``, when already gathered
    timestamps: np.ndarray | None = None


def _radix_key(codes: np.ndarray, n_assets: int) -> np.ndarray:
    """Codes as 16-bit integers when they fit, which numpy sorts stably with a radix sort."""
    fits = 0 < n_assets <= _RADIX_MAX_ASSETS and len(codes) > 0
    if fits and codes.min() >= 0 and codes.max() < n_assets:
        return codes.astype(np.uint16)
    return codes


def _sort_plan(codes: np.ndarray, ts: np.ndarray, n_assets: int) -> _SortPlan:
    """Stable (asset, timestamp) order of rows and the rows that step back in time.

    Rows of each asset usually arrive in time order (files ordered by time
    or by asset), so a stable sort by asset alone gives the order; only when
    some asset's rows step back in time are the timestamps sorted too (first
    by time, then stably by asset: the order of ``np.lexsort((ts, codes))``).
    """
    n = len(codes)
    none = np.zeros(0, dtype=np.intp)
    if n < 2:
        return _SortPlan(None, none)
    if bool(np.all(codes[1:] >= codes[:-1])):
        order, c, t = None, codes, ts
    else:
        order = np.argsort(_radix_key(codes, n_assets), kind="stable")
        c, t = _gather([codes, ts], order)
    back = (t[1:] < t[:-1]) & (c[1:] == c[:-1])
    if not back.any():
        return _SortPlan(order, none, c, t)
    backward = (np.arange(1, n) if order is None else order[1:])[back]
    by_time = np.argsort(ts, kind="stable")
    by_asset = np.argsort(_radix_key(codes[by_time], n_assets), kind="stable")
    return _SortPlan(by_time[by_asset], backward)


def _is_identity(rows: np.ndarray, n: int) -> bool:
    """True when ``rows`` (a boolean mask or positions) selects all ``n`` rows in order."""
    if len(rows) != n:
        return False
    if rows.dtype == bool:
        return bool(rows.all())
    if n == 0:
        return True
    if rows[0] != 0 or rows[-1] != n - 1:
        return False
    step = 1 << 20
    return all(bool(np.all(np.diff(rows[i : i + step + 1]) == 1)) for i in range(0, n - 1, step))
