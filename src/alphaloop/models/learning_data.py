"""The learning dataset: feature rows, labels, and their place on the panel's grid.

:class:`LearningData` holds one row per (decision time, asset), in
time-major order (by time, then asset column), so its ``t1`` is sorted as the
purged splitters of :mod:`alphaloop.validation.splits` expect. It is built by
:func:`alphaloop.models.dataset.build_dataset`; :meth:`LearningData.time_slice`
returns views of ``X``, :meth:`LearningData.select` copies, and
:meth:`LearningData.sequences` gives windows of past rows for sequence
models.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaloop.data import as_utc
from alphaloop.models.errors import ModelError
from alphaloop.models.labels import LabelSpec

__all__ = ["LearningData"]


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
        i0 = 0 if start is None else int(np.searchsorted(times, as_utc(start).value, side="left"))
        i1 = len(self) if end is None else int(np.searchsorted(times, as_utc(end).value, "right"))
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
