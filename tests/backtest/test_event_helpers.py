"""Small panels and a scripted strategy shared by the event engine's tests (imported by
the other test_event_* modules; its own test checks the panel builder)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.backtest.event import Context, EventEngine, EventResult, Strategy
from alphaloop.data.panel import Panel
from alphaloop.execution.costs import CostModel
from alphaloop.execution.events import FillEvent, OrderEvent

Bar = tuple[float, float, float, float, float]  # open, high, low, close, volume


def bars(
    rows: Sequence[Bar], *, freq: str = "B", start: str = "2024-01-02", asset: str = "AAA"
) -> Panel:
    """A one-asset OHLCV panel from ``(open, high, low, close, volume)`` rows."""
    arr = np.asarray(rows, dtype=np.float64)
    index = pd.date_range(start, periods=len(rows), freq=freq, tz="UTC")
    names = ("open", "high", "low", "close", "volume")
    return Panel(index, [asset], {n: arr[:, k : k + 1] for k, n in enumerate(names)})


def flat(n: int, price: float = 100.0, volume: float = 1e6) -> list[Bar]:
    """``n`` bars that open, close, and trade at ``price`` (range +-1)."""
    return [(price, price + 1.0, price - 1.0, price, volume)] * n


class Script(Strategy):
    """Runs ``plan[row](ctx)`` on each planned bar; records what it heard."""

    def __init__(self, plan: dict[int, Callable[[Context], Any]]) -> None:
        self.plan = plan
        self.fills: list[FillEvent] = []
        self.events: list[OrderEvent] = []
        self.seen: list[tuple[int, float]] = []
        self.out: dict[int, Any] = {}

    def on_bar(self, ctx: Context, row: int) -> None:
        self.seen.append((row, float(ctx.history("close", 1000, ctx.assets[0])[-1])))
        if row in self.plan:
            self.out[row] = self.plan[row](ctx)

    def on_fill(self, ctx: Context, fill: FillEvent) -> None:
        self.fills.append(fill)

    def on_order(self, ctx: Context, event: OrderEvent) -> None:
        self.events.append(event)


def run(
    panel: Panel, plan: dict[int, Callable[[Context], Any]], **settings: Any
) -> tuple[EventResult, Script]:
    """Run a :class:`Script` with zero costs unless ``costs`` is given."""
    settings.setdefault("costs", CostModel.zero())
    strategy = Script(plan)
    return EventEngine(panel, strategy, **settings).run(), strategy


def event_names(events: Sequence[object], order_id: int) -> list[str]:
    return [type(e).__name__ for e in events if getattr(e, "order_id", None) == order_id]


def test_bars_builds_a_one_asset_panel() -> None:
    panel = bars([(1.0, 2.0, 0.5, 1.5, 10.0), (1.5, 1.6, 1.4, 1.5, 20.0)])
    assert panel.shape == (2, 1)
    assert panel["high"][0, 0] == 2.0
    assert panel["volume"][1, 0] == 20.0
    assert str(panel.index.tz) == "UTC"
