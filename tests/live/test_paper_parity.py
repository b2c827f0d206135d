"""Paper trading and the event backtest agree exactly on one recorded bar stream.

The same strategy (class and parameters) runs once through
:class:`EventEngine` and once through a :class:`PaperSession` on a replay of
the same bars, each with its own :class:`SimulatedBroker` built from one
configuration: fills, positions, cash, equity (so P&L) and every order's
fate must be equal, bit for bit. A session rebuilt mid-stream (``catch_up``)
must carry on to the same end: that is what a restart after a crash does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphaloop.app import Workspace, prepare, run_backtest
from alphaloop.backtest import event_inputs, quick_spec
from alphaloop.backtest.event import Context, EventEngine, EventResult, Strategy
from alphaloop.data import Panel
from alphaloop.execution import (
    BrokerConfig,
    CostModel,
    FillTiming,
    OrderType,
    ReplayFeed,
    SimulatedBroker,
    TimeInForce,
)
from alphaloop.live import PaperSession


def assert_identical(a: EventResult, b: EventResult) -> None:
    """Zero difference: equity, trades, costs, and every order's state."""
    np.testing.assert_array_equal(a.equity.to_numpy(), b.equity.to_numpy())
    pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=True)
    pd.testing.assert_frame_equal(a.round_trips, b.round_trips, check_exact=True)
    assert a.costs == b.costs
    assert [(o.order_id, o.status, o.filled_quantity, o.avg_price) for o in a.orders] == [
        (o.order_id, o.status, o.filled_quantity, o.avg_price) for o in b.orders
    ]


def paper_run(panel: Panel, strategy: Strategy, config: BrokerConfig) -> tuple[EventResult, Any]:
    feed = ReplayFeed(panel, name="replay:test")
    session = PaperSession(strategy, feed, SimulatedBroker(panel, config))
    session.run()
    return session.finish(), session


# --------------------------------------------------------------------------- bundled data
@pytest.fixture(scope="module")
def sp500(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ws = Workspace(tmp_path_factory.mktemp("parity") / "ws")
    ws.data.ensure_bundled()
    yield ws
    ws.close()


@pytest.mark.parametrize(
    ("fills", "extra"),
    [
        ("next_close", {}),
        ("next_close", {"rebalance": {"frequency": "weekly"}}),
        (
            "same_close",
            {"portfolio": {"method": "top_k", "k": 4, "weighting": "inverse_volatility"}},
        ),
    ],
)
def test_paper_equals_the_event_backtest_on_sp500_stocks(
    sp500: Workspace, fills: str, extra: dict[str, Any]
) -> None:
    base = quick_spec("Ref($close, 1) / Ref($close, 61) - 1", "sp500-stocks", top_k=5)
    doc = {**base.model_dump(mode="json"), "fills": fills, "start": "2012-01-01", **extra}
    spec = type(base).from_dict(doc)
    inputs = event_inputs(prepare(sp500, spec))
    venue = SimulatedBroker(inputs.panel, inputs.config)
    engine = EventEngine(inputs.panel, inputs.strategy(), broker=venue).run()
    paper, session = paper_run(inputs.panel, inputs.strategy(), inputs.config)
    assert len(paper.trades) > 50  # the comparison covers real trading
    assert_identical(engine, paper)
    assert session.positions() == venue.positions()
    assert session.venue.ledger.cash == venue.ledger.cash
    # the app's event backtest of the same spec: the same numbers on the trading rows
    recorded = run_backtest(sp500, spec, engine="event", record=False).simulation
    np.testing.assert_array_equal(
        recorded.equity.to_numpy(), paper.equity.to_numpy()[inputs.history :]
    )
    pd.testing.assert_frame_equal(recorded.trades, paper.trades, check_exact=True)


# --------------------------------------------------------------------------- random streams
class RandomTrader(Strategy):
    """Market, limit and stop orders, cancels and rebalances drawn from a seeded generator."""

    def __init__(self, seed: int, order_rate: float) -> None:
        self.seed = seed
        self.order_rate = order_rate

    def on_start(self, ctx: Context) -> None:
        self.rng = np.random.default_rng(self.seed)

    def on_bar(self, ctx: Context, row: int) -> None:
        rng = self.rng
        if rng.random() > self.order_rate:
            return
        asset = ctx.assets[int(rng.integers(len(ctx.assets)))]
        price = ctx.price(asset)
        if not price > 0:
            return
        kind = int(rng.integers(5))
        qty = float(rng.integers(1, 50)) * (1 if rng.random() < 0.6 else -1)
        if kind == 0:
            ctx.order(asset, qty)
        elif kind == 1:
            limit = price * (1 - 0.01 * np.sign(qty) * rng.random())
            ctx.order(asset, qty, OrderType.LIMIT, limit_price=limit, time_in_force=TimeInForce.DAY)
        elif kind == 2:
            stop = price * (1 + 0.02 * np.sign(qty) * rng.random())
            ctx.order(asset, qty, OrderType.STOP, stop_price=stop)
        elif kind == 3 and ctx.open_orders():
            ctx.cancel(ctx.open_orders()[0])
        else:
            w = rng.dirichlet(np.ones(len(ctx.assets))) * 0.9
            ctx.rebalance_to_weights(w)


@st.composite
def streams(draw: st.DrawFn) -> tuple[Panel, BrokerConfig, int, float]:
    n = draw(st.integers(20, 70))
    k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, k)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, (n, k)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, (n, k)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, (n, k)))
    volume = rng.uniform(1e4, 1e5, (n, k))
    freq = draw(st.sampled_from(["D", "6h"]))
    index = pd.date_range("2021-03-01", periods=n, freq=freq, tz="UTC")
    panel = Panel(
        index,
        [f"A{j}" for j in range(k)],
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
    )
    config = BrokerConfig(
        fills=draw(st.sampled_from(list(FillTiming))),
        costs=CostModel(
            commission_bps=draw(st.sampled_from([0.0, 1.0, 5.0])),
            maker_commission_bps=draw(st.sampled_from([None, None, -1.0, 2.0])),
        ),
        initial_capital=1e5,
        max_leverage=2.0,
        allow_short=True,
        participation=draw(st.sampled_from([None, 0.01, 0.2])),
    )
    return panel, config, seed, draw(st.sampled_from([0.2, 0.6, 1.0]))


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(streams(), st.floats(0.0, 1.0))
def test_random_streams_give_zero_difference_and_survive_a_restart(
    stream: tuple[Panel, BrokerConfig, int, float], cut: float
) -> None:
    panel, config, seed, rate = stream
    engine = EventEngine(
        panel, RandomTrader(seed, rate), broker=SimulatedBroker(panel, config)
    ).run()
    paper, _ = paper_run(panel, RandomTrader(seed, rate), config)
    assert_identical(engine, paper)
    # a restart: a fresh strategy and venue replay the first bars, then the feed goes on
    position = int(cut * panel.n_times)
    feed = ReplayFeed(panel)
    resumed = PaperSession(RandomTrader(seed, rate), feed, SimulatedBroker(panel, config))
    resumed.catch_up(position)
    assert resumed.position == position
    resumed.run()
    assert_identical(engine, resumed.finish())


def test_paper_charges_resting_limits_the_maker_fee_as_the_backtest_does() -> None:
    rng = np.random.default_rng(7)
    n, k = 120, 2
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, k)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, (n, k)))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, (n, k)))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, (n, k)))
    fields = {"open": open_, "high": high, "low": low, "close": close}
    panel = Panel(pd.date_range("2021-03-01", periods=n, freq="D", tz="UTC"), ["A0", "A1"], fields)
    costs = CostModel(commission_bps=5.0, maker_commission_bps=-1.0, impact="none")
    config = BrokerConfig(costs=costs, initial_capital=1e5, max_leverage=2.0, allow_short=True)
    engine = EventEngine(panel, RandomTrader(7, 0.8), broker=SimulatedBroker(panel, config)).run()
    paper, _ = paper_run(panel, RandomTrader(7, 0.8), config)
    assert_identical(engine, paper)
    liquidity = paper.trades["liquidity"]
    assert (liquidity == "maker").sum() >= 3
    assert (liquidity == "taker").sum() >= 3
    # the makers earned the 1 bp rebate on top of the per-share commission
    maker = paper.trades[liquidity == "maker"]
    per_share = np.maximum(0.005 * maker["shares"].abs(), 1.0)
    np.testing.assert_allclose(
        maker["commission"] - per_share, -1e-4 * maker["notional"], rtol=1e-9
    )
