"""Sizing a target-weight basket at its fill price: the vectorized simulator's rule.

Both engines size a rebalance the same way, so their equity curves agree:

1. Equity is valued at the fill prices (the last close where an asset has
   none). A ruined account (equity <= 0) does not trade.
2. ``sum |w|`` over the targets plus the current weights of the assets
   without a target must stay within ``max_leverage``; negative targets need
   ``allow_short``.
3. Target shares ``w * equity / price``, rounded toward zero to the lot
   size; float dust (a trade worth at most 1e-10 of equity, from a
   rebalance to an unchanged weight) is no trade; trades smaller than
   ``min_trade_value`` are skipped unless they close the position.
4. Sells fill first. Then, without leverage and shorts, buys that need more
   cash than there is (costs included) are scaled toward the current
   holdings, ``scale *= cash / need``, at most 8 times; if lot rounding
   stalls that, the largest scale whose rounded buys fit is found by
   bisection (60 steps).

This is :func:`alphaloop.backtest.kernel.run_portfolio`'s weights mode,
step for step; the agreement tests hold the two to the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from alphaloop.errors import BacktestError
from alphaloop.execution.ledger import Ledger
from alphaloop.execution.market import MarketData

__all__ = ["BasketPlan", "plan_basket", "scale_buys"]

_SCALE_ROUNDS = 8
_BISECT_ROUNDS = 60


def round_lot(quantity: float, lot: float) -> float:
    """``quantity`` rounded toward zero to a multiple of ``lot`` (0 = fractional)."""
    if lot > 0.0:
        return math.trunc(quantity / lot) * lot
    return quantity


@dataclass
class BasketPlan:
    """Signed share trades per asset (``delta``) and the unrounded targets (``base``)."""

    delta: dict[int, float] = field(default_factory=dict)
    base: dict[int, float] = field(default_factory=dict)

    def sells(self) -> list[tuple[int, float]]:
        return [(j, q) for j, q in sorted(self.delta.items()) if q < 0.0]

    def buys(self) -> list[tuple[int, float]]:
        return [(j, q) for j, q in sorted(self.delta.items()) if q > 0.0]


def plan_basket(
    weights: np.ndarray,
    decided_row: int,
    row: int,
    prices: np.ndarray,
    ledger: Ledger,
    market: MarketData,
    *,
    max_leverage: float,
    allow_short: bool,
    lots: np.ndarray,
    min_trade_value: float,
) -> BasketPlan:
    """Trades that move the account to ``weights`` at ``prices[row]`` (steps 1-3)."""
    plan = BasketPlan()
    equity = ledger.cash + ledger.value_at(row, prices)
    if not equity > 0.0:
        return plan
    targets = np.flatnonzero(~np.isnan(weights))
    shares = ledger.shares
    last = market.last_close
    leverage = 0.0
    for j in range(len(weights)):
        w = weights[j]
        if not math.isnan(w):
            leverage += abs(w)
            if w < 0.0 and not allow_short:
                raise BacktestError(
                    f"a short position in {market.where(decided_row, j)} but shorts are off",
                    hint="set allow_short=True or keep weights >= 0",
                )
        elif shares[j] != 0.0:
            p = prices[row, j]
            if math.isnan(p):
                p = last[row - 1, j] if row > 0 else math.nan
            leverage += abs(shares[j] * p) / equity
    if leverage > max_leverage * (1.0 + 1e-9) + 1e-12:
        raise BacktestError(
            f"target weights decided at {market.index[decided_row].isoformat()} add up to "
            f"{leverage:.4g} times equity, more than the leverage cap {max_leverage:g}",
            hint="scale the weights or raise max_leverage",
        )
    for j in targets.tolist():
        w = float(weights[j])
        p = float(prices[row, j])
        if not p > 0.0:
            if w != 0.0 or shares[j] != 0.0:
                raise BacktestError(
                    f"no valid price for {market.where(row, j)} where an order is due",
                    hint="drop the asset from the targets where it has no price, or repair "
                    "the data",
                )
            continue
        want = round_lot(w * equity / p, float(lots[j]))
        dq = want - shares[j]
        if abs(dq) * p <= 1e-10 * equity:
            continue
        if abs(dq) * p < min_trade_value and want != 0.0:
            continue
        if dq != 0.0:
            plan.delta[j] = dq
        plan.base[j] = w * equity / p
    return plan


def scale_buys(
    plan: BasketPlan, row: int, prices: np.ndarray, ledger: Ledger, lots: np.ndarray
) -> None:
    """Shrink the plan's buys to the cash there is, costs included (step 4, in place)."""
    cash = ledger.cash
    shares = ledger.shares
    delta = plan.delta

    def cost_of(j: int, q: float) -> float:
        p = float(prices[row, j])
        return q * p + ledger.fill_cost(row, j, q, p)

    def need_of(j: int) -> float:
        return cost_of(j, delta[j])

    def fits(need: float) -> bool:
        return need <= cash * (1.0 + 1e-12) + 1e-9

    def scaled(j: int, scale: float) -> float:
        return round_lot(shares[j] + (plan.base[j] - shares[j]) * scale, float(lots[j])) - shares[j]

    buying = [j for j, q in sorted(delta.items()) if q > 0.0]
    need = 0.0
    for j in buying:
        need += need_of(j)
    if fits(need):
        return
    scale = cash / need if cash > 0.0 else 0.0
    for _ in range(_SCALE_ROUNDS):
        need = 0.0
        for j in buying:
            if delta[j] > 0.0:
                delta[j] = scaled(j, scale)
                if delta[j] > 0.0:
                    need += need_of(j)
        if fits(need):
            return
        scale *= cash / need if cash > 0.0 else 0.0
    # lot rounding can stall the steps above: bisect for the largest scale that fits
    low, high = 0.0, 1.0
    for _ in range(_BISECT_ROUNDS):
        mid = 0.5 * (low + high)
        need = 0.0
        for j in buying:
            if delta[j] > 0.0:
                q = scaled(j, mid)
                if q > 0.0:
                    need += cost_of(j, q)
        if fits(need):
            low = mid
        else:
            high = mid
    for j in buying:
        if delta[j] > 0.0:
            delta[j] = scaled(j, low)
