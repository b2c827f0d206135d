"""Training and validation folds of the search span, and the label they are scored against.

Conventions
-----------
- Next-bar trading: a factor value known at the close of bar ``t`` is traded at
  the close of bar ``t + 1`` and held for ``h`` bars, so the label of row ``t``
  is the simple return ``close[t + 1 + h] / close[t + 1] - 1`` and it depends
  on the prices of bars ``t + 1 .. t + 1 + h`` (the row's *label window*).
- Rows ``[warmup, n_times - h - 1)`` have a label. They are cut into
  ``n_folds`` contiguous blocks of (almost) equal size, oldest first; the last
  ``n_valid`` blocks are validation folds, the others training folds.
- Purging: a training row whose label window reaches a validation row
  (``t + 1 + h >= first validation row``) is dropped. Only the training block
  right before the first validation block loses rows: its last ``h + 1``.
- Row ranges are half-open ``[start, end)`` in bar indices of the panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from alphaloop.errors import MiningError

__all__ = ["FoldPlan", "make_folds", "next_bar_label"]

RowRanges = tuple[tuple[int, int], ...]


def _ranges_rows(ranges: RowRanges) -> npt.NDArray[np.int64]:
    if not ranges:
        return np.empty(0, dtype=np.int64)
    return np.concatenate([np.arange(start, end, dtype=np.int64) for start, end in ranges])


@dataclass(frozen=True)
class FoldPlan:
    """Which rows of a panel train a candidate and which validate it.

    Attributes
    ----------
    horizon : int
        Holding period ``h`` of the label, in bars.
    train : tuple of (int, int)
        Training folds as half-open row ranges ``[start, end)``, oldest first,
        already purged (see the module conventions).
    valid : tuple of (int, int)
        Validation folds as half-open row ranges, oldest first; every one lies
        after every training fold.
    """

    horizon: int
    train: RowRanges
    valid: RowRanges

    def __post_init__(self) -> None:
        ranges = (*self.train, *self.valid)
        if self.horizon < 1:
            raise MiningError(f"horizon must be at least 1 bar, got {self.horizon}")
        if not self.train or not self.valid:
            raise MiningError(
                f"a fold plan needs at least one training and one validation fold, got "
                f"{len(self.train)} training and {len(self.valid)} validation folds"
            )
        previous_end = 0
        for start, end in ranges:
            if not 0 <= start < end or start < previous_end:
                raise MiningError(
                    f"fold ranges must be non-empty, ordered and disjoint, got "
                    f"train={list(self.train)} valid={list(self.valid)}"
                )
            previous_end = end

    def train_rows(self) -> npt.NDArray[np.int64]:
        """Indices of all training rows, ascending."""
        return _ranges_rows(self.train)

    def valid_rows(self) -> npt.NDArray[np.int64]:
        """Indices of all validation rows, ascending."""
        return _ranges_rows(self.valid)

    @property
    def end(self) -> int:
        """One past the last row any fold uses (the last validation row + 1)."""
        return self.valid[-1][1]

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain JSON-ready data (ranges as ``[start, end]`` lists)."""
        return {
            "horizon": self.horizon,
            "train": [[start, end] for start, end in self.train],
            "valid": [[start, end] for start, end in self.valid],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FoldPlan:
        """The inverse of :meth:`to_dict`."""
        try:
            return cls(
                horizon=int(data["horizon"]),
                train=tuple((int(s), int(e)) for s, e in data["train"]),
                valid=tuple((int(s), int(e)) for s, e in data["valid"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MiningError(
                f"not a fold plan: {data!r} ({exc})",
                hint="expected keys 'horizon', 'train' and 'valid' as written by FoldPlan.to_dict",
            ) from exc


def make_folds(
    n_times: int,
    horizon: int,
    *,
    warmup: int = 0,
    n_folds: int = 5,
    n_valid: int = 2,
    min_rows: int = 20,
) -> FoldPlan:
    """Cut the labelled rows of a panel into purged training folds and validation folds.

    Parameters
    ----------
    n_times : int
        Number of bars (rows) in the panel.
    horizon : int
        Holding period ``h`` of the label in bars, at least 1.
    warmup : int, default=0
        Leading rows left out (e.g. while the longest rolling window fills).
    n_folds : int, default=5
        Number of contiguous blocks; the first ``n_rows % n_folds`` blocks get
        one row more than the others when the rows do not divide evenly.
    n_valid : int, default=2
        How many of the last blocks are validation folds (``1 <= n_valid < n_folds``).
    min_rows : int, default=20
        Fewest rows a fold may have (after purging).

    Raises
    ------
    MiningError
        On invalid arguments, or when a fold would have fewer than ``min_rows``
        rows (e.g. a horizon longer than the data); the message gives the numbers.
    """
    checks = (
        (n_times >= 1, f"n_times must be at least 1, got {n_times}"),
        (horizon >= 1, f"horizon must be at least 1 bar, got {horizon}"),
        (warmup >= 0, f"warmup must be 0 or more rows, got {warmup}"),
        (n_folds >= 2, f"n_folds must be at least 2, got {n_folds}"),
        (1 <= n_valid < n_folds, f"n_valid must be in [1, n_folds={n_folds}), got {n_valid}"),
        (min_rows >= 1, f"min_rows must be at least 1, got {min_rows}"),
    )
    for ok, message in checks:
        if not ok:
            raise MiningError(message)
    start, stop = warmup, n_times - horizon - 1
    n_rows = max(stop - start, 0)
    base, extra = divmod(n_rows, n_folds)
    sizes = [base + (1 if k < extra else 0) for k in range(n_folds)]
    bounds = np.concatenate([[start], start + np.cumsum(sizes)]).astype(int)
    blocks = [(int(bounds[k]), int(bounds[k + 1])) for k in range(n_folds)]
    n_train = n_folds - n_valid
    train = list(blocks[:n_train])
    valid = blocks[n_train:]
    first_valid = valid[0][0]
    last_start, last_end = train[-1]
    train[-1] = (last_start, min(last_end, first_valid - horizon - 1))
    shortest = min(end - begin for begin, end in (*train, *valid))
    if shortest < min_rows:
        raise MiningError(
            f"folds too short: {n_times} bars with horizon {horizon} and warmup {warmup} leave "
            f"{n_rows} labelled rows [{start}, {max(stop, start)}); {n_folds} folds of about "
            f"{base} rows, the last training fold purged by {horizon + 1} rows, give a "
            f"shortest fold of {shortest} rows, fewer than min_rows={min_rows}",
            hint="use more data, a shorter horizon or warmup, or fewer folds",
        )
    return FoldPlan(horizon=horizon, train=tuple(train), valid=tuple(valid))


def next_bar_label(close: npt.ArrayLike, horizon: int) -> npt.NDArray[np.float64]:
    """Forward simple return of a position opened at the next bar's close and held ``h`` bars.

    Parameters
    ----------
    close : array-like, shape (n_times, n_assets)
        Close prices; NaN, infinities and non-positive prices are missing.
    horizon : int
        Holding period ``h`` in bars, at least 1.

    Returns
    -------
    ndarray, float64, shape (n_times, n_assets)
        ``close[t + 1 + h] / close[t + 1] - 1``; NaN where either price is
        missing and in the last ``h + 1`` rows.
    """
    if horizon < 1:
        raise MiningError(f"horizon must be at least 1 bar, got {horizon}")
    prices = np.asarray(close, dtype=np.float64)
    if prices.ndim != 2:
        raise MiningError(f"close must be a 2-D (time, asset) array, got shape {prices.shape}")
    prices = np.where(np.isfinite(prices) & (prices > 0.0), prices, np.nan)
    label = np.full(prices.shape, np.nan)
    n_times = prices.shape[0]
    if n_times > horizon + 1:
        label[: n_times - horizon - 1] = prices[horizon + 1 :] / prices[1 : n_times - horizon] - 1.0
    return label
