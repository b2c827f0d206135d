"""Bar sources of live feeds: the REST market data of the Alpaca and ccxt adapters.

A source answers "bars after this time" (or "the latest N bars") as a long
frame (:data:`~alphaloop.live.feed_live.BARS_COLUMNS`). Its adapter is built
in paper (sandbox) mode with the paper keys: a feed reads market data only
and never sends an order, whatever the session does with its bars.

The bar period comes from the traded dataset's frequency (``daily``,
``1h``, ``5min``, ...); :func:`timeframe` names it for each venue.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from alphaloop.errors import PaperError
from alphaloop.live.feed_live import BARS_COLUMNS

__all__ = ["AlpacaBarSource", "CcxtBarSource", "bar_period", "timeframe"]

_UNITS = {"min": "min", "h": "h", "s": "s"}


def bar_period(frequency: str) -> pd.Timedelta:
    """The bar period of a dataset frequency (``daily``, ``1h``, ``5min``, ...).

    Raises
    ------
    PaperError
        A frequency a live feed cannot poll (weekly and longer, irregular).
    """
    if frequency == "daily":
        return pd.Timedelta(days=1)
    for suffix in ("min", "h"):
        if frequency.endswith(suffix) and frequency[: -len(suffix)].isdigit():
            return pd.Timedelta(int(frequency[: -len(suffix)]), unit=suffix)
    raise PaperError(
        f"a live feed cannot deliver {frequency!r} bars",
        hint="paper-trade a daily or intraday (minutes, hours) dataset on a live feed",
    )


def timeframe(period: pd.Timedelta, venue: str) -> str:
    """The venue's name of a bar period (Alpaca ``1Day``, ``1Hour``, ``5Min``; ccxt ``1d``,
    ``1h``, ``5m``)."""
    minutes = int(period.total_seconds() // 60)
    if minutes % 1440 == 0:
        n, alpaca, ccxt = minutes // 1440, "Day", "d"
    elif minutes % 60 == 0:
        n, alpaca, ccxt = minutes // 60, "Hour", "h"
    else:
        n, alpaca, ccxt = minutes, "Min", "m"
    return f"{n}{alpaca}" if venue == "alpaca" else f"{n}{ccxt}"


class AlpacaBarSource:
    """Bars of ``assets`` from Alpaca's market data (``/v2/stocks/bars``).

    ``broker`` is an :class:`~alphaloop.execution.brokers.AlpacaBroker` (paper).
    """

    name = "alpaca"

    def __init__(self, broker: Any, assets: Sequence[str], period: pd.Timedelta) -> None:
        self.broker = broker
        self.assets = tuple(assets)
        self.period = period
        self._timeframe = timeframe(period, "alpaca")

    def history(self, after: pd.Timestamp | None, count: int) -> pd.DataFrame:
        if after is None:
            # calendars skip nights, weekends and holidays: ask wide, keep the last ``count``
            start = pd.Timestamp.now(tz="UTC") - self.period * max(count, 1) * 2 - pd.Timedelta(
                days=7
            )
        else:
            start = after + pd.Timedelta(seconds=1)
        raw = self.broker.bars(list(self.assets), start.to_pydatetime(), None, self._timeframe)
        frame = raw.rename(columns={"symbol": "asset", "timestamp": "time"})
        frame = frame.loc[:, list(BARS_COLUMNS)]
        if after is None and count > 0 and len(frame):
            keep = sorted(frame["time"].unique())[-count:]
            frame = frame[frame["time"].isin(keep)]
        return frame


class CcxtBarSource:
    """Bars of ``assets`` (unified symbols) from a ccxt exchange's ``fetch_ohlcv``.

    ``broker`` is a :class:`~alphaloop.execution.brokers.CcxtBroker` (sandbox).
    """

    def __init__(self, broker: Any, assets: Sequence[str], period: pd.Timedelta) -> None:
        self.broker = broker
        self.name = str(broker.venue)
        self.assets = tuple(assets)
        self.period = period
        self._timeframe = timeframe(period, "ccxt")

    def history(self, after: pd.Timestamp | None, count: int) -> pd.DataFrame:
        frames = []
        for asset in self.assets:
            if after is None:
                raw = self.broker.ohlcv(asset, self._timeframe, None, max(count, 1))
            else:
                since = int((after + pd.Timedelta(milliseconds=1)).value // 1_000_000)
                raw = self.broker.ohlcv(asset, self._timeframe, since, None)
            raw = raw.rename(columns={"timestamp": "time"})
            raw.insert(0, "asset", asset)
            frames.append(raw.loc[:, list(BARS_COLUMNS)])
        if not frames:
            return pd.DataFrame(columns=list(BARS_COLUMNS))
        return pd.concat(frames, ignore_index=True)
