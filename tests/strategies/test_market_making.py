"""Market making on bars: the template, the quote simulator in both engines, its refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest import backtest_panel, target_signal_fn
from alphaloop.backtest.quotes import quote_book, simulate_quotes
from alphaloop.backtest.spec import StrategySpec
from alphaloop.data import Panel
from alphaloop.errors import BacktestError, SpecError
from alphaloop.execution import CostModel
from alphaloop.strategies import MarketMaking, QuotePlan, TemplateInputs, template_class
from alphaloop.strategies.market_making import ema, trailing_mean_range_bps
from tests.research.synthetic import make_info

CAPITAL = 1_000_000.0
# costs without the per-share minimum, so that quote sizes do not decide the result
LIGHT = CostModel(
    commission_per_share=0, commission_min=0, exchange_fee_bps=0.3, half_spread_bps=1.0,
    slippage_bps=0.5, impact="none", borrow_bps_annual=50,
)  # fmt: skip


def bars(n: int = 400, m: int = 3, *, seed: int = 3, trend: float = 0.0, freq: str = "B") -> Panel:
    """Prices that bounce around a slowly reverting mid, with wide bar ranges.

    ``trend`` adds a drift per bar to the log mid (0.003 = 0.3% a bar).
    """
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=n, freq=freq, tz="UTC")
    x = np.zeros((n, m))
    for t in range(1, n):
        x[t] = 0.7 * x[t - 1] + 0.004 * rng.standard_normal(m)
    mid = 100.0 * np.exp(x + trend * np.arange(n)[:, None])
    close = mid * (1 + 0.002 * rng.standard_normal((n, m)))
    open_ = mid * (1 + 0.002 * rng.standard_normal((n, m)))
    high = np.maximum(open_, close) * (1 + 0.012 * rng.random((n, m)))
    low = np.minimum(open_, close) * (1 - 0.012 * rng.random((n, m)))
    fields = {"open": open_, "high": high, "low": low, "close": close}
    fields["volume"] = np.full((n, m), 5e6)
    return Panel(index, [f"A{j}" for j in range(m)], fields)


def plan_of(template: MarketMaking, panel: Panel) -> QuotePlan:
    eligible = panel.membership & np.isfinite(panel["close"])
    out = template.build(TemplateInputs(panel, eligible, np.ones(panel.n_times, dtype=bool)))
    assert out.kind == "quotes"
    return out.quotes


def run(panel: Panel, template: MarketMaking, engine: str = "vectorized", **kw):
    kw.setdefault("costs", LIGHT)
    kw.setdefault("max_leverage", 2.0)
    return simulate_quotes(
        panel, plan_of(template, panel), initial_capital=CAPITAL, engine=engine, **kw
    )


# ------------------------------------------------------------------ the fill rule


def hand_panel() -> Panel:
    """Seven bars of one asset; quotes are the close +- 1% (fair = close, no skew)."""
    ohlc = np.array(
        [
            [100.0, 101.0, 99.0, 100.0],
            [100.0, 100.5, 99.5, 100.0],  # first quotes: bid 99, ask 101
            [100.0, 100.5, 98.5, 99.0],  # low 98.5 reaches the bid 99: buy at 99
            [97.0, 99.0, 96.5, 98.0],  # opens at 97 below the bid 98.01: buy at the open
            [98.0, 99.5, 97.5, 99.0],  # high reaches the ask 98.98: sell at 98.98
            [99.0, 100.2, 97.8, 99.0],  # both quotes (98.01 / 99.99) inside the range
            [101.0, 101.5, 100.5, 101.0],  # opens above the ask 99.99: sell at the open
        ]
    )
    index = pd.date_range("2021-03-01", periods=7, freq="B", tz="UTC")
    names = ("open", "high", "low", "close")
    return Panel(index, ["AAA"], {f: ohlc[:, k : k + 1] for k, f in enumerate(names)})


HAND = MarketMaking(
    fair_window=1, vol_window=2, min_half_spread_bps=100.0, spread_vol_mult=0.0,
    quote_size=0.1, max_inventory=1.0, skew=0.0, adverse_selection_bps=0.0,
)  # fmt: skip


@pytest.mark.parametrize("engine", ["vectorized", "event"])
def test_quotes_fill_only_where_the_next_bar_reaches_them(engine: str) -> None:
    panel = hand_panel()
    res = simulate_quotes(
        panel, plan_of(HAND, panel), costs=CostModel.zero(), initial_capital=1000.0,
        engine=engine, max_leverage=2.0,
    )  # fmt: skip
    t = res.trades
    # by hand: (bar, signed shares, price); sizes are 10% of equity at the decision close
    cash, pos = 1000.0, 0.0
    expected = []

    def fill(row: int, q: float, px: float) -> None:
        nonlocal cash, pos
        expected.append((row, q, px))
        cash -= q * px
        pos += q

    fill(2, 100.0 / 99.0, 99.0)
    eq2 = cash + pos * 99.0
    fill(3, 0.1 * eq2 / 98.01, 97.0)
    eq3 = cash + pos * 98.0
    fill(4, -0.1 * eq3 / 98.98, 98.98)
    eq4 = cash + pos * 99.0
    fill(5, 0.1 * eq4 / 98.01, 98.01)
    fill(5, -0.1 * eq4 / 99.99, 99.99)
    eq5 = cash + pos * 99.0
    fill(6, -0.1 * eq5 / 99.99, 101.0)
    rows = panel.index.get_indexer(pd.DatetimeIndex(t["time"]))
    assert rows.tolist() == [e[0] for e in expected]
    np.testing.assert_allclose(t["shares"], [e[1] for e in expected], rtol=1e-12)
    np.testing.assert_allclose(t["price"], [e[2] for e in expected], rtol=1e-12)
    assert res.final_value == pytest.approx(cash + pos * 101.0, rel=1e-12)
    assert res.equity.iloc[:2].tolist() == [1000.0, 1000.0]
    assert any("2 of 6 fills were both-sided in one bar" in n for n in res.notes)
    assert any("order within the bar is unknowable" in n for n in res.notes)


def test_a_bar_without_a_range_fills_nothing() -> None:
    panel = hand_panel()
    fields = {f: np.array(panel[f]) for f in panel.field_names}
    fields["low"][2, 0] = np.nan  # bar 2 has no range: the bid of bar 1 cannot fill
    gap = Panel(panel.index, panel.assets, fields)
    for engine in ("vectorized", "event"):
        res = simulate_quotes(
            gap, plan_of(HAND, gap), costs=CostModel.zero(), initial_capital=1000.0,
            engine=engine, max_leverage=2.0,
        )  # fmt: skip
        rows = gap.index.get_indexer(pd.DatetimeIndex(res.trades["time"]))
        assert 2 not in rows.tolist()
        assert rows[0] == 3


def book(fair: float, close: float, shares: float, *, skew: float = 1.0, short: bool = True):
    """One asset's quotes: 1% half-spread, a 2 bps market, 10% of 1000 a side, cap 20%."""
    out = [np.full(1, np.nan), np.zeros(1), np.full(1, np.nan), np.zeros(1)]
    one = np.ones(1)
    quote_book(
        fair * one, 100.0 * one, 0.1 * one, close * one, close * one, shares * one, 1000.0,
        1000.0 - shares * close, skew, 2.0, 0.2, 1.0, 2.0, short, False, np.zeros(1),
        CostModel.zero().as_array(), np.full(1, np.nan), np.full(1, np.nan), *out, np.zeros(5),
    )  # fmt: skip
    return [float(x[0]) for x in out]


def test_quote_book_by_hand() -> None:
    bid, bid_q, ask, ask_q = book(100.0, 100.0, 0.0)
    assert (bid, ask) == pytest.approx((99.0, 101.0))
    assert (bid_q, ask_q) == pytest.approx((100.0 / 99.0, 100.0 / 101.0))
    # a fair value far above the close: the bid joins the market's bid, never above it
    bid, _, ask, _ = book(110.0, 100.0, 0.0)
    assert (bid, ask) == pytest.approx((99.98, 110.0 * 1.01))
    # long 1 share (10% of equity, half the cap): both quotes move down half a half-spread
    bid, bid_q, ask, _ = book(100.0, 100.0, 1.0)
    assert (bid, ask) == pytest.approx((99.5 * 0.99, 99.5 * 1.01))
    assert bid_q == pytest.approx(1.0)  # 1.015 wanted, 1 share of room to the cap
    # at the cap the bid is not quoted; near it, it is cut to the room left (0.5 shares)
    assert book(100.0, 100.0, 2.0)[1] == 0.0
    assert book(100.0, 100.0, 1.5)[1] == pytest.approx(0.5)
    # without short inventory the ask sells what is held, no more
    assert book(100.0, 100.0, 0.3, short=False)[3] == pytest.approx(0.3)
    assert book(100.0, 100.0, 0.0, short=False)[3] == 0.0


# ----------------------------------------------------------------- the economics


def test_quoting_a_bouncing_price_earns_the_spread() -> None:
    panel = bars()
    no_adverse = MarketMaking(adverse_selection_bps=0.0)
    res = run(panel, no_adverse)
    assert res.final_value > CAPITAL * 1.02
    assert len(res.trades) > 200
    assert res.costs["adverse_selection"] == 0.0
    with_adverse = run(panel, MarketMaking(adverse_selection_bps=5.0))
    charged = with_adverse.costs["adverse_selection"]
    assert charged == pytest.approx(with_adverse.trades["notional"].sum() * 5e-4, rel=1e-9)
    assert with_adverse.final_value < res.final_value


def test_a_trend_builds_inventory_against_it_and_loses() -> None:
    calm, trend = bars(), bars(trend=0.002)
    params = MarketMaking(adverse_selection_bps=0.0, skew=0.0)
    in_calm, in_trend = run(calm, params), run(trend, params)
    assert in_trend.final_value < 0.8 * CAPITAL < 1.2 * CAPITAL < in_calm.final_value
    assert in_trend.equity.min() > 0  # worse, not ruined: the comparison means something
    # an uptrend lifts the asks: the book is short what rises
    sold = in_trend.trades.groupby("asset", observed=True)["shares"].sum()
    assert (sold < 0).all()
    # skew leans the quotes against the inventory: it stays smaller and loses less
    skewed = run(trend, MarketMaking(adverse_selection_bps=0.0, skew=2.0))
    assert skewed.gross_exposure.mean() < in_trend.gross_exposure.mean()
    assert skewed.final_value > in_trend.final_value


def test_inventory_never_passes_its_cap() -> None:
    trend = bars(trend=0.001)
    res = run(trend, MarketMaking(max_inventory=0.1, quote_size=0.05, skew=0.0))
    t = res.trades
    held = np.zeros(trend.shape)
    rows = trend.index.get_indexer(pd.DatetimeIndex(t["time"]))
    np.add.at(held, (rows, t["asset"].cat.codes.to_numpy()), t["shares"].to_numpy())
    held = np.cumsum(held, axis=0)
    # where a fill grew a position, it is within the cap at the decision bar's close
    grew = np.abs(held[1:]) > np.abs(held[:-1]) + 1e-9
    weight = np.abs(held[1:] * trend["close"][:-1]) / res.equity.to_numpy()[:-1, None]
    assert grew.sum() > 50
    assert weight[grew].max() <= 0.1 * (1 + 1e-9)
    assert weight[grew].max() > 0.099  # the cap binds


# ------------------------------------------------------------- engine agreement


@pytest.mark.parametrize(
    ("settings", "template"),
    [
        ({}, MarketMaking()),
        ({"costs": CostModel(), "history": 25}, MarketMaking(skew=2.0, fair_window=1)),
        ({"max_leverage": 1.0, "allow_short": False}, MarketMaking(short_inventory=False)),
        ({"fills": "next_close", "lot_size": 1.0}, MarketMaking(quote_size=0.2, max_inventory=0.5)),
        # per-asset lots, as stored instruments set them
        ({"lot_size": (1.0, 0.0, 25.0)}, MarketMaking(quote_size=0.2, max_inventory=0.5)),
        # without leverage and shorts the bids must fit the cash: the budget binds here
        (
            {"max_leverage": 1.0, "allow_short": False, "costs": CostModel()},
            MarketMaking(short_inventory=False, quote_size=0.3, max_inventory=0.5),
        ),
        # quotes filled inside the range earn a maker rebate; a gap at the open takes
        ({"costs": LIGHT.model_copy(update={"maker_commission_bps": -0.5})}, MarketMaking()),
        # a maker fee above the taker's: the cash check prices the quotes at the dearer one
        (
            {
                "max_leverage": 1.0,
                "allow_short": False,
                "costs": CostModel(commission_bps=1.0, maker_commission_bps=3.0),
            },
            MarketMaking(short_inventory=False, quote_size=0.3, max_inventory=0.5),
        ),
    ],
)
def test_both_engines_agree(settings: dict, template: MarketMaking) -> None:
    panel = bars(n=250, m=3, seed=5, trend=0.001)
    vec = run(panel, template, "vectorized", **settings)
    evt = run(panel, template, "event", **settings)
    assert len(vec.trades) > 20
    np.testing.assert_allclose(vec.equity, evt.equity, rtol=0, atol=1e-9 * CAPITAL)
    assert len(vec.trades) == len(evt.trades)
    np.testing.assert_allclose(vec.trades["price"], evt.trades["price"], rtol=1e-12)
    for name, value in vec.costs.items():
        assert evt.costs[name] == pytest.approx(value, rel=1e-9, abs=1e-6)
    assert vec.notes == evt.notes
    assert vec.equity.index.equals(evt.equity.index)
    np.testing.assert_array_equal(vec.trades["liquidity"], evt.trades["liquidity"])
    np.testing.assert_allclose(vec.trades["commission"], evt.trades["commission"], rtol=1e-12)
    lots = np.broadcast_to(np.asarray(settings.get("lot_size", 0.0), dtype=float), (3,))
    for j, lot in enumerate(lots):
        if lot > 0:
            shares = vec.trades.loc[vec.trades["asset"] == panel.assets[j], "shares"].to_numpy()
            np.testing.assert_allclose(shares / lot, np.round(shares / lot), atol=1e-9)


def test_without_an_open_quotes_fill_in_the_range_only() -> None:
    panel = bars(n=200, seed=8)
    no_open = Panel(panel.index, panel.assets, {f: panel[f] for f in ("high", "low", "close")})
    with pytest.raises(BacktestError, match="'open' field"):
        run(no_open, MarketMaking())
    vec = run(no_open, MarketMaking(), "vectorized", fills="next_close")
    evt = run(no_open, MarketMaking(), "event", fills="next_close")
    np.testing.assert_allclose(vec.equity, evt.equity, rtol=0, atol=1e-9 * CAPITAL)
    with_open = run(panel, MarketMaking(), fills="next_close")
    assert len(vec.trades) > 50
    assert not vec.trades["price"].isin(panel["open"].ravel()).any()
    assert with_open.trades["price"].isin(panel["open"].ravel()).any()


def test_long_only_inventory_never_goes_short() -> None:
    panel = bars(trend=0.002)
    res = run(panel, MarketMaking(short_inventory=False), max_leverage=1.0, allow_short=False)
    held = res.trades.groupby("asset", observed=True)["shares"].cumsum()
    assert held.min() >= -1e-9
    assert (res.trades["shares"] < 0).any()


# ------------------------------------------------------------------- refusals


def test_refusals_name_what_bars_cannot_support() -> None:
    panel = bars(n=60)
    plan = plan_of(MarketMaking(), panel)
    with pytest.raises(BacktestError, match="same_close") as info:
        simulate_quotes(panel, plan, costs=LIGHT, fills="same_close")
    assert "next_open" in (info.value.hint or "")
    with pytest.raises(BacktestError, match="inside the cost model's half-spread") as info:
        simulate_quotes(panel, plan, costs=CostModel(half_spread_bps=12.0))
    assert "at least 12" in (info.value.hint or "")
    no_range = Panel(panel.index, panel.assets, {"close": panel["close"]})
    with pytest.raises(BacktestError, match="'high' or 'low'"):
        simulate_quotes(no_range, plan, costs=LIGHT)
    with pytest.raises(BacktestError, match="'high' or 'low'"):
        plan_of(MarketMaking(), no_range)
    with pytest.raises(BacktestError, match="shorts are off"):
        simulate_quotes(panel, plan, costs=LIGHT, allow_short=False)
    with pytest.raises(BacktestError, match="unknown engine"):
        simulate_quotes(panel, plan, costs=LIGHT, engine="fast")  # type: ignore[arg-type]


def test_intraday_bars_shorter_than_an_hour_are_refused() -> None:
    minutes = bars(n=80, freq="5min")
    with pytest.raises(BacktestError, match="queue position") as info:
        run(minutes, MarketMaking())
    assert "order-book" in (info.value.hint or "")
    hourly = run(bars(n=80, freq="h"), MarketMaking())
    assert not any("rests a whole bar" in n for n in hourly.notes)
    daily = run(bars(n=80), MarketMaking())
    assert any("rests a whole bar" in n for n in daily.notes)


def test_bad_parameters_are_refused_by_the_spec() -> None:
    with pytest.raises(ValueError, match="quote_size"):
        MarketMaking(quote_size=0.0)
    with pytest.raises(ValueError, match="min_half_spread_bps"):
        MarketMaking(min_half_spread_bps=-1.0)
    spec = {"name": "mm", "data": "d", "template": {"template": "market_making"}}
    with pytest.raises(SpecError, match="allow_short"):
        StrategySpec.from_dict(spec)
    ok = StrategySpec.from_dict({**spec, "limits": {"allow_short": True, "max_leverage": 2}})
    assert isinstance(ok.template, MarketMaking)
    assert template_class("market_making") is MarketMaking


# ---------------------------------------------------------------- point in time


def test_quotes_at_t_do_not_change_when_the_panel_is_cut_after_t() -> None:
    panel = bars(n=120, seed=9)
    template = MarketMaking(fair_window=5, vol_window=10)
    full = plan_of(template, panel)
    for t in (15, 40, 90):
        cut = plan_of(template, panel.iloc(slice(0, t + 1)))
        for name in ("fair", "half_spread_bps", "size"):
            np.testing.assert_array_equal(getattr(cut, name), getattr(full, name)[: t + 1])
        short = simulate_quotes(panel.iloc(slice(0, t + 1)), cut, costs=LIGHT, max_leverage=2)
        whole = simulate_quotes(panel, full, costs=LIGHT, max_leverage=2)
        np.testing.assert_array_equal(short.equity, whole.equity.iloc[: t + 1])


def test_helpers_match_their_definitions() -> None:
    x = np.array([[1.0], [np.nan], [3.0], [5.0]])
    out = ema(x, 3)  # alpha 0.5; three finite values before the first output
    np.testing.assert_allclose(out[:, 0], [np.nan, np.nan, np.nan, 3.5])
    high = np.array([[11.0], [12.0], [13.0]])
    low = np.array([[9.0], [10.0], [11.0]])
    close = np.array([[10.0], [10.0], [10.0]])
    rng = trailing_mean_range_bps(high, low, close, 2)
    np.testing.assert_allclose(rng[:, 0], [np.nan, 2000.0, 2000.0])


# ------------------------------------------------------------------- the runner


def mm_spec(**extra: object) -> StrategySpec:
    doc = {
        "name": "mm",
        "data": "synth",
        "template": {"template": "market_making", "min_half_spread_bps": 15},
        "limits": {"allow_short": True, "max_leverage": 2.0},
        **extra,
    }
    return StrategySpec.from_dict(doc)


def test_a_template_spec_runs_in_both_engines_through_the_runner() -> None:
    panel = bars(n=300, seed=4)
    info = make_info(panel)
    spec = mm_spec(start="2020-03-02")
    vec = backtest_panel(spec, info, panel, "vectorized")
    evt = backtest_panel(spec, info, panel, "event")
    a, b = vec.simulation.equity, evt.simulation.equity
    assert a.index[0] == pd.Timestamp("2020-03-02", tz="UTC")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * spec.capital)
    assert vec.metrics["total_return"] == pytest.approx(evt.metrics["total_return"], abs=1e-9)
    assert "cost_adverse_selection" in vec.metrics
    notes = " ".join(vec.assumptions["notes"])
    assert "fills were both-sided in one bar" in notes
    assert "bars show neither queue position" in notes
    with pytest.raises(BacktestError, match="same_close"):
        backtest_panel(mm_spec(fills="same_close"), info, panel)
    with pytest.raises(BacktestError, match="stops and exits"):
        backtest_panel(mm_spec(stops={"stop_loss": 0.05}), info, panel)


def test_the_scan_function_sees_the_quote_plan_point_in_time() -> None:
    panel = bars(n=150, seed=6)
    fn = target_signal_fn(mm_spec(), lambda p: None)
    full = fn(panel)
    assert {"signal", "quotes.fair", "quotes.half_spread_bps", "quotes.size"} <= set(full)
    cut = fn(panel.iloc(slice(0, 61)))
    for name, values in cut.items():
        np.testing.assert_array_equal(values, full[name][:61])


def test_quotes_filled_in_the_range_make_and_at_the_open_take() -> None:
    panel = bars(n=250, m=3, seed=5, trend=0.001)
    costs = LIGHT.model_copy(update={"commission_bps": 2.0, "maker_commission_bps": -0.5})
    res = run(panel, MarketMaking(), costs=costs)
    trades = res.trades
    rows = panel.index.get_indexer(trades["time"])
    cols = pd.Index(panel.assets).get_indexer(trades["asset"].astype(str))
    at_open = trades["price"].to_numpy() == np.asarray(panel["open"])[rows, cols]
    assert at_open.any()
    assert (~at_open).sum() > 20
    np.testing.assert_array_equal(trades["liquidity"], np.where(at_open, "taker", "maker"))
    rate = np.where(at_open, 2e-4, -0.5e-4)
    np.testing.assert_allclose(trades["commission"], rate * trades["notional"], rtol=1e-12)
    plain = run(
        panel, MarketMaking(), costs=costs.model_copy(update={"maker_commission_bps": None})
    )
    assert res.costs["commission"] < 0 < plain.costs["commission"]  # rebates, not fees
