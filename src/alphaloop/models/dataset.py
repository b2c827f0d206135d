"""Learning datasets: factor features and forward-return labels on a panel's grid.

:func:`build_dataset` evaluates factor expressions (or a named library such
as ``alpha158`` / ``alpha158-close``) on a :class:`~alphaloop.data.panel.Panel`,
normalizes each feature across assets one timestamp at a time, and pairs the
rows with forward-return labels. The result, :class:`LearningData`, holds one
row per (decision time, asset), in time-major order (by time, then asset
column), so its ``t1`` is sorted as the purged splitters of
:mod:`alphaloop.validation.splits` expect.

Conventions
-----------
Label timing (:class:`LabelSpec`)
    The decision is taken at the close of bar ``t``: features use data up to
    and including bar ``t`` and nothing later (expressions that reference the
    future are rejected). The position is entered at bar ``t + entry_lag`` and
    held ``horizon`` bars; the label is the *simple* return of ``price``
    between those bars, ``p[t + lag + h] / p[t + lag] - 1``. ``t1`` is the
    timestamp of bar ``t + lag + h``, the last bar the label uses. The default
    (``price="close"``, ``entry_lag=1``) enters at the next bar's close, one
    full bar after the decision; ``entry_lag=0`` trades at the close the
    features already saw, which flatters results.
Classification
    The label is 1 when the forward return exceeds the round-trip cost,
    ``2 * cost_bps / 10_000`` (``cost_bps`` is charged on entry and again on
    exit), else 0.
Normalization (per feature, per timestamp)
    Statistics use the values of that timestamp's universe members only
    (every member with a finite value, whether or not its own label exists),
    so a row never sees another date's data nor which assets survive into the
    future. ``winsorize=q`` first clips values to that timestamp's ``q`` and
    ``1 - q`` quantiles (linear interpolation, as ``numpy.quantile``).
    ``"zscore"`` then subtracts the mean and divides by the standard
    deviation (ddof=0); ``"rank"`` maps values to centered percentile ranks
    ``(rank - 1) / (n - 1) - 0.5`` in ``[-0.5, 0.5]`` (ties share their mean
    rank; winsorizing is skipped, ranks are already bounded). A timestamp
    whose values are all equal, or that has one value, gives 0 for each.
Missing values
    - Cells outside the universe (``panel.membership`` False at ``t``) are
      never rows.
    - Rows without a label are dropped: the last ``entry_lag + horizon`` bars
      of the panel, and cells whose price is missing or not positive at
      entry or exit (``keep_unlabeled=True`` keeps them with ``y = NaN`` and
      ``t1 = NaT``, for prediction only).
    - A missing feature value (NaN or infinite, e.g. during a rolling window's
      warm-up) is filled after normalization with 0, the cross-sectional mean
      under ``"zscore"`` and ``"rank"`` (``fill="nan"`` keeps NaN, for models
      that route missing values themselves). Rows where more than
      ``max_missing`` of the features are missing are dropped.
Precision and memory
    Features are evaluated in float32 (7 significant digits: a z-score of a
    price level near 100 is good to about 1e-5) in batches of
    :data:`BATCH_SIZE`, one batch per thread (``n_jobs``), and written into
    ``X`` a batch of columns at a time, so the build holds ``X`` plus one
    batch of (time, asset) arrays per thread. :meth:`LearningData.time_slice`
    returns views of ``X``; :meth:`LearningData.select` copies.
"""

from __future__ import annotations

import math
import os
import queue
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd
from numba.extending import register_jitable

from alphaloop.data.panel import Panel, _utc
from alphaloop.errors import AlphaloopError, ExpressionError
from alphaloop.factors.evaluate import Mode, evaluate
from alphaloop.factors.validate import Expression, compile_expression

__all__ = ["LabelSpec", "LearningData", "ModelError", "build_dataset"]

Normalize = Literal["zscore", "rank"] | None
_METHOD: dict[str | None, int] = {None: 0, "zscore": 1, "rank": 2}
BATCH_SIZE = 16
"""Features evaluated together: shared subexpressions are computed once per batch."""


class ModelError(AlphaloopError):
    """A learning dataset or model was asked for something its inputs cannot give."""


# ------------------------------------------------------------------- label spec
@dataclass(frozen=True)
class LabelSpec:
    """What a row's label is: a forward return over ``horizon`` bars, or its sign net of costs.

    Parameters
    ----------
    horizon : int, default 5
        Bars the position is held, >= 1.
    kind : {"regression", "classification"}, default "regression"
        ``"regression"``: the simple forward return (a fraction, 0.01 = 1%).
        ``"classification"``: 1 when that return exceeds the round-trip cost,
        else 0.
    cost_bps : float, default 0.0
        One-way trading cost in basis points; the round trip costs twice this.
        Used by classification only.
    entry_lag : int, default 1
        Bars between the decision (the close of bar ``t``) and entry: the
        return runs from bar ``t + entry_lag`` to ``t + entry_lag + horizon``.
    price : str, default "close"
        The panel field entry and exit are priced at (e.g. ``"open"`` with
        ``entry_lag=1`` enters at the next bar's open).
    normalize : {None, "zscore", "rank"}, default None
        Regression only: normalize the label across assets per timestamp, as
        the features are (for models that learn a cross-sectional ranking).
        The raw return is kept in :attr:`LearningData.forward_return`.
    """

    horizon: int = 5
    kind: Literal["regression", "classification"] = "regression"
    cost_bps: float = 0.0
    entry_lag: int = 1
    price: str = "close"
    normalize: Normalize = None

    def __post_init__(self) -> None:
        for name in ("horizon", "entry_lag"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ModelError(f"LabelSpec.{name} must be an integer, got {value!r}")
        if self.horizon < 1:
            raise ModelError(
                f"LabelSpec.horizon must be >= 1 bar, got {self.horizon}",
                hint="a label needs at least one bar between entry and exit",
            )
        if self.entry_lag < 0:
            raise ModelError(f"LabelSpec.entry_lag must be >= 0 bars, got {self.entry_lag}")
        if self.kind not in ("regression", "classification"):
            raise ModelError(
                f"LabelSpec.kind must be 'regression' or 'classification', got {self.kind!r}"
            )
        cost = self.cost_bps
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
            raise ModelError(f"LabelSpec.cost_bps must be a finite number, got {cost!r}")
        if cost < 0:
            raise ModelError(f"LabelSpec.cost_bps must be >= 0, got {self.cost_bps!r}")
        if self.normalize not in _METHOD:
            raise ModelError(
                f"LabelSpec.normalize must be None, 'zscore' or 'rank', got {self.normalize!r}"
            )
        if self.normalize is not None and self.kind == "classification":
            raise ModelError("LabelSpec.normalize applies to regression labels only")

    @property
    def round_trip_cost(self) -> float:
        """Entry plus exit cost as a fraction (``2 * cost_bps / 10_000``)."""
        return 2.0 * self.cost_bps / 10_000.0

    @property
    def span(self) -> int:
        """Bars from the decision to the label's last bar (``entry_lag + horizon``)."""
        return self.entry_lag + self.horizon


# ---------------------------------------------------------------------- kernels
@register_jitable
def _select(a: np.ndarray, k: int) -> float:
    """Reorder ``a`` in place so that ``a[k]`` is its k-th smallest value (0-based); return it.

    Afterwards ``a[:k] <= a[k] <= a[k + 1:]`` (Hoare's selection with the
    pivot at ``k``; equal values stop both scans, so ties stay balanced).
    """
    lo, hi = 0, len(a) - 1
    while lo < hi:
        pivot = a[k]
        i, j = lo, hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                a[i], a[j] = a[j], a[i]
                i += 1
                j -= 1
        if j < k:
            lo = i
        if k < i:
            hi = j
    return a[k]


@register_jitable
def _quantile(a: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``a`` (linear interpolation, numpy's default); reorders ``a``."""
    n = len(a)
    pos = q * (n - 1)
    k = math.floor(pos)
    below = _select(a, k)
    if k + 1 >= n or pos == k:
        return below
    above = a[k + 1]
    for i in range(k + 2, n):  # after the selection, the next value is the least of a[k + 1:]
        above = min(above, a[i])
    return below + (pos - k) * (above - below)


TAIL_LIMIT = 48
"""Winsorizing keeps the ``m`` smallest and largest values in sorted buffers when
``m <= TAIL_LIMIT`` (one pass, few insertions); deeper quantiles use selection."""


@register_jitable
def _winsor_bounds(x: np.ndarray, q: float, scratch: np.ndarray) -> tuple[float, float]:
    """The ``q`` and ``1 - q`` quantiles of ``x`` (linear interpolation); ``x`` is not changed.

    For the usual small ``q`` one pass keeps the ``m`` smallest and the ``m``
    largest values in two short sorted buffers, exact order statistics
    without sorting the row; otherwise ``scratch`` (length >= ``len(x)``)
    takes a copy for :func:`_quantile`.
    """
    n = len(x)
    pos_lo, pos_hi = q * (n - 1), (1.0 - q) * (n - 1)
    k_lo, k_hi = math.floor(pos_lo), math.floor(pos_hi)
    m = max(k_lo + 2, n - k_hi)
    if m > TAIL_LIMIT or m >= n:
        scratch[:n] = x
        return _quantile(scratch[:n], q), _quantile(scratch[:n], 1.0 - q)
    small = np.empty(m)  # ascending: the m smallest so far
    large = np.empty(m)  # descending: the m largest so far
    for i in range(n):
        v = x[i]
        filled = min(i, m)
        if i < m or v < small[m - 1]:
            p = filled - 1 if i < m else m - 2
            while p >= 0 and small[p] > v:
                small[p + 1] = small[p]
                p -= 1
            small[p + 1] = v
        if i < m or v > large[m - 1]:
            p = filled - 1 if i < m else m - 2
            while p >= 0 and large[p] < v:
                large[p + 1] = large[p]
                p -= 1
            large[p + 1] = v
    lo = small[k_lo] + (pos_lo - k_lo) * (small[min(k_lo + 1, m - 1)] - small[k_lo])
    top = n - 1 - k_hi  # large[top] is sorted position k_hi, large[top - 1] is k_hi + 1
    above = large[top - 1] if top >= 1 else large[top]
    hi = large[top] + (pos_hi - k_hi) * (above - large[top])
    return lo, hi


@register_jitable
def _float32_order(x: np.ndarray) -> np.ndarray:
    """Positions that sort ``x`` ascending, from a radix sort of its float32 bit patterns.

    Exact for float32 data (features are evaluated in float32); about 5x
    faster than a comparison sort on a cross-section of a few hundred
    assets. Each bit pattern is mapped to an unsigned key with the order of
    the floats (flip every bit of negatives, the sign bit of the rest), then
    sorted by 8-bit digits, least significant first (stable).
    """
    n = len(x)
    bits = x.astype(np.float32).view(np.int32)
    keys = np.empty(n, dtype=np.int64)
    for i in range(n):
        b = np.int64(bits[i]) & 0xFFFFFFFF
        keys[i] = 0xFFFFFFFF - b if b >= 0x80000000 else b + 0x80000000
    order = np.arange(n)
    spare = np.empty(n, dtype=np.int64)
    counts = np.empty(257, dtype=np.int64)
    for shift in range(0, 32, 8):
        counts[:] = 0
        for i in range(n):
            counts[((keys[order[i]] >> shift) & 255) + 1] += 1
        for d in range(256):
            counts[d + 1] += counts[d]
        for i in range(n):
            d = (keys[order[i]] >> shift) & 255
            spare[counts[d]] = order[i]
            counts[d] += 1
        order, spare = spare, order
    return order


@register_jitable
def _centered_ranks(x: np.ndarray, out: np.ndarray) -> None:
    """``(rank - 1) / (n - 1) - 0.5`` of each value into ``out``; ties share their mean rank."""
    n = len(x)
    if n == 1:
        out[0] = 0.0
        return
    order = _float32_order(x)
    first = 0
    while first < n:
        end = first + 1
        while end < n and np.float32(x[order[end]]) == np.float32(x[order[first]]):
            end += 1
        rank = (first + end - 1) / 2.0 / (n - 1) - 0.5  # 0-based mean rank of the tie group
        for k in range(first, end):
            out[order[k]] = rank
        first = end


def _normalize_block(
    values: np.ndarray,
    members: np.ndarray,
    row_of: np.ndarray,
    out: np.ndarray,
    first_column: int,
    winsorize: float,
    method: int,
    fill: float,
    missing: np.ndarray,
    t_start: int,
    t_stop: int,
) -> None:
    """Normalize a block of features per timestamp and write their rows into ``out``.

    ``values`` has shape (feature, time, asset); feature ``b`` goes to column
    ``first_column + b``. ``row_of[t, j]`` is the output row of cell ``(t, j)``
    or -1. Statistics use every member cell of the timestamp with a finite
    value. Missing results are written as ``fill`` and counted in
    ``missing[row]``. ``method``: 0 none, 1 z-score, 2 centered rank;
    ``winsorize`` > 0 clips first (not for ranks). Only timestamps
    ``t_start <= t < t_stop`` are done, so threads can share the work (each
    writes its own rows; one row's features are written together, one cache
    line per 16 float32 features).
    """
    n_features, _, n_assets = values.shape
    buf = np.empty(n_assets)
    scratch = np.empty(n_assets)
    ranks = np.empty(n_assets)
    where = np.empty(n_assets, dtype=np.int64)
    result = np.empty((n_assets, n_features))
    for t in range(t_start, t_stop):
        needed = False
        for j in range(n_assets):
            if row_of[t, j] >= 0:
                needed = True
                break
        if not needed:
            continue
        for b in range(n_features):
            n = 0
            for j in range(n_assets):
                result[j, b] = np.nan
                v = values[b, t, j]
                if members[t, j] and math.isfinite(v):
                    buf[n] = v
                    where[n] = j
                    n += 1
            if n == 0:
                continue
            if method == 2:
                _centered_ranks(buf[:n], ranks[:n])
                for i in range(n):
                    result[where[i], b] = ranks[i]
                continue
            if winsorize > 0.0:
                lo, hi = _winsor_bounds(buf[:n], winsorize, scratch)
                for i in range(n):
                    buf[i] = min(max(buf[i], lo), hi)
            mean, scale = 0.0, 1.0
            if method == 1:
                for i in range(n):
                    mean += buf[i]
                mean /= n
                squares = 0.0
                for i in range(n):
                    squares += (buf[i] - mean) * (buf[i] - mean)
                scale = math.sqrt(squares / n)
                if scale == 0.0:  # all values equal: each sits at the mean
                    mean, scale = buf[0], 1.0
            for i in range(n):
                result[where[i], b] = (buf[i] - mean) / scale
        for j in range(n_assets):
            r = row_of[t, j]
            if r < 0:
                continue
            for b in range(n_features):
                v = result[j, b]
                if math.isnan(v):
                    out[r, first_column + b] = fill
                    missing[r] += 1
                else:
                    out[r, first_column + b] = v


_normalize_block_jit = numba.njit(cache=True, nogil=True)(_normalize_block)


def _threads(n_jobs: int) -> int:
    """Threads for ``n_jobs`` (-1: every core this process may use)."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int | np.integer) or n_jobs == 0:
        raise ModelError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
    if n_jobs > 0:
        return int(n_jobs)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores + 1 + int(n_jobs))


def _compact_rows(x: np.ndarray, keep: np.ndarray, chunk: int = 1 << 16) -> np.ndarray:
    """Move the kept rows of ``x`` to its front in place and shrink it; no full-size copy.

    Kept positions are increasing, so each destination precedes its source
    and a chunk never overwrites a later chunk's source rows.
    """
    positions = np.flatnonzero(keep)
    for start in range(0, len(positions), chunk):
        part = positions[start : start + chunk]
        x[start : start + len(part)] = x[part]
    x.resize((len(positions), x.shape[1]), refcheck=False)
    return x


# ------------------------------------------------------------------ the dataset
@dataclass(frozen=True, eq=False)
class LearningData:
    """Feature rows, labels and their place on the panel's grid.

    Rows are ordered by decision time, then by asset column. All per-row
    arrays have length ``n``.

    Attributes
    ----------
    X : ndarray of shape (n, n_features)
        Normalized features (float32 unless built with another ``dtype``),
        C-contiguous for :meth:`build_dataset`'s result and :meth:`select`,
        a row range (a view, also C-contiguous) for :meth:`time_slice`.
    y : ndarray of float64, shape (n,)
        The label: the forward return (normalized if ``label.normalize``),
        or 0.0 / 1.0 for classification; NaN only for unlabeled rows.
    forward_return : ndarray of float64, shape (n,)
        The simple forward return behind ``y``, whatever the label kind.
    rows, cols : ndarray of int64, shape (n,)
        Each row's position on the panel grid: ``panel_index[rows[i]]`` is
        its decision time, ``assets[cols[i]]`` its asset.
    feature_names : tuple of str
    assets : tuple of str
        The panel's assets (column order).
    panel_index : DatetimeIndex
        The panel's calendar (UTC); :meth:`to_panel` returns arrays of the
        panel's shape.
    label : LabelSpec
    """

    X: np.ndarray
    y: np.ndarray
    forward_return: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    feature_names: tuple[str, ...]
    assets: tuple[str, ...]
    panel_index: pd.DatetimeIndex
    label: LabelSpec
    _history: tuple[np.ndarray, np.ndarray] | None = field(repr=False, default=None)
    """The full build's ``X`` and row grid, shared by subsets for :meth:`sequences`."""

    # ------------------------------------------------------------- shape
    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        first, last = self.panel_index[self.rows[[0, -1]]] if len(self) else (None, None)
        span = f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}" if len(self) else "empty"
        return (
            f"LearningData({len(self):,} rows x {self.n_features} features, "
            f"{len(set(self.cols.tolist())):,} assets, {span}, label={self.label})"
        )

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def asset_codes(self) -> np.ndarray:
        """Each row's asset column (the same as :attr:`cols`)."""
        return self.cols

    @property
    def times(self) -> pd.DatetimeIndex:
        """Each row's decision time (UTC), non-decreasing."""
        return self.panel_index[self.rows]

    @property
    def t1(self) -> pd.Series:
        """Label end times indexed by decision time, for purging (NaT for unlabeled rows)."""
        end = self.rows + self.label.span
        valid = ~np.isnan(self.forward_return) & (end < len(self.panel_index))
        ns = np.full(len(end), np.datetime64("NaT", "ns")).astype("datetime64[ns]")
        ns[valid] = self.panel_index.as_unit("ns").asi8[end[valid]].astype("datetime64[ns]")
        values = pd.DatetimeIndex(ns).tz_localize("UTC")
        return pd.Series(values, index=self.times, name="t1")

    # ------------------------------------------------------ back to panel
    def to_panel(self, values: npt.ArrayLike) -> np.ndarray:
        """Per-row values (e.g. predictions) as a (time, asset) float64 array, NaN elsewhere.

        The array spans :attr:`panel_index` and :attr:`assets`.
        """
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (len(self),):
            raise ModelError(
                f"to_panel needs one value per row: shape ({len(self)},), got {v.shape}"
            )
        out = np.full((len(self.panel_index), len(self.assets)), np.nan)
        out[self.rows, self.cols] = v
        return out

    def row_grid(self) -> np.ndarray:
        """(time, asset) array of each cell's row position in this data, -1 where none."""
        grid = np.full((len(self.panel_index), len(self.assets)), -1, dtype=np.int64)
        grid[self.rows, self.cols] = np.arange(len(self))
        return grid

    def feature_panel(self, name: str) -> np.ndarray:
        """One normalized feature on the (time, asset) grid of the full build, NaN off-row."""
        if name not in self.feature_names:
            raise ModelError(f"no feature named {name!r}", hint=f"features: {self.feature_names}")
        x_all, grid = self._source()
        k = self.feature_names.index(name)
        out = np.full(grid.shape, np.nan, dtype=x_all.dtype)
        on = grid >= 0
        out[on] = x_all[grid[on], k]
        return out

    def to_frame(self) -> pd.DataFrame:
        """Features and label as a DataFrame indexed by (time, asset); copies the data."""
        index = pd.MultiIndex.from_arrays(
            [self.times, np.asarray(self.assets, dtype=object)[self.cols]], names=["time", "asset"]
        )
        frame = pd.DataFrame(self.X, index=index, columns=list(self.feature_names))
        frame["label"] = self.y
        return frame

    # ----------------------------------------------------------- subsets
    def select(self, rows: npt.ArrayLike) -> LearningData:
        """The rows picked by a boolean mask of length ``n`` or by integer positions (copies).

        Positions are sorted and deduplicated, so the result stays in time-major order.
        """
        pick = np.asarray(rows)
        if pick.dtype == bool:
            if pick.shape != (len(self),):
                raise ModelError(f"select: mask of shape {pick.shape}, expected ({len(self)},)")
            pick = np.flatnonzero(pick)
        elif pick.size and not np.issubdtype(pick.dtype, np.integer):
            raise ModelError(f"select takes a boolean mask or integer positions, got {pick.dtype}")
        else:
            pick = pick.astype(np.int64).ravel()
            if pick.size and (pick.min() < -len(self) or pick.max() >= len(self)):
                raise ModelError(f"select: positions out of range for {len(self)} rows")
            pick = np.unique(np.where(pick < 0, pick + len(self), pick))
        return self._subset(pick)

    def time_slice(self, start: Any = None, end: Any = None) -> LearningData:
        """Rows whose decision time is in ``[start, end]`` (both inclusive); ``X`` is a view.

        Naive timestamps are taken as UTC.
        """
        times = self.panel_index.as_unit("ns").asi8[self.rows]
        i0 = 0 if start is None else int(np.searchsorted(times, _utc(start).value, side="left"))
        i1 = len(self) if end is None else int(np.searchsorted(times, _utc(end).value, "right"))
        return self._subset(slice(i0, max(i0, i1)))

    def _subset(self, pick: slice | np.ndarray) -> LearningData:
        return replace(
            self,
            X=self.X[pick],
            y=self.y[pick],
            forward_return=self.forward_return[pick],
            rows=self.rows[pick],
            cols=self.cols[pick],
        )

    # ---------------------------------------------------------- sequences
    def _source(self) -> tuple[np.ndarray, np.ndarray]:
        """The full build's ``X`` and row grid (this data's own when built directly)."""
        return self._history if self._history is not None else (self.X, self.row_grid())

    def sequences(
        self,
        window: int,
        *,
        rows: npt.ArrayLike | None = None,
        incomplete: Literal["drop", "zero"] = "drop",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows of feature vectors for sequence models (LSTM, Transformer).

        The window of a row at decision time ``t`` for asset ``a`` holds the
        normalized features of ``a`` at the ``window`` consecutive calendar
        bars ending at ``t`` (oldest first, ``t`` last), taken from the full
        build's rows, also those before this subset's first row. Only earlier
        bars are read: no lookahead.

        Parameters
        ----------
        window : int
            Bars per sequence, >= 1.
        rows : array-like of int, optional
            Positions (into this data) to build; default all. Build in batches
            for large data: the result takes ``len(rows) * window *
            n_features`` values.
        incomplete : {"drop", "zero"}, default "drop"
            A window is incomplete when a bar in it has no row (before the
            data's start, outside the universe, no label, or dropped by
            ``max_missing``). ``"drop"`` leaves those rows out; ``"zero"``
            fills the missing steps with 0 (the cross-sectional mean).

        Returns
        -------
        sequences : ndarray of shape (m, window, n_features)
        positions : ndarray of int64, shape (m,)
            The row of each sequence, e.g. for ``data.y[positions]`` or
            ``data.select(positions)``.
        """
        if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
            raise ModelError(f"sequences: window must be an integer >= 1, got {window!r}")
        if incomplete not in ("drop", "zero"):
            raise ModelError(f"sequences: incomplete must be 'drop' or 'zero', got {incomplete!r}")
        positions = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        x_all, grid = self._source()
        t = self.rows[positions]
        steps = t[:, None] - np.arange(window - 1, -1, -1)[None, :]
        source = np.where(steps >= 0, grid[np.maximum(steps, 0), self.cols[positions][:, None]], -1)
        complete = (source >= 0).all(axis=1)
        if incomplete == "drop":
            source, positions = source[complete], positions[complete]
            return x_all[source], positions
        out = x_all[np.maximum(source, 0)]
        out[source < 0] = 0
        return out, positions


# ------------------------------------------------------------------- the build
def _resolve_features(
    features: Mapping[str, str] | Sequence[str] | str, library_root: Path | None
) -> dict[str, str]:
    from alphaloop.factors.library import FactorLibrary, get_library

    if isinstance(features, FactorLibrary):
        return dict(features.factors)
    if isinstance(features, str):
        try:
            return dict(get_library(features, library_root).factors)
        except AlphaloopError as exc:
            raise ModelError(
                f"no factor library named {features!r}",
                hint=f"{exc.hint}; pass a list or dict of expressions for your own features",
            ) from exc
    if isinstance(features, Mapping):
        out = {str(k): str(v) for k, v in features.items()}
    else:
        out = {str(v): str(v) for v in features}
    if not out:
        raise ModelError("no features given", hint="pass a library name or expressions")
    return out


def _compile(panel: Panel, formulas: dict[str, str]) -> dict[str, Expression]:
    compiled = {}
    for name, text in formulas.items():
        try:
            compiled[name] = compile_expression(text, fields=panel.field_names)
        except ExpressionError as exc:
            prefix = f"feature {name!r}: " if name != text else ""
            raise ModelError(f"{prefix}{exc.message}", hint=exc.hint) from exc
    return compiled


def _labels(panel: Panel, spec: LabelSpec) -> np.ndarray:
    """Forward simple returns, (time, asset) float64; NaN where no label exists."""
    if spec.price not in panel.field_names:
        raise ModelError(
            f"label price field {spec.price!r} is not in the panel",
            hint=f"fields: {list(panel.field_names)}",
        )
    p = np.asarray(panel.field(spec.price), dtype=np.float64)
    out = np.full(panel.shape, np.nan)
    n = panel.n_times - spec.span
    if n > 0:
        entry, exit_ = p[spec.entry_lag : spec.entry_lag + n], p[spec.span :]
        with np.errstate(all="ignore"):
            r = exit_ / entry - 1.0
        ok = np.isfinite(r) & (entry > 0) & np.isfinite(entry)
        out[:n] = np.where(ok, r, np.nan)
    return out


def _feature_matrix(
    view: Panel,
    compiled: dict[str, Expression],
    members: np.ndarray,
    row_of: np.ndarray,
    n_rows: int,
    dtype: type,
    how: tuple[float, int, float],
    mode: Mode,
    threads: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate and normalize every feature into an (n_rows, n_features) matrix.

    Batches of ``BATCH_SIZE`` features go to ``threads`` threads; each thread
    evaluates its batch in float32, copies it time-major into its own buffer
    and writes the normalized rows into the batch's columns. ``how`` is
    ``(winsorize, method code, fill value)``. Returns the matrix and each
    row's count of missing features.
    """
    winsorize, method, fill_value = how
    names = list(compiled)
    matrix = np.empty((n_rows, len(names)), dtype=dtype)
    starts = range(0, len(names), BATCH_SIZE)
    threads = min(threads, len(starts))
    size, n_times = min(BATCH_SIZE, len(names)), row_of.shape[0]
    slots: queue.SimpleQueue[tuple[np.ndarray, np.ndarray]] = queue.SimpleQueue()
    counts = [np.zeros(n_rows, dtype=np.int32) for _ in range(threads)]
    for c in counts:
        slots.put((np.empty((size, n_times, row_of.shape[1]), dtype=np.float32), c))

    def one_batch(first: int) -> None:
        batch = {n: compiled[n] for n in names[first : first + BATCH_SIZE]}
        values = evaluate(view, batch, mode=mode, dtype=np.float32)
        stack, missing = slots.get()
        try:
            for i, name in enumerate(batch):
                stack[i] = values.pop(name)  # time-major: one timestamp's values together
            _normalize_block_jit(
                stack[: len(batch)], members, row_of, matrix, first, winsorize, method,
                fill_value, missing, 0, n_times,
            )  # fmt: skip
        finally:
            slots.put((stack, missing))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one_batch, starts))
    return matrix, (np.sum(counts, axis=0) if threads > 1 else counts[0])


def _targets(
    panel: Panel, forward: np.ndarray, rows: np.ndarray, cols: np.ndarray, label: LabelSpec
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` and the raw forward return of each row (float64, NaN where unlabeled)."""
    fwd = forward[rows, cols]
    if label.kind == "classification":
        return np.where(np.isnan(fwd), np.nan, (fwd > label.round_trip_cost) * 1.0), fwd
    if label.normalize is None:
        return fwd.copy(), fwd
    grid = np.full(panel.shape, -1, dtype=np.int64)
    grid[rows, cols] = np.arange(len(rows))
    normalized = np.empty((len(rows), 1), dtype=np.float32)
    _normalize_block_jit(
        forward.astype(np.float32)[None], panel.membership, grid, normalized, 0, 0.0,
        _METHOD[label.normalize], np.nan, np.zeros(len(rows), dtype=np.int32), 0, panel.n_times,
    )  # fmt: skip
    return np.where(np.isnan(fwd), np.nan, normalized[:, 0].astype(np.float64)), fwd


def build_dataset(
    panel: Panel,
    features: Mapping[str, str] | Sequence[str] | str,
    label: LabelSpec | None = None,
    *,
    normalize: Normalize = "zscore",
    winsorize: float | None = 0.01,
    fill: Literal["zero", "nan"] = "zero",
    max_missing: float = 0.5,
    keep_unlabeled: bool = False,
    mode: Mode = "strict",
    dtype: type = np.float32,
    start: Any = None,
    end: Any = None,
    library_root: Path | None = None,
    n_jobs: int = -1,
) -> LearningData:
    """Features and labels for learning, one row per (decision time, member asset).

    See the module docstring for the label timing, normalization and
    missing-value conventions.

    Parameters
    ----------
    panel : Panel
    features : str, sequence of str or mapping of str to str
        A factor library name (``"alpha158"``, ``"alpha158-close"``, a
        library in ``library_root``'s workspace), expression texts (each
        named by its text) or a mapping name -> expression.
    label : LabelSpec, optional
        Default ``LabelSpec()``: the 5-bar forward close-to-close return
        entered one bar after the decision.
    normalize : {"zscore", "rank", None}, default "zscore"
        Cross-sectional normalization of each feature per timestamp.
    winsorize : float or None, default 0.01
        Clip each feature per timestamp to its ``winsorize`` and
        ``1 - winsorize`` quantiles before normalizing, in ``[0, 0.5)``;
        None or 0 does not clip. Ignored by ``"rank"``.
    fill : {"zero", "nan"}, default "zero"
        What a missing feature value becomes after normalization.
    max_missing : float, default 0.5
        Drop rows where more than this share of the features is missing
        (1.0 keeps every row).
    keep_unlabeled : bool, default False
        Keep rows without a label (``y`` NaN): for predicting the latest bars.
    mode : {"strict", "qlib"}, default "strict"
        Expression evaluation mode (see :mod:`alphaloop.factors.evaluate`).
    dtype : numpy dtype, default float32
        Of ``X``.
    start, end : timestamp-like, optional
        Span of decision times (both inclusive; naive = UTC). Data before
        ``start`` still feeds rolling windows; labels may use bars after
        ``end`` (their ``t1`` says so).
    library_root : Path, optional
        A workspace root whose ``libraries/`` holds user libraries.
    n_jobs : int, default -1
        Threads, each evaluating and normalizing one batch of
        ``BATCH_SIZE`` features at a time (-1: every core this process may
        use, -2: all but one). Each thread holds its batch's (time, asset)
        arrays, so memory grows with ``n_jobs``.

    Returns
    -------
    LearningData

    Raises
    ------
    ModelError
        Unknown library, bad expression or option, or no row left.
    """
    label = LabelSpec() if label is None else label
    if not isinstance(label, LabelSpec):
        raise ModelError(f"label must be a LabelSpec, got {type(label).__name__}")
    if normalize not in _METHOD:
        raise ModelError(f"normalize must be 'zscore', 'rank' or None, got {normalize!r}")
    w = 0.0 if winsorize is None else float(winsorize)
    if not 0.0 <= w < 0.5:
        raise ModelError(f"winsorize must be a quantile in [0, 0.5), got {winsorize!r}")
    if fill not in ("zero", "nan"):
        raise ModelError(f"fill must be 'zero' or 'nan', got {fill!r}")
    if not 0.0 <= max_missing <= 1.0:
        raise ModelError(f"max_missing must be a share in [0, 1], got {max_missing!r}")
    if mode not in ("strict", "qlib"):
        raise ModelError(f"mode must be 'strict' or 'qlib', got {mode!r}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ModelError(f"dtype must be float32 or float64, got {np.dtype(dtype)}")
    threads = _threads(n_jobs)
    method = _METHOD[normalize]
    compiled = _compile(panel, _resolve_features(features, library_root))

    # rows: members with a label, decision time in [start, end]
    forward = _labels(panel, label)
    i0 = 0 if start is None else int(panel.index.searchsorted(_utc(start), side="left"))
    i1 = panel.n_times if end is None else int(panel.index.searchsorted(_utc(end), side="right"))
    candidate = np.zeros(panel.shape, dtype=bool)
    candidate[i0:i1] = panel.membership[i0:i1]
    if not keep_unlabeled:
        candidate &= ~np.isnan(forward)
    rows, cols = np.nonzero(candidate)
    if len(rows) == 0:
        raise ModelError(
            f"no rows: no member cell between {start} and {end} has a {label.horizon}-bar label",
            hint=f"the panel spans {panel.start} .. {panel.end} with {panel.n_times} bars; a "
            f"label needs {label.span} bars after the decision",
        )
    last = int(rows[-1]) + 1  # features at t use bars <= t only
    members = np.ascontiguousarray(panel.membership[:last]).view()
    members.flags.writeable = False  # one compiled kernel: the panel's masks are read-only
    row_of = np.full((last, panel.n_assets), -1, dtype=np.int64)
    row_of[rows, cols] = np.arange(len(rows))

    fill_value = 0.0 if fill == "zero" else np.nan
    matrix, missing = _feature_matrix(
        panel.iloc(slice(0, last)), compiled, members, row_of, len(rows), dtype,
        (w, method, fill_value), mode, threads,
    )  # fmt: skip
    y, fwd = _targets(panel, forward, rows, cols, label)

    keep = missing <= max_missing * len(compiled)
    if not keep.all():
        matrix = _compact_rows(matrix, keep)
        rows, cols, y, fwd = rows[keep], cols[keep], y[keep], fwd[keep]
        if len(rows) == 0:
            raise ModelError(
                f"no rows: every row has more than {max_missing:.0%} of its features missing",
                hint="use more history, fewer long windows, or a larger max_missing",
            )
    data = LearningData(
        X=matrix,
        y=y,
        forward_return=fwd,
        rows=rows.astype(np.int64),
        cols=cols.astype(np.int64),
        feature_names=tuple(compiled),
        assets=panel.assets,
        panel_index=panel.index,
        label=label,
    )
    return replace(data, _history=(matrix, data.row_grid()))
