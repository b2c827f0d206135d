"""Bad input to the event engine gives a BacktestError that says what and where."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.event import Context, EventEngine, Strategy, TargetWeightsStrategy
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import SimulatedBroker
from alphaloop.execution.costs import CostModel

from .test_event_helpers import bars, flat, run

BASE = (100.0, 101.0, 99.0, 100.0, 1e6)


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({0: lambda c: c.order("ZZZ", 1)}, "unknown asset 'ZZZ'"),
        ({0: lambda c: c.order("AAA", 0)}, "non-zero number of shares"),
        ({0: lambda c: c.order("AAA", float("nan"))}, "non-zero number of shares"),
        ({0: lambda c: c.order("AAA", 1, "limit")}, "positive limit_price"),
        ({0: lambda c: c.order("AAA", 1, "bogus")}, "bogus"),
        ({0: lambda c: c.order("AAA", 1e9)}, "needs .* in cash but the account holds"),
        ({0: lambda c: c.order("AAA", -5)}, "holds 0 and shorts are off"),
        ({0: lambda c: c.price("AAA", "vwap")}, "unknown field 'vwap'"),
        ({0: lambda c: c.history("close", 0)}, "n >= 1"),
        ({0: lambda c: c.rebalance_to_weights({"ZZZ": 0.5})}, "unknown asset"),
        ({0: lambda c: c.rebalance_to_weights(np.ones(3))}, "one per asset"),
        ({0: lambda c: c.rebalance_to_weights({"AAA": 1.5})}, "leverage cap"),
        ({0: lambda c: c.rebalance_to_weights({"AAA": -0.5})}, "shorts are off"),
        ({0: lambda c: c.twap("AAA", 10, 5)}, "past the last bar"),
        (
            {0: lambda c: c.modify(c.order("AAA", 1, "limit", limit_price=1), quantity=-1)},
            "resized",
        ),
    ],
)
def test_strategy_mistakes(plan: dict, message: str) -> None:
    with pytest.raises(BacktestError, match=message):
        run(bars([BASE] * 3), plan)


def test_errors_name_the_asset_and_time() -> None:
    with pytest.raises(BacktestError, match=r"AAA at 2024-01-03"):
        run(bars([BASE] * 3), {0: lambda c: c.order("AAA", 1e9)})


def test_missing_price_where_an_order_is_due() -> None:
    nan_open = [BASE, (np.nan, 101.0, 99.0, 100.0, 1e6), BASE]
    with pytest.raises(BacktestError, match="no valid price for AAA at 2024-01-03"):
        run(bars(nan_open), {0: lambda c: c.order("AAA", 1)})
    with pytest.raises(BacktestError, match="no valid price for AAA"):
        run(bars(nan_open), {0: lambda c: c.rebalance_to_weights({"AAA": 0.5})})


def test_missing_fields_and_bad_settings() -> None:
    index = pd.bdate_range("2024-01-02", periods=3, tz="UTC")
    close_only = Panel(index, ["AAA"], {"close": np.full((3, 1), 10.0)})
    with pytest.raises(BacktestError, match="'open' field"):
        EventEngine(close_only, Strategy()).run()
    with pytest.raises(BacktestError, match="high and low"):
        run(
            close_only, {0: lambda c: c.order("AAA", 1, "limit", limit_price=9)}, fills="next_close"
        )
    with pytest.raises(BacktestError, match="no 'volume'"):
        EventEngine(close_only, Strategy(), fills="next_close", participation=0.1).run()
    with pytest.raises(BacktestError, match="participation"):
        EventEngine(bars(flat(3)), Strategy(), participation=2.0)
    with pytest.raises(BacktestError, match="invalid broker setting bogus"):
        EventEngine(bars(flat(3)), Strategy(), bogus=1)
    with pytest.raises(BacktestError, match="lot sizes"):
        SimulatedBroker(bars(flat(3)), lot_size=-1.0)
    empty = Panel(index[:0], ["AAA"], {"close": np.zeros((0, 1))})
    with pytest.raises(BacktestError, match="empty"):
        EventEngine(empty, Strategy(), fills="next_close").run()


def test_engine_arguments() -> None:
    panel = bars(flat(3))
    with pytest.raises(BacktestError, match="must be an alphaloop Strategy"):
        EventEngine(panel, object())  # type: ignore[arg-type]
    broker = SimulatedBroker(panel)
    with pytest.raises(BacktestError, match="to the broker, not the engine"):
        EventEngine(panel, Strategy(), broker=broker, fills="next_close")
    with pytest.raises(BacktestError, match="different panel"):
        EventEngine(bars(flat(3)), Strategy(), broker=broker)
    engine = EventEngine(panel, Strategy(), broker=broker)
    engine.run()
    with pytest.raises(BacktestError, match="already run"):
        EventEngine(panel, Strategy(), broker=broker).run()


def test_bad_schedule_and_on_start_access() -> None:
    class BadSchedule(Strategy):
        def schedule(self, ctx: Context) -> np.ndarray:
            return np.ones(2)

    with pytest.raises(BacktestError, match="boolean mask"):
        EventEngine(bars(flat(3)), BadSchedule()).run()

    class Early(Strategy):
        def on_start(self, ctx: Context) -> None:
            ctx.price("AAA")

    with pytest.raises(BacktestError, match="from the first on_bar"):
        EventEngine(bars(flat(3)), Early()).run()


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.ones((2, 1)), "shape"),
        (np.full((3, 1), np.inf), "infinite"),
        (pd.DataFrame({"ZZZ": [0.5] * 3}), "not in the data"),
    ],
)
def test_bad_weight_schedules(weights: object, message: str) -> None:
    panel = bars(flat(3))
    if isinstance(weights, pd.DataFrame):
        weights.index = panel.index
    with pytest.raises(BacktestError, match=message):
        EventEngine(panel, TargetWeightsStrategy(weights), costs=CostModel.zero()).run()  # type: ignore[arg-type]
