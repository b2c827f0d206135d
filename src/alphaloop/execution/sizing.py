"""Sizing a target-weight basket for the simulated broker: the shared numba sizing.

A thin adapter over :mod:`alphaloop.execution.rebalance`, the functions the
vectorized kernel calls too, so both engines size a rebalance with the same
code: :func:`plan_basket` runs :func:`~alphaloop.execution.rebalance.plan_rebalance`
on the ledger's state and turns its status codes into
:class:`~alphaloop.errors.BacktestError`; the broker fills the sells; then
:func:`scale_buys` runs :func:`~alphaloop.execution.rebalance.fit_buys_to_cash`
on the cash the sells brought in. The rules are in the shared module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from alphaloop.errors import BacktestError
from alphaloop.execution.ledger import Ledger
from alphaloop.execution.market import MarketData
from alphaloop.execution.rebalance import (
    ERR_LEVERAGE,
    ERR_PRICE,
    ERR_SHORT,
    OK,
    fit_buys_to_cash,
    plan_rebalance,
    round_lot,
)

__all__ = ["BasketPlan", "plan_basket", "round_lot", "scale_buys"]


@dataclass
class BasketPlan:
    """Signed share trades per asset (``delta``, 0 = none) and the unrounded targets (``base``).

    Both are float64 arrays with one entry per asset of the panel.
    """

    delta: np.ndarray
    base: np.ndarray

    def sells(self) -> list[tuple[int, float]]:
        """(asset, negative shares) of the sells, by asset column."""
        return [(j, float(self.delta[j])) for j in np.flatnonzero(self.delta < 0.0).tolist()]

    def buys(self) -> list[tuple[int, float]]:
        """(asset, positive shares) of the buys, by asset column."""
        return [(j, float(self.delta[j])) for j in np.flatnonzero(self.delta > 0.0).tolist()]


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
    """Trades that move the account to ``weights`` at ``prices[row]``.

    ``weights`` were decided on bar ``decided_row``; held assets without a
    price on ``row`` are valued at their last close before it. Raises
    :class:`BacktestError` for a short target with shorts off, targets above
    the leverage cap, or a trade due where the asset has no price.
    """
    n_assets = len(ledger.shares)
    plan = BasketPlan(np.zeros(n_assets), np.zeros(n_assets))
    last = market.last_close[row - 1] if row > 0 else np.full(n_assets, math.nan)
    code, j, leverage = plan_rebalance(
        np.asarray(weights, dtype=np.float64), prices[row], last,
        np.array(ledger.shares, dtype=np.float64), float(ledger.cash), float(max_leverage),
        bool(allow_short), lots, float(min_trade_value), plan.delta, plan.base,
    )  # fmt: skip
    if code == OK:
        return plan
    if code == ERR_SHORT:
        raise BacktestError(
            f"a short position in {market.where(decided_row, j)} but shorts are off",
            hint="set allow_short=True or keep weights >= 0",
        )
    if code == ERR_LEVERAGE:
        raise BacktestError(
            f"target weights decided at {market.index[decided_row].isoformat()} add up to "
            f"{leverage:.4g} times equity, more than the leverage cap {max_leverage:g}",
            hint="scale the weights or raise max_leverage",
        )
    if code == ERR_PRICE:
        raise BacktestError(
            f"no valid price for {market.where(row, j)} where an order is due",
            hint="drop the asset from the targets where it has no price, or repair the data",
        )
    raise BacktestError(f"internal: unknown sizing status {code}")


def scale_buys(
    plan: BasketPlan, row: int, prices: np.ndarray, ledger: Ledger, lots: np.ndarray
) -> None:
    """Shrink the plan's buys to the cash there is, costs included (in place).

    Call after the sells have filled: the buys may spend the cash they brought in.
    """
    market = ledger.market
    fit_buys_to_cash(
        plan.delta, plan.base, np.array(ledger.shares, dtype=np.float64), float(ledger.cash),
        prices[row], lots, ledger.cost_params, market.adv[row], market.sigma[row], np.zeros(5),
    )  # fmt: skip
