"""The part of every venue broker that does not depend on the venue.

:class:`VenueBroker` implements the :class:`~alphaloop.execution.broker.Broker`
protocol on top of a handful of venue operations that the Alpaca and ccxt
adapters provide (place, cancel, fetch one order, account, positions, last
price, market rules). It owns the safety rules:

* **no order while the update stream is down**: :meth:`submit` raises
  :class:`StreamDownError` (orders are refused, not queued: a queued order
  would be sent later at a price nobody decided on);
* **reconcile after every outage**: when the stream comes back, every order
  still open is fetched from the venue before the next order is sent, and the
  difference is applied through :class:`OrderTracker` (cumulative quantities,
  so nothing is lost or counted twice);
* **rate limits**: a 429 is retried after the venue's ``Retry-After`` (or the
  backoff) at most ``max_retries`` times, then :class:`RateLimitedError`;
* **quoted prices at the boundary**: inside the system one unit of an asset
  is one contract and its prices are *traded units*, ``quoted price *
  multiplier * rate`` (the rate converts the quote currency to the base
  currency; see :mod:`alphaloop.data.fx`). A venue quotes the price of one
  unit of the underlying in its own currency, so the limit and stop prices of
  an order are divided by that factor (:meth:`VenueBroker.to_quoted`) before
  they are rounded to the quoted tick and sent; quantities stay in contracts.
  Orders sized from the venue's last price use ``last price * factor``.

Updates from the stream's thread go through a queue; every change to an
order happens in the caller's thread, in :meth:`drain_events`,
:meth:`submit`, :meth:`cancel` or :meth:`reconcile`.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from alphaloop.execution.brokers.errors import (
    BrokerError,
    RateLimitedError,
    StreamDownError,
    VenueError,
)
from alphaloop.execution.brokers.precision import MarketRules
from alphaloop.execution.brokers.safety import Backoff
from alphaloop.execution.brokers.tracking import OrderTracker, VenueOrderState
from alphaloop.execution.events import (
    CancelOrder,
    ModifyOrder,
    OrderEvent,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    RebalanceToWeights,
    SubmitOrder,
)
from alphaloop.execution.orders import Order, OrderSide, OrderType

if TYPE_CHECKING:
    from alphaloop.data.assets import Instrument

__all__ = ["RateLimit", "VenueBroker"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class RateLimit(Exception):  # noqa: N818 - a signal between a venue call and the retry loop
    """Raised by a venue operation on HTTP 429; ``retry_after_s`` from the header, if any."""

    def __init__(self, retry_after_s: float | None) -> None:
        super().__init__("rate limited")
        self.retry_after_s = retry_after_s


class VenueBroker(ABC):
    """A :class:`~alphaloop.execution.broker.Broker` that trades at a venue.

    Parameters
    ----------
    venue : str
        Name used in messages (``alpaca``, ``ccxt:binance``).
    assets : sequence of str
        The symbols of the panel, in order: ``RebalanceToWeights.weights`` index them.
    client_prefix : str, optional
        Start of the client order ids this broker sends (``<prefix>-<order id>``).
        Default: ``al`` and 8 random hex digits, new for each broker, so a
        restarted process never reuses an id the venue has seen; a session
        that persists its orders passes its own stable prefix.
    max_retries : int
        Retries of a rate-limited (429) request.
    max_wait_s : float
        Longest ``Retry-After`` honoured, in seconds.
    """

    live: bool = False

    def __init__(
        self,
        venue: str,
        assets: Sequence[str] = (),
        *,
        client_prefix: str | None = None,
        max_retries: int = 3,
        max_wait_s: float = 10.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.venue = venue
        self.assets = list(assets)
        self.tracker = OrderTracker(client_prefix or f"al{secrets.token_hex(4)}")
        self.max_retries = max_retries
        self.max_wait_s = max_wait_s
        self.backoff = backoff or Backoff(initial_s=0.2, max_s=5.0)
        self.row = 0
        self._updates: queue.Queue[VenueOrderState] = queue.Queue()
        self._events: list[OrderEvent] = []
        self._stream_up = threading.Event()
        self._needs_reconcile = True
        self._next_id = 1
        self._rules: dict[str, MarketRules] = {}
        self.reconciliations = 0
        #: stored instrument metadata by asset; where present it overrides the venue's
        #: tick, size step and minimum notional (see :meth:`MarketRules.with_instrument`)
        self.instruments: dict[str, Instrument] = {}
        #: rate(currency -> base currency) of each quote currency other than the base
        self.rates: dict[str, float] = {}
        self.base_currency: str | None = None

    def use_instruments(
        self,
        instruments: Mapping[str, Instrument],
        *,
        base_currency: str | None = None,
        rates: Mapping[str, float] | None = None,
    ) -> None:
        """Round orders of these assets with the stored metadata (tick, lot, minimum).

        Orders then carry prices in traded units (``quoted * multiplier *
        rate``) and are converted to quoted prices before they are sent (see
        the module docstring). ``base_currency`` is the account's currency;
        ``rates`` maps each other quote currency to ``rate(currency -> base)``
        (update them each bar with :meth:`set_rates`).
        """
        self.instruments = dict(instruments)
        self.base_currency = None if base_currency is None else base_currency.upper()
        self.set_rates(rates or {})

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """The latest ``rate(currency -> base)`` of each foreign quote currency."""
        for cur, rate in rates.items():
            if not (np.isfinite(rate) and rate > 0):
                raise BrokerError(f"{self.venue}: the {cur} rate must be positive, got {rate}")
        self.rates = {str(k).upper(): float(v) for k, v in rates.items()}

    def price_factor(self, asset: str) -> float:
        """Traded units per quoted unit of ``asset``: ``multiplier * rate`` (1 with no metadata).

        Raises
        ------
        BrokerError
            The asset is quoted in a foreign currency whose rate is not known.
        """
        inst = self.instruments.get(asset)
        if inst is None:
            return 1.0
        factor = inst.multiplier
        base = self.base_currency
        if base is not None and inst.currency != base:
            rate = self.rates.get(inst.currency)
            if rate is None:
                raise BrokerError(
                    f"{self.venue}: {asset} is quoted in {inst.currency} and no "
                    f"{inst.currency}/{base} rate is known",
                    hint="set the rate with set_rates before sending orders",
                )
            factor *= rate
        return factor

    def to_quoted(self, asset: str, price: float | None) -> float | None:
        """A price in traded units as the venue quotes it (``price / price_factor``)."""
        if price is None:
            return None
        factor = self.price_factor(asset)
        return price if factor == 1.0 else price / factor

    def unit_value(self, asset: str) -> float:
        """Value of one traded unit at the venue's last price, in the account currency."""
        return self.last_price(asset) * self.price_factor(asset)

    # ------------------------------------------------- venue operations
    @abstractmethod
    def _place(self, order: Order, client_id: str) -> VenueOrderState:
        """Send the (rounded) order; return the venue's answer."""

    @abstractmethod
    def _cancel(self, order: Order, client_id: str, venue_id: str | None) -> None:
        """Ask the venue to cancel; the outcome arrives as an update."""

    @abstractmethod
    def _fetch(self, order: Order, client_id: str, venue_id: str | None) -> VenueOrderState | None:
        """The venue's current view of one order (None = the venue never saw it)."""

    @abstractmethod
    def _market_rules(self, asset: str, price: float | None) -> MarketRules:
        """Precision and minimums of ``asset`` (``price`` for price-dependent ticks)."""

    @abstractmethod
    def last_price(self, asset: str) -> float:
        """The latest traded price of ``asset``."""

    @abstractmethod
    def positions(self) -> dict[str, float]:
        """Every non-zero position at the venue, by asset."""

    @property
    @abstractmethod
    def cash(self) -> float:
        """Cash at the venue, in the account currency."""

    @property
    @abstractmethod
    def equity(self) -> float:
        """Cash plus positions at the venue's marks."""

    # ------------------------------------------------------ stream state
    @property
    def stream_up(self) -> bool:
        """The order-update stream is connected and listening."""
        return self._stream_up.is_set()

    def _on_stream_up(self) -> None:
        """Called (from any thread) when the stream is connected and subscribed."""
        self._needs_reconcile = True
        self._stream_up.set()

    def _on_stream_down(self) -> None:
        """Called (from any thread) when the stream is lost."""
        self._stream_up.clear()
        self._needs_reconcile = True

    def _on_update(self, state: VenueOrderState) -> None:
        """Called (from any thread) with an order update from the stream."""
        self._updates.put(state)

    def wait_stream(self, timeout_s: float = 10.0) -> bool:
        """Block until the stream is up (True) or ``timeout_s`` passed (False)."""
        return self._stream_up.wait(timeout_s)

    # ----------------------------------------------------------- retries
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run a venue request, honouring 429 ``Retry-After`` up to ``max_retries`` times."""
        self.backoff.reset()
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except RateLimit as limit:
                if attempt == self.max_retries:
                    raise RateLimitedError(
                        f"{self.venue}: {what} still rate limited after {attempt} retries"
                    ) from None
                wait = limit.retry_after_s
                if wait is None:
                    wait = self.backoff.next_delay()
                wait = min(max(wait, 0.0), self.max_wait_s)
                log.info("%s: %s rate limited; retrying in %.2f s", self.venue, what, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    # ------------------------------------------------------ Broker protocol
    def new_order_id(self) -> int:
        oid = self._next_id
        self._next_id += 1
        return oid

    def submit(self, command: SubmitOrder) -> None:
        """Round, check and send an order.

        Raises
        ------
        StreamDownError
            The update stream is down (nothing is sent; the order stays NEW).
        OrderSizeError
            Rounded to the venue's precision the order is below a minimum.
        BrokerError
            Protection brackets or order types the venue adapter does not send.
        """
        order = command.order
        self.row = command.row
        if command.protection is not None and command.protection.active:
            raise BrokerError(f"{self.venue}: protection orders are not sent to venues yet")
        if order.order_type is OrderType.TRAILING_STOP:
            raise BrokerError(f"{self.venue}: trailing stops are not sent to venues")
        if not self.stream_up:
            raise StreamDownError(
                f"{self.venue}: the order-update stream is down; order #{order.order_id} "
                "was not sent",
                hint="orders resume once the stream reconnects and open orders are reconciled",
            )
        if self._needs_reconcile:
            self.reconcile()
        self._round(order)
        self.tracker.track(order)
        cid = self.tracker.client_id(order.order_id)
        self._emit([self._apply(order, OrderSubmitted(order.order_id, command.row))])
        try:
            state = self._call("submit", lambda: self._place(order, cid))
        except (VenueError, RateLimitedError) as exc:  # the venue said no: nothing was placed
            self._emit([self._apply(order, OrderRejected(order.order_id, self.row, exc.message))])
            return
        except (OSError, BrokerError) as exc:
            # the venue may or may not have the order: reconciliation will tell
            log.warning("%s: sending order #%d failed (%s)", self.venue, order.order_id, exc)
            self._needs_reconcile = True
            return
        self._emit(self.tracker.apply(state, self.row))

    def _round(self, order: Order) -> None:
        # traded units -> the venue's quoted prices, before rounding to the quoted tick
        limit_price = self.to_quoted(order.asset, order.limit_price)
        stop_price = self.to_quoted(order.asset, order.stop_price)
        reference = limit_price if limit_price is not None else stop_price
        rules = self._market_rules(order.asset, reference)
        stored = self.instruments.get(order.asset)
        if stored is not None:
            rules = rules.with_instrument(stored)
        if reference is None and rules.min_notional is not None:
            reference = self.last_price(order.asset)  # a market order's value, for the minimum
        rounded = rules.prepare(
            order.side,
            order.quantity,
            price=limit_price,
            stop_price=stop_price,
            reference_price=reference,
        )
        # the order is still NEW (nobody has seen it): it carries what is sent (quoted prices)
        order.quantity = rounded.amount
        order.limit_price = rounded.price
        order.stop_price = rounded.stop_price

    def cancel(self, command: CancelOrder) -> bool:
        """Ask the venue to cancel; the ``OrderCanceled`` event arrives with the update."""
        self.row = command.row
        order = self.tracker.orders.get(command.order_id)
        if order is None or not order.is_open:
            return False
        cid = self.tracker.client_id(order.order_id)
        venue_id = self.tracker.venue_ids.get(order.order_id)
        try:
            self._call("cancel", lambda: self._cancel(order, cid, venue_id))
        except VenueError as exc:
            log.info("%s: cancel of #%d refused: %s", self.venue, order.order_id, exc)
            self._needs_reconcile = True
            return False
        return True

    def modify(self, command: ModifyOrder) -> None:
        raise BrokerError(
            f"{self.venue}: modifying working orders is not supported",
            hint="cancel the order and submit a new one",
        )

    def rebalance(self, command: RebalanceToWeights) -> None:
        """Market orders that move each asset with a finite weight to ``weight * equity``
        (in contracts: ``weight * equity / unit_value``)."""
        weights = np.asarray(command.weights, dtype=float)
        if weights.shape != (len(self.assets),):
            raise BrokerError(
                f"{self.venue}: {weights.shape[0] if weights.ndim else 0} weights for "
                f"{len(self.assets)} assets"
            )
        equity = self.equity
        held = self.positions()
        for asset, weight in zip(self.assets, weights, strict=True):
            if not np.isfinite(weight):
                continue
            target = weight * equity / self.unit_value(asset)
            delta = target - held.get(asset, 0.0)
            if abs(delta) <= 1e-12:
                continue
            side = OrderSide.BUY if delta > 0 else OrderSide.SELL
            order = Order(self.new_order_id(), asset, side, abs(delta), reason="rebalance")
            self.submit(SubmitOrder(order, command.row))

    def position(self, asset: str) -> float:
        return self.positions().get(asset, 0.0)

    def open_orders(self, asset: str | None = None) -> list[Order]:
        return [o for o in self.tracker.open_orders() if asset is None or o.asset == asset]

    def drain_events(self) -> list[OrderEvent]:
        """Apply the stream's updates (reconciling first after an outage); events oldest first."""
        if self._needs_reconcile and self.stream_up:
            self.reconcile()
        while True:
            try:
                state = self._updates.get_nowait()
            except queue.Empty:
                break
            self._emit(self.tracker.apply(state, self.row))
        events, self._events = self._events, []
        return events

    def restore(self, orders: Iterable[Order]) -> None:
        """Take back orders a previous process sent (after a restart).

        The orders carry their state so far (rebuilt from their stored
        events); open ones are reconciled with the venue before the next
        order or drain, so fills made while the process was down arrive
        once. Use the same ``client_prefix`` as the process that sent them.
        New order ids continue after the largest restored one.
        """
        for order in orders:
            self.tracker.track(order, fee=self._restored_fee(order))
            self._next_id = max(self._next_id, order.order_id + 1)
            self._watch_order(order)
        self._needs_reconcile = True

    @staticmethod
    def _restored_fee(order: Order) -> float:
        return sum(
            e.cost for e in order.events if isinstance(e, OrderPartiallyFilled | OrderFilled)
        )

    def _watch_order(self, order: Order) -> None:  # noqa: B027 - optional hook, no-op by default
        """Hook for adapters that poll: start watching a restored order."""

    def reconcile(self) -> list[OrderEvent]:
        """Fetch every open order from the venue and apply what the stream missed.

        An order the venue never saw (a send that failed before it arrived)
        is rejected. Returns the events it produced (also queued for
        :meth:`drain_events`).
        """
        self._needs_reconcile = False
        self.reconciliations += 1
        produced: list[OrderEvent] = []
        for order in list(self.tracker.open_orders()):
            cid = self.tracker.client_id(order.order_id)
            vid = self.tracker.venue_ids.get(order.order_id)
            state = self._call("reconcile", lambda o=order, c=cid, v=vid: self._fetch(o, c, v))
            if state is None:
                produced.append(
                    self._apply(
                        order, OrderRejected(order.order_id, self.row, "not found at the venue")
                    )
                )
                continue
            produced += self.tracker.apply(state, self.row)
        self._emit(produced)
        return produced

    # ------------------------------------------------------------ helpers
    def _emit(self, events: list[OrderEvent]) -> None:
        self._events.extend(events)

    @staticmethod
    def _apply(order: Order, event: OrderEvent) -> OrderEvent:
        order.apply(event)
        return event

    @abstractmethod
    def close(self) -> None:
        """Stop the update stream and release connections."""
