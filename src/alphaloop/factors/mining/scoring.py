"""Score mining candidates by daily rank IC on the folds of a :class:`FoldPlan`.

Conventions
-----------
- A cell ``(t, j)`` counts when asset ``j`` is a member at ``t`` and both the
  candidate value and the label are finite. The daily rank IC of row ``t`` is
  Spearman's correlation over the row's counting cells, ties sharing the
  mean of their ranks (equal to :func:`scipy.stats.spearmanr`); a row with
  fewer than ``min_assets`` counting cells has NaN IC and is left out of the
  means.
- *Ranked* values (:meth:`ICScorer.ranked`) are the per-row average ranks of
  the finite member cells, standardised to mean 0 and population standard
  deviation 1 within the row, as float32; other cells, and rows with fewer
  than ``min_assets`` such cells or all values tied, are NaN. They feed the
  pool's combination and the correlation between candidates.
- Everything a score reports is computed on the plan's training and
  validation rows only; other rows (warmup, purged gap, unlabelled tail)
  are never read.

The kernels come in twins, as in :mod:`alphaloop.factors.kernels`: a plain
Python function stating the algorithm and its numba compilation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from alphaloop.errors import MiningError
from alphaloop.factors.kernels._common import compiled
from alphaloop.factors.mining.folds import FoldPlan
from alphaloop.jsonsafe import json_safe

__all__ = ["CandidateScore", "ICScorer", "RowSet"]

RowSet = Literal["train", "valid", "all"]
"""Which plan rows a statistic uses: training, validation, or both."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@compiled
def _average_ranks(xs: FloatArray, n: int, out: FloatArray) -> None:
    """Average ranks (1-based, ties share their mean rank) of ``xs[:n]`` into ``out[:n]``.

    Compiled in both kernels and their plain-Python twins: the twins check
    the loops around it.
    """
    order = np.argsort(xs[:n], kind="mergesort")
    first = 0
    while first < n:
        end = first + 1
        while end < n and xs[order[end]] == xs[order[first]]:
            end += 1
        rank = (first + end + 1) / 2.0
        for i in range(first, end):
            out[order[i]] = rank
        first = end


def _rank_ic_rows(
    values: FloatArray,
    value_rows: IntArray,
    label: FloatArray,
    label_order: IntArray,
    label_count: IntArray,
    label_rows: IntArray,
    min_assets: int,
) -> FloatArray:
    """Spearman IC of ``values[value_rows[k]]`` with ``label[label_rows[k]]``, for each ``k``.

    ``label_order[t, :label_count[t]]`` lists the label's counting cells of row
    ``t`` (member, finite label) in ascending label order.
    """
    n_out = value_rows.shape[0]
    n_assets = label.shape[1]
    out = np.full(n_out, np.nan)
    cells = np.empty(n_assets, dtype=np.int64)
    xs = np.empty(n_assets)
    rank_x = np.empty(n_assets)
    rank_y = np.empty(n_assets)
    for k in range(n_out):
        vt = value_rows[k]
        lt = label_rows[k]
        n = 0
        for i in range(label_count[lt]):  # counting cells, in label order
            j = label_order[lt, i]
            v = values[vt, j]
            if math.isfinite(v):
                cells[n] = j
                xs[n] = v
                n += 1
        if n < min_assets:
            continue
        first = 0  # label ranks: cells are already sorted by label
        while first < n:
            end = first + 1
            while end < n and label[lt, cells[end]] == label[lt, cells[first]]:
                end += 1
            rank = (first + end + 1) / 2.0
            for i in range(first, end):
                rank_y[i] = rank
            first = end
        _average_ranks(xs, n, rank_x)
        middle = (n + 1) / 2.0
        sxy, sxx, syy = 0.0, 0.0, 0.0
        for i in range(n):
            dx = rank_x[i] - middle
            dy = rank_y[i] - middle
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        if sxx > 0.0 and syy > 0.0:
            out[k] = min(max(sxy / math.sqrt(sxx * syy), -1.0), 1.0)
    return out


_rank_ic_rows_jit = compiled(_rank_ic_rows)


def _standard_ranks(
    values: FloatArray, members: npt.NDArray[np.bool_], min_assets: int
) -> npt.NDArray[np.float32]:
    """Per-row average ranks of the finite member cells, standardised (population std)."""
    n_times, n_assets = values.shape
    out = np.full((n_times, n_assets), np.nan, dtype=np.float32)
    cells = np.empty(n_assets, dtype=np.int64)
    xs = np.empty(n_assets)
    ranks = np.empty(n_assets)
    for t in range(n_times):
        n = 0
        for j in range(n_assets):
            v = values[t, j]
            if members[t, j] and math.isfinite(v):
                cells[n] = j
                xs[n] = v
                n += 1
        if n < min_assets or n < 2:
            continue
        _average_ranks(xs, n, ranks)
        middle = (n + 1) / 2.0
        squares = 0.0
        for i in range(n):
            squares += (ranks[i] - middle) * (ranks[i] - middle)
        if squares <= 0.0:
            continue
        std = math.sqrt(squares / n)
        for i in range(n):
            out[t, cells[i]] = (ranks[i] - middle) / std
    return out


_standard_ranks_jit = compiled(_standard_ranks)


def _mean_row_correlation(
    a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], rows: IntArray, min_assets: int
) -> float:
    """Mean over ``rows`` of the Pearson correlation of ``a[t]`` and ``b[t]`` on common cells."""
    total = 0.0
    used = 0
    for t in rows:
        n = 0
        sa, sb = 0.0, 0.0
        for j in range(a.shape[1]):
            x = float(a[t, j])
            y = float(b[t, j])
            if math.isfinite(x) and math.isfinite(y):
                sa += x
                sb += y
                n += 1
        if n < min_assets or n < 2:
            continue
        ma = sa / n
        mb = sb / n
        sab, saa, sbb = 0.0, 0.0, 0.0
        for j in range(a.shape[1]):
            x = float(a[t, j])
            y = float(b[t, j])
            if math.isfinite(x) and math.isfinite(y):
                sab += (x - ma) * (y - mb)
                saa += (x - ma) * (x - ma)
                sbb += (y - mb) * (y - mb)
        if saa > 0.0 and sbb > 0.0:
            total += min(max(sab / math.sqrt(saa * sbb), -1.0), 1.0)
            used += 1
    return total / used if used > 0 else math.nan


_mean_row_correlation_jit = compiled(_mean_row_correlation)


def _finite_mean(x: FloatArray) -> float:
    finite = x[np.isfinite(x)]
    return float(finite.mean()) if finite.size else math.nan


@dataclass(frozen=True)
class CandidateScore:
    """Daily rank IC of one candidate on the folds of a plan.

    Attributes
    ----------
    train_ic : tuple of float
        Mean daily rank IC of each training fold (NaN for a fold without a
        scored row).
    valid_ic : tuple of float
        Mean daily rank IC of each validation fold.
    ic : float
        Mean daily rank IC over all training rows.
    icir : float
        ``ic`` divided by the standard deviation (ddof=1) of the training
        daily IC; not annualised. NaN with fewer than 2 scored rows or zero spread.
    valid_mean : float
        Mean daily rank IC over all validation rows.
    coverage : float
        Share of member cells on training rows where the candidate is finite, in [0, 1].
    valid_coverage : float
        The same share on validation rows. A candidate defined on a few
        validation rows only has a ``valid_mean`` of those few days.
    days, valid_days : float
        Share of training (validation) rows with a finite daily IC: a
        candidate that is constant across assets on most days has values
        everywhere and an IC on few days.
    """

    train_ic: tuple[float, ...]
    valid_ic: tuple[float, ...]
    ic: float
    icir: float
    valid_mean: float
    coverage: float
    valid_coverage: float = math.nan
    days: float = math.nan
    valid_days: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (NaN becomes None)."""
        return dict(json_safe(asdict(self)))


class ICScorer:
    """Rank-IC scoring of candidates against one label, on the folds of one plan.

    Parameters
    ----------
    label : array-like, shape (n_times, n_assets)
        Forward returns per row (see :func:`~alphaloop.factors.mining.folds.next_bar_label`).
    members : array-like of bool, shape (n_times, n_assets)
        Universe membership; only member cells count.
    plan : FoldPlan
        Training and validation rows; its last row must lie inside the panel.
    min_assets : int, default=5
        Fewest counting cells for a row to be scored (at least 2).
    """

    def __init__(
        self,
        label: npt.ArrayLike,
        members: npt.ArrayLike,
        plan: FoldPlan,
        *,
        min_assets: int = 5,
    ) -> None:
        y = np.ascontiguousarray(label, dtype=np.float64)
        mask = np.ascontiguousarray(members, dtype=np.bool_)
        if y.ndim != 2:
            raise MiningError(f"label must be a 2-D (time, asset) array, got shape {y.shape}")
        if mask.shape != y.shape:
            raise MiningError(
                f"members has shape {mask.shape}, expected the label's shape {y.shape}"
            )
        if plan.end > y.shape[0]:
            raise MiningError(
                f"the fold plan uses rows up to {plan.end - 1} but the label has only "
                f"{y.shape[0]} rows"
            )
        if min_assets < 2:
            raise MiningError(f"min_assets must be at least 2, got {min_assets}")
        self.plan = plan
        self.min_assets = int(min_assets)
        self.shape: tuple[int, int] = (int(y.shape[0]), int(y.shape[1]))
        self._label = y
        self._members = mask
        counting = mask & np.isfinite(y)
        keyed = np.where(counting, y, np.inf)
        self._label_order = np.ascontiguousarray(np.argsort(keyed, axis=1, kind="stable"))
        self._label_count = counting.sum(axis=1).astype(np.int64)
        self._train_rows = plan.train_rows()
        self._valid_rows = plan.valid_rows()
        self._rows = np.concatenate([self._train_rows, self._valid_rows])
        n_train = self._train_rows.size
        self._train_members = int(mask[self._train_rows].sum())
        self._valid_members = int(mask[self._valid_rows].sum())
        bounds = np.cumsum([end - start for start, end in (*plan.train, *plan.valid)])
        self._fold_bounds = np.concatenate([[0], bounds])
        self._n_train_folds = len(plan.train)
        self._n_train_rows = n_train
        self._label_ranked = self.ranked(y)

    # rows -----------------------------------------------------------------------------

    def rows(self, which: RowSet = "train") -> IntArray:
        """Row indices of the plan's training, validation or all (training + validation) rows."""
        if which == "train":
            return self._train_rows
        if which == "valid":
            return self._valid_rows
        if which == "all":
            return self._rows
        raise MiningError(f"rows must be 'train', 'valid' or 'all', got {which!r}")

    @property
    def label_ranked(self) -> npt.NDArray[np.float32]:
        """The label's ranked values (see the module conventions); read-only."""
        view = self._label_ranked.view()
        view.flags.writeable = False
        return view

    # scoring --------------------------------------------------------------------------

    def _values(self, values: npt.ArrayLike, name: str = "values") -> FloatArray:
        x = np.asarray(values, dtype=np.float64)
        if x.shape != self.shape:
            raise MiningError(f"{name} has shape {x.shape}, expected {self.shape} (time, asset)")
        return x

    def rank_ic_at(self, values: npt.ArrayLike, rows: npt.ArrayLike) -> FloatArray:
        """Daily rank IC of a block of rows: ``values[k]`` is scored against label row ``rows[k]``.

        Parameters
        ----------
        values : array-like, shape (len(rows), n_assets)
        rows : array-like of int
            Label rows the value rows stand for.
        """
        label_rows = np.ascontiguousarray(rows, dtype=np.int64)
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 2 or x.shape != (label_rows.size, self.shape[1]):
            raise MiningError(
                f"values has shape {x.shape}, expected ({label_rows.size}, {self.shape[1]})"
            )
        value_rows = np.arange(label_rows.size, dtype=np.int64)
        return _rank_ic_rows_jit(
            x,
            value_rows,
            self._label,
            self._label_order,
            self._label_count,
            label_rows,
            self.min_assets,
        )

    def daily_ic(self, values: npt.ArrayLike) -> FloatArray:
        """Cross-sectional Spearman IC of every row, shape (n_times,); NaN where not scored."""
        x = self._values(values)
        rows = np.arange(self.shape[0], dtype=np.int64)
        return _rank_ic_rows_jit(
            x, rows, self._label, self._label_order, self._label_count, rows, self.min_assets
        )

    def ranked(self, values: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Per-row standardised average ranks of member cells, float32, shape (n_times, n_assets).

        Mean 0 and population standard deviation 1 over each row's finite
        member cells; NaN elsewhere and in rows with fewer than ``min_assets``
        such cells or no spread.
        """
        x = self._values(values)
        return _standard_ranks_jit(x, self._members, self.min_assets)

    def score(self, values: npt.ArrayLike) -> CandidateScore:
        """Fold-by-fold daily rank IC of a candidate (training and validation rows only)."""
        x = self._values(values)
        rows = self._rows
        daily = _rank_ic_rows_jit(
            x, rows, self._label, self._label_order, self._label_count, rows, self.min_assets
        )
        bounds = self._fold_bounds
        fold_means = [
            _finite_mean(daily[bounds[k] : bounds[k + 1]]) for k in range(bounds.size - 1)
        ]
        train = daily[: self._n_train_rows]
        scored = train[np.isfinite(train)]
        ic = float(scored.mean()) if scored.size else math.nan
        spread = float(scored.std(ddof=1)) if scored.size > 1 else math.nan
        icir = ic / spread if spread > 0.0 else math.nan
        coverage = self._coverage(x, self.plan.train, self._train_members)
        valid_coverage = self._coverage(x, self.plan.valid, self._valid_members)
        valid = daily[self._n_train_rows :]
        days = scored.size / train.size if train.size else math.nan
        valid_days = int(np.isfinite(valid).sum()) / valid.size if valid.size else math.nan
        return CandidateScore(
            train_ic=tuple(fold_means[: self._n_train_folds]),
            valid_ic=tuple(fold_means[self._n_train_folds :]),
            ic=ic,
            icir=icir,
            valid_mean=_finite_mean(daily[self._n_train_rows :]),
            coverage=coverage,
            valid_coverage=valid_coverage,
            days=days,
            valid_days=valid_days,
        )

    def _coverage(
        self, x: FloatArray, ranges: tuple[tuple[int, int], ...], n_members: int
    ) -> float:
        finite = 0
        for start, end in ranges:
            finite += int(np.count_nonzero(np.isfinite(x[start:end]) & self._members[start:end]))
        return finite / n_members if n_members else math.nan

    def correlation(
        self,
        a_ranked: npt.ArrayLike,
        b_ranked: npt.ArrayLike,
        rows: RowSet = "train",
    ) -> float:
        """Mean over the chosen plan rows of the per-row Pearson correlation of two ranked arrays.

        Rows with fewer than ``min_assets`` cells finite in both, or without
        spread, are skipped; NaN when no row is left.
        """
        a = np.asarray(a_ranked, dtype=np.float32)
        b = np.asarray(b_ranked, dtype=np.float32)
        for name, array in (("a_ranked", a), ("b_ranked", b)):
            if array.shape != self.shape:
                raise MiningError(
                    f"{name} has shape {array.shape}, expected {self.shape} (time, asset)"
                )
        return float(_mean_row_correlation_jit(a, b, self.rows(rows), self.min_assets))
