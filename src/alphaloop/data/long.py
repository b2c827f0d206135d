"""Long-format rows as parallel arrays: the form data takes between file and Panel."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from alphaloop.data.panel import Panel

__all__ = ["LongData"]

NAT = np.iinfo(np.int64).min


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
        """Rows at ``rows`` (an index or boolean array), in that order."""
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
        if self.is_sorted():
            return np.arange(len(self))
        return np.lexsort((self.timestamps, self.asset_codes))

    def to_panel(self) -> Panel:
        """Scatter rows into a Panel on the union calendar.

        Requires unique (asset, timestamp) pairs and parsed timestamps; the
        membership mask is True exactly where a row exists (and, with an
        explicit member column, where it says so).
        """
        calendar = np.unique(self.timestamps)
        t_idx = np.searchsorted(calendar, self.timestamps)
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
