"""Fill a panel's missing bars on its trading calendar.

:func:`fill_to_calendar` puts a panel on the bars its trading calendar
expects (:meth:`~alphaloop.data.calendars.TradingCalendar.expected_stamps`)
from its first to its last bar: a missing Monday on ``24/7``, a missing
minute inside a session; never a weekend or holiday of an exchange, nor the
night between two sessions. Bars the panel has off the calendar are kept.

Methods
-------
``"none"`` (default)
    Added bars hold NaN in every field and are not members.
``"previous_close"``
    Added bars after an asset's first bar are flat bars at its last known
    close: open, high, low and close are that close, volume 0, other fields
    NaN; membership carries over from the bar before. Only past values are
    used, so the fill adds no lookahead; bars before an asset's first bar
    stay NaN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from alphaloop.data.calendars import Label, TradingCalendar, get_calendar
from alphaloop.data.panel import Panel
from alphaloop.errors import ConfigError

__all__ = ["FILL_METHODS", "Filled", "fill_to_calendar"]

FillMethod = Literal["none", "previous_close"]
FILL_METHODS: tuple[str, ...] = ("none", "previous_close")
_PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Filled:
    """A panel on its calendar, and how many bars were added.

    Attributes
    ----------
    panel : Panel
    added : int
        Timestamps added (bars no asset had).
    filled : int
        Cells (timestamp x asset) given a value by ``"previous_close"``.
    """

    panel: Panel
    added: int
    filled: int


def fill_to_calendar(
    panel: Panel,
    calendar: str | TradingCalendar,
    *,
    method: FillMethod = "none",
    label: Label = "start",
) -> Filled:
    """Add the bars ``calendar`` expects between the panel's first and last bar.

    Parameters
    ----------
    panel : Panel
        Daily or intraday bars.
    calendar : str or TradingCalendar
        ``"XNYS"``, ``"24/7"``, ``"24/5"``, ...
    method : {"none", "previous_close"}, default "none"
        See the module's table.
    label : {"start", "end"}, default "start"
        How intraday bars are stamped.

    Raises
    ------
    ConfigError
        An unknown method or calendar, or a panel that is neither daily nor
        intraday.
    """
    if method not in FILL_METHODS:
        raise ConfigError(
            f"method: {method!r} is not a fill method", hint=f"use one of {FILL_METHODS}"
        )
    trading = get_calendar(calendar)
    stamps = panel.index.as_unit("ns").asi8
    if len(stamps) == 0:
        return Filled(panel, 0, 0)
    expected = trading.expected_stamps(int(stamps[0]), int(stamps[-1]), panel.frequency, label)
    expected = expected[(expected >= stamps[0]) & (expected <= stamps[-1])]
    union = np.union1d(stamps, expected)
    added = len(union) - len(stamps)
    if not added:
        return Filled(panel, 0, 0)
    at = np.searchsorted(union, stamps)
    shape = (len(union), panel.n_assets)
    fields = {}
    for name in panel.field_names:
        out = np.full(shape, np.nan)
        out[at] = panel.field(name)
        fields[name] = out
    member = np.zeros(shape, dtype=bool)
    member[at] = panel.membership
    filled = 0
    if method == "previous_close" and "close" in fields:
        new = np.ones(len(union), dtype=bool)
        new[at] = False
        source = np.where(new, -1, np.arange(len(union)))
        last = np.maximum.accumulate(source)  # the panel's own bar at or before each row
        rows = np.flatnonzero(new & (last >= 0))
        prev = last[rows]
        close = fields["close"]
        # the last close known at the previous original bar, forward through missing closes
        known = pd.DataFrame(close).ffill().to_numpy()
        carry = known[prev]
        has = ~np.isnan(carry)
        filled = int(has.sum())
        for name in _PRICES:
            if name in fields:
                fields[name][rows] = carry
        if "volume" in fields:
            fields["volume"][rows] = np.where(has, 0.0, np.nan)
        member[rows] = member[prev] & has
    index = pd.DatetimeIndex(union.view("datetime64[ns]")).tz_localize("UTC")
    out = Panel(index, panel.assets, fields, member, frequency=panel.frequency)
    return Filled(out, added, filled)
