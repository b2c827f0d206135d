"""The quote simulator: market making on bars, in both engines, with the same fills.

A :class:`~alphaloop.strategies.market_making.QuotePlan` holds what a market
maker decided at each bar's close before its inventory is known (fair value,
half-spread, size). Each bar the simulator turns it into a bid and an ask
from the running position (:func:`quote_book`, one numba function both
engines call) and posts them for the next bar only:

- ``engine="vectorized"``: :func:`run_quotes`, a numba loop;
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
as its own category).

Refused, with a :class:`~alphaloop.errors.BacktestError`, because bars
cannot support them: ``fills: same_close`` (a quote computed from a close
cannot trade at that close), data without ``high``/``low``, a half-spread
floor inside the cost model's half-spread (no edge can be earned inside the
market's spread on bars), and bars shorter than :data:`MIN_BAR` (there a
market maker's result is queue position and latency, which bars do not
show). Both-sided fills within one bar are counted and reported.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd
from numba import njit

from alphaloop.backtest.event import Context, EventEngine, Strategy
from alphaloop.backtest.kernel import ROUND_TRIP_DTYPE, TRADE_DTYPE
from alphaloop.backtest.kernel import _fill as kernel_fill
from alphaloop.backtest.vectorized import (
    SimulationResult,
    _Market,
    _round_trips_frame,
    _trades_frame,
)
from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import CostModel, FillTiming, OrderType, fill_cost, impact_inputs
from alphaloop.execution.market import forward_fill
from alphaloop.execution.rebalance import cash_fits, round_lot
from alphaloop.strategies.market_making import QuotePlan

__all__ = ["MIN_BAR", "QuoteStrategy", "quote_book", "run_quotes", "simulate_quotes"]

QuoteEngine = Literal["vectorized", "event"]

#: Shortest bar (median spacing of the data) the quote simulator accepts.
MIN_BAR = pd.Timedelta(hours=1)

# a quote worth less than this fraction of equity is not posted
_MIN_QUOTE = 1e-6
_CASH_ROUNDS = 20


@njit(cache=True, nogil=True)
def quote_book(
    fair, half_bps, size, close, last_close, shares, equity, cash, skew, floor_bps,
    max_inventory, max_weight, max_leverage, allow_short, cash_only, lot, params, adv, sigma,
    bid_px, bid_q, ask_px, ask_q, cost_tmp,
):  # fmt: skip
    """One bar's quotes from the plan's row and the account (both engines call this).

    Parameters
    ----------
    fair, half_bps, size : ndarray, shape (asset,)
        The plan's row (price units, basis points, fraction of equity).
    close : ndarray, shape (asset,)
        The decision bar's close (NaN: no quote).
    last_close : ndarray, shape (asset,)
        Close carried forward: what positions are marked at.
    shares : ndarray, shape (asset,)
        Signed position.
    equity, cash : float
        At the decision close (currency).
    skew, floor_bps : float
        Inventory skew (half-spreads at a full inventory), and the market's
        half-spread (bps, the cost model's): no quote sits closer to the close
        than the market's own quote, so none is a taker's order.
    max_inventory, max_weight, max_leverage : float
        See :class:`~alphaloop.strategies.market_making.QuotePlan`; the
        inventory cap per asset is ``min(max_inventory, max_weight)`` of
        equity, and no single fill per asset may take the gross exposure
        above ``max_leverage`` of equity.
    allow_short, cash_only : bool
        Asks below a zero position; without leverage and shorts the bids
        together (costs included) must fit the cash.
    lot : ndarray, shape (asset,)
        Lot sizes (0 = fractional shares); quantities round toward zero.
    params, adv, sigma
        Cost parameters (adverse selection included) and the fill bar's
        impact inputs, for the cash check.
    bid_px, bid_q, ask_px, ask_q : ndarray, shape (asset,)
        Outputs: prices and unsigned quantities (0 = no quote).
    cost_tmp : ndarray, shape (5,)
        Scratch space.
    """
    n = fair.shape[0]
    cap_frac = min(max_inventory, max_weight)
    gross = 0.0
    for j in range(n):
        bid_q[j] = 0.0
        ask_q[j] = 0.0
        bid_px[j] = np.nan
        ask_px[j] = np.nan
        if shares[j] != 0.0:
            gross += abs(shares[j] * last_close[j])
    if not (equity > 0.0):
        return
    floor = _MIN_QUOTE * equity
    added = 0.0  # the largest gross increase over the assets' one-sided fills
    for j in range(n):
        f = fair[j]
        h = half_bps[j] * 1e-4
        s = size[j]
        c = close[j]
        if not (f > 0.0 and h > 0.0 and s > 0.0 and c > 0.0):
            continue
        pos = shares[j]
        cap = cap_frac * equity
        ratio = pos * c / cap
        ratio = min(1.0, max(-1.0, ratio))
        centre = f * (1.0 - skew * ratio * h)
        b = min(centre * (1.0 - h), c * (1.0 - floor_bps * 1e-4))
        a = max(centre * (1.0 + h), c * (1.0 + floor_bps * 1e-4))
        if b > 0.0:
            q = min(s * equity / b, max(cap / c - pos, 0.0))
            q = round_lot(q, lot[j])
            if q * b > floor:
                bid_q[j] = q
                bid_px[j] = b
        room = pos + cap / c if allow_short else pos
        q = min(s * equity / a, max(room, 0.0))
        q = round_lot(q, lot[j])
        if q * a > floor:
            ask_q[j] = q
            ask_px[j] = a
        inc_b = max(abs(pos + bid_q[j]) - abs(pos), 0.0) * c
        inc_a = max(abs(pos - ask_q[j]) - abs(pos), 0.0) * c
        added += max(inc_b, inc_a)
    budget = max_leverage * equity - gross
    if added > 0.0 and added > budget:
        scale = max(budget, 0.0) / added
        _scale_increasing(shares, lot, scale, floor, bid_px, bid_q, ask_px, ask_q)
    if cash_only:
        for _ in range(_CASH_ROUNDS):
            need = 0.0
            for j in range(n):
                if bid_q[j] > 0.0:
                    need += bid_q[j] * bid_px[j] + fill_cost(
                        params, bid_q[j], bid_px[j], adv[j], sigma[j], cost_tmp
                    )
            if need <= 0.0 or cash_fits(need, cash):
                return
            scale = max(cash, 0.0) / need * (1.0 - 1e-9)
            for j in range(n):
                if bid_q[j] > 0.0:
                    q = round_lot(bid_q[j] * scale, lot[j])
                    bid_q[j] = q if q * bid_px[j] > floor else 0.0
                    if bid_q[j] == 0.0:
                        bid_px[j] = np.nan
        for j in range(n):  # never fitted: no bids
            bid_q[j] = 0.0
            bid_px[j] = np.nan


@njit(cache=True, nogil=True)
def _scale_increasing(shares, lot, scale, floor, bid_px, bid_q, ask_px, ask_q):
    """Scale the sides that would raise an asset's gross exposure by ``scale``."""
    for j in range(shares.shape[0]):
        pos = shares[j]
        if bid_q[j] > 0.0 and abs(pos + bid_q[j]) > abs(pos):
            q = round_lot(bid_q[j] * scale, lot[j])
            if q * bid_px[j] > floor:
                bid_q[j] = q
            else:
                bid_q[j] = 0.0
                bid_px[j] = np.nan
        if ask_q[j] > 0.0 and abs(pos - ask_q[j]) > abs(pos):
            q = round_lot(ask_q[j] * scale, lot[j])
            if q * ask_px[j] > floor:
                ask_q[j] = q
            else:
                ask_q[j] = 0.0
                ask_px[j] = np.nan


@njit(cache=True, nogil=True)
def run_quotes(
    fair, half_bps, size, start, open_, high, low, close, last_close, adv, sigma, year_frac,
    params, borrow_rate, cash0, skew, floor_bps, max_inventory, max_weight, max_leverage,
    allow_short, lot, equity, turnover, gross, bar_cost, cost_tot, trades, round_trips, counts,
):  # fmt: skip
    """Simulate the quote plan on every row (the vectorized engine).

    Quotes are posted on rows ``start .. T-2`` (never on the last bar) and
    matched on the next row: per asset the bid before the ask, each at the
    open when the bar opens through it, else at its price when the range
    reaches it; no fill where the bar has no high or low. Then the close:
    borrow on shorts, the mark, and the next quotes.

    ``counts`` (int64, 5) receives: fills, round trips written, quotes
    posted (sides), fills of both sides of one asset in one bar, status
    (0 ok, 5 record buffers too small). Other arrays as in
    :func:`alphaloop.backtest.kernel.run_portfolio`.
    """
    n_rows, n = close.shape
    cash = cash0
    shares = np.zeros(n)
    last_px = np.full(n, np.nan)
    entry_px = np.full(n, np.nan)
    peak = np.full(n, np.nan)
    rt_state = np.zeros((n, 4))
    cost_tmp = np.zeros(5)
    bar = np.zeros(2)
    bid_px = np.full(n, np.nan)
    bid_q = np.zeros(n)
    ask_px = np.full(n, np.nan)
    ask_q = np.zeros(n)
    cash_only = max_leverage <= 1.0 and not allow_short
    n_tr = 0
    n_rt = 0
    posted = 0
    both = 0
    for r in range(n_rows):
        bar[0] = 0.0
        bar[1] = 0.0
        if r > 0:
            for j in range(n):
                has_b = bid_q[j] > 0.0
                has_a = ask_q[j] > 0.0
                if not (has_b or has_a):
                    continue
                hi = high[r, j]
                lo = low[r, j]
                if np.isnan(hi) or np.isnan(lo):
                    continue
                op = open_[r, j]
                px_b = np.nan
                px_a = np.nan
                if not np.isnan(op):
                    if has_b and op <= bid_px[j]:
                        px_b = op
                        cash, n_tr, n_rt, code = kernel_fill(
                            j, bid_q[j], op, r, 0, cash, shares, entry_px, peak, adv, sigma,
                            params, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt,
                            trades, n_tr, True,
                        )  # fmt: skip
                        if code != 0:
                            counts[4] = code
                            return
                    if has_a and op >= ask_px[j]:
                        px_a = op
                        cash, n_tr, n_rt, code = kernel_fill(
                            j, -ask_q[j], op, r, 0, cash, shares, entry_px, peak, adv, sigma,
                            params, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt,
                            trades, n_tr, True,
                        )  # fmt: skip
                        if code != 0:
                            counts[4] = code
                            return
                if has_b and np.isnan(px_b) and lo <= bid_px[j]:
                    px_b = bid_px[j]
                    cash, n_tr, n_rt, code = kernel_fill(
                        j, bid_q[j], px_b, r, 0, cash, shares, entry_px, peak, adv, sigma,
                        params, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt,
                        trades, n_tr, True,
                    )  # fmt: skip
                    if code != 0:
                        counts[4] = code
                        return
                if has_a and np.isnan(px_a) and hi >= ask_px[j]:
                    px_a = ask_px[j]
                    cash, n_tr, n_rt, code = kernel_fill(
                        j, -ask_q[j], px_a, r, 0, cash, shares, entry_px, peak, adv, sigma,
                        params, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt,
                        trades, n_tr, True,
                    )  # fmt: skip
                    if code != 0:
                        counts[4] = code
                        return
                if not np.isnan(px_b) and not np.isnan(px_a):
                    both += 1
        # close: borrow on shorts, mark to market
        value = 0.0
        gross_value = 0.0
        for j in range(n):
            c = close[r, j]
            if not np.isnan(c):
                last_px[j] = c
            q = shares[j]
            if q != 0.0:
                v = q * last_px[j]
                value += v
                gross_value += abs(v)
                if q < 0.0 and borrow_rate > 0.0:
                    fee = -v * borrow_rate * year_frac[r]
                    cash -= fee
                    cost_tot[5] += fee
                    bar[1] += fee
                    rt_state[j, 1] -= fee
                    rt_state[j, 2] += fee
        eq = cash + value
        equity[r] = eq
        turnover[r] = bar[0] / eq if eq > 0.0 else np.nan
        gross[r] = gross_value / eq if eq > 0.0 else np.nan
        bar_cost[r] = bar[1]
        # the next bar's quotes
        if r >= start and r + 1 < n_rows:
            quote_book(
                fair[r], half_bps[r], size[r], close[r], last_close[r], shares, eq, cash, skew,
                floor_bps, max_inventory, max_weight, max_leverage, allow_short, cash_only, lot,
                params,
                adv[r + 1], sigma[r + 1], bid_px, bid_q, ask_px, ask_q, cost_tmp,
            )  # fmt: skip
            for j in range(n):
                posted += (bid_q[j] > 0.0) + (ask_q[j] > 0.0)
        else:
            for j in range(n):
                bid_q[j] = 0.0
                ask_q[j] = 0.0
    counts[0] = n_tr
    # open round trips, marked at the last close
    for j in range(n):
        if shares[j] != 0.0:
            if n_rt >= round_trips.shape[0]:
                counts[4] = 5
                return
            trip = round_trips[n_rt]
            trip.asset = j
            trip.entry_row = int(rt_state[j, 0])
            trip.exit_row = -1
            trip.pnl = rt_state[j, 1] + shares[j] * last_px[j]
            trip.costs = rt_state[j, 2]
            trip.entry_notional = rt_state[j, 3]
            n_rt += 1
    counts[1] = n_rt
    counts[2] = posted
    counts[3] = both


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
            inp.params, inp.adv[row + 1], inp.sigma[row + 1], self._bid_px, self._bid_q,
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
    lot_size: float = 0.0,
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
    lot_size : float
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
    if not (np.isfinite(lot_size) and lot_size >= 0):
        raise BacktestError("lot_size must be finite and >= 0 (0 = fractional shares)")
    bar = check_quotes(panel, plan, costs, fills)
    charged = costs.model_copy(
        update={"slippage_bps": costs.slippage_bps + plan.adverse_selection_bps}
    )
    inputs = _Inputs(
        panel, plan, charged, max_weight=max_weight, max_leverage=max_leverage,
        allow_short=allow_short, lot=np.full(panel.n_assets, float(lot_size)), start=history,
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
        trades=_trades_frame(market, trades[: counts[0]]),
        round_trips=_round_trips_frame(market, trips[: counts[1]]),
        initial_capital=float(capital),
        fills=FillTiming(fills),
        cost_model=charged,
        has_volume="volume" in panel,
        notes=tuple(notes),
    )
    return sim, int(counts[2]), int(counts[3])


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
        f"model's half-spread of {costs.half_spread_bps:g} bps as a taker would (maker rebates "
        "are not credited)"
    )
    if bar is not None and bar >= pd.Timedelta(hours=20):
        notes.append(
            f"a quote rests a whole bar ({bar}) here; a real quote lives seconds, so long bars "
            "overstate fills and understate how often a quote is picked off by news"
        )
    out = replace(sim, trades=trades, costs=cost_totals, cost_model=costs, notes=tuple(notes))
    if history == 0:
        return out
    cut = slice(history, None)
    equity = out.equity.iloc[cut]
    prev = np.concatenate([[out.initial_capital], equity.to_numpy()[:-1]])
    returns = pd.Series(equity.to_numpy() / prev - 1.0, index=equity.index, name="returns")
    return replace(
        out,
        equity=equity,
        returns=returns,
        turnover=out.turnover.iloc[cut],
        gross_exposure=out.gross_exposure.iloc[cut],
        bar_costs=out.bar_costs.iloc[cut],
    )
