"""Bar data prepared once per run for the simulated broker and the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution.costs import CostModel, FillTiming, execution_lag, impact_inputs

__all__ = ["MarketData"]


def _field(panel: Panel, name: str) -> np.ndarray:
    values = np.ascontiguousarray(panel[name], dtype=np.float64)
    if np.isinf(values).any():
        row, col = (int(x) for x in np.argwhere(np.isinf(values))[0])
        raise BacktestError(
            f"the {name!r} of {panel.assets[col]} at {panel.index[row].isoformat()} is infinite",
            hint="repair the data; a missing value should be NaN",
        )
    return values


def forward_fill(values: np.ndarray) -> np.ndarray:
    """Each cell's last non-NaN value at or above it in its column (NaN before the first)."""
    valid = ~np.isnan(values)
    if valid.all():
        return values.copy()
    rows = np.where(valid, np.arange(values.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    out = np.take_along_axis(values, rows, axis=0)
    out[~np.maximum.accumulate(valid, axis=0)] = np.nan
    return out


def day_end_rows(index: pd.DatetimeIndex) -> np.ndarray:
    """For each row, the last row with the same UTC calendar date (DAY order expiry)."""
    days = index.as_unit("ns").asi8 // 86_400_000_000_000
    last = np.flatnonzero(np.r_[days[1:] != days[:-1], True]) if len(days) else days
    return np.repeat(last, np.diff(np.r_[-1, last])).astype(np.int64)


@dataclass(frozen=True)
class MarketData:
    """Read-only (time, asset) float64 arrays of one panel, plus the fill timing.

    Attributes
    ----------
    open, high, low, close : ndarray
        Bar prices; ``high``/``low`` are None when the panel has none.
    volume : ndarray or None
        Shares traded per bar.
    last_close : ndarray
        Close carried forward over missing values: the mark-to-market price.
    adv, sigma : ndarray
        Impact inputs known before each bar (NaN when impact is off or there
        is no volume; see :func:`alphaloop.execution.costs.impact_inputs`).
    year_frac : ndarray, shape (time,)
        Calendar years since the previous bar (borrow costs).
    day_end_row : ndarray of int64, shape (time,)
        Last row of each row's UTC date: where a DAY order expires.
    fills : FillTiming
    lag : int
        Bars between a decision and its market fill (0 for ``same_close``).
    """

    index: pd.DatetimeIndex
    assets: tuple[str, ...]
    asset_pos: dict[str, int]
    open: np.ndarray | None
    high: np.ndarray | None
    low: np.ndarray | None
    close: np.ndarray
    volume: np.ndarray | None
    last_close: np.ndarray
    adv: np.ndarray
    sigma: np.ndarray
    year_frac: np.ndarray
    day_end_row: np.ndarray
    fills: FillTiming
    lag: int

    @cached_property
    def n_rows(self) -> int:
        """Number of bars (cached: the broker asks on every bar it visits)."""
        return len(self.index)

    @property
    def at_open(self) -> bool:
        """Market orders fill at the open (``next_open``), else at the close."""
        return self.fills is FillTiming.NEXT_OPEN

    @property
    def auction_price(self) -> np.ndarray:
        """The reference price of market fills: open for ``next_open``, else close."""
        if self.fills is FillTiming.NEXT_OPEN:
            assert self.open is not None
            return self.open
        return self.close

    @property
    def has_range(self) -> bool:
        return self.high is not None and self.low is not None

    @classmethod
    def from_panel(
        cls, panel: Panel, fills: FillTiming, costs: CostModel, participation: float | None
    ) -> MarketData:
        """Check the panel has what the settings need and prepare its arrays."""
        if panel.n_times == 0 or panel.n_assets == 0:
            raise BacktestError("the price panel is empty: no bars or no assets")
        if "close" not in panel:
            raise BacktestError(
                f"the price panel has no 'close' field (fields: {', '.join(panel.field_names)})"
            )
        if fills is FillTiming.NEXT_OPEN and "open" not in panel:
            raise BacktestError(
                "fills at the next open need an 'open' field; this dataset has "
                f"{', '.join(panel.field_names)}",
                hint="use fills='next_close'",
            )
        has_volume = "volume" in panel
        if participation is not None and not has_volume:
            raise BacktestError(
                "a participation cap limits fills to a share of each bar's volume; "
                "this dataset has no 'volume' field",
                hint="drop participation or use data with volume",
            )
        close = _field(panel, "close")
        volume = _field(panel, "volume") if has_volume else None
        if costs.impact == "sqrt" and volume is not None:
            adv, sigma = impact_inputs(close, volume, costs.impact_window)
        else:
            adv = sigma = np.full_like(close, np.nan)
        ranged = "high" in panel and "low" in panel
        days = np.diff(panel.index.asi8) / 86_400e9
        return cls(
            index=panel.index,
            assets=panel.assets,
            asset_pos={a: j for j, a in enumerate(panel.assets)},
            open=_field(panel, "open") if "open" in panel else None,
            high=_field(panel, "high") if ranged else None,
            low=_field(panel, "low") if ranged else None,
            close=close,
            volume=volume,
            last_close=forward_fill(close),
            adv=adv,
            sigma=sigma,
            year_frac=np.concatenate([[0.0], days / 365.0]),
            day_end_row=day_end_rows(panel.index),
            fills=fills,
            lag=execution_lag(fills),
        )

    def where(self, row: int, asset: int) -> str:
        """'ASSET at TIMESTAMP' for messages."""
        when = self.index[row].isoformat() if 0 <= row < self.n_rows else "?"
        name = self.assets[asset] if 0 <= asset < len(self.assets) else "?"
        return f"{name} at {when}"
