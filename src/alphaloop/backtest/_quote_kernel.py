"""Numba kernels of the quote simulator (:mod:`alphaloop.backtest.quotes`).

:func:`quote_book` turns one bar of a quote plan and the account into a bid
and an ask per asset; both engines call it, so they post the same quotes.
:func:`run_quotes` is the vectorized engine: the bar loop that matches the
quotes against the next bar as the simulated broker's resting book does
(see :mod:`alphaloop.execution.matching`) and books fills with the target-
weights kernel's accounting (:func:`alphaloop.backtest.kernel._fill`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alphaloop.backtest._fill_kernel import mark_to_market
from alphaloop.backtest.kernel import _fill as kernel_fill
from alphaloop.execution import fill_cost, maker_params
from alphaloop.execution.rebalance import cash_fits, round_lot

__all__ = ["quote_book", "run_quotes"]

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
    borrow on shorts, the mark, and the next quotes. A quote filled at the
    open was marketable when it reached the book and pays the taker's costs
    (``params``); one filled in the range had rested and pays the maker's
    (:func:`~alphaloop.execution.costs.maker_params`), unless the bar has
    no open (as the simulated broker's limit orders, see
    :mod:`~alphaloop.execution.matching`).

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
    maker = maker_params(params)
    # the quotes' cash check prices them at the dearer of the taker and maker rates
    book_params = maker if maker[2] > params[2] else params
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
                ranged = params if np.isnan(op) else maker  # a range fill's cost parameters
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
                        ranged, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt,
                        trades, n_tr, True,
                    )  # fmt: skip
                    if code != 0:
                        counts[4] = code
                        return
                if has_a and np.isnan(px_a) and hi >= ask_px[j]:
                    px_a = ask_px[j]
                    cash, n_tr, n_rt, code = kernel_fill(
                        j, -ask_q[j], px_a, r, 0, cash, shares, entry_px, peak, adv, sigma,
                        ranged, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt,
                        trades, n_tr, True,
                    )  # fmt: skip
                    if code != 0:
                        counts[4] = code
                        return
                if not np.isnan(px_b) and not np.isnan(px_a):
                    both += 1
        # close: borrow on shorts, mark to market
        cash, value, gross_value, _, _ = mark_to_market(
            r, close, last_px, shares, borrow_rate, year_frac, cash, cost_tot, bar, rt_state
        )
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
                book_params,
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
