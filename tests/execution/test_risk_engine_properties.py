"""Property: no sequence of orders, fills and prices takes the book past a limit unseen.

A reference book (positions and cash, kept by the test) follows the same
fills. After every step: if a filled position, the gross or net exposure
passes its limit at the current prices the engine is not ACTIVE; if the
day's loss or the drawdown reached its limit the engine is HALTED; and the
engine's equity is the reference's.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.execution import RiskEngine, RiskLimits, TradingState

ASSETS = ("A", "B", "C", "D")
CAPITAL = 100_000.0
LIMITS = RiskLimits(
    max_weight=0.3, max_gross=1.0, max_net=0.6, max_daily_loss=0.04, max_drawdown=0.1,
    max_order_notional=40_000,
)  # fmt: skip

# an order for x * equity of one asset, filled at once in part (y) or left working
op = st.one_of(
    st.tuples(st.just("trade"), st.integers(0, 3), st.floats(-0.35, 0.35), st.floats(0, 1)),
    st.tuples(st.just("fill"), st.integers(0, 50), st.floats(0.1, 1.0), st.just(0.0)),
    st.tuples(st.just("cancel"), st.integers(0, 50), st.just(0.0), st.just(0.0)),
    st.tuples(st.just("move"), st.integers(0, 3), st.floats(-0.2, 0.2), st.just(0.0)),
    st.tuples(st.just("day"), st.just(0), st.just(0.0), st.just(0.0)),
)


def _check(eng: RiskEngine, pos: list[float], cash: float, px: list[float], peak: float,
           day_open: float) -> None:  # fmt: skip
    equity = cash + sum(p * x for p, x in zip(pos, px, strict=True))
    assert math.isclose(eng.equity, equity, rel_tol=1e-9, abs_tol=1e-6)
    exposures = [abs(p * x) for p, x in zip(pos, px, strict=True)]
    net = abs(sum(p * x for p, x in zip(pos, px, strict=True)))
    over = (
        max(exposures) > LIMITS.max_weight * equity * (1 + 1e-9)
        or sum(exposures) > LIMITS.max_gross * equity * (1 + 1e-9)
        or net > LIMITS.max_net * equity * (1 + 1e-9)
    )
    if over:
        assert eng.state is not TradingState.ACTIVE
    if (day_open - equity) / day_open >= LIMITS.max_daily_loss - 1e-12:
        assert eng.state is TradingState.HALTED
    if (peak - equity) / peak >= LIMITS.max_drawdown - 1e-12:
        assert eng.state is TradingState.HALTED


@settings(max_examples=300)
@given(st.lists(op, min_size=20, max_size=80))
def test_no_sequence_passes_a_limit_without_a_refusal_or_halt(ops):
    px = [100.0, 50.0, 20.0, 10.0]
    eng = RiskEngine(LIMITS, ASSETS, CAPITAL)
    eng.mark(px, now=0.0, new_day=True)
    pos = [0.0] * 4
    cash = CAPITAL
    peak = day_open = CAPITAL
    next_id = 1

    def fill(oid: int, x: float, now: int) -> None:
        nonlocal cash
        j, remaining = eng.open[oid]
        q = remaining if x > 0.7 else remaining * x
        price = px[j] * (1 + (x - 0.5) * 0.01)  # fills near the last price
        px[j] = price
        eng.on_fill(oid, ASSETS[j], q, price, cost=abs(q) * price * 1e-4, now=now)
        pos[j] += q
        cash -= q * price + abs(q) * price * 1e-4

    for now, (kind, a, x, y) in enumerate(ops, start=1):
        ids = sorted(eng.open)
        if kind == "trade":
            q = round(x * CAPITAL / px[a])
            if q and eng.submit(next_id, ASSETS[a], q, now=now) is None and y > 0.2:
                fill(next_id, y, now)
            next_id += 1
        elif kind == "fill" and ids:
            fill(ids[a % len(ids)], x, now)
        elif kind == "cancel" and ids:
            eng.on_done(ids[a % len(ids)], now=now)
        elif kind == "move":
            px[a] *= 1 + x
            eng.mark([p if j == a else math.nan for j, p in enumerate(px)], now=now)
        elif kind == "day":
            day_open = cash + sum(p * q for p, q in zip(px, pos, strict=True))
            eng.mark(px, now=now, new_day=True)
        equity = cash + sum(p * q for p, q in zip(px, pos, strict=True))
        peak = max(peak, equity)
        _check(eng, pos, cash, px, peak, day_open)
    # every transition is recorded with a reason
    assert all(t.reason for t in eng.transitions)
    for t in eng.transitions:
        assert t.before is not t.after


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(-800, 800)), min_size=1, max_size=40))
def test_accepted_orders_alone_never_pass_a_limit_at_the_check_prices(orders):
    eng = RiskEngine(LIMITS, ASSETS, CAPITAL)
    eng.mark([100.0, 50.0, 20.0, 10.0])
    for k, (a, q) in enumerate(orders):
        if round(q) == 0:
            continue
        eng.submit(k, ASSETS[a], round(q))
        worst = [max(abs(p + b), abs(p - s)) * x for p, b, s, x in
                 zip(eng.pos, eng.open_buy, eng.open_sell, eng.price, strict=True)]  # fmt: skip
        assert max(worst) <= LIMITS.max_weight * CAPITAL * (1 + 1e-9)
        assert sum(worst) <= LIMITS.max_gross * CAPITAL * (1 + 1e-9)
        assert eng.state is TradingState.ACTIVE
