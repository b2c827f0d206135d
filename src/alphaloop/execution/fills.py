"""Auctions and fills of the simulated broker: where orders trade and what each fill checks.

:class:`AuctionDesk` is the part of :class:`~alphaloop.execution.simulated.
SimulatedBroker` that trades: the auction of a bar (due rebalances, then
market orders and IOC/FOK limits at the auction price, sells before buys),
rebalance legs, resting orders handed over by the book, and the booking of
every fill in the ledger with its event, protection and participation
bookkeeping. The broker's state (orders, tickets, ledger, market, config)
lives on the broker; this class only holds its trading methods.

Checks at each fill, as in the vectorized simulator: a market order due
where the asset has no price, a sale beyond the position with shorts off,
and (without leverage) a buy that costs more than the cash raise
:class:`~alphaloop.errors.BacktestError`. Rebalance buys are scaled to the
cash instead (see :mod:`~alphaloop.execution.sizing`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from alphaloop.errors import BacktestError
from alphaloop.execution.events import (
    OrderAccepted,
    OrderFilled,
    OrderPartiallyFilled,
    OrderSubmitted,
    RebalanceToWeights,
)
from alphaloop.execution.matching import Ticket, gap_price
from alphaloop.execution.orders import Order, OrderSide, OrderType, Protection, TimeInForce
from alphaloop.execution.sizing import plan_basket, round_lot, scale_buys

if TYPE_CHECKING:
    from alphaloop.execution.armed import ArmedBook
    from alphaloop.execution.broker import BrokerConfig
    from alphaloop.execution.events import OrderEvent
    from alphaloop.execution.ledger import Ledger
    from alphaloop.execution.market import MarketData
    from alphaloop.execution.protection import ProtectionDesk
    from alphaloop.execution.risk_gate import RiskGate

__all__ = ["AuctionDesk"]

_TOL = 1e-9


def _sign(ticket: Ticket) -> int:
    return ticket.sign


class AuctionDesk:
    """The trading methods of the simulated broker (a base class of it, no state of its own)."""

    config: BrokerConfig
    market: MarketData
    ledger: Ledger
    protection: ProtectionDesk
    armed: ArmedBook
    risk: RiskGate | None
    orders: dict[int, Order]
    pending: int
    _auction: list[Ticket]
    _baskets: list[RebalanceToWeights]
    _taken: dict[int, float]
    _taken_row: int
    _lots: np.ndarray
    _participation: float | None
    _cash_only: bool
    _in_open_auction: bool
    _next_fill_id: int

    if TYPE_CHECKING:  # provided by SimulatedBroker

        def emit(self, order: Order, event: OrderEvent) -> None: ...
        def new_order_id(self) -> int: ...
        def register(self, ticket: Ticket, auction: bool) -> None: ...
        def cancel_ticket(self, ticket: Ticket, row: int, reason: str) -> None: ...
        def _retire(self, ticket: Ticket) -> None: ...
        def _expiry(self, order: Order, first: int) -> int: ...
        def _refused(
            self, order: Order, row: int, known_row: int, price: float = math.nan
        ) -> bool: ...

    def _capacity(self, row: int, j: int, want: float) -> float:
        """Shares that may trade now, within the participation cap."""
        share = self._participation
        if share is None:
            return want
        if self._taken_row != row:
            self._taken.clear()
            self._taken_row = row
        assert self.market.volume is not None
        volume = float(self.market.volume[row, j])
        if not volume > 0.0:
            return 0.0
        room = share * volume - self._taken.get(j, 0.0)
        return round_lot(min(want, max(room, 0.0)), float(self._lots[j]))

    # -------------------------------------------------------------- auctions
    def _auction_at(self, row: int) -> None:
        due = [t for t in self._auction if t.first_row <= row]
        if self._baskets:
            baskets = [b for b in self._baskets if b.row + self.market.lag <= row]
            self._baskets = [b for b in self._baskets if b.row + self.market.lag > row]
            self.pending -= len(baskets)
            for basket in baskets:
                self._fill_basket(row, basket)
        if not due:
            return
        prices = self.market.auction_price
        if len(due) > 1:
            due.sort(key=_sign)  # sells first, then in order (a stable sort)
        for ticket in due:
            if ticket.order._open:
                self._match_auction(ticket, row, float(prices[row, ticket.asset]))

    def _match_auction(self, ticket: Ticket, row: int, price: float) -> None:
        order = ticket.order
        if not price > 0.0:
            raise BacktestError(
                f"no valid price for {self.market.where(row, ticket.asset)} where order "
                f"#{order.order_id} is due",
                hint="cancel orders for assets without prices, or repair the data",
            )
        tif = order.time_in_force
        if order.order_type is OrderType.LIMIT:
            assert order.limit_price is not None
            if math.isnan(gap_price(False, ticket.sign, order.limit_price, price)):
                self.cancel_ticket(
                    ticket,
                    row,
                    f"{tif.value}: limit {order.limit_price:g} not reached at {price:g}",
                )
                return
        want = order.quantity - order.filled_quantity  # leaves_quantity of an open order
        cap = self._participation
        quantity = want if cap is None else self._capacity(row, ticket.asset, want)
        if tif is TimeInForce.FOK and quantity < want * (1.0 - _TOL):
            self.cancel_ticket(
                ticket,
                row,
                f"fok: only {quantity:g} of {want:g} shares within the participation cap",
            )
            return
        if quantity > 0.0:
            self._execute(ticket, row, quantity, price)
        if order._open and tif is TimeInForce.IOC:
            self.cancel_ticket(ticket, row, f"ioc: {order.leaves_quantity:g} shares unfilled")

    def _fill_basket(self, row: int, basket: RebalanceToWeights) -> None:
        cfg = self.config
        prices = self.market.auction_price
        self.ledger.mark_through(row - 1)
        plan = plan_basket(
            basket.weights, basket.row, row, prices, self.ledger, self.market,
            max_leverage=cfg.max_leverage, allow_short=cfg.allow_short, lots=self._lots,
            min_trade_value=cfg.min_trade_value,
        )  # fmt: skip
        for j, dq in plan.sells():
            self._leg(row, j, dq, prices, basket.protection)
        if self._cash_only:
            scale_buys(plan, row, prices, self.ledger, self._lots)
        for j, dq in plan.buys():
            self._leg(row, j, dq, prices, basket.protection)

    def _leg(
        self, row: int, j: int, dq: float, prices: np.ndarray, protection: Protection | None
    ) -> None:
        side = OrderSide.BUY if dq > 0.0 else OrderSide.SELL
        asset = self.market.assets[j]
        order = Order(self.new_order_id(), asset, side, abs(dq), time_in_force=TimeInForce.DAY)
        self.orders[order.order_id] = order
        self.emit(order, OrderSubmitted(order.order_id, row))
        if self.risk is not None and self._refused(order, row, row - 1, float(prices[row, j])):
            return
        self.emit(order, OrderAccepted(order.order_id, row))
        ticket = Ticket(order, j, row, row, self._expiry(order, row))
        ticket.protection = protection
        self.register(ticket, True)
        quantity = self._capacity(row, j, abs(dq))
        if quantity > 0.0:
            self._execute(ticket, row, quantity, float(prices[row, j]), checked=False)
        ticket.first_row = row + 1  # a capped remainder waits for the next auction

    def _trade_resting(self, t: Ticket, row: int, price: float, maker: bool = False) -> None:
        order = t.order
        want = order.quantity - order.filled_quantity  # open: leaves_quantity
        quantity = want if self._participation is None else self._capacity(row, t.asset, want)
        if quantity > 0.0:
            self._execute(t, row, quantity, price, maker=maker)

    # ------------------------------------------------------------------ fills
    def _execute(
        self,
        ticket: Ticket,
        row: int,
        quantity: float,
        price: float,
        *,
        checked: bool = True,
        maker: bool = False,
    ) -> None:
        order = ticket.order
        j = ticket.asset
        if j in self.armed.by_asset:
            self.armed.materialize(j)  # the fill changes the position the pair protects
        ledger = self.ledger
        if checked:
            self._check_fill(order.order_id, j, ticket.sign, row, quantity, price, maker)
        reason = "order" if ticket.guard is None else self._reason(ticket)
        cost = ledger.fill(row, j, quantity * ticket.sign, price, reason, maker)
        if self._participation is not None:
            self._taken[j] = self._taken.get(j, 0.0) + quantity
        fill_id = self._next_fill_id
        self._next_fill_id += 1
        left = order.quantity - order.filled_quantity  # open: leaves_quantity
        kind = OrderFilled if quantity >= left - _TOL * order.quantity else OrderPartiallyFilled
        liquidity = "maker" if maker else "taker"
        self.emit(
            order,
            kind(
                order.order_id, row, fill_id, order.asset, order.side, quantity, price, cost,
                liquidity,
            ),
        )  # fmt: skip
        if not order._open:
            self._retire(ticket)
        desk = self.protection
        if ticket.protection is not None:
            desk.attach(j, ticket.protection)
            desk.sync(j, row, self._in_open_auction)
        elif j in desk.guards:
            desk.sync(j, row, self._in_open_auction)

    def _check_fill(
        self,
        order_id: int,
        j: int,
        sign: int,
        row: int,
        quantity: float,
        price: float,
        maker: bool = False,
    ) -> None:
        """Raise when a fill of order ``order_id`` (asset ``j``, side ``sign``) is not
        allowed: a sale beyond the position with shorts off, a buy beyond the cash
        (``maker``: the fill is priced as a maker's)."""
        ledger = self.ledger
        if sign < 0:
            if not self.config.allow_short and ledger.shares[j] - quantity < -_TOL * quantity:
                raise BacktestError(
                    f"order #{order_id} sells {quantity:g} shares of "
                    f"{self.market.where(row, j)} but holds {ledger.shares[j]:g} and shorts "
                    "are off",
                    hint="set allow_short=True or sell at most the position",
                )
        elif self._cash_only:
            ledger.mark_through(row - 1)
            need = quantity * price + ledger.fill_cost(row, j, quantity, price, maker)
            if need > ledger.cash * (1.0 + 1e-12) + 1e-9:
                raise BacktestError(
                    f"the buy order #{order_id} for {self.market.where(row, j)} "
                    f"needs {need:,.2f} in cash but the account holds {ledger.cash:,.2f} and "
                    "leverage is not allowed",
                    hint="reduce the order or allow leverage (max_leverage > 1)",
                )

    @staticmethod
    def _reason(ticket: Ticket) -> str:
        if ticket.guard is None:
            return "order"
        if ticket.order.order_type is OrderType.LIMIT:
            return "take_profit"
        return "trailing_stop" if ticket.trails() else "stop_loss"
