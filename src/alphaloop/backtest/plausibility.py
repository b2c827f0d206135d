"""Results too good to be true: flags for a backtest whose numbers real strategies do not reach.

A Sharpe ratio of 7 on daily bars, or nine winning trades in ten over
hundreds of trades, almost always means the strategy saw the future (a data
column holding a forward return, a signal computed with tomorrow's close,
same-bar fills) or that the data is wrong. The backtest still runs; the
result carries the flags, and every report shows them.

Thresholds (documented in docs/backtest.md; a flag needs the minimum sample
so that a short lucky run is not flagged):

==================  =============================================  ========================
check               flagged when                                   minimum sample
==================  =============================================  ========================
``sharpe``          annual Sharpe ratio above 5 (intraday bars),   20 bars
                    3 (daily bars), 2 (weekly or coarser bars)
``win_rate``        closed round trips won above 75%               more than 30 round trips
``hit_rate``        bars with a positive return above 70% of the   100 bars with a non-zero
                    bars with a non-zero return                    return
==================  =============================================  ========================
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "HIT_RATE_LIMIT",
    "MIN_ACTIVE_BARS",
    "MIN_BARS",
    "MIN_ROUND_TRIPS",
    "SHARPE_LIMITS",
    "WIN_RATE_LIMIT",
    "Implausibility",
    "bar_class",
    "check_plausibility",
]

#: Highest plausible annual Sharpe ratio by bar class.
SHARPE_LIMITS: dict[str, float] = {"intraday": 5.0, "daily": 3.0, "weekly or coarser": 2.0}
#: Highest plausible share of winning closed round trips ...
WIN_RATE_LIMIT = 0.75
#: ... over more than this many round trips.
MIN_ROUND_TRIPS = 30
#: Highest plausible share of bars with a positive return (among non-zero ones) ...
HIT_RATE_LIMIT = 0.70
#: ... over at least this many bars with a non-zero return.
MIN_ACTIVE_BARS = 100
#: Bars a backtest needs before its Sharpe ratio is judged.
MIN_BARS = 20

_ADVICE = (
    "results this good usually come from lookahead (a data field holding future "
    "information, a signal that reads later bars, same-bar fills) or from bad data; "
    "check the signal's inputs and run `alphaloop lookahead` before trusting it"
)


@dataclass(frozen=True)
class Implausibility:
    """One number beyond what real strategies reach at this bar frequency."""

    check: str
    value: float
    limit: float
    sample: int
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "value": self.value,
            "limit": self.limit,
            "sample": self.sample,
            "message": self.message,
        }


def bar_class(frequency: str) -> str:
    """``intraday``, ``daily`` or ``weekly or coarser`` for a frequency name."""
    if frequency == "daily":
        return "daily"
    if frequency in ("weekly", "monthly", "quarterly", "annual", "irregular"):
        return "weekly or coarser"
    return "intraday"


def check_plausibility(
    metrics: Mapping[str, Any], returns: pd.Series | np.ndarray, frequency: str
) -> list[Implausibility]:
    """The flags of a backtest (empty when nothing is implausible).

    Parameters
    ----------
    metrics : mapping
        :func:`~alphaloop.backtest.metrics.compute_metrics`'s output: reads
        ``sharpe_ratio`` (annualized), ``win_rate`` and ``n_round_trips``.
    returns : Series or ndarray
        Simple per-bar returns of the strategy, net of costs.
    frequency : str
        The bar frequency (``daily``, ``1h``, ``monthly``, ...).
    """
    flags: list[Implausibility] = []
    r = np.asarray(returns, dtype=np.float64)
    r = r[np.isfinite(r)]
    kind = bar_class(frequency)
    sharpe = _number(metrics.get("sharpe_ratio"))
    limit = SHARPE_LIMITS[kind]
    if sharpe is not None and len(r) >= MIN_BARS and sharpe > limit:
        flags.append(
            Implausibility(
                "sharpe",
                sharpe,
                limit,
                len(r),
                f"annual Sharpe ratio {sharpe:.2f} is above {limit:g}, implausible for "
                f"{kind} bars; {_ADVICE}",
            )
        )
    win = _number(metrics.get("win_rate"))
    trips = int(_number(metrics.get("n_round_trips")) or 0)
    if win is not None and trips > MIN_ROUND_TRIPS and win > WIN_RATE_LIMIT:
        flags.append(
            Implausibility(
                "win_rate",
                win,
                WIN_RATE_LIMIT,
                trips,
                f"{win:.0%} of {trips} closed round trips won (above {WIN_RATE_LIMIT:.0%}); "
                f"{_ADVICE}",
            )
        )
    active = r[np.abs(r) > 1e-12]
    if len(active) >= MIN_ACTIVE_BARS:
        hit = float(np.mean(active > 0))
        if hit > HIT_RATE_LIMIT:
            flags.append(
                Implausibility(
                    "hit_rate",
                    hit,
                    HIT_RATE_LIMIT,
                    len(active),
                    f"{hit:.0%} of {len(active)} bars with a non-zero return were gains "
                    f"(above {HIT_RATE_LIMIT:.0%}); {_ADVICE}",
                )
            )
    return flags


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
