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
later decision sets a new target for it.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alphaloop.execution.costs import fill_cost

# status codes (see vectorized._raise_status)
OK = 0
ERR_PRICE = 1  # no valid price where an order is due
ERR_CASH = 2  # a buy order beyond cash without leverage
ERR_LEVERAGE = 3  # target weights beyond the leverage cap
ERR_SHORT = 4  # a short target or order with shorts not allowed
ERR_CAPACITY = 5  # record buffers too small (internal)

# trade reasons
REASON_ORDER = 0
REASON_STOP_LOSS = 1
REASON_TAKE_PROFIT = 2
REASON_TRAILING = 3

# trade record columns
TI_ROW, TI_ASSET, TI_REASON = 0, 1, 2
TF_SHARES, TF_PRICE, TF_COST0 = 0, 1, 2  # costs in columns 2..6, then cash flow
TF_WIDTH = 8
RI_ASSET, RI_ENTRY, RI_EXIT = 0, 1, 2
RF_PNL, RF_COST, RF_NOTIONAL = 0, 1, 2

MODE_WEIGHTS = 0
MODE_ORDERS = 1


@njit(cache=True, nogil=True)
def _fill(
    j, dq, price, r, reason, cash, shares, entry_px, peak, adv, sigma, params, cost_tmp,
    cost_tot, bar, rt_state, rt_i, rt_f, n_rt, trades_i, trades_f, n_tr, record,
):  # fmt: skip
    """Apply one fill; returns (cash, n_trades, n_round_trips, status)."""
    total = fill_cost(params, dq, price, adv[r, j], sigma[r, j], cost_tmp)
    flow = -dq * price - total
    cash += flow
    for k in range(5):
        cost_tot[k] += cost_tmp[k]
    bar[0] += abs(dq) * price
    bar[1] += total
    prev = shares[j]
    new = prev + dq
    if abs(new) < 1e-12 * (abs(prev) + abs(dq)):
        new = 0.0
    shares[j] = new
    # round trips: rt_state[j] = (entry row, cash flow, cost, entry notional)
    if prev == 0.0:
        rt_state[j, 0] = r
        rt_state[j, 1] = flow
        rt_state[j, 2] = total
        rt_state[j, 3] = abs(dq) * price
        entry_px[j] = price
        peak[j] = price
    elif new == 0.0 or (new > 0.0) != (prev > 0.0):
        # closes (and maybe reverses): split the fill's cash flow pro rata
        part = abs(prev) / abs(dq)
        if record:
            if n_rt >= rt_i.shape[0]:
                return cash, n_tr, n_rt, ERR_CAPACITY
            rt_i[n_rt, RI_ASSET] = j
            rt_i[n_rt, RI_ENTRY] = int(rt_state[j, 0])
            rt_i[n_rt, RI_EXIT] = r
            rt_f[n_rt, RF_PNL] = rt_state[j, 1] + flow * part
            rt_f[n_rt, RF_COST] = rt_state[j, 2] + total * part
            rt_f[n_rt, RF_NOTIONAL] = rt_state[j, 3]
        n_rt += 1
        if new != 0.0:
            rt_state[j, 0] = r
            rt_state[j, 1] = flow * (1.0 - part)
            rt_state[j, 2] = total * (1.0 - part)
            rt_state[j, 3] = abs(new) * price
            entry_px[j] = price
            peak[j] = price
    else:
        rt_state[j, 1] += flow
        rt_state[j, 2] += total
        if abs(new) > abs(prev):  # adding: average the entry price
            entry_px[j] = (prev * entry_px[j] + dq * price) / new
            rt_state[j, 3] += abs(dq) * price
    if record:
        if n_tr >= trades_i.shape[0]:
            return cash, n_tr, n_rt, ERR_CAPACITY
        trades_i[n_tr, TI_ROW] = r
        trades_i[n_tr, TI_ASSET] = j
        trades_i[n_tr, TI_REASON] = reason
        trades_f[n_tr, TF_SHARES] = dq
        trades_f[n_tr, TF_PRICE] = price
        for k in range(5):
            trades_f[n_tr, TF_COST0 + k] = cost_tmp[k]
        trades_f[n_tr, TF_COST0 + 5] = flow
    n_tr += 1
    return cash, n_tr, n_rt, OK


@njit(cache=True, nogil=True)
def _lot(q, lot):
    if lot > 0.0:
        return np.trunc(q / lot) * lot
    return q


@njit(cache=True, nogil=True)
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
    trailing, min_trade_value, equity, turnover, gross, bar_cost, cost_tot, trades_i,
    trades_f, rt_i, rt_f, detail, record, status,
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
        ``[code, row, asset, n_trades]``; ``trades_i``/``trades_f`` hold
        ``status[3]`` fills when ``record``; ``rt_*`` hold round trips and
        ``status`` gets their count via the return value.

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
    cash_only = max_leverage <= 1.0 and not allow_short
    n_tr = 0
    n_rt = 0
    status[0] = OK
    n_held = 0  # positions held, and short ones, after the last close
    n_short = 0
    r = -1
    while r + 1 < n_rows:
        r += 1
        if (n_held == 0 or not use_stops) and (n_short == 0 or borrow_rate == 0.0):
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
                            sigma, params, cost_tmp, cost_tot, bar, rt_state, rt_i, rt_f,
                            n_rt, trades_i, trades_f, n_tr, record,
                        )  # fmt: skip
                        if code != OK:
                            status[0], status[1], status[2] = code, r, j
                            return n_rt
                continue
            d = r - lag
            if d < 0:
                continue
            any_order = False
            for j in range(n_assets):
                if targets[d, j] == targets[d, j]:
                    any_order = True
                    break
            if not any_order:
                continue
            px = exec_px[r]
            if mode == MODE_WEIGHTS:
                value = 0.0
                for j in range(n_assets):
                    if shares[j] != 0.0:
                        p = px[j] if px[j] == px[j] else last_px[j]
                        value += shares[j] * p
                eq = cash + value
                if eq <= 0.0:
                    continue  # ruined: nothing left to size from
                lev = 0.0
                for j in range(n_assets):
                    w = targets[d, j]
                    if not np.isnan(w):
                        lev += abs(w)
                        if w < 0.0 and not allow_short:
                            status[0], status[1], status[2] = ERR_SHORT, d, j
                            return n_rt
                    elif shares[j] != 0.0:
                        p = px[j] if px[j] == px[j] else last_px[j]
                        lev += abs(shares[j] * p) / eq
                if lev > max_leverage * (1.0 + 1e-9) + 1e-12:
                    status[0], status[1], status[2] = ERR_LEVERAGE, d, -1
                    return n_rt
                for j in range(n_assets):
                    w = targets[d, j]
                    delta[j] = 0.0
                    base[j] = 0.0
                    if np.isnan(w):
                        continue
                    p = px[j]
                    if not (p > 0.0):  # NaN or non-positive
                        if w != 0.0 or shares[j] != 0.0:
                            status[0], status[1], status[2] = ERR_PRICE, r, j
                            return n_rt
                        continue
                    want = _lot(w * eq / p, lot[j])
                    dq = want - shares[j]
                    # float dust (a rebalance to an unchanged weight) is not an order
                    if abs(dq) * p <= 1e-10 * eq:
                        continue
                    if abs(dq) * p < min_trade_value and want != 0.0:
                        continue
                    delta[j] = dq
                    base[j] = w * eq / p
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
                    delta[j] = _lot(q, lot[j])
            # sells first, so that they fund the buys
            for j in range(n_assets):
                if delta[j] < 0.0:
                    cash, n_tr, n_rt, code = _fill(
                        j, delta[j], px[j], r, REASON_ORDER, cash, shares, entry_px, peak,
                        adv, sigma, params, cost_tmp, cost_tot, bar, rt_state, rt_i, rt_f,
                        n_rt, trades_i, trades_f, n_tr, record,
                    )  # fmt: skip
                    if code != OK:
                        status[0], status[1], status[2] = code, r, j
                        return n_rt
            if cash_only:
                need = 0.0
                for j in range(n_assets):
                    if delta[j] > 0.0:
                        need += delta[j] * px[j] + fill_cost(
                            params, delta[j], px[j], adv[r, j], sigma[r, j], cost_tmp
                        )
                if need > cash * (1.0 + 1e-12) + 1e-9:
                    if mode == MODE_ORDERS:
                        for j in range(n_assets):
                            if delta[j] > 0.0:
                                status[0], status[1], status[2] = ERR_CASH, d, j
                                return n_rt
                    # scale the buys down to the cash there is (costs included)
                    scale = cash / need if cash > 0.0 else 0.0
                    for _ in range(8):
                        need = 0.0
                        for j in range(n_assets):
                            if delta[j] > 0.0:
                                delta[j] = (
                                    _lot(shares[j] + (base[j] - shares[j]) * scale, lot[j])
                                    - shares[j]
                                )
                                if delta[j] > 0.0:
                                    need += delta[j] * px[j] + fill_cost(
                                        params, delta[j], px[j], adv[r, j], sigma[r, j],
                                        cost_tmp,
                                    )  # fmt: skip
                        if need <= cash * (1.0 + 1e-12) + 1e-9:
                            break
                        scale *= cash / need if cash > 0.0 else 0.0
                    if need > cash * (1.0 + 1e-12) + 1e-9:
                        # lot rounding can stall the steps above (the rounded buys stay
                        # put): bisect for the largest scale whose rounded buys fit
                        lo_s = 0.0
                        hi_s = 1.0
                        for _ in range(60):
                            mid = 0.5 * (lo_s + hi_s)
                            need = 0.0
                            for j in range(n_assets):
                                if delta[j] > 0.0:
                                    q = (
                                        _lot(shares[j] + (base[j] - shares[j]) * mid, lot[j])
                                        - shares[j]
                                    )
                                    if q > 0.0:
                                        need += q * px[j] + fill_cost(
                                            params, q, px[j], adv[r, j], sigma[r, j], cost_tmp
                                        )
                            if need <= cash * (1.0 + 1e-12) + 1e-9:
                                lo_s = mid
                            else:
                                hi_s = mid
                        for j in range(n_assets):
                            if delta[j] > 0.0:
                                delta[j] = (
                                    _lot(shares[j] + (base[j] - shares[j]) * lo_s, lot[j])
                                    - shares[j]
                                )
            for j in range(n_assets):
                if delta[j] > 0.0:
                    cash, n_tr, n_rt, code = _fill(
                        j, delta[j], px[j], r, REASON_ORDER, cash, shares, entry_px, peak,
                        adv, sigma, params, cost_tmp, cost_tot, bar, rt_state, rt_i, rt_f,
                        n_rt, trades_i, trades_f, n_tr, record,
                    )  # fmt: skip
                    if code != OK:
                        status[0], status[1], status[2] = code, r, j
                        return n_rt
        # close: borrow on shorts, mark to market
        value = 0.0
        gross_value = 0.0
        n_held = 0
        n_short = 0
        for j in range(n_assets):
            c = close[r, j]
            if not np.isnan(c):
                last_px[j] = c
            q = shares[j]
            if q != 0.0:
                n_held += 1
                if q < 0.0:
                    n_short += 1
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
            if n_rt >= rt_i.shape[0]:
                status[0], status[1], status[2] = ERR_CAPACITY, n_rows - 1, j
                return n_rt
            rt_i[n_rt, RI_ASSET] = j
            rt_i[n_rt, RI_ENTRY] = int(rt_state[j, 0])
            rt_i[n_rt, RI_EXIT] = -1
            rt_f[n_rt, RF_PNL] = rt_state[j, 1] + shares[j] * last_px[j]
            rt_f[n_rt, RF_COST] = rt_state[j, 2]
            rt_f[n_rt, RF_NOTIONAL] = rt_state[j, 3]
            n_rt += 1
    return n_rt


@njit(cache=True, parallel=True)
def run_many(
    targets, mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag, at_open,
    params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss, take_profit,
    trailing, min_trade_value, equity, turnover, gross, bar_cost, cost_tot, trades_i,
    trades_f, rt_i, rt_f, n_rt, detail, record, status,
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
            take_profit[p], trailing[p], min_trade_value, equity[p], turnover[p], gross[p],
            bar_cost[p], cost_tot[p], trades_i[p], trades_f[p], rt_i[p], rt_f[p], detail,
            record, status[p],
        )  # fmt: skip


@njit(cache=True)
def run_serial(
    targets, mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag, at_open,
    params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss, take_profit,
    trailing, min_trade_value, equity, turnover, gross, bar_cost, cost_tot, trades_i,
    trades_f, rt_i, rt_f, n_rt, detail, record, status,
):  # fmt: skip
    """Run the portfolios of :func:`run_many` one after the other on the calling thread.

    A single portfolio gains nothing from the thread pool, and waking it costs
    milliseconds on a busy machine.
    """
    for p in range(targets.shape[0]):
        n_rt[p] = run_portfolio(
            targets[p], mode, exec_px, open_, high, low, close, adv, sigma, year_frac, lag,
            at_open, params, borrow_rate, cash0, max_leverage, allow_short, lot, stop_loss[p],
            take_profit[p], trailing[p], min_trade_value, equity[p], turnover[p], gross[p],
            bar_cost[p], cost_tot[p], trades_i[p], trades_f[p], rt_i[p], rt_f[p], detail,
            record, status[p],
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
