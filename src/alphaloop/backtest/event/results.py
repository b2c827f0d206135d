"""The event engine's result: the vectorized simulator's, plus the orders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaloop.backtest.vectorized import SimulationResult
from alphaloop.execution import (
    COST_CATEGORIES,
    LIQUIDITY,
    REASONS,
    Ledger,
    MarketData,
    Order,
    Refusal,
    SimulatedBroker,
    Transition,
)

__all__ = ["EventResult", "build_result"]


@dataclass(frozen=True)
class EventResult(SimulationResult):
    """A :class:`~alphaloop.backtest.vectorized.SimulationResult` (same fields and
    meaning, so metrics and tearsheets take either) with the run's orders.

    Attributes
    ----------
    orders : tuple of Order
        Every order of the run in id order, with its status and events
        (strategy orders, rebalance legs, protection orders, algorithm
        parents and children).
    risk_refusals : tuple of Refusal
        Orders and rebalance legs the risk engine refused (with
        ``BrokerConfig.risk``), each naming the limit, the value and the
        threshold; the orders themselves are REJECTED with that reason.
    risk_transitions : tuple of Transition
        The risk engine's trading-state changes, with their reasons.
    """

    orders: tuple[Order, ...] = ()
    risk_refusals: tuple[Refusal, ...] = ()
    risk_transitions: tuple[Transition, ...] = ()

    @property
    def risk_refusal_counts(self) -> dict[str, int]:
        """Refusals by limit."""
        counts: dict[str, int] = {}
        for r in self.risk_refusals:
            counts[r.limit] = counts.get(r.limit, 0) + 1
        return counts

    @property
    def open_orders(self) -> tuple[Order, ...]:
        """Orders still working after the last bar."""
        return tuple(o for o in self.orders if o.is_open)


def _trades_frame(market: MarketData, trades: list[tuple]) -> pd.DataFrame:
    table = np.array(trades, dtype=np.float64).reshape(-1, 12)
    rows = table[:, :3].astype(np.int64)  # row, asset, reason code: exact in float64
    values = table[:, 3:]
    frame = pd.DataFrame(
        {
            "time": market.index[rows[:, 0]],
            "asset": pd.Categorical.from_codes(rows[:, 1], categories=market.assets),
            "reason": np.array(REASONS, dtype=object)[rows[:, 2]],
            "shares": values[:, 0],
            "price": values[:, 1],
        }
    )
    frame["notional"] = np.abs(frame["shares"]) * frame["price"]
    for k, name in enumerate(COST_CATEGORIES[:5]):
        frame[name] = values[:, 2 + k]
    frame["cash_flow"] = values[:, 7]
    frame["liquidity"] = np.array(LIQUIDITY, dtype=object)[table[:, 11].astype(np.int64)]
    return frame


def _round_trips_frame(market: MarketData, trips: list[tuple]) -> pd.DataFrame:
    table = np.array(trips, dtype=np.float64).reshape(-1, 6)
    ints = table[:, :3].astype(np.int64)  # asset, entry row, exit row: exact in float64
    values = table[:, 3:]
    is_open = ints[:, 2] < 0
    exits = pd.Series(market.index[np.where(is_open, 0, ints[:, 2])]).where(~is_open)
    notional = values[:, 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.where(notional > 0, values[:, 0] / notional, np.nan)
    return pd.DataFrame(
        {
            "asset": [market.assets[j] for j in ints[:, 0]],
            "entry_time": market.index[ints[:, 1]],
            "exit_time": pd.DatetimeIndex(exits),
            "pnl": values[:, 0],
            "costs": values[:, 1],
            "return": ret,
            "open": is_open,
        }
    )


def build_result(broker: SimulatedBroker, extra_orders: list[Order]) -> EventResult:
    """Collect a finished run (``broker.finish()`` called) into an :class:`EventResult`."""
    market = broker.market
    ledger: Ledger = broker.ledger
    cfg = broker.config
    idx = market.index
    eq = ledger.equity.copy()
    prev = np.concatenate([[ledger.initial_capital], eq[:-1]])
    positive = eq > 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        turnover = np.where(positive, ledger.bar_notional / eq, np.nan)
        gross = np.where(positive, ledger.gross_value / eq, np.nan)
    orders = sorted([*broker.orders.values(), *extra_orders], key=lambda o: o.order_id)
    notes = []
    if cfg.costs.impact == "sqrt" and market.volume is None:
        notes.append("market impact not modelled: the dataset has no volume")
    if cfg.fills.optimistic:
        notes.append("OPTIMISTIC fills at the signal bar's close")
    risk = broker.risk
    refusals = tuple(risk.engine.refusals) if risk is not None else ()
    transitions = tuple(risk.engine.transitions) if risk is not None else ()
    if refusals:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(risk.refusal_counts().items()))
        notes.append(f"{len(refusals)} order(s) refused by the risk engine ({counts})")
    if transitions:
        last = transitions[-1]
        notes.append(f"risk engine ended {last.after.value} ({last.reason})")
    n_open = sum(o.is_open for o in orders)
    if n_open:
        notes.append(f"{n_open} order(s) still working after the last bar")
    return EventResult(
        equity=pd.Series(eq, index=idx, name="equity"),
        returns=pd.Series(eq / prev - 1.0, index=idx, name="returns"),
        turnover=pd.Series(turnover, index=idx, name="turnover"),
        gross_exposure=pd.Series(gross, index=idx, name="gross_exposure"),
        bar_costs=pd.Series(ledger.bar_cost.copy(), index=idx, name="costs"),
        costs={k: float(v) for k, v in zip(COST_CATEGORIES, ledger.cost_totals, strict=True)},
        trades=_trades_frame(market, ledger.trades),
        round_trips=_round_trips_frame(market, ledger.round_trips + ledger.open_trips()),
        initial_capital=ledger.initial_capital,
        fills=cfg.fills,
        cost_model=cfg.costs,
        has_volume=market.volume is not None,
        notes=tuple(notes),
        orders=tuple(orders),
        risk_refusals=refusals,
        risk_transitions=transitions,
    )
