"""One fill of the vectorized kernel: cash, shares, costs, round trips and the trade record.

:func:`fill` is shared by :mod:`alphaloop.backtest.kernel`, its capped
order phase (:mod:`alphaloop.backtest._capped_kernel`) and the quote kernel,
so every fill moves cash and shares with the same arithmetic.

numba's on-disk cache does not notice edits to a function called from
another module: after changing this file, delete the ``__pycache__/*.nbi`` /
``*.nbc`` files of :mod:`alphaloop.backtest`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alphaloop.execution import fill_cost
from alphaloop.execution.rebalance import OK

__all__ = [
    "ERR_CAPACITY",
    "ERR_CASH",
    "REASON_ORDER",
    "REASON_STOP_LOSS",
    "REASON_TAKE_PROFIT",
    "REASON_TRAILING",
    "ROUND_TRIP_DTYPE",
    "TRADE_DTYPE",
    "fill",
    "mark_to_market",
]

# status codes of the kernel (see vectorized._raise_status), beside the rebalance sizing's
ERR_CASH = 2  # a buy order beyond cash without leverage
ERR_CAPACITY = 5  # record buffers too small (internal)

# trade reasons
REASON_ORDER = 0
REASON_STOP_LOSS = 1
REASON_TAKE_PROFIT = 2
REASON_TRAILING = 3

#: One fill: bar row, asset column, reason code, signed shares, reference
#: price, the five fill cost categories (currency) and the cash flow.
TRADE_DTYPE = np.dtype(
    [
        ("row", np.int64),
        ("asset", np.int64),
        ("reason", np.int64),
        ("shares", np.float64),
        ("price", np.float64),
        ("commission", np.float64),
        ("fees", np.float64),
        ("spread", np.float64),
        ("slippage", np.float64),
        ("impact", np.float64),
        ("cash_flow", np.float64),
    ]
)
#: One round trip, flat to flat: asset column, entry and exit rows (exit -1
#: while open), net pnl and costs (currency) and the entry notional.
ROUND_TRIP_DTYPE = np.dtype(
    [
        ("asset", np.int64),
        ("entry_row", np.int64),
        ("exit_row", np.int64),
        ("pnl", np.float64),
        ("costs", np.float64),
        ("entry_notional", np.float64),
    ]
)


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def fill(
    j, dq, price, r, reason, cash, shares, entry_px, peak, adv, sigma, params, cost_tmp,
    cost_tot, bar, rt_state, round_trips, n_rt, trades, n_tr, record,
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
            if n_rt >= round_trips.shape[0]:
                return cash, n_tr, n_rt, ERR_CAPACITY
            trip = round_trips[n_rt]
            trip.asset = j
            trip.entry_row = int(rt_state[j, 0])
            trip.exit_row = r
            trip.pnl = rt_state[j, 1] + flow * part
            trip.costs = rt_state[j, 2] + total * part
            trip.entry_notional = rt_state[j, 3]
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
        if n_tr >= trades.shape[0]:
            return cash, n_tr, n_rt, ERR_CAPACITY
        trade = trades[n_tr]
        trade.row = r
        trade.asset = j
        trade.reason = reason
        trade.shares = dq
        trade.price = price
        trade.commission = cost_tmp[0]
        trade.fees = cost_tmp[1]
        trade.spread = cost_tmp[2]
        trade.slippage = cost_tmp[3]
        trade.impact = cost_tmp[4]
        trade.cash_flow = flow
    n_tr += 1
    return cash, n_tr, n_rt, OK


@njit(cache=True, nogil=True)
def mark_to_market(
    r, close, last_px, shares, borrow_rate, year_frac, cash, cost_tot, bar, rt_state
):
    """The close of bar ``r``: charge borrow on shorts, then mark every position.

    ``last_px`` takes each asset's close where it is not NaN (the last known
    price otherwise). A short of value ``v < 0`` pays ``-v * borrow_rate *
    year_frac[r]`` from ``cash``, booked in ``cost_tot[5]``, the bar's costs
    ``bar[1]`` and its round trip (``rt_state[j, 1]`` pnl, ``rt_state[j, 2]``
    costs). Returns the new cash, the positions' net and gross value at
    ``last_px``, and how many positions are held and how many are short.
    """
    value = 0.0
    gross_value = 0.0
    n_held = 0
    n_short = 0
    for j in range(shares.shape[0]):
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
    return cash, value, gross_value, n_held, n_short
