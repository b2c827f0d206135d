"""Venue snapshots to order events: each fill once, in any order of arrival."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.execution import (
    Order,
    OrderAccepted,
    OrderCanceled,
    OrderExpired,
    OrderFilled,
    OrderPartiallyFilled,
    OrderRejected,
    OrderSide,
    OrderStatus,
    OrderSubmitted,
)
from alphaloop.execution.brokers import OrderTracker, VenueOrderState, VenueStatus

OPEN, FILLED = VenueStatus.OPEN, VenueStatus.FILLED


def tracked(quantity: float = 10.0) -> tuple[OrderTracker, Order]:
    tracker = OrderTracker("t")
    order = Order(1, "AAPL", OrderSide.BUY, quantity)
    order.apply(OrderSubmitted(1, 0))
    tracker.track(order)
    return tracker, order


def snap(status=OPEN, filled=0.0, avg=None, fee=0.0, cid="t-1"):
    return VenueOrderState(cid, "v1", status, filled, avg, fee)


def test_acceptance_then_fills_from_cumulative_quantities():
    tracker, order = tracked()
    assert [type(e) for e in tracker.apply(snap(), 5)] == [OrderAccepted]
    (part,) = tracker.apply(snap(filled=4, avg=100.0, fee=0.4), 6)
    assert (type(part), part.quantity, part.price, part.cost, part.row) == (
        OrderPartiallyFilled,
        4.0,
        100.0,
        0.4,
        6,
    )
    (last,) = tracker.apply(snap(FILLED, filled=10, avg=101.2, fee=1.0), 7)
    assert type(last) is OrderFilled
    assert last.quantity == 6.0
    assert last.price == pytest.approx((101.2 * 10 - 400) / 6)  # this fill's own price
    assert last.cost == pytest.approx(0.6)
    assert order.avg_price == pytest.approx(101.2)
    assert last.fill_id != part.fill_id


def test_repeated_and_stale_snapshots_emit_nothing():
    tracker, _ = tracked()
    tracker.apply(snap(filled=4, avg=100.0), 1)
    assert tracker.apply(snap(filled=4, avg=100.0), 2) == []
    assert tracker.apply(snap(filled=2, avg=100.0), 3) == []  # older than what we know
    assert tracker.apply(snap(VenueStatus.PENDING), 3) == []


def test_first_snapshot_may_already_be_filled():
    tracker, order = tracked()
    events = tracker.apply(snap(FILLED, filled=10, avg=99.0), 1)
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    assert order.status is OrderStatus.FILLED
    assert tracker.apply(snap(FILLED, filled=10, avg=99.0), 2) == []


def test_cancel_after_partial_fill_keeps_the_fill_and_reason():
    tracker, order = tracked()
    tracker.apply(snap(filled=3, avg=50.0), 1)
    events = tracker.apply(
        VenueOrderState("t-1", "v1", VenueStatus.CANCELED, 5.0, 50.4, 0.0, "canceled"), 2
    )
    assert [type(e) for e in events] == [OrderPartiallyFilled, OrderCanceled]
    assert events[0].quantity == 2.0
    assert events[0].price == pytest.approx(51.0)
    assert order.filled_quantity == 5.0
    assert order.status is OrderStatus.CANCELED


def test_rejection_and_expiry():
    tracker, order = tracked()
    (rejected,) = tracker.apply(
        VenueOrderState("t-1", None, VenueStatus.REJECTED, reason="no funds"), 1
    )
    assert type(rejected) is OrderRejected
    assert order.status is OrderStatus.REJECTED
    assert rejected.reason == "no funds"
    tracker, _order = tracked()
    events = tracker.apply(snap(VenueStatus.EXPIRED), 1)
    assert [type(e) for e in events] == [OrderAccepted, OrderExpired]


def test_snapshots_of_other_orders_are_ignored():
    tracker, _ = tracked()
    assert tracker.apply(snap(filled=1, avg=1.0, cid="manual-order"), 1) == []
    assert tracker.apply(snap(filled=1, avg=1.0, cid="t-99"), 1) == []
    assert tracker.apply(snap(filled=1, avg=1.0, cid="other-1"), 1) == []


@given(
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_any_arrival_order_with_drops_and_repeats_fills_exactly_once(sizes, rnd):
    """Venue fills of ``sizes``; snapshots arrive shuffled, some twice, some never,
    and the last one always (as reconciliation guarantees)."""
    total = float(sum(sizes))
    tracker, order = tracked(total)
    snaps, done, paid = [], 0.0, 0.0
    for i, size in enumerate(sizes):
        done += size
        paid += size * (100.0 + i)
        status = FILLED if done == total else OPEN
        snaps.append(snap(status, filled=done, avg=paid / done))
    arrivals = [s for s in snaps if rnd.random() < 0.7] + rnd.sample(snaps, k=len(snaps) // 2)
    rnd.shuffle(arrivals)
    events = []
    for s in [*arrivals, snaps[-1]]:
        events += tracker.apply(s, 0)
    got = [e for e in events if isinstance(e, (OrderPartiallyFilled, OrderFilled))]
    assert sum(e.quantity for e in got) == pytest.approx(total)
    assert sum(e.quantity * e.price for e in got) == pytest.approx(paid)
    assert order.status is OrderStatus.FILLED
    assert isinstance(got[-1], OrderFilled)
