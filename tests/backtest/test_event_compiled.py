"""Protection orders matched by the compiled kernel give the bar-by-bar path's results, bit for bit.

The kernel (:func:`~alphaloop.execution.guard_kernel.guard_exit`) agrees
with its plain-Python twin and with prices worked out by hand; the event
engine run with ``compiled_protection=True`` and ``False`` gives the same
orders (every field and event), fills, prices, bars, costs, cash, positions
and equity, and the strategy sees the same account on every bar. Streams:
the benchmark's protected crossover (checked against the numbers recorded
before the compiled path existed), real index data, and random panels with
gaps through the stops, missing bars, shorts, every protection type, every
fill timing, participation caps and strategies that add to, cut, reverse,
cancel, modify and look at protected positions (derandomized hypothesis).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alphaloop.backtest.event import Context, EventEngine, EventResult, Strategy
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import CostModel, Protection, RiskLimits, SimulatedBroker
from alphaloop.execution.guard_kernel import (
    EXIT_LIMIT,
    EXIT_NONE,
    EXIT_STOP,
    STOP_FIXED,
    STOP_NONE,
    STOP_TRAILING,
    guard_exit,
    guard_exit_py,
)
from tests.backtest import event_workloads as wl

PROTECTIONS = (
    Protection(stop_loss=0.01),
    Protection(take_profit=0.015),
    Protection(trailing_stop=0.012),
    Protection(stop_loss=0.02, trailing_stop=0.01),  # a trailing stop with a floor
    Protection(stop_loss=0.008, take_profit=0.01),
    Protection(stop_loss=0.01, take_profit=0.02, trailing_stop=0.015),
)


# ------------------------------------------------------------------ kernel
def _bars(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, ...]:
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n, k)), axis=0))
    gap = np.where(rng.random((n, k)) < 0.1, rng.normal(0, 0.03, (n, k)), 0.0)
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(gap + rng.normal(0, 0.003, (n, k)))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.005, (n, k))))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.005, (n, k))))
    for arr in (open_, high, low):
        arr[rng.random((n, k)) < 0.03] = np.nan
    high[np.isnan(low)] = low[np.isnan(high)] = np.nan
    return open_, high, low, close


@pytest.mark.parametrize("seed", range(12))
def test_guard_exit_matches_its_twin(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 120))
    open_, high, low, _ = _bars(rng, n, 2)
    no_open = np.empty((0, 2))
    exits = set()
    for _ in range(40):
        sign = int(rng.choice([-1, 1]))
        entry = float(rng.uniform(90, 110))
        kind = int(rng.choice([STOP_NONE, STOP_FIXED, STOP_TRAILING]))
        floor = float(rng.choice([np.nan, entry * (1 + sign * rng.uniform(0.005, 0.05))]))
        if kind == STOP_FIXED and np.isnan(floor):
            floor = entry * (1 + sign * 0.02)
        limit = float(rng.choice([np.nan, entry * (1 - sign * rng.uniform(0.005, 0.05))]))
        if kind == STOP_NONE and np.isnan(limit):
            limit = entry * (1 - sign * 0.01)
        first = int(rng.integers(0, n))
        args = (open_ if rng.random() < 0.8 else no_open, high, low, int(rng.integers(0, 2)),
                first, first + int(rng.integers(0, 2)), n, sign, kind, floor,
                float(rng.uniform(0.005, 0.05)), entry, limit)  # fmt: skip
        got, want = guard_exit(*args), guard_exit_py(*args)
        assert got[:2] == want[:2]
        assert got[3] == want[3]
        np.testing.assert_array_equal(got[2], want[2])
        exits.add(want[1])
    assert EXIT_STOP in exits  # both kinds of exit were exercised
    assert EXIT_LIMIT in exits


def test_guard_exit_by_hand() -> None:
    o = np.array([[100.0], [100.5], [98.0], [101.0], [104.0]])
    h = np.array([[101.0], [102.0], [99.0], [103.0], [105.0]])
    lo = np.array([[99.5], [100.0], [97.0], [np.nan], [100.0]])
    nan = np.nan
    # a long entered at 100: a 1% stop (99) gapped through at bar 2's open fills at 98
    assert guard_exit_py(o, h, lo, 0, 1, 1, 5, -1, STOP_FIXED, 99.0, 0.0, 100.0, 102.5) == (
        2, EXIT_STOP, 98.0, False)  # fmt: skip
    # the take profit at 101.5 is inside bar 1's range first
    assert guard_exit_py(o, h, lo, 0, 1, 1, 5, -1, STOP_FIXED, 98.5, 0.0, 100.0, 101.5) == (
        1, EXIT_LIMIT, 101.5, False)  # fmt: skip
    # both inside bar 1 (stop 100.2, limit 101.5): the stop first, at its level
    assert guard_exit_py(o, h, lo, 0, 1, 1, 5, -1, STOP_FIXED, 100.2, 0.0, 100.0, 101.5)[:3] == (
        1, EXIT_STOP, 100.2)  # fmt: skip
    # a 1% trailing stop from 100: bar 1 (level 99) no; best 102 -> level 100.98 on bar 2,
    # which opens at 98 beyond it: filled at the open, the trailing part set the level
    assert guard_exit_py(o, h, lo, 0, 1, 1, 5, -1, STOP_TRAILING, nan, 0.01, 100.0, nan) == (
        2, EXIT_STOP, 98.0, True)  # fmt: skip
    # with a floor of 99.5 above the trailing level on bar 1, the floor is the level
    assert guard_exit_py(o, h, lo, 0, 1, 2, 5, -1, STOP_TRAILING, 100.0, 0.5, 100.0, nan) == (
        1, EXIT_STOP, 100.0, False)  # fmt: skip
    # bar 3 has no low: skipped; a buy take profit at 100.5 for a short waits for bar 4
    assert guard_exit_py(o[3:], h[3:], lo[3:], 0, 0, 0, 2, 1, STOP_NONE, nan, 0.0, 103.0,
                         100.5) == (1, EXIT_LIMIT, 100.5, False)  # fmt: skip
    # nothing reached: no exit
    assert guard_exit_py(o, h, lo, 0, 0, 0, 2, -1, STOP_FIXED, 50.0, 0.0, 100.0, 200.0)[:2] == (
        2, EXIT_NONE)  # fmt: skip


# ------------------------------------------------------------ both paths
def numbers(result: EventResult) -> dict[str, np.ndarray]:
    """Everything a run produced, as arrays (orders with every event field)."""
    order_numbers, order_texts = wl._orders(result)
    trades = result.trades
    return {
        "equity": result.equity.to_numpy(),
        "bar_costs": result.bar_costs.to_numpy(),
        "costs": np.array(list(result.costs.values())),
        "trades": trades.drop(columns=["time", "asset", "reason", "liquidity"]).to_numpy(
            np.float64
        ),
        "liquidity": trades["liquidity"].to_numpy(dtype=str),
        "trade_texts": (
            trades["time"].astype(str)
            + "|"
            + trades["asset"].astype(str)
            + "|"
            + trades["reason"].astype(str)
        ).to_numpy(dtype=str),
        "round_trips": result.round_trips[["pnl", "costs", "return"]].to_numpy(np.float64),
        "order_numbers": order_numbers,
        "order_texts": order_texts,
    }


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert sorted(a) == sorted(b)
    for key, want in a.items():
        np.testing.assert_array_equal(b[key], want, err_msg=key, strict=True)


def both(make: Any, panel: Panel, **settings: Any) -> tuple[Any, Any, dict[str, int]]:
    """Run ``make()`` bar by bar and compiled; each outcome (numbers and what the
    strategy saw, or the error), and the compiled run's counts."""
    out = []
    counts: dict[str, int] = {}
    for compiled in (False, True):
        strategy = make()
        broker = SimulatedBroker(panel, **settings)
        try:
            result = EventEngine(panel, strategy, broker=broker,
                                 compiled_protection=compiled).run()  # fmt: skip
            out.append((numbers(result), np.array(getattr(strategy, "seen", []))))
        except BacktestError as exc:
            out.append(str(exc))
        if compiled:
            counts = broker.armed.counts
        else:
            assert broker.armed.counts["armed"] == 0
    return out[0], out[1], counts


def assert_both_same(make: Any, panel: Panel, **settings: Any) -> dict[str, int]:
    slow, fast, counts = both(make, panel, **settings)
    assert type(slow) is type(fast), slow if isinstance(slow, str) else fast
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert_same(slow[0], fast[0])
        np.testing.assert_array_equal(fast[1], slow[1], err_msg="seen", strict=True)
    return counts


class Quiet(wl.Signals):
    """The benchmark's protected crossover without ``on_order`` (nobody listens)."""

    on_order = Strategy.on_order


@pytest.mark.parametrize("name", ["c-protected", "c-protected-scheduled"])
def test_benchmark_workload_compiled_matches_the_recording(name: str) -> None:
    panel, listening, settings = wl.WORKLOADS[name]()
    strategy = Quiet(wl.crossovers(np.asarray(panel["close"])), listening.mask is not None, True)
    broker = SimulatedBroker(panel, **settings)
    result = EventEngine(panel, strategy, broker=broker).run()
    assert broker.armed.counts["settled"] > 300
    assert broker.armed.counts["materialized"] <= 1  # at most the pair still open at the end
    want = wl.load_reference(name)
    got = numbers(result)
    assert set(got["liquidity"]) <= {"maker", "taker"}  # recorded before fills had the flag
    del got["liquidity"]
    for key, value in got.items():
        np.testing.assert_array_equal(value, want[key], err_msg=key, strict=True)
    np.testing.assert_array_equal(np.array(strategy.seen).reshape(-1, 4), want["seen"])


class Crossing(Strategy):
    """Long on up-crosses, short on down-crosses, each entry protected; records the account."""

    def __init__(self, protection: Protection, short: bool) -> None:
        self.protection, self.short = protection, short
        self.seen: list[float] = []

    def on_start(self, ctx: Context) -> None:
        # a causal signal (each row reads closes up to it), computed once as the benchmark does
        self.signal = wl.crossovers(np.asarray(ctx._panel["close"]))

    def on_bar(self, ctx: Context, row: int) -> None:
        for j, asset in enumerate(ctx.assets):
            s = self.signal[row, j]
            if s and ctx.position(asset) == 0 and (s > 0 or self.short):
                ctx.order(asset, 10.0 * s, protection=self.protection)
        self.seen += (row, ctx.cash, ctx.equity, *map(ctx.position, ctx.assets))


@pytest.mark.parametrize("fills", ["next_open", "next_close", "same_close"])
def test_real_index_data_same_both_ways(shared_workspace: Any, fills: str) -> None:
    a = shared_workspace.data.load("sp500-ohlcv")
    b = shared_workspace.data.load("nasdaq-ohlcv")
    names = ("open", "high", "low", "close", "volume")
    panel = Panel(a.index, ["SP500", "NASDAQ"], {f: np.hstack([a[f], b[f]]) for f in names})
    for k, protection in enumerate(PROTECTIONS):
        counts = assert_both_same(lambda p=protection, k=k: Crossing(p, short=k % 2 == 0), panel,
                                  fills=fills, allow_short=True, max_leverage=2.0)  # fmt: skip
        assert counts["settled"] > 10


# ------------------------------------------------------------- random flows
class Prodder(Strategy):
    """Random entries with random protection; adds, cuts, reverses, cancels, modifies, looks."""

    def __init__(self, seed: int, short: bool, meddle: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.short, self.meddle = short, meddle
        self.seen: list[float] = []

    def on_bar(self, ctx: Context, row: int) -> None:
        rng = self.rng
        for asset in ctx.assets:
            price = ctx.price(asset)
            if not price > 0:
                continue
            pos = ctx.position(asset)
            protection = PROTECTIONS[int(rng.integers(len(PROTECTIONS)))]
            if pos == 0 and rng.random() < 0.15:
                sign = -1.0 if self.short and rng.random() < 0.5 else 1.0
                kind = "market" if rng.random() < 0.8 else "limit"
                kw = {"limit_price": price * (1 - sign * 0.002)} if kind == "limit" else {}
                ctx.order(asset, sign * 10.0 * int(rng.integers(1, 5)), kind,
                          protection=protection, **kw)  # fmt: skip
            elif pos and rng.random() < self.meddle:
                what = int(rng.integers(4))
                if what == 0:  # add, reprotected or not
                    ctx.order(asset, np.sign(pos) * 10.0,
                              protection=protection if rng.random() < 0.5 else None)  # fmt: skip
                elif what == 1:  # cut, or reverse when shorts are on
                    ctx.order(asset, -pos * (2.0 if self.short and rng.random() < 0.3 else 0.5))
                elif what == 2:
                    working = ctx.open_orders(asset)
                    if working:
                        order = working[int(rng.integers(len(working)))]
                        if rng.random() < 0.5:
                            ctx.cancel(order)
                        elif order.stop_price is not None:
                            ctx.modify(order, stop_price=order.stop_price * 0.999)
                        elif order.limit_price is not None:
                            ctx.modify(order, limit_price=order.limit_price * 1.001)
                else:
                    self.seen += (row, len(ctx.open_orders()))
        if rng.random() < 0.01:
            w = rng.uniform(0.0, 0.3, len(ctx.assets))
            ctx.rebalance_to_weights(w, protection=PROTECTIONS[int(rng.integers(6))])
        self.seen += (row, ctx.cash, ctx.equity, *map(ctx.position, ctx.assets))


def random_panel(seed: int, n: int, k: int, freq: str, open_gaps: bool) -> Panel:
    """Bars with gaps at the open; 3% of the cells without a high and low (the resting
    orders skip them) and, with ``open_gaps``, 3% without an open (market orders fill
    at the close then, or there would be no price)."""
    rng = np.random.default_rng(seed)
    open_, high, low, close = _bars(rng, n, k)
    open_ = np.where(np.isnan(open_) & ~open_gaps, close, open_)
    volume = np.rint(rng.lognormal(np.log(2e3), 0.7, (n, k)))
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    index = pd.date_range("2001-01-02", periods=n, freq=freq, tz="UTC")
    return Panel(index, [f"X{j}" for j in range(k)], fields)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_assets=st.integers(1, 3),
    fills=st.sampled_from(["next_open", "next_close", "same_close"]),
    short=st.booleans(),
    participation=st.sampled_from([None, None, 0.02, 0.3]),
    meddle=st.sampled_from([0.0, 0.0, 0.05, 0.3]),
    freq=st.sampled_from(["15min", "D"]),
)
def test_random_streams_same_both_ways(
    seed: int, n_assets: int, fills: str, short: bool, participation: float | None,
    meddle: float, freq: str,
) -> None:  # fmt: skip
    panel = random_panel(seed, 300, n_assets, freq, open_gaps=fills != "next_open")
    settings_: dict[str, Any] = {"fills": fills, "allow_short": short, "initial_capital": 1e5,
                                 "max_leverage": 2.0 if short else 1.0}  # fmt: skip
    if participation is not None:
        settings_.update(participation=participation, lot_size=1.0)
    counts = assert_both_same(lambda: Prodder(seed, short, meddle), panel, **settings_)
    if meddle == 0.0 and participation is None:
        assert counts["armed"] == 0 or counts["settled"] > 0


class Listening(Crossing):
    def on_fill(self, ctx: Context, fill: Any) -> None:
        self.seen.append((fill.row, fill.price))


@pytest.mark.parametrize(
    ("make", "settings", "armed"),
    [
        (lambda: Crossing(PROTECTIONS[-1], short=False), {}, True),
        (lambda: Listening(PROTECTIONS[-1], short=False), {}, False),  # hears every event
        (
            lambda: Crossing(PROTECTIONS[-1], short=False),
            {"risk": RiskLimits(max_order_notional=1e9)},  # the risk gate observes events
            False,
        ),
    ],
)
def test_compiled_path_only_where_nobody_hears_the_events(
    make: Any, settings: dict[str, Any], armed: bool
) -> None:
    panel = random_panel(3, 400, 1, "D", open_gaps=False)
    broker = SimulatedBroker(panel, **settings)
    result = EventEngine(panel, make(), broker=broker).run()
    assert (broker.armed.counts["armed"] > 0) is armed
    assert broker.armed.enabled is armed
    assert any(o.reason == "take_profit" for o in result.orders)
    slow = EventEngine(panel, make(), compiled_protection=False, **settings).run()
    assert_same(numbers(slow), numbers(result))


# ------------------------------------------------------------------- maker fees
#: the equity defaults plus a 5 bps percentage commission; resting limits earn 1.5 bps
MAKER = CostModel(commission_bps=5.0, maker_commission_bps=-1.5)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_assets=st.integers(1, 3),
    fills=st.sampled_from(["next_open", "next_close", "same_close"]),
    short=st.booleans(),
    participation=st.sampled_from([None, None, 0.3]),
    meddle=st.sampled_from([0.0, 0.05, 0.3]),
)
def test_random_streams_with_a_maker_fee_same_both_ways(
    seed: int, n_assets: int, fills: str, short: bool, participation: float | None,
    meddle: float,
) -> None:  # fmt: skip
    panel = random_panel(seed, 300, n_assets, "D", open_gaps=fills != "next_open")
    settings_: dict[str, Any] = {"fills": fills, "allow_short": short, "initial_capital": 1e5,
                                 "max_leverage": 2.0 if short else 1.0, "costs": MAKER}  # fmt: skip
    if participation is not None:
        settings_.update(participation=participation, lot_size=1.0)
    assert_both_same(lambda: Prodder(seed, short, meddle), panel, **settings_)


@pytest.mark.parametrize("fills", ["next_open", "next_close"])
def test_a_maker_fee_is_charged_alike_both_ways_and_moves_only_maker_fills(fills: str) -> None:
    panel = random_panel(11, 400, 2, "D", open_gaps=False)
    kw: dict[str, Any] = {"fills": fills, "allow_short": True, "max_leverage": 2.0}
    for make in (
        lambda: Prodder(5, short=True, meddle=0.3),
        lambda: Crossing(PROTECTIONS[-1], short=True),
    ):
        slow, fast, counts = both(make, panel, costs=MAKER, **kw)
        assert not isinstance(slow, str)
        assert not isinstance(fast, str)
        assert_same(slow[0], fast[0])
        liquidity = slow[0]["liquidity"]
        assert "maker" in liquidity
        assert "taker" in liquidity
        assert counts["settled"] > 0
    # Crossing trades fixed sizes: without the maker fee it makes the same fills, and
    # only the maker fills' commission moves (by 5 + 1.5 bps of their notional)
    no_fee = MAKER.model_copy(update={"maker_commission_bps": None})
    plain, _, _ = both(lambda: Crossing(PROTECTIONS[-1], short=True), panel, costs=no_fee, **kw)
    assert not isinstance(plain, str)
    np.testing.assert_array_equal(plain[0]["liquidity"], liquidity)
    got, want = slow[0]["trades"], plain[0]["trades"]  # shares, price, notional, commission, ...
    maker = liquidity == "maker"
    np.testing.assert_array_equal(got[:, :3], want[:, :3])
    np.testing.assert_array_equal(got[~maker, 3], want[~maker, 3])
    np.testing.assert_allclose(got[maker, 3] - want[maker, 3], -6.5e-4 * got[maker, 2], rtol=1e-9)
    np.testing.assert_array_equal(got[:, 4:8], want[:, 4:8])  # fees, spread, slippage, impact
