"""Resampling intraday bars (1m -> 5m, 15m, 1h, 1d) with no lookahead.

A coarse bar aggregates the fine bars of its bucket: ``open`` the first
present open, ``high`` the highest high, ``low`` the lowest low, ``close`` the
last present close, ``volume`` the sum (NaN when every bar of the bucket is
missing), any other field its last present value. A coarse bar is a member
where any of its fine bars is.

Stamps and availability
-----------------------
A value may be used only once it is known (docs/INTEGRITY.md, Time). Input
bars are stamped at their start by default (``label="start"``: the 09:30
minute bar closes at 09:31) or at their end (``label="end"``). Each coarse
bar records ``available_at``, the instant its bucket ends: never before the
close of its last fine bar.

- Intraday targets are **stamped at ``available_at``**, the end of the bucket:
  the 09:30-09:35 bar is stamped 09:35. A bucket at a session's close is cut
  there (the last 1h bar of a 16:00 close runs 15:30-16:00 and is stamped
  16:00). Buckets start at each session's open (after a break, at its end);
  without a calendar, at UTC midnight.
- Daily targets are stamped at the session's date (midnight UTC), as every
  daily dataset in alphaloop, and are available at the session's close:
  align them to a finer index with :meth:`Resampled.align`, which reads
  ``available_at``, never the stamp.

With a trading calendar, fine bars outside its sessions (pre- and
post-market, holidays) are left out and counted in ``Resampled.dropped``;
without one, every bar counts and daily buckets are UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from alphaloop.data.calendars import TradingCalendar, get_calendar, step_nanoseconds
from alphaloop.data.panel import Panel
from alphaloop.errors import ConfigError

__all__ = ["Resampled", "resample"]

NS_PER_DAY = 86_400 * 10**9
Label = Literal["start", "end"]
_FIRST, _MAX, _MIN, _LAST, _SUM = "first", "max", "min", "last", "sum"
#: how each known field aggregates; other fields take their last present value
AGGREGATION: dict[str, str] = {
    "open": _FIRST,
    "high": _MAX,
    "low": _MIN,
    "close": _LAST,
    "adj_close": _LAST,
    "volume": _SUM,
}


@dataclass(frozen=True)
class Resampled:
    """A resampled panel and when each of its bars became known.

    Attributes
    ----------
    panel : Panel
        The coarse bars (see the module's stamping rules).
    available_at : ndarray of int64
        Per coarse bar, the UTC instant (ns) its last fine bar closed at the
        latest: the end of its bucket.
    frequency : str
        The target frequency (``"5min"``, ``"1h"``, ``"daily"``).
    dropped : int
        Fine bars left out: outside the calendar's sessions.
    """

    panel: Panel
    available_at: np.ndarray
    frequency: str
    dropped: int = 0

    def align(self, index: pd.DatetimeIndex, field: str) -> np.ndarray:
        """``field`` as known at each instant of ``index``: shape ``(len(index), assets)``.

        Row ``t`` holds the last coarse bar with ``available_at <= t``, NaN
        before the first one. ``index`` gives the instants at which the values
        are used (decision times); a start-stamped fine bar's own value is
        known only at its end, so passing fine stamps is conservative.
        """
        when = pd.DatetimeIndex(index)
        when = when.tz_localize("UTC") if when.tz is None else when.tz_convert("UTC")
        pos = np.searchsorted(self.available_at, when.as_unit("ns").asi8, side="right") - 1
        values = self.panel.field(field)
        out = np.full((len(pos), values.shape[1]), np.nan)
        ok = pos >= 0
        out[ok] = values[pos[ok]]
        return out


def resample(
    panel: Panel,
    frequency: str,
    *,
    calendar: str | TradingCalendar | None = None,
    label: Label = "start",
) -> Resampled:
    """Aggregate a panel's intraday bars to coarser ones (see the module's rules).

    Parameters
    ----------
    panel : Panel
        Intraday bars, any fields (OHLCV aggregate as bars; others take the
        last present value).
    frequency : str
        ``"5min"``, ``"15min"``, ``"1h"``, ... (a whole multiple of nothing in
        particular: buckets are counted from each session's open) or
        ``"daily"`` / ``"1d"``.
    calendar : str or TradingCalendar, optional
        The market's trading calendar (``"XNYS"``, ``"24/7"``, ...): buckets
        follow its sessions, bars outside them are dropped. Default: UTC
        days, every bar kept.
    label : {"start", "end"}, default "start"
        How the input bars are stamped.

    Raises
    ------
    ConfigError
        An unknown frequency, label or calendar, or a target step not longer
        than the input's.
    """
    if label not in ("start", "end"):
        raise ConfigError(f"label: {label!r} is not a bar label", hint="use start or end")
    daily = frequency in ("daily", "1d", "1D", "D")
    stamps = panel.index.as_unit("ns").asi8.astype(np.int64)
    fine_step = _fine_step(stamps)
    step = NS_PER_DAY if daily else step_nanoseconds(frequency)
    if fine_step is not None and step <= fine_step:
        raise ConfigError(
            f"resample to {frequency}: the panel's bars ({panel.frequency}) are not finer",
            hint="resample to a longer bar size",
        )
    # the instant each fine bar opened, to place it in a bucket
    opened = stamps - (fine_step or 0) if label == "end" else stamps
    trading = get_calendar(calendar) if calendar is not None else None
    if trading is None:
        seg_start, seg_end, day = _utc_days(opened)
    else:
        sched = trading.schedule(int(opened[0]) - NS_PER_DAY, int(opened[-1]) + NS_PER_DAY)
        seg_start, seg_end = sched.segments()
        day = None
    seg = np.searchsorted(seg_start, opened, side="right") - 1
    inside = (seg >= 0) & (opened < seg_end[np.clip(seg, 0, None)])
    seg = np.clip(seg, 0, None)
    if daily:
        if trading is None:
            key = day[seg] if day is not None else seg_start[seg]
            ends = seg_end[seg]
            stamp = key
        else:
            session_of_seg = np.searchsorted(sched.opens, seg_start, side="right") - 1
            sess = session_of_seg[seg]
            key = sched.sessions[sess]
            ends = sched.closes[sess]
            stamp = key
    else:
        k = (opened - seg_start[seg]) // step
        start = seg_start[seg] + k * step
        ends = np.minimum(start + step, seg_end[seg])
        key = start
        stamp = ends
    keep = np.flatnonzero(inside)
    dropped = len(stamps) - len(keep)
    key, ends, stamp = key[keep], ends[keep], stamp[keep]
    if not len(keep):
        raise ConfigError(
            f"resample to {frequency}: no bar of the panel lies inside the "
            f"{trading.name if trading else 'UTC'} sessions",
            hint="check the calendar, or resample without one",
        )
    first_of = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1])))

    def kept(values: np.ndarray) -> np.ndarray:
        return values if not dropped else values[keep]  # no copy when every bar is kept

    fields = {
        name: _aggregate(kept(panel.field(name)), first_of, name) for name in panel.field_names
    }
    member = np.logical_or.reduceat(kept(panel.membership), first_of, axis=0)
    index = pd.DatetimeIndex(stamp[first_of].view("datetime64[ns]")).tz_localize("UTC")
    out = Panel(index, panel.assets, fields, member, frequency="daily" if daily else frequency)
    return Resampled(out, ends[first_of].astype(np.int64), out.frequency, dropped)


def _fine_step(stamps: np.ndarray) -> int | None:
    """The smallest step between the panel's bars (ns), None for a single bar."""
    if len(stamps) < 2:
        return None
    steps = np.diff(stamps)
    if (steps <= 0).any():
        raise ConfigError("resample: the panel's timestamps are not strictly increasing")
    return int(steps.min())


def _utc_days(opened: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC days as sessions: starts, ends and the day stamps (all the same starts)."""
    first = int(opened[0]) - int(opened[0]) % NS_PER_DAY
    days = np.arange(first, int(opened[-1]) + NS_PER_DAY, NS_PER_DAY, dtype=np.int64)
    return days, days + NS_PER_DAY, days


def _aggregate(values: np.ndarray, first_of: np.ndarray, name: str) -> np.ndarray:
    """One field's buckets: ``values`` (rows, assets) reduced over rows from each ``first_of``."""
    how = AGGREGATION.get(name, _LAST)
    if how in (_FIRST, _LAST) and not np.isnan(values).any():  # no gaps: no search
        at = first_of if how == _FIRST else np.append(first_of[1:], len(values)) - 1
        return values[at]
    present = ~np.isnan(values)
    if how == _MAX:
        return np.fmax.reduceat(values, first_of, axis=0)
    if how == _MIN:
        return np.fmin.reduceat(values, first_of, axis=0)
    if how == _SUM:
        total = np.add.reduceat(np.where(present, values, 0.0), first_of, axis=0)
        seen = np.logical_or.reduceat(present, first_of, axis=0)
        return np.where(seen, total, np.nan)
    rows = np.arange(len(values))[:, None]
    if how == _FIRST:
        at = np.minimum.reduceat(np.where(present, rows, len(values)), first_of, axis=0)
    else:
        at = np.maximum.reduceat(np.where(present, rows, -1), first_of, axis=0)
    ok = (at >= 0) & (at < len(values))
    cols = np.broadcast_to(np.arange(values.shape[1]), at.shape)
    out = np.full(at.shape, np.nan)
    out[ok] = values[at[ok], cols[ok]]
    return out
