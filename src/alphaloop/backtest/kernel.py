"""The numba simulation kernel of the vectorized backtester.

One portfolio is simulated by :func:`run_portfolio`; :func:`run_many` runs
many (a parameter sweep) in parallel over the same prices. Python callers go
through :mod:`alphaloop.backtest.vectorized`, which validates inputs and turns
the status codes returned here into typed errors.

Bar protocol (row ``r``; decisions of row ``d = r - lag`` are filled on row
``r``):

- ``next_open``: orders fill at ``open[r]``; then stops are checked against
  the bar's range; then positions are marked at ``close[r]``.
- ``next_close`` / ``same_close``: stops are checked first (positions held
  before the bar), then orders fill at ``close[r]``, then the mark.

Stops (fractions of the entry price; 0 = off): a long position exits when the
low reaches ``entry * (1 - stop_loss)`` or the trailing level ``peak * (1 -
trailing_stop)`` (peak: highest high since entry up to the previous bar), or
when the high reaches ``entry * (1 + take_profit)``; shorts mirror this. If
the bar opens beyond a level, the exit fills at the open. If a stop and the
take-profit are both touched within one bar, the stop is assumed to have come
first (the conservative rule). After a stop exit the asset stays flat until a
later decision sets a new target for it. A take-profit exit is the fill of a
limit order resting since the entry: it pays the cost model's maker
commission (:func:`~alphaloop.execution.costs.maker_params`), as the event
engine's take-profit orders do; every other fill is a taker's.

Rebalances (weights mode) are sized by :mod:`alphaloop.execution.rebalance`, the
same numba functions the event engine calls: :func:`~alphaloop.backtest.
sizing.plan_rebalance`, then the sells, then (without leverage and shorts)
:func:`~alphaloop.execution.rebalance.fit_buys_to_cash`, then the buys. Fills and
round trips are written to record arrays (:data:`TRADE_DTYPE`,
:data:`ROUND_TRIP_DTYPE`). Under a participation cap the order phase is
:func:`~alphaloop.backtest._capped_kernel.capped_orders` instead, and rows
with a remainder still working are never skipped by the quiet-row fast path.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alphaloop.backtest._capped_kernel import capped_orders
from alphaloop.backtest._fill_kernel import (
    ERR_CAPACITY,
    ERR_CASH,
    REASON_ORDER,
    REASON_STOP_LOSS,
    REASON_TAKE_PROFIT,
    REASON_TRAILING,
    ROUND_TRIP_DTYPE,
    TRADE_DTYPE,
    mark_to_market,
)
from alphaloop.backtest._fill_kernel import fill as _fill
from alphaloop.execution.costs import maker_params
from alphaloop.execution.rebalance import (
    ERR_LEVERAGE,
    ERR_PRICE,
    ERR_SHORT,
    OK,
    buys_cost,
    cash_fits,
    fit_buys_to_cash,
    plan_rebalance,
    round_lot,
)

__all__ = [
    "ERR_CAPACITY",
    "ERR_CASH",
    "ERR_LEVERAGE",
    "ERR_PRICE",
    "ERR_SHORT",
    "MODE_ORDERS",
    "MODE_WEIGHTS",
    "OK",
    "ROUND_TRIP_DTYPE",
    "TRADE_DTYPE",
    "run_many",
    "run_portfolio",
    "run_serial",
    "signal_targets",
    "signals_to_targets",
]

MODE_WEIGHTS = 0
MODE_ORDERS = 1


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def _quiet_rows(
    r, targets, lag, close, shares, last_px, cash, equity, turnover, gross, bar_cost, detail
):  # fmt: skip
    """Mark rows from ``r`` while no decision is due; return the first row that has one.

    The caller makes sure nothing else can happen on these rows: no stop can
    fire (stops off or no position) and no borrow is charged (no short or a
    zero rate), so cash stays put and only the marks move.
    """
    n_rows, n_assets = targets.shape
    if n_assets == 1:  # the common sweep case, with the position in registers
        q = shares[0]
        mark = last_px[0]
        while r < n_rows:
            d = r - lag
            if d >= 0 and not np.isnan(targets[d, 0]):
                break
            c = close[r, 0]
            if not np.isnan(c):
                mark = c
            v = q * mark if q != 0.0 else 0.0
            eq = cash + v
            equity[r] = eq
            if detail:
                turnover[r] = 0.0 if eq > 0.0 else np.nan
                gross[r] = abs(v) / eq if eq > 0.0 else np.nan
                bar_cost[r] = 0.0
            r += 1
        last_px[0] = mark
        return r
    while r < n_rows:
        d = r - lag
        if d >= 0:
            for j in range(n_assets):
                if targets[d, j] == targets[d, j]:
                    return r
        value = 0.0
        gross_value = 0.0
        for j in range(n_assets):
            c = close[r, j]
            if not np.isnan(c):
                last_px[j] = c
            q = shares[j]
            if q != 0.0:
                v = q * last_px[j]
                value += v
                gross_value += abs(v)
        eq = cash + value
        equity[r] = eq
        if detail:
            turnover[r] = 0.0 if eq > 0.0 else np.nan
            gross[r] = gross_value / eq if eq > 0.0 else np.nan
            bar_cost[r] = 0.0
        r += 1
    return r


@njit(cache=True, nogil=True)
def run_portfolio(
    targets, mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag, at_open,
    params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss, take_profit,
    trailing, min_trade_value, volume, participation, pending, equity, turnover, gross,
    bar_cost, cost_tot, trades, round_trips, detail, record, status,
):  # fmt: skip
    """Simulate one portfolio. See the module docstring for the bar protocol.

    Parameters (arrays are float64 unless noted)
    ----------
    targets : (T, N)
        Weights of equity (mode 0) or share quantities to trade (mode 1) decided
        at each row; NaN = no order for that asset on that row.
    exec_px : (T, N)
        Reference fill prices (open for next_open, close otherwise).
    open_, high, low, close : (T, N)
        Bar prices; high/low are read only when a stop is on.
    adv, sigma : (T, N)
        Impact inputs known before each bar (see ``costs.impact_inputs``).
    year_frac : (T,)
        Calendar years since the previous bar (for borrow costs).
    equity, turnover, gross, bar_cost : (T,) outputs
        Equity at each close; traded notional / equity; gross exposure /
        equity; costs charged on the bar. The last three only when ``detail``.
    cost_tot : (6,) output
        Totals per category (commission, fees, spread, slippage, impact, borrow).
    status : (4,) int64 output
        ``[code, row, asset, n_trades]``.
    volume : (T, N)
        Shares traded per bar; read only when ``participation`` > 0.
    participation : float
        Cap on the shares an asset trades per bar, as a fraction of the
        bar's volume (0 = no cap); see :mod:`alphaloop.backtest._capped_kernel`.
    pending : (N,) in/out
        Signed shares still working per asset (zeros in); after the run, the
        remainders that never filled. Used only with a cap.
    trades : (capacity,) TRADE_DTYPE output
        The first ``status[3]`` records are the fills, when ``record``.
    round_trips : (capacity + N,) ROUND_TRIP_DTYPE output
        Round trips when ``record``; their count is the return value.

    Returns
    -------
    int
        Number of round-trip rows written (closed first, then open ones with
        exit row -1, marked at the last close).
    """
    n_rows, n_assets = targets.shape
    cash = cash0
    shares = np.zeros(n_assets)
    last_px = np.full(n_assets, np.nan)
    entry_px = np.full(n_assets, np.nan)
    peak = np.full(n_assets, np.nan)
    rt_state = np.zeros((n_assets, 4))
    cost_tmp = np.zeros(5)
    bar = np.zeros(2)  # traded notional, costs on this bar
    delta = np.zeros(n_assets)
    base = np.zeros(n_assets)
    use_stops = stop_loss > 0.0 or take_profit > 0.0 or trailing > 0.0
    maker = maker_params(params)  # a take-profit exit's costs
    cash_only = max_leverage <= 1.0 and not allow_short
    n_tr = 0
    n_rt = 0
    status[0] = OK
    n_held = 0  # positions held, and short ones, after the last close
    n_short = 0
    capped = participation > 0.0
    n_working = 0  # assets with a capped remainder still working
    room = np.zeros(n_assets if capped else 0)  # shares left in the bar's cap
    r = -1
    while r + 1 < n_rows:
        r += 1
        quiet = (n_held == 0 or not use_stops) and (n_short == 0 or borrow_rate == 0.0)
        if quiet and n_working == 0:
            # fast path over rows where only the marks can move
            r = _quiet_rows(
                r, targets, lag, close, shares, last_px, cash, equity, turnover, gross,
                bar_cost, detail,
            )  # fmt: skip
            if r >= n_rows:
                break
        bar[0] = 0.0
        bar[1] = 0.0
        for phase in range(2):
            # phase 0: fills at the open (next_open) or stops (close fills);
            # phase 1: stops (next_open) or fills at the close.
            do_orders = (phase == 0) == at_open
            if not do_orders:
                if not use_stops:
                    continue
                for j in range(n_assets):
                    q = shares[j]
                    if q == 0.0:
                        continue
                    # a position opened at this bar's open did not live through a gap
                    entered_now = at_open and rt_state[j, 0] == r
                    hi = high[r, j]
                    lo = low[r, j]
                    op = open_[r, j]
                    if np.isnan(hi) or np.isnan(lo):
                        continue
                    e = entry_px[j]
                    exit_px = np.nan
                    reason = REASON_ORDER
                    if q > 0.0:
                        level = -np.inf
                        lreason = REASON_STOP_LOSS
                        if stop_loss > 0.0:
                            level = e * (1.0 - stop_loss)
                        if trailing > 0.0 and peak[j] * (1.0 - trailing) > level:
                            level = peak[j] * (1.0 - trailing)
                            lreason = REASON_TRAILING
                        tp = e * (1.0 + take_profit) if take_profit > 0.0 else np.inf
                        if not entered_now and not np.isnan(op) and op <= level:
                            exit_px, reason = op, lreason
                        elif not entered_now and not np.isnan(op) and op >= tp:
                            exit_px, reason = op, REASON_TAKE_PROFIT
                        elif lo <= level:
                            exit_px, reason = level, lreason
                        elif hi >= tp:
                            exit_px, reason = tp, REASON_TAKE_PROFIT
                        elif hi > peak[j]:
                            peak[j] = hi
                    else:
                        level = np.inf
                        lreason = REASON_STOP_LOSS
                        if stop_loss > 0.0:
                            level = e * (1.0 + stop_loss)
                        if trailing > 0.0 and peak[j] * (1.0 + trailing) < level:
                            level = peak[j] * (1.0 + trailing)
                            lreason = REASON_TRAILING
                        tp = e * (1.0 - take_profit) if take_profit > 0.0 else -np.inf
                        if not entered_now and not np.isnan(op) and op >= level:
                            exit_px, reason = op, lreason
                        elif not entered_now and not np.isnan(op) and op <= tp:
                            exit_px, reason = op, REASON_TAKE_PROFIT
                        elif hi >= level:
                            exit_px, reason = level, lreason
                        elif lo <= tp:
                            exit_px, reason = tp, REASON_TAKE_PROFIT
                        elif lo < peak[j]:
                            peak[j] = lo
                    if not np.isnan(exit_px):
                        cash, n_tr, n_rt, code = _fill(
                            j, -q, exit_px, r, reason, cash, shares, entry_px, peak, adv,
                            sigma, maker if reason == REASON_TAKE_PROFIT else params,
                            cost_tmp, cost_tot, bar, rt_state,
                            round_trips, n_rt, trades, n_tr, record,
                        )  # fmt: skip
                        if code != OK:
                            status[0], status[1], status[2] = code, r, j
                            return n_rt
                continue
            d = r - lag
            any_order = False
            if d >= 0:
                for j in range(n_assets):
                    if targets[d, j] == targets[d, j]:
                        any_order = True
                        break
            if not any_order and n_working == 0:
                continue
            px = exec_px[r]
            if capped:
                code, row, j, cash, n_tr, n_rt, n_working = capped_orders(
                    r, d, any_order, mode == MODE_WEIGHTS, targets, px, last_px, shares, cash,
                    max_leverage, allow_short, lot, min_trade_value, cash_only, delta, base,
                    pending, room, volume, participation, params, adv, sigma, cost_tmp,
                    entry_px, peak, cost_tot, bar, rt_state, round_trips, n_rt, trades, n_tr,
                    record,
                )  # fmt: skip
                if code != OK:
                    status[0], status[1], status[2] = code, row, j
                    return n_rt
                continue
            if mode == MODE_WEIGHTS:
                code, j, _ = plan_rebalance(
                    targets[d], px, last_px, shares, cash, max_leverage, allow_short, lot,
                    min_trade_value, delta, base,
                )  # fmt: skip
                if code != OK:
                    status[0], status[1], status[2] = code, r if code == ERR_PRICE else d, j
                    return n_rt
            else:
                for j in range(n_assets):
                    q = targets[d, j]
                    delta[j] = 0.0
                    if np.isnan(q) or q == 0.0:
                        continue
                    p = px[j]
                    if not (p > 0.0):
                        status[0], status[1], status[2] = ERR_PRICE, r, j
                        return n_rt
                    if not allow_short and shares[j] + q < -1e-9 * abs(q):
                        status[0], status[1], status[2] = ERR_SHORT, d, j
                        return n_rt
                    delta[j] = round_lot(q, lot[j])
            # sells first, so that they fund the buys
            for j in range(n_assets):
                if delta[j] < 0.0:
                    cash, n_tr, n_rt, code = _fill(
                        j, delta[j], px[j], r, REASON_ORDER, cash, shares, entry_px, peak,
                        adv, sigma, params, cost_tmp, cost_tot, bar, rt_state, round_trips,
                        n_rt, trades, n_tr, record,
                    )  # fmt: skip
                    if code != OK:
                        status[0], status[1], status[2] = code, r, j
                        return n_rt
            if cash_only:
                if mode == MODE_WEIGHTS:
                    # scale the buys down to the cash there is (costs included)
                    fit_buys_to_cash(
                        delta, base, shares, cash, px, lot, params, adv[r], sigma[r], cost_tmp
                    )
                elif not cash_fits(buys_cost(delta, px, params, adv[r], sigma[r], cost_tmp), cash):
                    for j in range(n_assets):
                        if delta[j] > 0.0:
                            status[0], status[1], status[2] = ERR_CASH, d, j
                            return n_rt
            for j in range(n_assets):
                if delta[j] > 0.0:
                    cash, n_tr, n_rt, code = _fill(
                        j, delta[j], px[j], r, REASON_ORDER, cash, shares, entry_px, peak,
                        adv, sigma, params, cost_tmp, cost_tot, bar, rt_state, round_trips,
                        n_rt, trades, n_tr, record,
                    )  # fmt: skip
                    if code != OK:
                        status[0], status[1], status[2] = code, r, j
                        return n_rt
        # close: borrow on shorts, mark to market
        cash, value, gross_value, n_held, n_short = mark_to_market(
            r, close, last_px, shares, borrow_rate, year_frac, cash, cost_tot, bar, rt_state
        )
        eq = cash + value
        equity[r] = eq
        if detail:
            turnover[r] = bar[0] / eq if eq > 0.0 else np.nan
            gross[r] = gross_value / eq if eq > 0.0 else np.nan
            bar_cost[r] = bar[1]
    # open round trips, marked at the last close
    status[3] = n_tr
    if not record:
        return 0
    for j in range(n_assets):
        if shares[j] != 0.0:
            if n_rt >= round_trips.shape[0]:
                status[0], status[1], status[2] = ERR_CAPACITY, n_rows - 1, j
                return n_rt
            trip = round_trips[n_rt]
            trip.asset = j
            trip.entry_row = int(rt_state[j, 0])
            trip.exit_row = -1
            trip.pnl = rt_state[j, 1] + shares[j] * last_px[j]
            trip.costs = rt_state[j, 2]
            trip.entry_notional = rt_state[j, 3]
            n_rt += 1
    return n_rt


@njit(cache=True, parallel=True)
def run_many(
    targets, mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag, at_open,
    params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss, take_profit,
    trailing, min_trade_value, volume, participation, pending, equity, turnover, gross,
    bar_cost, cost_tot, trades, round_trips, n_rt, detail, record, status,
):  # fmt: skip
    """Run ``targets.shape[0]`` portfolios over the same prices, in parallel.

    Every array argument of :func:`run_portfolio` gains a leading portfolio
    axis (``stop_loss``/``take_profit``/``trailing`` are (P,) so stops can be
    swept too); ``n_rt`` (P,) receives the round-trip counts.
    """
    for p in prange(targets.shape[0]):
        n_rt[p] = run_portfolio(
            targets[p], mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag,
            at_open, params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss[p],
            take_profit[p], trailing[p], min_trade_value, volume, participation, pending[p],
            equity[p], turnover[p], gross[p], bar_cost[p], cost_tot[p], trades[p],
            round_trips[p], detail, record, status[p],
        )  # fmt: skip


@njit(cache=True)
def run_serial(
    targets, mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag, at_open,
    params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss, take_profit,
    trailing, min_trade_value, volume, participation, pending, equity, turnover, gross,
    bar_cost, cost_tot, trades, round_trips, n_rt, detail, record, status,
):  # fmt: skip
    """Run the portfolios of :func:`run_many` one after the other on the calling thread.

    A single portfolio gains nothing from the thread pool, and waking it costs
    milliseconds on a busy machine.
    """
    for p in range(targets.shape[0]):
        n_rt[p] = run_portfolio(
            targets[p], mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag,
            at_open, params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss[p],
            take_profit[p], trailing[p], min_trade_value, volume, participation, pending[p],
            equity[p], turnover[p], gross[p], bar_cost[p], cost_tot[p], trades[p],
            round_trips[p], detail, record, status[p],
        )  # fmt: skip


@njit(cache=True, nogil=True)
def signal_targets(entries, exits, short_entries, short_exits, size, out):
    """Sparse target weights of one portfolio from its signals, all arrays (T, N).

    A long entry while flat or short sets the target to ``+size``; a long exit
    while long sets it to 0; short entries/exits mirror this with ``-size``.
    Signals that would not change the position (an entry while already in,
    an exit while flat, or an entry and an exit on the same row) give NaN,
    meaning no order, so a held position is never resized by a repeated
    signal. Inputs are bool; ``out`` is float64.
    """
    n_rows, n_assets = entries.shape
    for j in range(n_assets):
        state = 0
        for t in range(n_rows):
            le = entries[t, j] and not exits[t, j]
            lx = exits[t, j] and not entries[t, j]
            se = short_entries[t, j] and not short_exits[t, j]
            sx = short_exits[t, j] and not short_entries[t, j]
            value = np.nan
            if le and state <= 0 and not se:
                value = size
                state = 1
            elif se and state >= 0 and not le:
                value = -size
                state = -1
            elif (lx and state == 1) or (sx and state == -1):
                value = 0.0
                state = 0
            out[t, j] = value


@njit(cache=True, parallel=True)
def signals_to_targets(entries, exits, short_entries, short_exits, size, out):
    """:func:`signal_targets` for P portfolios in parallel: (P, T, N) arrays."""
    for p in prange(entries.shape[0]):
        signal_targets(entries[p], exits[p], short_entries[p], short_exits[p], size, out[p])
