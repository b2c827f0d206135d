"""The simulated broker: orders matched against historical bars.

Bar protocol (bar ``r``), the vectorized simulator's, with orders:

- ``next_open``: the open auction (due rebalances, then market orders and
  IOC/FOK limits at ``open[r]``, sells before buys), then resting orders
  against the bar (:mod:`~alphaloop.execution.matching`), then DAY
  expiry.
- ``next_close`` / ``same_close``: resting orders first, then the close
  auction at ``close[r]``; for ``same_close`` the orders the strategy
  decides on bar ``r`` get a second close auction right after its
  ``on_bar``. Then DAY expiry.

Timing: market orders and rebalances decided on bar ``t`` (in any callback)
are due at bar ``t + lag`` (lag 1, or 0 for ``same_close``); resting orders
(limit, stop, stop-limit, trailing stop) work from the open of bar ``t + 1``.
IOC and FOK orders get one chance, at their first auction.

The auctions and fills themselves, and the checks at each fill, are in
:mod:`~alphaloop.execution.fills`.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import ValidationError

from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution.armed import Armed, ArmedBook
from alphaloop.execution.broker import BrokerConfig
from alphaloop.execution.costs import FillTiming
from alphaloop.execution.events import (
    CancelOrder,
    ModifyOrder,
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderExpired,
    OrderRejected,
    OrderSubmitted,
    OrderUpdated,
    RebalanceToWeights,
    SubmitOrder,
)
from alphaloop.execution.fills import AuctionDesk
from alphaloop.execution.ledger import Ledger
from alphaloop.execution.market import MarketData
from alphaloop.execution.matching import Ticket
from alphaloop.execution.orders import (
    Order,
    OrderStatus,
    OrderType,
    TimeInForce,
)
from alphaloop.execution.protection import ProtectionDesk
from alphaloop.execution.resting import RestingBook
from alphaloop.execution.risk_gate import RiskGate

__all__ = ["SimulatedBroker"]

_STOPS = (OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP)
_ONE_SHOT = (TimeInForce.IOC, TimeInForce.FOK)


def config_from(settings: dict) -> BrokerConfig:
    """A :class:`BrokerConfig`, with pydantic's errors as one-line BacktestErrors."""
    if "costs" in settings and settings["costs"] is None:  # as simulate(): the default model
        settings = {k: v for k, v in settings.items() if k != "costs"}
    try:
        return BrokerConfig(**settings)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise BacktestError(
            f"invalid broker setting {where}={first.get('input')!r}: {first['msg']}"
        ) from None


class SimulatedBroker(AuctionDesk):
    """A broker that fills orders against a panel's bars (see the module docstring).

    Parameters
    ----------
    panel : Panel
        ``close`` always; ``open`` for ``next_open``; ``high`` and ``low`` for
        resting orders; ``volume`` for impact and participation caps.
    config : BrokerConfig, optional
        Or pass its fields as keyword arguments.
    """

    def __init__(self, panel: Panel, config: BrokerConfig | None = None, **settings: object):
        if config is None:
            config = config_from(settings)
        elif settings:
            raise BacktestError("pass either a BrokerConfig or settings, not both")
        self.config = config
        self.panel = panel
        self.market = market = MarketData.from_panel(
            panel, config.fills, config.costs, config.participation
        )
        self.ledger = Ledger(market, config.costs, config.initial_capital)
        self._asset_pos = market.asset_pos
        lots = np.broadcast_to(np.asarray(config.lot_size, dtype=np.float64), (panel.n_assets,))
        if not (np.isfinite(lots).all() and (lots >= 0).all()):
            raise BacktestError("lot sizes must be finite and >= 0 (0 = fractional shares)")
        self._lots = lots.copy()
        self.row = -1
        self.events: list[OrderEvent] = []
        self.orders: dict[int, Order] = {}
        self._tickets: dict[int, Ticket] = {}
        self._auction: list[Ticket] = []
        #: bar -> DAY orders whose day ends with it
        self.expiring: dict[int, list[Ticket]] = {}
        self._baskets: list[RebalanceToWeights] = []
        self._taken: dict[int, float] = {}
        self._taken_row = -1
        self.resting = RestingBook(market, self._trade_resting, self.emit)
        self.protection = ProtectionDesk(self)
        #: protection pairs matched by the compiled kernel (off unless enabled)
        self.armed = ArmedBook(self)
        self._next_order_id = 1
        self._next_fill_id = 1
        self._in_open_auction = False
        #: working orders plus pending rebalances: 0 means no bar needs the broker
        self.pending = 0
        #: :meth:`start_bar` has nothing to do before this bar (a lower bound)
        self.due_row = 0
        self._cash_only = config.cash_only
        self._participation = config.participation
        self._same_close = config.fills is FillTiming.SAME_CLOSE
        self._fills_at_open = market.at_open
        #: the risk engine every order passes (None: no limits configured)
        self.risk = (
            RiskGate(config.risk, market, config.initial_capital)
            if config.risk is not None and config.risk.active
            else None
        )

    # ------------------------------------------------------------ interface
    def new_order_id(self) -> int:
        oid = self._next_order_id
        self._next_order_id += 1
        return oid

    def submit(self, command: SubmitOrder) -> None:
        order, row = command.order, command.row
        j = self.asset_column(order.asset)
        if j in self.armed.by_asset:
            self.armed.materialize(j)  # the new order works next to the pair
        oid = order.order_id
        orders = self.orders
        if oid in orders:
            raise BacktestError(f"order #{oid} was already submitted")
        orders[oid] = order
        kind, tif = order.order_type, order.time_in_force
        if kind is OrderType.MARKET and self.risk is None and order.status is OrderStatus.NEW:
            self.accept_own(order, row)  # nothing refuses a market order without risk limits
            first = row + self.market.lag
            expire = -1 if tif is not TimeInForce.DAY else self._expiry(order, first)
            ticket = Ticket(order, j, first, first, expire, math.nan, command.protection)
            self.register(ticket, True)
            return
        self.emit(order, OrderSubmitted(oid, row))
        if self.risk is not None and self._refused(order, row, row):
            return
        if kind is OrderType.MARKET:
            auction = True
        else:
            if kind in _STOPS and tif in _ONE_SHOT:
                reason = f"a {kind.value} order rests until triggered; {tif.value} would cancel it"
                self.emit(order, OrderRejected(oid, row, reason))
                return
            auction = tif in _ONE_SHOT
        if not auction and not self.market.has_range:
            raise BacktestError(
                f"{kind.value} orders are matched against each bar's high and low; "
                "this dataset has no 'high'/'low' fields",
                hint="use market orders, or data with high and low",
            )
        extreme = math.nan
        if kind is OrderType.TRAILING_STOP:
            extreme = float(self.market.close[row, j]) if row >= 0 else math.nan
            if not extreme > 0.0:
                raise BacktestError(
                    f"the trailing stop #{order.order_id} needs a close of "
                    f"{self.market.where(row, j)} to start trailing from"
                )
        self.emit(order, OrderAccepted(oid, row))
        first = row + self.market.lag if auction else row + 1
        expire = -1 if tif is not TimeInForce.DAY else self._expiry(order, first)
        self.register(Ticket(order, j, first, first, expire, extreme, command.protection), auction)

    def cancel(self, command: CancelOrder) -> bool:
        ticket = self._ticket(command.order_id)
        if ticket is None:
            return False
        self.cancel_ticket(ticket, command.row, "canceled by the strategy")
        return True

    def modify(self, command: ModifyOrder) -> None:
        ticket = self._ticket(command.order_id)
        if ticket is None:
            raise BacktestError(f"order #{command.order_id} is not working: nothing to modify")
        if self.risk is not None:
            price = command.limit_price if command.limit_price is not None else command.stop_price
            if self.risk.amend(ticket.order, command.row, command.quantity, price) is not None:
                return  # refused: the order works on unchanged; the refusal is recorded
        event = OrderUpdated(
            command.order_id,
            command.row,
            command.quantity,
            command.limit_price,
            command.stop_price,
        )
        self.emit(ticket.order, event)
        if not ticket.is_auction:
            if command.limit_price is not None:
                # the new limit reaches the book at the next open (see matching)
                ticket.arrival_open = max(ticket.first_row, command.row + 1)
            self.changed(ticket, command.row)

    def rebalance(self, command: RebalanceToWeights) -> None:
        w = np.asarray(command.weights, dtype=np.float64)
        if w.shape != (self.panel.n_assets,):
            raise BacktestError(
                f"rebalance weights have shape {w.shape}; expected ({self.panel.n_assets},), "
                "one per asset of the panel (NaN = leave the asset alone)"
            )
        if np.isinf(w).any():
            raise BacktestError(f"rebalance weights contain an infinite value: {w}")
        # one target per decision bar: a later rebalance on the same bar replaces it
        self._baskets = [b for b in self._baskets if b.row != command.row]
        self._baskets.append(RebalanceToWeights(w, command.row, command.protection))
        self.pending = len(self._tickets) + len(self._baskets)
        self.due_row = min(self.due_row, command.row + self.market.lag)

    def position(self, asset: str) -> float:
        return self.ledger.shares[self.asset_column(asset)]

    def positions(self) -> dict[str, float]:
        names = self.market.assets
        return {names[j]: self.ledger.shares[j] for j in sorted(self.ledger.held)}

    @property
    def cash(self) -> float:
        self._sync()
        return self.ledger.cash

    @property
    def equity(self) -> float:
        row = self.row
        if row < 0:
            return self.ledger.cash
        if self._same_close:
            return self.ledger.peek_equity(row)
        self.ledger.mark_through(row)
        return float(self.ledger.equity[row])

    def open_orders(self, asset: str | None = None) -> list[Order]:
        if self.armed.by_asset:
            self.armed.materialize_all()
        if asset is None:
            return [t.order for t in self._tickets.values()]
        return [t.order for t in self._tickets.values() if t.order.asset == asset]

    def drain_events(self) -> list[OrderEvent]:
        out, self.events = self.events, []
        return out

    @property
    def lot_sizes(self) -> np.ndarray:
        """Lot size per asset (0 = fractional shares), read-only."""
        view = self._lots.view()
        view.flags.writeable = False
        return view

    # ---------------------------------------------------------- bar driving
    @property
    def busy(self) -> bool:
        """Something may trade or expire: the engine must visit every bar."""
        return self.pending > 0

    def next_row(self, row: int) -> int:
        """The first bar from ``row`` on which the broker has something to do."""
        if not self.pending:
            return self.market.n_rows
        resting = self.resting
        nxt = resting.horizon if resting.by_asset else self.market.n_rows
        if self.armed.by_asset:
            nxt = min(nxt, self.armed.due)
        for t in self._auction:
            nxt = min(nxt, t.first_row)
        for b in self._baskets:
            nxt = min(nxt, b.row + self.market.lag)
        if self.expiring:
            nxt = min(nxt, *self.expiring)
        return nxt if nxt > row else row

    def start_bar(self, row: int) -> None:
        """Everything that happens on bar ``row`` before the strategy hears of its close.

        Afterwards :attr:`due_row` is the next bar on which this can do
        anything; a caller may skip the bars before it.
        """
        self.row = row
        resting, armed = self.resting, self.armed
        if self._fills_at_open:
            if self._auction or self._baskets:
                self._in_open_auction = True
                try:
                    self._auction_at(row)
                finally:
                    self._in_open_auction = False
            if armed.by_asset and row >= armed.due:
                armed.settle(row)
            if resting.by_asset and row >= resting.horizon:
                resting.match(row)
        else:
            if armed.by_asset and row >= armed.due:
                armed.settle(row)
            if resting.by_asset and row >= resting.horizon:
                resting.match(row)
            if self._auction or self._baskets:
                self._auction_at(row)
        self.due_row = self.next_row(row + 1)

    def decision_auction(self, row: int) -> None:
        """``same_close`` only: fill what was decided on ``row`` at its close."""
        if self._same_close:
            self._auction_at(row)

    def end_bar(self, row: int) -> None:
        """Expire the DAY orders whose day ends with bar ``row``."""
        for ticket in self.expiring.pop(row, ()):
            if ticket.order.is_open:
                self.emit(ticket.order, OrderExpired(ticket.order.order_id, row))
                self._retire(ticket)

    def finish(self) -> None:
        """Mark the account through the last bar (armed protection pairs still
        working become working orders)."""
        if self.armed.by_asset:
            self.armed.materialize_all()
        self.ledger.mark_through(self.market.n_rows - 1)

    # ------------------------------------------------------------- helpers
    def asset_column(self, asset: str) -> int:
        try:
            return self._asset_pos[asset]
        except (KeyError, TypeError):
            shown = ", ".join(self.market.assets[:8])
            raise BacktestError(
                f"unknown asset {asset!r}: not in the data",
                hint=f"assets: {shown}{', ...' if len(self.market.assets) > 8 else ''}",
            ) from None

    def _ticket(self, order_id: int) -> Ticket | None:
        """The working order ``order_id``'s ticket (an armed pair's placed first)."""
        ticket = self._tickets.get(order_id)
        if ticket.__class__ is Armed:
            self.armed.materialize(ticket.asset)  # type: ignore[union-attr]
            ticket = self._tickets[order_id]
        return ticket

    def _sync(self) -> None:
        if self.row >= 0:
            self.ledger.mark_through(self.row - 1 if self._same_close else self.row)

    def emit(self, order: Order, event: OrderEvent) -> None:
        """Apply ``event`` to ``order`` and publish it (to the engine and the risk gate)."""
        order.apply(event)
        self.events.append(event)
        if self.risk is not None:
            self.risk.observe(event)

    def accept_own(self, order: Order, row: int) -> None:
        """Submit and accept at once a new order nothing can refuse (a protection
        order the broker made itself, a market order without risk limits).

        The events and states are :meth:`emit`'s for ``OrderSubmitted`` then
        ``OrderAccepted``, transitions a NEW order always allows.
        """
        if order.status is not OrderStatus.NEW:
            raise BacktestError(f"internal: order #{order.order_id} is not new")
        oid = order.order_id
        submitted, accepted = OrderSubmitted(oid, row), OrderAccepted(oid, row)
        order.status = OrderStatus.ACCEPTED
        order.events += (submitted, accepted)
        self.events += (submitted, accepted)
        if self.risk is not None:
            self.risk.observe(submitted)
            self.risk.observe(accepted)

    def _refused(self, order: Order, row: int, known_row: int, price: float = math.nan) -> bool:
        """Reject ``order`` when the risk engine refuses it (the reason names the limit)."""
        refusal = self.risk.check(order, row, known_row, price)  # type: ignore[union-attr]
        if refusal is None:
            return False
        self.emit(order, OrderRejected(order.order_id, row, refusal.message))
        return True

    def kill(self, reason: str) -> list[int]:
        """The kill switch: halt the risk engine and cancel every working order now.

        Returns the ids of the canceled orders. Without risk limits the
        broker has no engine to halt: a BacktestError says so.
        """
        if self.risk is None:
            raise BacktestError("the kill switch needs risk limits (BrokerConfig.risk)")
        row = max(self.row, 0)
        self.risk.engine.kill(reason, float(row))
        if self.armed.by_asset:
            self.armed.materialize_all()
        ids = list(self._tickets)
        for oid in ids:
            self.cancel_ticket(self._tickets[oid], row, f"kill switch: {reason}")
        self._baskets.clear()
        self.pending = len(self._tickets)
        return ids

    def _expiry(self, order: Order, first: int) -> int:
        if order.time_in_force is TimeInForce.DAY and first < self.market.n_rows:
            return int(self.market.day_end_row[first])
        return -1

    def register(self, ticket: Ticket, auction: bool) -> None:
        """Start matching a ticket: at auctions, or in the resting book."""
        self._tickets[ticket.order.order_id] = ticket
        self.pending += 1
        ticket.is_auction = auction
        if auction:
            self._auction.append(ticket)
            first = ticket.first_row
        else:
            first = self.resting.add(ticket)
        self.due_row = min(self.due_row, first)
        if ticket.expire_row >= 0:
            self.expiring.setdefault(ticket.expire_row, []).append(ticket)

    def _retire(self, ticket: Ticket) -> None:
        del self._tickets[ticket.order.order_id]
        self.pending -= 1
        if ticket.is_auction:
            self._auction.remove(ticket)
        else:
            self.resting.remove(ticket)
        if ticket.expire_row >= 0:
            expiring = self.expiring.get(ticket.expire_row)
            if expiring is not None and ticket in expiring:
                expiring.remove(ticket)
                if not expiring:
                    del self.expiring[ticket.expire_row]
        if ticket.guard is not None:
            self.protection.forget(ticket)

    def changed(self, ticket: Ticket, row: int) -> None:
        """A resting order changed on bar ``row``: match it bar by bar again from then."""
        self.resting.changed(ticket, row)
        self.due_row = min(self.due_row, max(ticket.first_row, row))

    def cancel_ticket(self, ticket: Ticket, row: int, reason: str) -> None:
        self.emit(ticket.order, OrderCanceled(ticket.order.order_id, row, reason))
        self._retire(ticket)
