"""Rebalance sizing: target weights to share trades, one implementation for both engines.

The vectorized kernel (:func:`alphaloop.backtest.kernel.run_portfolio`) and
the event engine's simulated broker (through
:mod:`alphaloop.backtest.event.sizing`) size every rebalance with the two
numba functions here, so they agree by construction:

1. :func:`plan_rebalance` values the account at the fill prices (the last
   close where an asset has none); a ruined account (equity <= 0) does not
   trade. ``sum |w|`` over the targets plus the current weights of the
   assets without a target must stay within ``max_leverage``; negative
   targets need ``allow_short``. Target shares are ``w * equity / price``,
   rounded toward zero to the lot size (:func:`round_lot`); float dust (a
   trade worth at most 1e-10 of equity, from a rebalance to an unchanged
   weight) is no trade; trades smaller than ``min_trade_value`` are skipped
   unless they close the position.
2. The caller fills the sells (negative ``delta``) first, so that they fund
   the buys.
3. Without leverage and shorts, :func:`fit_buys_to_cash` shrinks buys that
   need more cash than there is (costs included, priced by
   :func:`~alphaloop.execution.costs.fill_cost`) toward the current
   holdings, ``scale *= cash / need``, at most 8 times; if lot rounding
   stalls that, the largest scale whose rounded buys fit is found by
   bisection (60 steps). Then the caller fills the buys.

Sizing is split around the sells because the engines fill them differently
(the event engine may cap a sell by the bar's volume): the cash the buys may
use is whatever the sells actually brought in.

Each function is a plain-Python twin (``plan_rebalance_py``,
``fit_buys_to_cash_py``) compiled next to itself; the tests hold the two to
the same numbers. numba's on-disk cache does not notice edits to a function
called from another module: after changing this file, delete the
``__pycache__/*.nbi`` / ``*.nbc`` files of :mod:`alphaloop.backtest`.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.extending import register_jitable

from alphaloop.execution.costs import fill_cost

__all__ = [
    "ERR_LEVERAGE",
    "ERR_PRICE",
    "ERR_SHORT",
    "OK",
    "buys_cost",
    "cash_fits",
    "fit_buys_to_cash",
    "fit_buys_to_cash_py",
    "plan_rebalance",
    "plan_rebalance_py",
    "round_lot",
]

# status codes (shared with the kernel, which adds its own)
OK = 0
ERR_PRICE = 1  # no valid price for an asset with a trade due (the fill row)
ERR_LEVERAGE = 3  # target weights beyond the leverage cap (the decision row)
ERR_SHORT = 4  # a short target or order with shorts not allowed (the decision row)

SCALE_ROUNDS = 8
BISECT_ROUNDS = 60


@register_jitable
def round_lot(quantity: float, lot: float) -> float:
    """``quantity`` rounded toward zero to a multiple of ``lot`` (0 = fractional shares)."""
    if lot > 0.0:
        return np.trunc(quantity / lot) * lot
    return quantity


@register_jitable
def cash_fits(need: float, cash: float) -> bool:
    """True if ``need`` (currency) is within ``cash``, up to float tolerance."""
    return need <= cash * (1.0 + 1e-12) + 1e-9


@register_jitable
def buys_cost(
    delta: np.ndarray, prices: np.ndarray, params: np.ndarray, adv: np.ndarray,
    sigma: np.ndarray, cost_tmp: np.ndarray,
) -> float:  # fmt: skip
    """Cash the buys (positive ``delta``) need at ``prices``, costs included."""
    need = 0.0
    for j in range(delta.shape[0]):
        if delta[j] > 0.0:
            need += delta[j] * prices[j] + fill_cost(
                params, delta[j], prices[j], adv[j], sigma[j], cost_tmp
            )
    return need


def plan_rebalance_py(
    weights: np.ndarray, prices: np.ndarray, last_prices: np.ndarray, shares: np.ndarray,
    cash: float, max_leverage: float, allow_short: bool, lots: np.ndarray,
    min_trade_value: float, delta: np.ndarray, base: np.ndarray,
) -> tuple[int, int, float]:  # fmt: skip
    """Trades that move the account to ``weights`` at ``prices`` (rule 1 of the module).

    Parameters
    ----------
    weights : ndarray, shape (asset,)
        Target weights of equity; NaN = no target (leave the asset as it is).
    prices : ndarray, shape (asset,)
        Reference fill prices (NaN where an asset has none).
    last_prices : ndarray, shape (asset,)
        Last close before the fill bar: values held assets without a fill price.
    shares : ndarray, shape (asset,)
        Current signed positions.
    cash : float
        Current cash (currency).
    max_leverage : float
        Cap on ``sum |w|`` (targets plus the untouched positions' weights).
    allow_short : bool
    lots : ndarray, shape (asset,)
        Lot size per asset (0 = fractional shares).
    min_trade_value : float
        Trades below this notional are skipped unless they close the position.
    delta, base : ndarray, shape (asset,), outputs
        Signed share trade per asset (0 = none), and the unrounded target
        shares ``w * equity / price`` of the assets that trade (0 elsewhere),
        which :func:`fit_buys_to_cash` scales toward.

    Returns
    -------
    code : int
        :data:`OK`, or :data:`ERR_SHORT` / :data:`ERR_LEVERAGE` /
        :data:`ERR_PRICE` (the outputs are then incomplete).
    asset : int
        The asset the error is about (-1 for none or for the leverage cap).
    leverage : float
        ``sum |w|`` as checked against the cap (0 when the account is ruined).
    """
    n_assets = weights.shape[0]
    for j in range(n_assets):
        delta[j] = 0.0
        base[j] = 0.0
    value = 0.0
    for j in range(n_assets):
        if shares[j] != 0.0:
            p = prices[j] if prices[j] == prices[j] else last_prices[j]
            value += shares[j] * p
    equity = cash + value
    if equity <= 0.0:
        return OK, -1, 0.0  # ruined: nothing left to size from
    leverage = 0.0
    for j in range(n_assets):
        w = weights[j]
        if not np.isnan(w):
            leverage += abs(w)
            if w < 0.0 and not allow_short:
                return ERR_SHORT, j, leverage
        elif shares[j] != 0.0:
            p = prices[j] if prices[j] == prices[j] else last_prices[j]
            leverage += abs(shares[j] * p) / equity
    if leverage > max_leverage * (1.0 + 1e-9) + 1e-12:
        return ERR_LEVERAGE, -1, leverage
    for j in range(n_assets):
        w = weights[j]
        if np.isnan(w):
            continue
        p = prices[j]
        if not (p > 0.0):  # NaN or non-positive
            if w != 0.0 or shares[j] != 0.0:
                return ERR_PRICE, j, leverage
            continue
        want = round_lot(w * equity / p, lots[j])
        dq = want - shares[j]
        # float dust (a rebalance to an unchanged weight) is not a trade
        if abs(dq) * p <= 1e-10 * equity:
            continue
        if abs(dq) * p < min_trade_value and want != 0.0:
            continue
        delta[j] = dq
        base[j] = w * equity / p
    return OK, -1, leverage


def fit_buys_to_cash_py(
    delta: np.ndarray, base: np.ndarray, shares: np.ndarray, cash: float, prices: np.ndarray,
    lots: np.ndarray, params: np.ndarray, adv: np.ndarray, sigma: np.ndarray,
    cost_tmp: np.ndarray,
) -> bool:  # fmt: skip
    """Shrink the buys of a plan to the cash there is, costs included (rule 3, in place).

    Parameters
    ----------
    delta, base : ndarray, shape (asset,)
        From :func:`plan_rebalance`; positive entries of ``delta`` (the buys)
        are rewritten.
    shares : ndarray, shape (asset,)
        Positions after the sells.
    cash : float
        Cash after the sells (currency).
    prices : ndarray, shape (asset,)
        Reference fill prices.
    lots : ndarray, shape (asset,)
    params : ndarray
        :meth:`~alphaloop.execution.costs.CostModel.as_array`.
    adv, sigma : ndarray, shape (asset,)
        Impact inputs of the fill bar (:func:`~alphaloop.execution.costs.impact_inputs`).
    cost_tmp : ndarray, shape (5,)
        Scratch space for :func:`~alphaloop.execution.costs.fill_cost`.

    Returns
    -------
    bool
        True if the buys had to be scaled down.
    """
    n_assets = delta.shape[0]
    need = buys_cost(delta, prices, params, adv, sigma, cost_tmp)
    if cash_fits(need, cash):
        return False
    scale = cash / need if cash > 0.0 else 0.0
    for _ in range(SCALE_ROUNDS):
        need = 0.0
        for j in range(n_assets):
            if delta[j] > 0.0:
                delta[j] = round_lot(shares[j] + (base[j] - shares[j]) * scale, lots[j]) - shares[j]
                if delta[j] > 0.0:
                    need += delta[j] * prices[j] + fill_cost(
                        params, delta[j], prices[j], adv[j], sigma[j], cost_tmp
                    )
        if cash_fits(need, cash):
            return True
        scale *= cash / need if cash > 0.0 else 0.0
    # lot rounding can stall the steps above (the rounded buys stay put):
    # bisect for the largest scale whose rounded buys fit
    low = 0.0
    high = 1.0
    for _ in range(BISECT_ROUNDS):
        mid = 0.5 * (low + high)
        need = 0.0
        for j in range(n_assets):
            if delta[j] > 0.0:
                q = round_lot(shares[j] + (base[j] - shares[j]) * mid, lots[j]) - shares[j]
                if q > 0.0:
                    need += q * prices[j] + fill_cost(
                        params, q, prices[j], adv[j], sigma[j], cost_tmp
                    )
        if cash_fits(need, cash):
            low = mid
        else:
            high = mid
    for j in range(n_assets):
        if delta[j] > 0.0:
            delta[j] = round_lot(shares[j] + (base[j] - shares[j]) * low, lots[j]) - shares[j]
    return True


# Neither function allocates, so both are compiled without numba's reference
# counting (``_nrt=False``): a call from the kernel then passes its arrays
# without the atomic increments and decrements that would otherwise cost more
# than the sizing itself on a one-asset rebalance.
_compile = njit(cache=True, nogil=True, _nrt=False)
plan_rebalance = _compile(plan_rebalance_py)
fit_buys_to_cash = _compile(fit_buys_to_cash_py)
