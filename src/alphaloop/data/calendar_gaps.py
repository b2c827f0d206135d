"""Gap checks against a trading calendar: missing bars, and bars off the calendar.

Used by :mod:`alphaloop.data.quality` when a dataset has a
:class:`~alphaloop.data.calendars.TradingCalendar` (given at import with
``--calendar``, or inferred: see :func:`alphaloop.data.market_calendar.infer_trading_calendar`).

- ``calendar_gaps``: for each asset, the bars the calendar expects between
  the asset's own first and last bar that the asset does not have. A missing
  Monday is a gap on ``24/7`` (crypto trades on Mondays); a Saturday or a
  holiday is never one on an exchange calendar; intraday, a missing minute
  inside a session is a gap, the night between two sessions is not.
- ``off_calendar_bars``: rows stamped where the calendar has no bar (a
  holiday, a weekend, outside trading hours, or between bar boundaries).
  Daily FX bars stamped on Sunday are not counted (see
  :mod:`alphaloop.data.calendars`).

Intraday bars may be stamped at their start or at their end; the label that
puts more of the dataset's timestamps on the calendar is used, and named in
the message. Weekly and slower bars are not checked against a calendar (the
caller falls back to the dataset's own timestamps).

Each function returns ``(count, message, locations)`` or None, as
:mod:`alphaloop.data.price_checks` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data.calendars import TradingCalendar, step_nanoseconds
from alphaloop.data.long import LongData
from alphaloop.errors import ConfigError

__all__ = ["CalendarCheck", "calendar_checks", "checkable_frequency"]

MAX_LOCATIONS = 5
_SUNDAY = 6
CalendarCheck = tuple[int, str, list[dict[str, Any]]]


def _iso(ns: int) -> str:
    return pd.Timestamp(int(ns), tz="UTC").isoformat()


def checkable_frequency(frequency: str) -> bool:
    """True for daily and intraday frequencies (the ones a calendar can check)."""
    if frequency == "daily":
        return True
    try:
        step_nanoseconds(frequency)
    except ConfigError:
        return False
    return True


def expected_stamps(
    calendar: TradingCalendar, distinct: np.ndarray, frequency: str
) -> tuple[np.ndarray, str]:
    """The calendar's bar stamps over the span of ``distinct`` and the label that fits best.

    ``distinct``: the dataset's distinct timestamps (int64 ns, ascending).
    """
    first, last = int(distinct[0]), int(distinct[-1])
    if frequency == "daily":
        return calendar.daily_stamps(first, last), "daily"
    best: tuple[int, np.ndarray, str] | None = None
    for label in ("start", "end"):
        # a bar stamped at its end may carry the next UTC date: widen the span by a day
        grid = calendar.bar_stamps(first - 86_400 * 10**9, last, frequency, label)  # type: ignore[arg-type]
        hits = int(np.isin(distinct, grid, assume_unique=True).sum())
        if best is None or hits > best[0]:
            best = (hits, grid, label)
    assert best is not None
    _, grid, label = best
    return grid, label


def calendar_checks(
    s: LongData, dup: np.ndarray, calendar: TradingCalendar, frequency: str
) -> tuple[CalendarCheck | None, CalendarCheck | None]:
    """``(calendar_gaps, off_calendar_bars)`` of rows sorted by (asset, timestamp).

    ``dup``: over rows 1..n-1, True where a row repeats the (asset,
    timestamp) of the row before (such rows are counted once).
    """
    distinct = s.calendar
    grid, label = expected_stamps(calendar, distinct, frequency)
    on_grid = np.isin(distinct, grid, assume_unique=True)
    if frequency == "daily" and calendar.kind == "24/5":
        weekday = ((distinct // (86_400 * 10**9)) + 3) % 7  # 1970-01-01 was a Thursday
        tolerated = weekday == _SUNDAY
    else:
        tolerated = np.zeros(len(distinct), dtype=bool)
    counted = on_grid[s.time_positions]  # rows on the calendar, each (asset, time) once
    counted[1:] &= ~dup
    codes = s.asset_codes
    bounds = np.flatnonzero(codes[1:] != codes[:-1]) + 1  # rows are sorted by asset
    starts = np.concatenate(([0], bounds)).astype(np.int64)
    ends = np.concatenate((bounds, [len(s)])).astype(np.int64)
    observed = np.add.reduceat(counted, starts, dtype=np.int64)
    lo = np.searchsorted(grid, s.timestamps[starts], side="left")
    hi = np.searchsorted(grid, s.timestamps[ends - 1], side="right")
    missing = np.maximum((hi - lo) - observed, 0)
    where = f"the {calendar.name} calendar" + (
        "" if label == "daily" else f" ({label}-stamped bars)"
    )
    gaps = None
    n_missing = int(missing.sum())
    if n_missing:
        locs: list[dict[str, Any]] = []
        for k in np.flatnonzero(missing > 0)[:MAX_LOCATIONS]:
            span = grid[lo[k] : hi[k]]
            absent = span[~np.isin(span, s.timestamps[starts[k] : ends[k]])]
            if len(absent):
                locs.append(
                    {
                        "asset": s.assets[int(s.asset_codes[starts[k]])],
                        "timestamp": _iso(int(absent[0])),
                        "missing": int(missing[k]),
                    }
                )
        n_assets = int((missing > 0).sum())
        gaps = (
            n_missing,
            f"{n_missing} bar(s) of {where} are missing for {n_assets} asset(s) inside "
            "their own span",
            locs,
        )
    off = None
    off_distinct = ~on_grid & ~tolerated
    if off_distinct.any():
        rows = np.flatnonzero(off_distinct[s.time_positions])
        n_off = len(rows)
        locs = [
            {
                "asset": s.assets[int(s.asset_codes[r])],
                "timestamp": _iso(int(s.timestamps[r])),
                "line": int(s.lines[r]),
            }
            for r in rows[np.argsort(s.lines[rows], kind="stable")[:MAX_LOCATIONS]]
        ]
        off = (
            n_off,
            f"{n_off} row(s) at {int(off_distinct.sum())} timestamp(s) lie outside {where}: "
            "holidays, weekends or outside trading hours",
            locs,
        )
    return gaps, off
