"""The quote simulator: market making on bars, in both engines, with the same fills.

A :class:`~alphaloop.strategies.market_making.QuotePlan` holds what a market
maker decided at each bar's close before its inventory is known (fair value,
half-spread, size). Each bar the simulator turns it into a bid and an ask
from the running position (:func:`quote_book`, one numba function both
engines call) and posts them for the next bar only:

- ``engine="vectorized"``: :func:`~alphaloop.backtest._quote_kernel.run_quotes`,
  a numba loop;
- ``engine="event"``: :class:`QuoteStrategy` places limit orders through
  the event engine's real order path (the simulated broker's resting book
  matches them) and cancels what is left after one bar.

Fill rule (the simulated broker's limit matching, which the loop reproduces):
a bid posted at bar ``t``'s close fills at bar ``t+1`` at the open when
``open[t+1] <= bid`` (a gap through it), else at the bid when ``low[t+1] <=
bid``; an ask mirrors this with the high. Fills are whole: no queue, no
partial fills. Costs: the spec's cost model through the shared
:func:`~alphaloop.execution.costs.fill_cost`, plus ``adverse_selection_bps``
of notional per fill (added to the slippage rate for the charge, reported
as its own category). A quote filled inside the range had rested on the
book and pays the model's maker commission (``maker_commission_bps``, the
taker's when unset); one filled at the open (or on a bar without an open)
was marketable when it arrived and pays the taker's; the trades'
``liquidity`` column says which.

Refused, with a :class:`~alphaloop.errors.BacktestError`, because bars
cannot support them: ``fills: same_close`` (a quote computed from a close
cannot trade at that close), data without ``high``/``low``, a half-spread
floor inside the cost model's half-spread (no edge can be earned inside the
market's spread on bars), and bars shorter than :data:`MIN_BAR` (there a
market maker's result is queue position and latency, which bars do not
show). Both-sided fills within one bar are counted and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from alphaloop.backtest._quote_kernel import quote_book, run_quotes
from alphaloop.backtest.event import Context, EventEngine, Strategy
from alphaloop.backtest.kernel import ROUND_TRIP_DTYPE, TRADE_DTYPE
from alphaloop.backtest.vectorized import (
    SimulationResult,
    _Market,
    _round_trips_frame,
    _trades_frame,
    drop_history,
)
from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import CostModel, FillTiming, OrderType, impact_inputs
from alphaloop.execution.market import forward_fill
from alphaloop.strategies.market_making import QuotePlan

__all__ = [
    "MIN_BAR",
    "QuoteStrategy",
    "check_quotes",
    "quote_book",
    "run_quotes",
    "simulate_quotes",
]

QuoteEngine = Literal["vectorized", "event"]

#: Shortest bar (median spacing of the data) the quote simulator accepts.
MIN_BAR = pd.Timedelta(hours=1)


class _Inputs:
    """Arrays both engines read, prepared once."""

    def __init__(
        self,
        panel: Panel,
        plan: QuotePlan,
        charged: CostModel,
        *,
        max_weight: float,
        max_leverage: float,
        allow_short: bool,
        lot: np.ndarray,
        start: int,
    ) -> None:
        self.fair = np.ascontiguousarray(plan.fair, dtype=np.float64)
        self.half_bps = np.ascontiguousarray(plan.half_spread_bps, dtype=np.float64)
        self.size = np.ascontiguousarray(plan.size, dtype=np.float64)
        self.close = np.ascontiguousarray(panel["close"], dtype=np.float64)
        self.last_close = forward_fill(self.close)
        self.open = (
            np.ascontiguousarray(panel["open"], dtype=np.float64)
            if "open" in panel
            else np.full_like(self.close, np.nan)
        )
        self.high = np.ascontiguousarray(panel["high"], dtype=np.float64)
        self.low = np.ascontiguousarray(panel["low"], dtype=np.float64)
        if charged.impact == "sqrt" and "volume" in panel:
            volume = np.asarray(panel["volume"], dtype=np.float64)
            self.adv, self.sigma = impact_inputs(self.close, volume, charged.impact_window)
        else:
            self.adv = self.sigma = np.full_like(self.close, np.nan)
        self.params = charged.as_array()
        # the cash check of the quotes prices them at the dearer of the taker and maker rates
        self.book_params = (
            charged.maker_array() if charged.maker_bps > charged.commission_bps else self.params
        )
        self.skew = float(plan.skew)
        self.floor_bps = float(charged.half_spread_bps)
        self.max_inventory = float(plan.max_inventory)
        self.max_weight = float(max_weight)
        self.max_leverage = float(max_leverage)
        self.allow_short = bool(allow_short)
        self.cash_only = self.max_leverage <= 1.0 and not self.allow_short
        self.lot = lot
        self.start = int(start)


class QuoteStrategy(Strategy):
    """The quote plan as an event-engine strategy: limit orders that live one bar.

    On each bar from the plan's start it cancels what is left of the
    previous bar's quotes, asks :func:`quote_book` for the next bar's from
    the account, and places them as limit orders (good till canceled, so
    they rest from the next bar's open and are canceled after it).
    """

    def __init__(self, inputs: _Inputs) -> None:
        self._in = inputs
        n = inputs.close.shape[1]
        self._bid_px = np.full(n, np.nan)
        self._bid_q = np.zeros(n)
        self._ask_px = np.full(n, np.nan)
        self._ask_q = np.zeros(n)
        self._tmp = np.zeros(5)
        self._shares = np.zeros(n)
        self._live: list = []
        #: quote sides posted
        self.posted = 0

    def schedule(self, ctx: Context) -> np.ndarray:
        inp = self._in
        quoting = np.isfinite(inp.size).any(axis=1)
        quoting[: inp.start] = False
        quoting[-1:] = False
        looks = quoting.copy()
        looks[1:] |= quoting[:-1]  # the bar after a quote cancels what is left of it
        return looks

    def on_bar(self, ctx: Context, row: int) -> None:
        for order in self._live:
            if order.is_open:
                ctx.cancel(order)
        self._live = []
        inp = self._in
        if row < inp.start or row + 1 >= len(ctx.index):
            return
        shares = self._shares
        shares[:] = 0.0
        pos = {a: j for j, a in enumerate(ctx.assets)}
        for asset, q in ctx.positions().items():
            shares[pos[asset]] = q
        quote_book(
            inp.fair[row], inp.half_bps[row], inp.size[row], inp.close[row],
            inp.last_close[row], shares, ctx.equity, ctx.cash, inp.skew, inp.floor_bps,
            inp.max_inventory, inp.max_weight, inp.max_leverage, inp.allow_short, inp.cash_only,
            inp.lot,
            inp.book_params, inp.adv[row + 1], inp.sigma[row + 1], self._bid_px, self._bid_q,
            self._ask_px, self._ask_q, self._tmp,
        )  # fmt: skip
        for j, asset in enumerate(ctx.assets):
            if self._bid_q[j] > 0.0:
                self._post(ctx, asset, float(self._bid_q[j]), float(self._bid_px[j]))
            if self._ask_q[j] > 0.0:
                self._post(ctx, asset, -float(self._ask_q[j]), float(self._ask_px[j]))

    def _post(self, ctx: Context, asset: str, quantity: float, price: float) -> None:
        self._live.append(ctx.order(asset, quantity, OrderType.LIMIT, limit_price=price))
        self.posted += 1


def _median_bar(index: pd.DatetimeIndex) -> pd.Timedelta | None:
    if len(index) < 2:
        return None
    return pd.Timedelta(int(np.median(np.diff(index.asi8))), "ns")


def check_quotes(
    panel: Panel, plan: QuotePlan, costs: CostModel, fills: FillTiming | str
) -> pd.Timedelta | None:
    """Refuse what bars cannot support (see the module docstring); return the median bar.

    Raises
    ------
    BacktestError
        Naming what was refused and what to change.
    """
    if FillTiming(fills) is FillTiming.SAME_CLOSE:
        raise BacktestError(
            "market making cannot fill at the close its quotes were computed from "
            "(fills: same_close): a quote posted at a close trades on the next bar or not at "
            "all",
            hint="use fills: next_open (or next_close); quotes rest through the next bar "
            "either way",
        )
    missing = [f for f in ("close", "high", "low") if f not in panel]
    if missing:
        raise BacktestError(
            "market making fills a quote when the next bar's range reaches it; the data has no "
            f"{' or '.join(repr(f) for f in missing)} field "
            f"(fields: {', '.join(panel.field_names)})",
            hint="use a dataset with high and low (OHLC bars)",
        )
    if FillTiming(fills) is FillTiming.NEXT_OPEN and "open" not in panel:
        raise BacktestError(
            "fills at the next open need an 'open' field; this dataset has "
            f"{', '.join(panel.field_names)}",
            hint="use fills: next_close (quotes then fill in the bar's range only)",
        )
    if plan.fair.shape != panel.shape:
        raise BacktestError(
            f"the quote plan has shape {plan.fair.shape}; the panel is {panel.shape} (time, asset)"
        )
    if plan.min_half_spread_bps < costs.half_spread_bps:
        raise BacktestError(
            f"the quotes' half-spread floor of {plan.min_half_spread_bps:g} bps is inside the "
            f"cost model's half-spread of {costs.half_spread_bps:g} bps: on bars a quote inside "
            "the market's spread cannot be told from a trade that pays it",
            hint=f"set min_half_spread_bps to at least {costs.half_spread_bps:g}",
        )
    bar = _median_bar(panel.index)
    if bar is not None and bar < MIN_BAR:
        raise BacktestError(
            f"market making on {bar} bars is refused: below {MIN_BAR} a market maker's result "
            "is queue position, latency and quote updates within the bar, which bars do not show",
            hint="use bars of an hour or longer; intraday market making needs order-book data",
        )
    return bar


def simulate_quotes(
    panel: Panel,
    plan: QuotePlan,
    *,
    costs: CostModel | None = None,
    initial_capital: float = 1_000_000.0,
    history: int = 0,
    engine: QuoteEngine = "vectorized",
    fills: FillTiming | str = FillTiming.NEXT_OPEN,
    max_leverage: float = 1.0,
    max_weight: float = 1.0,
    allow_short: bool | None = None,
    lot_size: float | Sequence[float] | np.ndarray = 0.0,
) -> SimulationResult:
    """Simulate market making on bars from a quote plan, with either engine.

    Parameters
    ----------
    panel : Panel
        ``close``, ``high``, ``low``; ``open`` for gap fills (and for
        ``next_open`` fills); ``volume`` for impact. Rows ``:history`` are
        history only (impact inputs); nothing is quoted on them and the
        result covers the rows after them.
    plan : QuotePlan
        Aligned with ``panel`` (every row, history included).
    costs : CostModel, default CostModel()
        Charged on every fill, plus the plan's adverse-selection bps.
    initial_capital : float
    history : int
    engine : {"vectorized", "event"}
        Both give the same equity (to 1e-9).
    fills : FillTiming, default next_open
        ``same_close`` is refused. Quotes rest from the next bar's open
        whatever the timing; it only decides which fields must exist.
    max_leverage, max_weight : float
        The spec's limits (fractions of equity): gross exposure after any
        one fill per asset, and the inventory cap per asset together with
        the plan's ``max_inventory``.
    allow_short : bool, optional
        Default: the plan's ``short_inventory``. False with a plan that
        shorts is refused.
    lot_size : float or per-asset array
        Quote quantities round toward zero to multiples of it (0 = fractional).

    Returns
    -------
    SimulationResult
        (an :class:`~alphaloop.backtest.event.EventResult` for the event
        engine), whose ``costs`` add ``adverse_selection`` to the cost
        categories and whose ``notes`` state what bars cannot show.

    Raises
    ------
    BacktestError
        Refused configurations (see :func:`check_quotes`); bad settings.
    """
    costs = costs or CostModel()
    if engine not in ("vectorized", "event"):
        raise BacktestError(f"unknown engine {engine!r}; use 'vectorized' or 'event'")
    if not (np.isfinite(initial_capital) and initial_capital > 0):
        raise BacktestError(f"initial capital must be positive, got {initial_capital}")
    if not 0 <= history < max(panel.n_times - 1, 1):
        raise BacktestError(
            f"history of {history} rows leaves no bars to quote in a panel of {panel.n_times}"
        )
    if allow_short is None:
        allow_short = plan.short_inventory
    elif plan.short_inventory and not allow_short:
        raise BacktestError(
            "the quote plan lets inventory go short but shorts are off",
            hint="set limits.allow_short: true, or short_inventory: false in the template",
        )
    allow_short = bool(allow_short and plan.short_inventory)
    lots = np.broadcast_to(np.asarray(lot_size, dtype=np.float64), (panel.n_assets,)).copy()
    if not (np.isfinite(lots).all() and (lots >= 0).all()):
        raise BacktestError("lot_size must be finite and >= 0 (0 = fractional shares)")
    bar = check_quotes(panel, plan, costs, fills)
    charged = costs.model_copy(
        update={"slippage_bps": costs.slippage_bps + plan.adverse_selection_bps}
    )
    inputs = _Inputs(
        panel, plan, charged, max_weight=max_weight, max_leverage=max_leverage,
        allow_short=allow_short, lot=lots, start=history,
    )  # fmt: skip
    if engine == "vectorized":
        sim, posted, both_rows = _run_vectorized(panel, inputs, charged, initial_capital, fills)
    else:
        sim, posted = _run_event(panel, inputs, charged, initial_capital, fills, max_leverage)
        both_rows = None
    return _finish(sim, panel, plan, costs, history, posted, both_rows, bar)


def _run_vectorized(
    panel: Panel, inp: _Inputs, charged: CostModel, capital: float, fills: FillTiming | str
) -> tuple[SimulationResult, int, int]:
    n_rows, n = inp.close.shape
    cap = 2 * int(np.isfinite(inp.size).sum()) + n
    days = np.diff(panel.index.asi8) / 86_400e9
    year_frac = np.concatenate([[0.0], days / 365.0])
    equity = np.empty(n_rows)
    turnover = np.zeros(n_rows)
    gross = np.zeros(n_rows)
    bar_cost = np.zeros(n_rows)
    cost_tot = np.zeros(6)
    trades = np.zeros(cap, dtype=TRADE_DTYPE)
    trips = np.zeros(cap + n, dtype=ROUND_TRIP_DTYPE)
    counts = np.zeros(5, dtype=np.int64)
    run_quotes(
        inp.fair, inp.half_bps, inp.size, inp.start, inp.open, inp.high, inp.low, inp.close,
        inp.last_close, inp.adv, inp.sigma, year_frac, inp.params, charged.borrow_rate,
        float(capital), inp.skew, inp.floor_bps, inp.max_inventory, inp.max_weight,
        inp.max_leverage,
        inp.allow_short, inp.lot, equity, turnover, gross, bar_cost, cost_tot, trades, trips,
        counts,
    )  # fmt: skip
    if counts[4] != 0:
        raise BacktestError("internal: the quote simulator's record buffers were too small")
    records = trades[: counts[0]]
    market = _Market(
        panel.index, panel.assets, inp.close, inp.open, inp.high, inp.low, inp.close, inp.adv,
        inp.sigma, year_frac, 1, FillTiming(fills) is FillTiming.NEXT_OPEN, "volume" in panel,
    )  # fmt: skip
    idx = panel.index
    eq = pd.Series(equity, index=idx, name="equity")
    prev = np.concatenate([[capital], equity[:-1]])
    notes = []
    if charged.impact == "sqrt" and "volume" not in panel:
        notes.append("market impact not modelled: the dataset has no volume")
    sim = SimulationResult(
        equity=eq,
        returns=pd.Series(equity / prev - 1.0, index=idx, name="returns"),
        turnover=pd.Series(turnover, index=idx, name="turnover"),
        gross_exposure=pd.Series(gross, index=idx, name="gross_exposure"),
        bar_costs=pd.Series(bar_cost, index=idx, name="costs"),
        costs={
            k: float(v)
            for k, v in zip(
                ("commission", "fees", "spread", "slippage", "impact", "borrow"),
                cost_tot,
                strict=True,
            )
        },
        trades=_quote_trades(market, records, inp.open),
        round_trips=_round_trips_frame(market, trips[: counts[1]]),
        initial_capital=float(capital),
        fills=FillTiming(fills),
        cost_model=charged,
        has_volume="volume" in panel,
        notes=tuple(notes),
    )
    return sim, int(counts[2]), int(counts[3])


def _quote_trades(market: _Market, records: np.ndarray, open_: np.ndarray) -> pd.DataFrame:
    """The kernel's fills as a trades frame; a fill at the bar's open, or on a bar without
    an open, is a taker's, one inside the range a maker's (as :func:`run_quotes` charged)."""
    frame = _trades_frame(market, records)
    at_open = open_[records["row"], records["asset"]]
    taker = np.isnan(at_open) | (records["price"] == at_open)
    frame["liquidity"] = np.where(taker, "taker", "maker").astype(object)
    return frame


def _run_event(
    panel: Panel,
    inp: _Inputs,
    charged: CostModel,
    capital: float,
    fills: FillTiming | str,
    max_leverage: float,
) -> tuple[SimulationResult, int]:
    strategy = QuoteStrategy(inp)
    res = EventEngine(
        panel, strategy, fills=FillTiming(fills), costs=charged, initial_capital=capital,
        max_leverage=max_leverage, allow_short=inp.allow_short,
    ).run()  # fmt: skip
    return res, strategy.posted


def _both_sided(trades: pd.DataFrame) -> int:
    """Bars on which one asset's bid and ask both filled."""
    if trades.empty:
        return 0
    sides = trades.assign(buy=trades["shares"] > 0, sell=trades["shares"] < 0)
    per = sides.groupby(["time", "asset"], observed=True)[["buy", "sell"]].any()
    return int((per["buy"] & per["sell"]).sum())


def _finish(
    sim: SimulationResult,
    panel: Panel,
    plan: QuotePlan,
    costs: CostModel,
    history: int,
    posted: int,
    both_rows: int | None,
    bar: pd.Timedelta | None,
) -> SimulationResult:
    """Cut the history rows, report adverse selection apart, and state what bars cannot show."""
    trades = sim.trades.copy()
    charged = trades["slippage"].to_numpy()
    slippage = trades["notional"].to_numpy() * (costs.slippage_bps * 1e-4)
    adverse = charged - slippage
    trades["slippage"] = slippage
    trades["adverse_selection"] = adverse
    total_adverse = float(adverse.sum())
    cost_totals = dict(sim.costs)
    cost_totals["slippage"] = float(slippage.sum())
    cost_totals["adverse_selection"] = total_adverse
    both = _both_sided(trades) if both_rows is None else both_rows
    n_fills = len(trades)
    filled_rows = trades.groupby(["time", "asset"], observed=True).ngroups if n_fills else 0
    notes = list(sim.notes)
    notes.append(
        "market making on bars is an approximation: a quote posted at a bar's close rests for "
        "the next bar only and fills in full when that bar's range reaches it (at the open when "
        "the bar opens through it); bars show neither queue position nor the order of prices "
        "within a bar, so the fill rate is an upper bound"
    )
    if n_fills:
        notes.append(
            f"{2 * both} of {n_fills} fills were both-sided in one bar ({both} of {filled_rows} "
            "bars with fills): the order within the bar is unknowable, so each such round trip "
            "assumes the price visited both quotes"
        )
    if posted:
        notes.append(f"{n_fills} of {posted} quotes posted filled ({n_fills / posted:.1%})")
    notes.append(
        f"adverse selection: {plan.adverse_selection_bps:g} bps of notional on every fill on "
        f"top of the cost model ({total_adverse:,.2f} in all); every fill also pays the cost "
        f"model's half-spread of {costs.half_spread_bps:g} bps as a taker would (a maker fee "
        "or rebate, maker_commission_bps, replaces only the percentage commission)"
    )
    if bar is not None and bar >= pd.Timedelta(hours=20):
        notes.append(
            f"a quote rests a whole bar ({bar}) here; a real quote lives seconds, so long bars "
            "overstate fills and understate how often a quote is picked off by news"
        )
    out = replace(sim, trades=trades, costs=cost_totals, cost_model=costs, notes=tuple(notes))
    return drop_history(out, history)
