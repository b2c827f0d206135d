"""Seeded event-engine workloads whose every number is recorded, for the parity test.

The benchmark's strategies (``bench/bench_event.py``: a moving-average
crossover with market orders, read bar by bar, from a precomputed signal, or
on a schedule; and entries protected by a stop loss, a trailing stop and a
take profit) at reduced sizes, plus a random order flow that uses every order
type, time in force, fill timing, cancels, modifications, protection,
rebalances and a participation cap.

:func:`record` runs one workload and returns its numbers as arrays: equity,
per-bar costs and gross value, the fills, the round trips, every order's
event history (as a numeric table plus the event names and reasons), and
what the strategy saw through its context. ``tests/backtest/data/
event_parity.npz`` holds them as the engine produced them before its hot path
was rewritten; ``test_event_parity.py`` requires the same today.

Re-record (only when a change of behaviour is intended and documented)::

    python -m tests.backtest.event_workloads
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.backtest.event import Context, EventEngine, EventResult, Strategy
from alphaloop.data.panel import Panel
from alphaloop.execution import OrderEvent, Protection
from alphaloop.execution.costs import CostModel

REFERENCE = Path(__file__).parent / "data" / "event_parity.npz"
FAST, SLOW, SIZE = 10, 30, 100.0
_EVENT_FIELDS = ("row", "fill_id", "quantity", "price", "cost", "limit_price", "stop_price")


# ------------------------------------------------------------------ data
def make_panel(n_bars: int, n_assets: int, seed: int, freq: str = "min") -> Panel:
    """Driftless OHLCV walks, 0.2% volatility per bar (the benchmark's data recipe)."""
    rng = np.random.default_rng(seed)
    shape = (n_bars, n_assets)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, shape), axis=0))
    prev = np.vstack([np.full(n_assets, 100.0), close[:-1]])
    open_ = prev * np.exp(rng.normal(0.0, 0.003, shape))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.005, shape)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.005, shape)))
    volume = np.rint(rng.lognormal(np.log(1e6), 0.5, shape))
    fields = {"open": open_, "high": high, "low": low, "close": close, "volume": volume}
    index = pd.date_range("2000-01-03", periods=n_bars, freq=freq, tz="UTC")
    return Panel(index, [f"A{j:03d}" for j in range(n_assets)], fields)


def crossovers(close: np.ndarray) -> np.ndarray:
    """+1 where the fast average crosses above the slow one, -1 below, else 0 (causal)."""
    sums = np.vstack([np.zeros((1, close.shape[1])), np.cumsum(close, axis=0)])

    def average(window: int) -> np.ndarray:
        out = np.full(close.shape, np.nan)
        out[window - 1 :] = (sums[window:] - sums[:-window]) / window
        return out

    diff = average(FAST) - average(SLOW)
    out = np.zeros(close.shape, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        out[1:][(diff[:-1] < 0) & (diff[1:] > 0)] = 1
        out[1:][(diff[:-1] > 0) & (diff[1:] < 0)] = -1
    return out


# ------------------------------------------------------------ strategies
class Watching(Strategy):
    """Writes down every order event it hears and the account it sees on its bars."""

    def __init__(self) -> None:
        self.heard: list[OrderEvent] = []
        self.seen: list[tuple[float, ...]] = []

    def on_order(self, ctx: Context, event: OrderEvent) -> None:
        self.heard.append(event)

    def look(self, ctx: Context, row: int) -> None:
        self.seen.append((row, ctx.cash, ctx.equity, len(ctx.open_orders())))


class NextStyle(Watching):
    """The benchmark's ``next()``-style crossover: moving averages kept bar by bar."""

    def on_start(self, ctx: Context) -> None:
        n = len(ctx.assets)
        self.window: list[list[float]] = [[] for _ in range(n)]
        self.sums = [[0.0, 0.0] for _ in range(n)]
        self.prev: list[float | None] = [None] * n

    def on_bar(self, ctx: Context, row: int) -> None:
        for j, asset in enumerate(ctx.assets):
            x = ctx.price(asset)
            window, sums = self.window[j], self.sums[j]
            window.append(x)
            sums[0] += x
            sums[1] += x
            n = len(window)
            if n > FAST:
                sums[0] -= window[-FAST - 1]
            if n > SLOW:
                sums[1] -= window.pop(0)
            if n < SLOW:
                continue
            d = sums[0] / FAST - sums[1] / SLOW
            prev, self.prev[j] = self.prev[j], d
            if prev is None:
                continue
            if prev < 0 < d:
                if ctx.position(asset) == 0:
                    ctx.order(asset, SIZE)
                    self.look(ctx, row)
            elif prev > 0 > d:
                pos = ctx.position(asset)
                if pos > 0:
                    ctx.order(asset, -pos)


class Signals(Watching):
    """The benchmark's precomputed crossover, read every bar or on a schedule."""

    def __init__(self, signal: np.ndarray, scheduled: bool, protect: bool) -> None:
        super().__init__()
        self.rows: dict[int, list[int]] = {}
        for t, j in zip(*np.nonzero(signal), strict=True):
            self.rows.setdefault(int(t), []).append(int(j))
        self.signal = signal
        self.mask = signal.any(axis=1) if scheduled else None
        self.protection = (
            Protection(stop_loss=0.01, take_profit=0.02, trailing_stop=0.015) if protect else None
        )

    def schedule(self, ctx: Context) -> np.ndarray | None:
        return self.mask

    def on_bar(self, ctx: Context, row: int) -> None:
        for j in self.rows.get(row, ()):
            asset = ctx.assets[j]
            pos = ctx.position(asset)
            if self.signal[row, j] > 0:
                if pos == 0:
                    ctx.order(asset, SIZE, protection=self.protection)
                    self.look(ctx, row)
            elif pos > 0 and self.protection is None:
                ctx.order(asset, -pos)


class RandomFlow(Watching):
    """Random orders of every type and time in force, cancels, modifications, rebalances."""

    def __init__(self, seed: int, rate: float = 0.08) -> None:
        super().__init__()
        self.rng = np.random.default_rng(seed)
        self.rate = rate
        self.protections = (
            None,
            Protection(stop_loss=0.004),
            Protection(take_profit=0.006, trailing_stop=0.003),
            Protection(stop_loss=0.005, take_profit=0.004, trailing_stop=0.002),
        )

    def on_bar(self, ctx: Context, row: int) -> None:
        rng = self.rng
        if rng.random() < 0.1:
            self.look(ctx, row)
        for asset in ctx.assets:
            if rng.random() < self.rate:
                self._place(ctx, asset, ctx.price(asset))
        working = ctx.open_orders()
        if working and rng.random() < 0.05:
            ctx.cancel(working[int(rng.integers(len(working)))])
            working = ctx.open_orders()
        if working and rng.random() < 0.05:
            self._modify(ctx, working[int(rng.integers(len(working)))])
        if rng.random() < 0.01:
            w = rng.uniform(-0.4, 0.4, len(ctx.assets))
            w[rng.random(len(w)) < 0.3] = np.nan
            protection = self.protections[int(rng.integers(len(self.protections)))]
            ctx.rebalance_to_weights(w, protection=protection)

    def _place(self, ctx: Context, asset: str, price: float) -> None:
        rng = self.rng
        sign = 1.0 if rng.random() < 0.5 else -1.0
        qty = sign * 50.0 * int(rng.integers(1, 20))
        kind = str(rng.choice(["market", "limit", "stop", "stop_limit", "trailing_stop"]))
        tif = str(rng.choice(["gtc", "day", "ioc", "fok"], p=[0.45, 0.35, 0.1, 0.1]))
        off = float(rng.uniform(0.0005, 0.01))
        protection = self.protections[int(rng.integers(len(self.protections)))]
        kw: dict[str, Any] = {"time_in_force": tif, "protection": protection}
        if kind == "limit":
            kw["limit_price"] = price * (1.0 - sign * off)
        elif kind == "stop":
            kw["stop_price"] = price * (1.0 + sign * off)
        elif kind == "stop_limit":
            kw["stop_price"] = price * (1.0 + sign * off)
            kw["limit_price"] = kw["stop_price"] * (1.0 + sign * float(rng.uniform(-0.002, 0.004)))
        elif kind == "trailing_stop":
            kw["trail_fraction"] = float(rng.uniform(0.001, 0.01))
            if rng.random() < 0.4:
                kw["stop_price"] = price * (1.0 + sign * off * 2.0)
        ctx.order(asset, qty, kind, **kw)

    def _modify(self, ctx: Context, order: Any) -> None:
        rng = self.rng
        what = int(rng.integers(3))
        if what == 0:
            ctx.modify(order, quantity=order.filled_quantity + 50.0 * int(rng.integers(1, 10)))
        elif what == 1 and order.limit_price is not None:
            ctx.modify(order, limit_price=order.limit_price * float(rng.uniform(0.995, 1.005)))
        elif what == 2 and order.stop_price is not None:
            ctx.modify(order, stop_price=order.stop_price * float(rng.uniform(0.995, 1.005)))


# ------------------------------------------------------------- workloads
def _bench(route: str, n_bars: int, n_assets: int) -> Callable[[], tuple[Panel, Any, dict]]:
    def build() -> tuple[Panel, Any, dict]:
        panel = make_panel(n_bars, n_assets, seed=7)
        signal = crossovers(np.asarray(panel["close"]))
        strategy = {
            "next-style": NextStyle,
            "indicators": lambda: Signals(signal, scheduled=False, protect=False),
            "scheduled": lambda: Signals(signal, scheduled=True, protect=False),
            "protected": lambda: Signals(signal, scheduled=False, protect=True),
            "protected-scheduled": lambda: Signals(signal, scheduled=True, protect=True),
        }[route]()
        costs = CostModel.zero().model_copy(update={"commission_bps": 10.0})
        cash = 1e8 if route.startswith("protected") else 1e6
        return panel, strategy, {"costs": costs, "initial_capital": cash}

    return build


def _random(fills: str, seed: int, **settings: Any) -> Callable[[], tuple[Panel, Any, dict]]:
    def build() -> tuple[Panel, Any, dict]:
        panel = make_panel(2_000, 3, seed=seed, freq="15min")
        kw = {"fills": fills, "allow_short": True, "max_leverage": 3.0, **settings}
        return panel, RandomFlow(seed), kw

    return build


WORKLOADS: dict[str, Callable[[], tuple[Panel, Any, dict]]] = {
    "a-next-style": _bench("next-style", 20_000, 1),
    "a-indicators": _bench("indicators", 20_000, 1),
    "a-scheduled": _bench("scheduled", 20_000, 1),
    "b-indicators": _bench("indicators", 3_000, 5),
    "b-scheduled": _bench("scheduled", 3_000, 5),
    "c-protected": _bench("protected", 40_000, 1),
    "c-protected-scheduled": _bench("protected-scheduled", 40_000, 1),
    "random-next-open": _random("next_open", 11),
    "random-next-close": _random("next_close", 12),
    "random-same-close": _random("same_close", 13),
    "random-participation": _random("next_open", 14, participation=0.0003, lot_size=10.0),
    "random-zero-costs": _random("next_close", 15, costs=CostModel.zero(), participation=0.0005),
}


def _event_row(event: OrderEvent) -> tuple[float, ...]:
    values = []
    for name in _EVENT_FIELDS:
        v = getattr(event, name, None)
        values.append(math.nan if v is None else float(v))
    return (float(event.order_id), *values)


def _event_text(event: OrderEvent) -> str:
    reason = getattr(event, "reason", "")
    side = getattr(event, "side", None)
    return f"{type(event).__name__}|{reason}|{'' if side is None else side.name}"


def _orders(result: EventResult) -> tuple[np.ndarray, np.ndarray]:
    numbers: list[tuple[float, ...]] = []
    texts: list[str] = []
    for o in result.orders:
        numbers.append(
            (float(o.order_id), -1.0, o.quantity, o.filled_quantity, o.avg_price,
             math.nan if o.limit_price is None else o.limit_price,
             math.nan if o.stop_price is None else o.stop_price,
             math.nan if o.trail_fraction is None else o.trail_fraction)
        )  # fmt: skip
        texts.append(
            f"order|{o.asset}|{o.side.name}|{o.order_type.value}|{o.time_in_force.value}|"
            f"{o.status.value}|{o.reason}|{o.parent_id}"
        )
        for event in o.events:
            numbers.append(_event_row(event))
            texts.append(_event_text(event))
    return np.array(numbers, dtype=np.float64).reshape(-1, 8), np.array(texts)


def record(name: str) -> dict[str, np.ndarray]:
    """Run workload ``name``; its numbers as arrays (keys prefixed with the name)."""
    panel, strategy, settings = WORKLOADS[name]()
    result = EventEngine(panel, strategy, **settings).run()
    order_numbers, order_texts = _orders(result)
    heard = np.array([(e.order_id, e.row) for e in strategy.heard], dtype=np.int64).reshape(-1, 2)
    out = {
        "equity": result.equity.to_numpy(),
        "bar_costs": result.bar_costs.to_numpy(),
        "costs": np.array(list(result.costs.values())),
        "trades": result.trades.drop(columns=["time", "asset", "reason", "liquidity"]).to_numpy(
            np.float64
        ),
        "trade_texts": (
            result.trades["time"].astype(str) + "|" + result.trades["asset"].astype(str)
            + "|" + result.trades["reason"].astype(str)
        ).to_numpy(dtype=str),
        "round_trips": result.round_trips[["pnl", "costs", "return"]].to_numpy(np.float64),
        "order_numbers": order_numbers,
        "order_texts": order_texts,
        "heard": heard,
        "heard_texts": np.array([_event_text(e) for e in strategy.heard]),
        "seen": np.array(strategy.seen, dtype=np.float64).reshape(-1, 4),
    }  # fmt: skip
    return {f"{name}.{k}": v for k, v in out.items()}


def load_reference(name: str) -> dict[str, np.ndarray]:
    """The recorded numbers of workload ``name`` (keys without the prefix)."""
    with np.load(REFERENCE) as data:
        aliases = json.loads(str(data["_aliases"]))
        out = {}
        for key in data.files:
            if key.startswith(f"{name}."):
                out[key[len(name) + 1 :]] = data[key]
        for key, target in aliases.items():
            if key.startswith(f"{name}."):
                out[key[len(name) + 1 :]] = data[target]
    return out


def main() -> None:
    """Record every workload into :data:`REFERENCE` (an array equal to one already
    stored is kept once, under an alias)."""
    arrays: dict[str, np.ndarray] = {}
    aliases: dict[str, str] = {}
    by_digest: dict[str, str] = {}
    for name in WORKLOADS:
        for key, value in record(name).items():
            digest = hashlib.sha256(
                f"{value.dtype}{value.shape}".encode() + value.tobytes()
            ).hexdigest()
            if digest in by_digest:
                aliases[key] = by_digest[digest]
            else:
                by_digest[digest] = key
                arrays[key] = value
        print(name, "recorded")
    REFERENCE.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(REFERENCE, _aliases=np.array(json.dumps(aliases)), **arrays)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
