"""The order phase of the vectorized kernel under a participation cap.

:func:`capped_orders` replaces the order phase of
:func:`alphaloop.backtest.kernel.run_portfolio` on a fill row when
``participation`` is set. The rules (documented for users in
``docs/backtest.md``):

- On the fill row ``r`` an asset may trade at most ``participation *
  volume[r]`` shares (:mod:`alphaloop.execution.participation`); what does
  not fit stays *working*: it trades on the following rows, within each
  row's cap, until it is done.
- Weights: a row of targets is sized as without a cap
  (:func:`~alphaloop.execution.rebalance.plan_rebalance` on the current
  positions). An asset with a target drops what was still working for it
  and starts on its new trade (a target replaces the last one); an asset
  without one (NaN) keeps working on its remainder. The new trades fill
  first: sells, then (without leverage and shorts) the buys are scaled to
  the cash there is (:func:`~alphaloop.execution.rebalance.fit_buys_to_cash`,
  before the cap, as the event engine does), then buys. Then the
  remainders of earlier rows: sells, then buys; without leverage and shorts,
  buys the cash no longer covers are scaled down to it and what they leave
  is dropped (the cash is spent).
- Orders: a share order adds to what is still working for its asset (they
  net), and whatever is working fills, sells first, then buys; without
  leverage and shorts the buys must fit the cash (else ``ERR_CASH``).
- A remainder waits on a row where its asset has no price or no volume.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alphaloop.backtest._fill_kernel import ERR_CASH, REASON_ORDER, fill
from alphaloop.execution.participation import bar_room, capped_quantity, remainder
from alphaloop.execution.rebalance import (
    ERR_PRICE,
    ERR_SHORT,
    OK,
    buys_cost,
    cash_fits,
    fit_buys_to_cash,
    plan_rebalance,
    round_lot,
)

__all__ = ["capped_orders"]


@njit(cache=True, nogil=True, _nrt=False)  # allocates nothing: no reference counting
def capped_orders(
    r, d, any_order, weights, targets, px, last_px, shares, cash, max_leverage, allow_short,
    lot, min_trade_value, cash_only, delta, base, pending, room, volume, participation,
    params, adv, sigma, cost_tmp, entry_px, peak, cost_tot, bar, rt_state, round_trips,
    n_rt, trades, n_tr, record,
):  # fmt: skip
    """Fill row ``r``'s new orders (decided on ``d``) and the working remainders, capped.

    ``pending`` (N,) holds the signed shares still working per asset and is
    updated; ``delta``, ``base`` and ``room`` are scratch. Returns ``(code,
    row, asset, cash, n_trades, n_round_trips, n_working)`` with ``row`` and
    ``asset`` naming an error (``code != OK``).
    """
    n_assets = shares.shape[0]
    bar_room(volume[r], participation, room)
    if any_order:
        if weights:
            code, j, _ = plan_rebalance(
                targets[d], px, last_px, shares, cash, max_leverage, allow_short, lot,
                min_trade_value, delta, base,
            )  # fmt: skip
            if code != OK:
                return code, r if code == ERR_PRICE else d, j, cash, n_tr, n_rt, 0
            for j in range(n_assets):
                if targets[d, j] == targets[d, j]:
                    pending[j] = 0.0  # a new target replaces what was still working
            # the new trades, sells first, then the buys scaled to the cash
            for side in range(2):
                if side == 1 and cash_only:
                    fit_buys_to_cash(
                        delta, base, shares, cash, px, lot, params, adv[r], sigma[r], cost_tmp
                    )
                for j in range(n_assets):
                    want = delta[j]
                    if (want < 0.0) if side == 0 else (want > 0.0):
                        q = capped_quantity(want, room[j], lot[j])
                        if q != 0.0:
                            room[j] -= abs(q)
                            cash, n_tr, n_rt, code = fill(
                                j, q, px[j], r, REASON_ORDER, cash, shares, entry_px, peak,
                                adv, sigma, params, cost_tmp, cost_tot, bar, rt_state,
                                round_trips, n_rt, trades, n_tr, record,
                            )  # fmt: skip
                            if code != OK:
                                return code, r, j, cash, n_tr, n_rt, 0
                        pending[j] = remainder(want, q)
                        if pending[j] != 0.0:
                            room[j] = 0.0  # starts working on the next row
        else:
            for j in range(n_assets):
                q = targets[d, j]
                if np.isnan(q) or q == 0.0:
                    continue
                if not (px[j] > 0.0):
                    return ERR_PRICE, r, j, cash, n_tr, n_rt, 0
                if not allow_short and shares[j] + pending[j] + q < -1e-9 * abs(q):
                    return ERR_SHORT, d, j, cash, n_tr, n_rt, 0
                pending[j] += round_lot(q, lot[j])
    # what is working: sells, then buys (within the cash without leverage)
    for j in range(n_assets):
        want = pending[j]
        if want < 0.0 and px[j] > 0.0 and room[j] > 0.0:
            q = capped_quantity(want, room[j], lot[j])
            if q != 0.0:
                room[j] -= abs(q)
                cash, n_tr, n_rt, code = fill(
                    j, q, px[j], r, REASON_ORDER, cash, shares, entry_px, peak, adv, sigma,
                    params, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt, trades, n_tr,
                    record,
                )  # fmt: skip
                if code != OK:
                    return code, r, j, cash, n_tr, n_rt, 0
                pending[j] = remainder(want, q)
    any_buy = False
    for j in range(n_assets):
        delta[j] = 0.0
        if pending[j] > 0.0 and px[j] > 0.0 and room[j] > 0.0:
            delta[j] = capped_quantity(pending[j], room[j], lot[j])
            base[j] = shares[j] + delta[j]
            any_buy = any_buy or delta[j] > 0.0
    short_of_cash = False
    if any_buy and cash_only:
        if weights:
            short_of_cash = fit_buys_to_cash(
                delta, base, shares, cash, px, lot, params, adv[r], sigma[r], cost_tmp
            )
        elif not cash_fits(buys_cost(delta, px, params, adv[r], sigma[r], cost_tmp), cash):
            for j in range(n_assets):
                if delta[j] > 0.0:
                    return ERR_CASH, d if any_order else r, j, cash, n_tr, n_rt, 0
    n_working = 0
    for j in range(n_assets):
        q = delta[j]
        if q > 0.0:
            cash, n_tr, n_rt, code = fill(
                j, q, px[j], r, REASON_ORDER, cash, shares, entry_px, peak, adv, sigma,
                params, cost_tmp, cost_tot, bar, rt_state, round_trips, n_rt, trades, n_tr,
                record,
            )  # fmt: skip
            if code != OK:
                return code, r, j, cash, n_tr, n_rt, 0
            pending[j] = remainder(pending[j], q)
        if short_of_cash and pending[j] > 0.0:
            pending[j] = 0.0  # the cash is spent: what it no longer covers is dropped
        if pending[j] != 0.0:
            n_working += 1
    return OK, r, -1, cash, n_tr, n_rt, n_working
