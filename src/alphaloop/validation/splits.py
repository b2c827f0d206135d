"""Cross-validation splitters for time series whose labels span time: purge and embargo.

Conventions shared by every splitter here
-----------------------------------------
- Observations are the rows of ``X``, in time order. Each has a label span
  ``[t0, t1]``, a *closed* interval: ``t0`` is when the observation is made
  and ``t1`` the last timestamp whose information its label uses (e.g. the
  exit bar of a triple-barrier label).
- Label spans are given at construction as ``t1``: a :class:`pandas.Series`
  indexed by ``t0`` (sorted ascending, repeats allowed for panels) whose
  values are the ``t1``. It is matched to ``X`` by position, or, when ``X`` is
  indexed by a :class:`pandas.DatetimeIndex` that differs from ``t1.index``,
  by timestamp. Without ``t1`` every label ends where it starts (``t1 = t0``)
  and ``t0`` is ``X``'s DatetimeIndex or, failing that, the row number.
- A *test block* is a maximal run of consecutive test rows; its period is
  ``[T0, T1]`` with ``T0`` its first start and ``T1`` its latest label end.
- Purge: a training row is dropped when its span meets a test block's
  period (``t0 <= T1`` and ``t1 >= T0``, ends included).
- Embargo: a buffer after each test period (before it, in
  :class:`WalkForward`). A float is a fraction of all observations, rounded
  *up* to a row count ``h``; a :class:`pandas.Timedelta` is a duration.
- Splits follow scikit-learn's contract (``split`` yields ``(train, test)``
  integer positions, ``get_n_splits``), so they work as ``cv=`` anywhere.
  A split whose training set purge and embargo leave empty raises
  :class:`SplitError` rather than yield it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from inspect import signature
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from alphaloop.errors import AlphaloopError

__all__ = ["CombinatorialPurgedCV", "PurgedKFold", "SplitError", "WalkForward"]

Embargo = float | pd.Timedelta | dt.timedelta | np.timedelta64
MAX_CPCV_SPLITS = 100_000
_ROUNDING_SLACK = 1e-9  # 0.03 * 100 must give 3 rows, not 4


class SplitError(AlphaloopError, ValueError):
    """A splitter's settings or inputs cannot produce leak-free splits.

    Also a :class:`ValueError`, as scikit-learn callers expect of bad splitter input.
    """


@dataclass(frozen=True)
class _LabelTimes:
    """Label spans as comparable numbers: ns since epoch for datetimes, else as given."""

    start: np.ndarray
    end: np.ndarray
    is_datetime: bool


@dataclass(frozen=True)
class _Embargo:
    """A validated embargo: a fraction of all observations, or a duration in ns."""

    fraction: float = 0.0
    duration_ns: int | None = None

    def rows(self, n: int) -> int:
        """Rows embargoed by the fraction: ``ceil(fraction * n)``."""
        return math.ceil(self.fraction * n - _ROUNDING_SLACK) if self.fraction > 0 else 0


def _resolve_embargo(embargo: object) -> _Embargo:
    """Validate ``embargo``: a fraction in [0, 1) or a non-negative duration."""
    if isinstance(embargo, pd.Timedelta | dt.timedelta | np.timedelta64):
        duration = pd.Timedelta(embargo)
        if pd.isna(duration) or duration < pd.Timedelta(0):
            raise SplitError(f"embargo must be a non-negative duration, got {embargo!r}")
        return _Embargo(duration_ns=int(duration.as_unit("ns").value))
    if isinstance(embargo, bool) or not isinstance(embargo, int | float | np.integer | np.floating):
        raise SplitError(
            f"embargo must be a fraction of observations or a pandas Timedelta, got {embargo!r}",
            hint="e.g. embargo=0.01 or embargo=pd.Timedelta('5D')",
        )
    fraction = float(embargo)
    if not 0.0 <= fraction < 1.0:
        raise SplitError(
            f"embargo={embargo!r} is not a fraction of observations in [0, 1)",
            hint="to embargo k rows of n pass k / n; for a duration pass a pandas Timedelta",
        )
    return _Embargo(fraction=fraction)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise SplitError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _n_rows(x: object) -> int:
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape else len(x)  # type: ignore[arg-type]


def _as_numbers(index: pd.Index, name: str) -> tuple[np.ndarray, bool]:
    if isinstance(index, pd.DatetimeIndex):
        return index.as_unit("ns").asi8, True
    if pd.api.types.is_numeric_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype):
        return index.to_numpy(dtype=float), False
    raise SplitError(f"{name} must be datetimes or numbers, got dtype {index.dtype}")


def _label_times(x: object, t1: pd.Series | None) -> _LabelTimes:
    """Each row's label span ``[t0, t1]`` as numbers, validated against the data ``x``."""
    n = _n_rows(x)
    x_index = getattr(x, "index", None)
    x_times = x_index if isinstance(x_index, pd.DatetimeIndex) else None
    if t1 is None:
        if x_times is None:
            rows = np.arange(n, dtype=float)
            return _LabelTimes(rows, rows, is_datetime=False)
        start, _ = _as_numbers(x_times, "X's index")
        _check_sorted(start, "X's DatetimeIndex")
        return _LabelTimes(start, start, is_datetime=True)
    if x_times is not None and not t1.index.equals(x_times):
        t1 = _align_on_times(t1, x_times)
    elif len(t1) != n:
        raise SplitError(
            f"t1 has {len(t1)} label end times but X has {n} rows",
            hint="pass one label end time per row of X, in the same order",
        )
    if t1.isna().any():
        row = int(np.flatnonzero(t1.isna().to_numpy())[0])
        raise SplitError(
            f"t1 has a missing label end time at row {row} (start {t1.index[row]})",
            hint="fill it with the last timestamp the label can use",
        )
    start, start_is_dt = _as_numbers(t1.index, "t1's index (label start times)")
    end_index = pd.Index(t1.array)
    end, end_is_dt = _as_numbers(end_index, "t1's values (label end times)")
    if start_is_dt != end_is_dt or (
        start_is_dt and (end_index.tz is None) != (t1.index.tz is None)
    ):
        raise SplitError(
            "t1's values and its index are not comparable times (datetime vs number, "
            "or time-zone aware vs naive)"
        )
    _check_sorted(start, "t1's index (label start times)")
    before = np.flatnonzero(end < start)
    if before.size:
        row = int(before[0])
        raise SplitError(
            f"t1 ends before it starts at row {row}: start {t1.index[row]}, end {t1.iloc[row]}"
        )
    return _LabelTimes(start, end, is_datetime=start_is_dt)


def _align_on_times(t1: pd.Series, x_times: pd.DatetimeIndex) -> pd.Series:
    if not isinstance(t1.index, pd.DatetimeIndex):
        raise SplitError(
            f"X is indexed by time but t1's index has dtype {t1.index.dtype}",
            hint="index t1 by the label start timestamps",
        )
    if (t1.index.tz is None) != (x_times.tz is None):
        raise SplitError("X's index and t1's index differ in time zone (aware vs naive)")
    if not t1.index.is_unique:
        raise SplitError(
            "t1's index differs from X's DatetimeIndex and has repeated timestamps, "
            "so t1 cannot be matched to X's rows by time",
            hint="pass t1 with the same index as X",
        )
    missing = x_times.difference(t1.index)
    if len(missing):
        raise SplitError(
            f"t1 has no label end time for {len(missing)} of X's {len(x_times)} timestamps "
            f"(first: {missing[0]})",
            hint="t1 must be indexed by the same start times as X's rows",
        )
    return t1.reindex(x_times)


def _check_sorted(start: np.ndarray, name: str) -> None:
    drops = np.flatnonzero(np.diff(start) < 0)
    if drops.size:
        raise SplitError(
            f"{name} is not sorted in time: row {int(drops[0]) + 1} starts before row "
            f"{int(drops[0])}",
            hint="sort X (and t1) by time before splitting",
        )


def _check_duration(embargo: _Embargo, times: _LabelTimes) -> None:
    if embargo.duration_ns is not None and not times.is_datetime:
        raise SplitError(
            "a Timedelta embargo needs datetime label times, but the rows are not indexed by time",
            hint="pass t1 indexed by timestamps, X with a DatetimeIndex, or a fractional embargo",
        )


def _block_bounds(n: int, n_blocks: int) -> np.ndarray:
    """Edges of ``n_blocks`` consecutive blocks; the first ``n % n_blocks`` get one more row."""
    sizes = np.full(n_blocks, n // n_blocks, dtype=np.int64)
    sizes[: n % n_blocks] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def _runs(test: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs ``[a, b)`` of consecutive positions in a sorted index array."""
    cuts = np.flatnonzero(np.diff(test) != 1) + 1
    return [(int(run[0]), int(run[-1]) + 1) for run in np.split(test, cuts)]


def _purged_train(times: _LabelTimes, test: np.ndarray, embargo: _Embargo) -> np.ndarray:
    """Rows outside ``test`` whose spans miss every test period and its embargo after."""
    start, end = times.start, times.end
    keep = np.ones(len(start), dtype=bool)
    keep[test] = False
    h = embargo.rows(len(start))
    for a, b in _runs(test):
        period_start, period_end = start[a], end[a:b].max()
        keep &= (start > period_end) | (end < period_start)
        if embargo.duration_ns is not None:
            keep &= (start <= period_end) | (start > period_end + embargo.duration_ns)
        elif h:
            first_after = int(np.searchsorted(start, period_end, side="right"))
            keep[first_after : first_after + h] = False
    return np.flatnonzero(keep)


class _PurgedSplitter(BaseCrossValidator):
    """Shared checks, block splits and repr; subclasses implement ``split``."""

    n_splits: int
    t1: pd.Series | None
    embargo: Embargo

    def _check_t1(self) -> None:
        if self.t1 is not None and not isinstance(self.t1, pd.Series):
            raise SplitError(
                "t1 must be a pandas Series indexed by label start time, with label end "
                f"times as values; got {type(self.t1).__name__}"
            )

    def _times(self, x: object) -> _LabelTimes:
        times = _label_times(x, self.t1)
        _check_duration(_resolve_embargo(self.embargo), times)
        return times

    def get_n_splits(
        self,
        X: object = None,  # noqa: N803 (scikit-learn's name)
        y: object = None,
        groups: object = None,
    ) -> int:
        """Number of splits; ``X``, ``y`` and ``groups`` are ignored."""
        return self.n_splits

    def _block_splits(
        self, x: object, n_blocks: int, name: str, test_blocks: Iterable[Sequence[int]]
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Cut the rows of ``x`` into ``n_blocks`` contiguous blocks (``name`` in errors)
        and yield, for each entry of ``test_blocks``, the purged and embargoed training
        rows and the test rows of those blocks."""
        times = self._times(x)
        n = len(times.start)
        if n_blocks > n:
            raise SplitError(f"{name}={n_blocks} is more than the {n} rows of X")
        embargo = _resolve_embargo(self.embargo)
        bounds = _block_bounds(n, n_blocks)
        for split_no, blocks in enumerate(test_blocks):
            test = np.concatenate([np.arange(bounds[g], bounds[g + 1]) for g in blocks])
            yield self._nonempty(_purged_train(times, test, embargo), split_no), test

    @staticmethod
    def _nonempty(train: np.ndarray, split_no: int) -> np.ndarray:
        if train.size == 0:
            raise SplitError(
                f"split {split_no} has no training rows left after purge and embargo",
                hint="use fewer splits, a smaller embargo or shorter labels",
            )
        return train

    def __repr__(self) -> str:
        names = [p for p in signature(type(self).__init__).parameters if p != "self"]
        shown = []
        for name in names:
            value = getattr(self, name)
            if name == "t1" and value is not None:
                shown.append(f"t1=<{len(value)} label end times>")
            else:
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


class PurgedKFold(_PurgedSplitter):
    """K-fold cross-validation with contiguous test folds, purged by ``t1`` and embargoed.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2. Fold sizes differ by at most one row
        (the first ``n_obs % n_splits`` folds get the extra row), as in
        :class:`sklearn.model_selection.KFold`.
    t1 : pandas.Series, optional
        Label end times indexed by label start times, one per row of ``X``
        (see the module conventions). ``None``: each label ends where it starts.
    embargo : float or pandas.Timedelta, default=0.0
        Buffer after each test period ``[T0, T1]``. A float in [0, 1) drops the
        ``ceil(embargo * n_obs)`` rows that start first after ``T1``; a
        duration drops rows starting in ``(T1, T1 + embargo]``.

    Notes
    -----
    Every row is tested exactly once. Training rows come from both sides of
    the test fold, so use this for model selection, not as a backtest.
    """

    def __init__(
        self, n_splits: int = 5, t1: pd.Series | None = None, embargo: Embargo = 0.0
    ) -> None:
        _check_int("n_splits", n_splits, minimum=2)
        _resolve_embargo(embargo)
        self.n_splits = n_splits
        self.t1 = t1
        self.embargo = embargo
        self._check_t1()

    def split(
        self,
        X: object,  # noqa: N803 (scikit-learn's name)
        y: object = None,
        groups: object = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` row positions for each fold, in time order.

        Parameters
        ----------
        X : array-like of shape (n_obs, n_features)
            Observations in time order; only its length and index are used.
        y, groups : ignored
            Present for scikit-learn compatibility.

        Yields
        ------
        train, test : numpy.ndarray of int
            Sorted row positions.

        Raises
        ------
        SplitError
            If ``t1`` does not fit ``X``, ``n_splits`` exceeds the row count, or
            a fold has no training rows left.
        """
        folds = ([k] for k in range(self.n_splits))
        yield from self._block_splits(X, self.n_splits, "n_splits", folds)


class WalkForward(_PurgedSplitter):
    """Walk-forward splits: each test block follows its training window, purged by ``t1``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of test blocks. They tile the end of the data, as in
        :class:`sklearn.model_selection.TimeSeriesSplit`.
    train_size : int, optional
        ``None``: expanding window (all rows before the test block). An int:
        rolling window of that many rows ending ``gap`` rows before the test
        block, counted before purge (so purge can leave fewer).
    test_size : int, optional
        Rows per test block; default ``n_obs // (n_splits + 1)``.
    t1 : pandas.Series, optional
        Label end times indexed by label start times (see module conventions).
    embargo : float or pandas.Timedelta, default=0.0
        Buffer *before* the test block, between the last training label end
        and the test start ``T0``. A float drops training rows whose labels end
        at or after the start of the ``ceil(embargo * n_obs)``-th row before
        the first row starting at ``T0``; a duration drops rows with
        ``t1 >= T0 - embargo``. Training never follows the test block, so no
        buffer is needed after it.
    gap : int, default=0
        Rows skipped between the training window and the test block, counted
        by position before purge (scikit-learn's ``gap``). ``gap`` and
        ``embargo`` are minimums, not added together.

    Notes
    -----
    Every training label ends before its test block starts. With ``t1=None``
    and ``embargo=0`` the splits equal ``TimeSeriesSplit(n_splits,
    max_train_size=train_size, test_size=test_size, gap=gap)``.
    """

    def __init__(
        self,
        n_splits: int = 5,
        train_size: int | None = None,
        test_size: int | None = None,
        t1: pd.Series | None = None,
        embargo: Embargo = 0.0,
        gap: int = 0,
    ) -> None:
        _check_int("n_splits", n_splits, minimum=1)
        if train_size is not None:
            _check_int("train_size", train_size, minimum=1)
        if test_size is not None:
            _check_int("test_size", test_size, minimum=1)
        _check_int("gap", gap, minimum=0)
        _resolve_embargo(embargo)
        self.n_splits = n_splits
        self.train_size = train_size
        self.test_size = test_size
        self.t1 = t1
        self.embargo = embargo
        self.gap = gap
        self._check_t1()

    def split(
        self,
        X: object,  # noqa: N803 (scikit-learn's name)
        y: object = None,
        groups: object = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` row positions, test blocks moving forward in time.

        Parameters
        ----------
        X : array-like of shape (n_obs, n_features)
            Observations in time order; only its length and index are used.
        y, groups : ignored
            Present for scikit-learn compatibility.

        Yields
        ------
        train, test : numpy.ndarray of int
            Sorted row positions; every train row precedes every test row.

        Raises
        ------
        SplitError
            If ``t1`` does not fit ``X``, the blocks and gap do not fit in the
            rows, or a split has no training rows left.
        """
        times = self._times(X)
        start, end = times.start, times.end
        n = len(start)
        test_size = self.test_size or n // (self.n_splits + 1)
        first_test = n - self.n_splits * test_size
        if test_size < 1 or first_test - self.gap < 1:
            raise SplitError(
                f"{self.n_splits} test blocks of {test_size} rows and a gap of {self.gap} "
                f"leave no training rows in {n} observations",
                hint="use fewer splits, a smaller test_size or gap, or more data",
            )
        embargo = _resolve_embargo(self.embargo)
        h = embargo.rows(n)
        for k in range(self.n_splits):
            test = np.arange(first_test + k * test_size, first_test + (k + 1) * test_size)
            period_start = start[test[0]]
            stop = test[0] - self.gap
            train = np.arange(
                0 if self.train_size is None else max(0, stop - self.train_size), stop
            )
            keep = end[train] < period_start
            if embargo.duration_ns is not None:
                keep &= end[train] < period_start - embargo.duration_ns
            elif h:
                buffer_row = int(np.searchsorted(start, period_start, side="left")) - h
                if buffer_row < 0:
                    keep[:] = False
                else:
                    keep &= end[train] < start[buffer_row]
            yield self._nonempty(train[keep], k), test


class CombinatorialPurgedCV(_PurgedSplitter):
    """Combinatorial purged cross-validation (CPCV) and its backtest paths.

    The rows are cut into ``n_groups`` consecutive groups; each of the
    ``C(n_groups, n_test_groups)`` splits tests one combination of groups and
    trains on the rest, purged by ``t1`` and embargoed after each test block
    (adjacent test groups form one block).

    Parameters
    ----------
    n_groups : int, default=6
        Number of groups ``N``, at least 2; sizes differ by at most one row
        (the first ``n_obs % n_groups`` get the extra row).
    n_test_groups : int, default=2
        Test groups per split ``k``, with ``1 <= k < N``.
    t1 : pandas.Series, optional
        Label end times indexed by label start times (see module conventions).
    embargo : float or pandas.Timedelta, default=0.0
        Buffer after each test block, as in :class:`PurgedKFold`.

    Notes
    -----
    Each group is tested in ``C(N - 1, k - 1)`` splits, which is also the
    number of backtest paths ``n_paths = k / N * C(N, k)``. Path ``p`` takes
    group ``g`` from the ``p``-th split (in split order) that tests ``g``.
    Test sets of different splits overlap, so use :meth:`assemble_paths`
    rather than :func:`sklearn.model_selection.cross_val_predict`.
    """

    def __init__(
        self,
        n_groups: int = 6,
        n_test_groups: int = 2,
        t1: pd.Series | None = None,
        embargo: Embargo = 0.0,
    ) -> None:
        _check_int("n_groups", n_groups, minimum=2)
        _check_int("n_test_groups", n_test_groups, minimum=1)
        if n_test_groups >= n_groups:
            raise SplitError(
                f"n_test_groups={n_test_groups} must be smaller than n_groups={n_groups}",
                hint="at least one group must be left for training",
            )
        if math.comb(n_groups, n_test_groups) > MAX_CPCV_SPLITS:
            raise SplitError(
                f"n_groups={n_groups} with n_test_groups={n_test_groups} gives "
                f"{math.comb(n_groups, n_test_groups):,} splits (at most {MAX_CPCV_SPLITS:,})",
                hint="each split is a model fit; use fewer groups",
            )
        _resolve_embargo(embargo)
        self.n_groups = n_groups
        self.n_test_groups = n_test_groups
        self.t1 = t1
        self.embargo = embargo
        self._check_t1()

    @property
    def n_paths(self) -> int:
        """Number of backtest paths, ``C(N - 1, k - 1)``."""
        return math.comb(self.n_groups - 1, self.n_test_groups - 1)

    def get_n_splits(
        self,
        X: object = None,  # noqa: N803 (scikit-learn's name)
        y: object = None,
        groups: object = None,
    ) -> int:
        """Number of splits, ``C(N, k)``; ``X``, ``y`` and ``groups`` are ignored."""
        return math.comb(self.n_groups, self.n_test_groups)

    def test_groups(self) -> np.ndarray:
        """Test groups of each split, shape ``(n_splits, n_test_groups)``, in split order."""
        combos = list(combinations(range(self.n_groups), self.n_test_groups))
        return np.array(combos, dtype=np.int64).reshape(-1, self.n_test_groups)

    def backtest_paths(self) -> np.ndarray:
        """Which split supplies each group of each path.

        Returns
        -------
        numpy.ndarray of int, shape (n_paths, n_groups)
            Entry ``[p, g]`` is the index (in :meth:`split` order) of the split
            whose test predictions for group ``g`` make up path ``p``. Read
            along a row, the groups in order assemble one full
            out-of-sample path.
        """
        paths = np.empty((self.n_paths, self.n_groups), dtype=np.int64)
        uses = np.zeros(self.n_groups, dtype=np.int64)
        for split_no, groups in enumerate(self.test_groups()):
            paths[uses[groups], groups] = split_no
            uses[groups] += 1
        return paths

    def split(
        self,
        X: object,  # noqa: N803 (scikit-learn's name)
        y: object = None,
        groups: object = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` row positions for each combination of test groups.

        Parameters
        ----------
        X : array-like of shape (n_obs, n_features)
            Observations in time order; only its length and index are used.
        y, groups : ignored
            Present for scikit-learn compatibility.

        Yields
        ------
        train, test : numpy.ndarray of int
            Sorted row positions; ``test`` joins the split's test groups.

        Raises
        ------
        SplitError
            If ``t1`` does not fit ``X``, ``n_groups`` exceeds the row count, or
            a split has no training rows left.
        """
        yield from self._block_splits(X, self.n_groups, "n_groups", self.test_groups())

    def assemble_paths(self, predictions_per_split: Sequence[Any]) -> np.ndarray:
        """Assemble per-split test predictions (or returns) into backtest paths.

        Parameters
        ----------
        predictions_per_split : sequence of array-like
            One array per split, in :meth:`split` order; entry ``s`` has one
            row per test row of split ``s``, in the order of its ``test``
            positions. Trailing dimensions (e.g. assets) are kept.

        Returns
        -------
        numpy.ndarray of float, shape (n_paths, n_obs, ...)
            Row ``p`` is path ``p``: every observation predicted exactly once,
            by the split :meth:`backtest_paths` names for its group.

        Raises
        ------
        SplitError
            If the number of arrays or their lengths do not match the layout.
        """
        values = [np.asarray(v, dtype=float) for v in predictions_per_split]
        n_splits = self.get_n_splits()
        if len(values) != n_splits:
            raise SplitError(f"expected {n_splits} arrays (one per split), got {len(values)}")
        if any(v.ndim == 0 for v in values) or len({v.shape[1:] for v in values}) > 1:
            raise SplitError("split predictions must be arrays with the same trailing shape")
        n, rest = divmod(sum(len(v) for v in values), self.n_paths)
        if rest or n < self.n_groups:
            raise SplitError(
                "split prediction lengths do not fit the CPCV layout; pass one value per "
                "test row of each split, in split order"
            )
        bounds = _block_bounds(n, self.n_groups)
        out = np.full((self.n_paths, n, *values[0].shape[1:]), np.nan)
        paths = self.backtest_paths()
        for split_no, groups in enumerate(self.test_groups()):
            sizes = bounds[groups + 1] - bounds[groups]
            if len(values[split_no]) != sizes.sum():
                raise SplitError(
                    f"split {split_no} has {len(values[split_no])} predictions but "
                    f"{int(sizes.sum())} test rows"
                )
            offsets = np.concatenate([[0], np.cumsum(sizes)])
            for j, g in enumerate(groups):
                path = int(np.flatnonzero(paths[:, g] == split_no)[0])
                out[path, bounds[g] : bounds[g + 1]] = values[split_no][offsets[j] : offsets[j + 1]]
        return out
