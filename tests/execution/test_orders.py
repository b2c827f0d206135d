"""The order state machine: every valid transition, refusals, and fields kept on refusal."""

from __future__ import annotations

import copy
import math

import pytest

from alphaloop.errors import BacktestError
from alphaloop.execution.events import (
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSubmitted,
    OrderTriggered,
    OrderUpdated,
)
from alphaloop.execution.orders import (
    TRANSITIONS,
    Order,
    OrderSide,
    OrderStateError,
    OrderStatus,
    OrderType,
    Protection,
    TimeInForce,
)

S = OrderStatus


def _order(kind: OrderType = OrderType.MARKET, **kwargs: object) -> Order:
    return Order(7, "AAA", OrderSide.BUY, 100.0, kind, **kwargs)  # type: ignore[arg-type]


def _fill(cls: type, qty: float, fill_id: int = 1, price: float = 10.0) -> object:
    return cls(7, 3, fill_id, "AAA", OrderSide.BUY, qty, price, 1.0)


def _event(cls: type, fill_id: int = 1) -> object:
    """An instance of each event class that fits a fresh 100-share order."""
    if cls is OrderPartiallyFilled:
        return _fill(cls, 40.0, fill_id)
    if cls is OrderFilled:
        return _fill(cls, 100.0, fill_id)
    if cls in (OrderRejected, OrderCanceled):
        return cls(7, 3, "because")
    if cls is OrderTriggered:
        return cls(7, 3, 10.0)
    if cls is OrderUpdated:
        return cls(7, 3, quantity=150.0)
    return cls(7, 3)


def _in_state(status: OrderStatus, kind: OrderType = OrderType.MARKET) -> Order:
    """An order driven to ``status`` through valid events."""
    limits = {"limit_price": 9.0, "stop_price": 11.0} if kind is OrderType.STOP_LIMIT else {}
    o = _order(kind, **limits)
    path = {
        S.NEW: [],
        S.SUBMITTED: [OrderSubmitted(7, 0)],
        S.ACCEPTED: [OrderSubmitted(7, 0), OrderAccepted(7, 0)],
        S.REJECTED: [OrderSubmitted(7, 0), OrderRejected(7, 0, "no")],
        S.PARTIALLY_FILLED: [
            OrderSubmitted(7, 0),
            OrderAccepted(7, 0),
            _fill(OrderPartiallyFilled, 40.0, 99),
        ],
        S.FILLED: [OrderSubmitted(7, 0), OrderAccepted(7, 0), _fill(OrderFilled, 100.0, 99)],
        S.CANCELED: [OrderSubmitted(7, 0), OrderAccepted(7, 0), OrderCanceled(7, 0, "x")],
        S.EXPIRED: [OrderSubmitted(7, 0), OrderAccepted(7, 0), OrderExpired(7, 0)],
    }[status]  # fmt: skip
    for e in path:
        o.apply(e)
    assert o.status is status
    return o


EVENTS = [
    OrderSubmitted,
    OrderAccepted,
    OrderRejected,
    OrderTriggered,
    OrderUpdated,
    OrderPartiallyFilled,
    OrderFilled,
    OrderCanceled,
    OrderExpired,
]


def _snapshot(o: Order) -> dict[str, object]:
    return {k: copy.copy(getattr(o, k)) for k in Order.__slots__}


@pytest.mark.parametrize(("status", "event_cls"), sorted(TRANSITIONS, key=str))
def test_every_valid_transition(status: OrderStatus, event_cls: type) -> None:
    o = _in_state(status, OrderType.STOP_LIMIT)
    event = _event(event_cls)
    if event_cls is OrderPartiallyFilled and status is S.PARTIALLY_FILLED:
        event = _fill(OrderPartiallyFilled, 30.0, 2)
    if event_cls is OrderFilled and status is S.PARTIALLY_FILLED:
        event = _fill(OrderFilled, 60.0, 2)
    o.apply(event)
    assert o.status is TRANSITIONS[(status, event_cls)]
    assert o.events[-1] is event


INVALID = [(s, e) for s in S for e in EVENTS if (s, e) not in TRANSITIONS]


@pytest.mark.parametrize(("status", "event_cls"), INVALID)
def test_invalid_transitions_raise_and_change_nothing(status: OrderStatus, event_cls: type) -> None:
    o = _in_state(status, OrderType.STOP_LIMIT)
    before = _snapshot(o)
    with pytest.raises(OrderStateError, match="not allowed"):
        o.apply(_event(event_cls, fill_id=5))
    assert _snapshot(o) == before


def test_terminal_states_allow_nothing() -> None:
    terminal = {s for s in S if s.is_terminal}
    assert terminal == {S.FILLED, S.CANCELED, S.REJECTED, S.EXPIRED}
    assert not any(s in terminal for s, _ in TRANSITIONS)


def test_fills_accumulate_with_average_price() -> None:
    o = _in_state(S.ACCEPTED)
    o.apply(_fill(OrderPartiallyFilled, 40.0, 1, price=10.0))
    o.apply(_fill(OrderPartiallyFilled, 20.0, 2, price=13.0))
    assert o.filled_quantity == 60.0
    assert o.leaves_quantity == 40.0
    assert math.isclose(o.avg_price, (400.0 + 260.0) / 60.0)
    o.apply(_fill(OrderFilled, 40.0, 3, price=7.0))
    assert o.status is S.FILLED
    assert o.filled_quantity == 100.0
    assert o.leaves_quantity == 0.0
    assert math.isclose(o.avg_price, (400.0 + 260.0 + 280.0) / 100.0)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (_fill(OrderPartiallyFilled, 10.0, 1), "already applied"),  # duplicate fill id
        (_fill(OrderPartiallyFilled, 70.0, 2), "does not fit"),  # beyond what is left
        (_fill(OrderFilled, 30.0, 2), "would leave"),  # not complete
        (_fill(OrderPartiallyFilled, 60.0, 2), "completes"),  # complete: must be OrderFilled
        (_fill(OrderPartiallyFilled, 0.0, 2), "does not fit"),
        (_fill(OrderPartiallyFilled, 5.0, 2, price=math.nan), "no valid price"),
        (OrderPartiallyFilled(7, 3, 2, "BBB", OrderSide.BUY, 5.0, 10.0, 0.0), "does not match"),
        (OrderPartiallyFilled(7, 3, 2, "AAA", OrderSide.SELL, 5.0, 10.0, 0.0), "does not match"),
        (OrderUpdated(7, 3, quantity=30.0), "already filled"),
        (OrderCanceled(8, 3, "x"), "applied to order"),
    ],
)
def test_bad_fills_and_updates_are_refused_without_change(event: object, message: str) -> None:
    o = _in_state(S.ACCEPTED)
    o.apply(_fill(OrderPartiallyFilled, 40.0, 1))
    before = _snapshot(o)
    with pytest.raises(OrderStateError, match=message):
        o.apply(event)  # type: ignore[arg-type]
    assert _snapshot(o) == before


def test_trigger_only_stop_limits_once() -> None:
    o = _in_state(S.ACCEPTED, OrderType.STOP_LIMIT)
    o.apply(OrderTriggered(7, 1, 11.0))
    assert o.is_triggered
    assert o.status is S.ACCEPTED
    with pytest.raises(OrderStateError, match="twice"):
        o.apply(OrderTriggered(7, 2, 11.0))
    m = _in_state(S.ACCEPTED)
    with pytest.raises(OrderStateError, match="cannot be triggered"):
        m.apply(OrderTriggered(7, 1, 11.0))
    assert not m.is_triggered


def test_update_changes_prices_and_quantity() -> None:
    o = Order(7, "AAA", OrderSide.SELL, 100.0, OrderType.LIMIT, limit_price=12.0)
    o.apply(OrderSubmitted(7, 0))
    o.apply(OrderAccepted(7, 0))
    o.apply(OrderUpdated(7, 1, quantity=50.0, limit_price=12.5))
    assert (o.quantity, o.limit_price, o.status) == (50.0, 12.5, S.ACCEPTED)
    with pytest.raises(OrderStateError, match="no stop price"):
        o.apply(OrderUpdated(7, 1, stop_price=10.0))
    assert o.signed_quantity == -50.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order_type": OrderType.LIMIT}, "positive limit_price"),
        ({"order_type": OrderType.STOP}, "positive stop_price"),
        ({"order_type": OrderType.STOP_LIMIT, "limit_price": 5.0}, "positive stop_price"),
        ({"order_type": OrderType.TRAILING_STOP}, "trail_fraction"),
        ({"order_type": OrderType.TRAILING_STOP, "trail_fraction": 1.5}, "trail_fraction"),
        ({"limit_price": 5.0}, "takes no limit_price"),
        ({"stop_price": 5.0}, "takes no stop_price"),
        ({"trail_fraction": 0.1}, "only trailing_stop"),
        ({"quantity": -3.0}, "positive number"),
        ({"quantity": math.nan}, "positive number"),
    ],
)
def test_malformed_orders_raise(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"quantity": 10.0, **kwargs}
    quantity = args.pop("quantity")
    with pytest.raises(BacktestError, match=message):
        Order(1, "AAA", OrderSide.BUY, quantity, **args)  # type: ignore[arg-type]


def test_enums_and_protection() -> None:
    assert OrderSide.BUY.sign == 1
    assert OrderSide.SELL.sign == -1
    assert TimeInForce("ioc") is TimeInForce.IOC
    assert S.PARTIALLY_FILLED.is_working
    assert not S.SUBMITTED.is_working
    assert not Protection().active
    assert Protection(stop_loss=0.1).active
    with pytest.raises(BacktestError, match="stop_loss"):
        Protection(stop_loss=-0.1)
    assert "limit=9" in repr(_in_state(S.NEW, OrderType.STOP_LIMIT))


def test_a_repeated_fill_id_is_refused_after_any_number_of_fills() -> None:
    # the order keeps one id after its first fill and a set from the second on
    o = _in_state(S.ACCEPTED)
    for fill_id in (1, 2, 3):
        o.apply(_fill(OrderPartiallyFilled, 10.0, fill_id))
        for seen in range(1, fill_id + 1):
            before = _snapshot(o)
            with pytest.raises(OrderStateError, match="already applied"):
                o.apply(_fill(OrderPartiallyFilled, 10.0, seen))
            assert _snapshot(o) == before
    o.apply(_fill(OrderFilled, 70.0, 4))
    assert o.status is S.FILLED
