"""A sleeve of the live loop: one strategy's net returns and its running unit account.

A sleeve's account starts at 1.0 when it enters a lifecycle state and books the
sleeve's net return (simple returns, costs on) of every bar it spends in SHADOW
or LIVE; a non-finite return books as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.live.lifecycle import LifecycleState

__all__ = ["Sleeve", "sleeve_sharpe"]

#: the states in which a sleeve's account books its returns
BOOKING_STATES = (LifecycleState.SHADOW, LifecycleState.LIVE)


def sleeve_sharpe(values: list[float] | np.ndarray, ppy: float = 252.0) -> float | None:
    """Annualised Sharpe ratio of per-bar simple returns (``ppy`` bars a year).

    Non-finite values are dropped; None with fewer than 20 values or no spread.
    """
    r = np.asarray(values, dtype=float)
    r = r[np.isfinite(r)]
    if r.size < 20 or r.std(ddof=1) == 0:
        return None
    return float(r.mean() / r.std(ddof=1) * np.sqrt(ppy))


@dataclass
class Sleeve:
    """One strategy in the loop: its identity, its net returns and its running account."""

    name: str
    strategy_hash: str
    returns: pd.Series
    validation_sharpe: float | None = None
    state: LifecycleState = LifecycleState.BACKTEST
    entered: int | None = None  # bar index at which it entered its current state
    equity: float = 1.0
    peak: float = 1.0
    history: list[float] = field(default_factory=list)

    def reset_account(self, bar: int) -> None:
        self.entered, self.equity, self.peak, self.history = bar, 1.0, 1.0, []

    def book(self, r_t: pd.Series) -> None:
        """Book this sleeve's return in ``r_t`` (one bar, by sleeve name) when it is in
        SHADOW or LIVE; a missing or non-finite return books as 0."""
        if self.state not in BOOKING_STATES:
            return
        x = float(r_t.get(self.name, np.nan))
        x = 0.0 if not np.isfinite(x) else x
        self.history.append(x)
        self.equity *= 1.0 + x
        self.peak = max(self.peak, self.equity)

    def account(self) -> dict[str, Any]:
        """The running account and state, JSON-ready (a checkpoint's part)."""
        return {"state": self.state.value, "entered": self.entered, "equity": self.equity,
                "peak": self.peak, "history": list(self.history)}  # fmt: skip

    def restore(self, account: dict[str, Any]) -> None:
        """Carry on from :meth:`account`."""
        self.state = LifecycleState(account["state"])
        self.entered = account["entered"]
        self.equity, self.peak = float(account["equity"]), float(account["peak"])
        self.history = [float(x) for x in account["history"]]
