"""Threshold (drift) and cost-aware rebalancing: filters that skip trades on decision rows.

A strategy's target weights (time, asset) say what it wants on its decision
rows (NaN rows: no decision; a NaN entry: leave that asset). Two filters,
applied in this order, remove trades that are not worth making
(:func:`filter_trades`):

Drift (threshold rebalancing)
    A running *book* estimates the weights held: the last traded target of
    each asset, drifted with close-to-close simple returns,
    ``b_i <- b_i (1 + r_i) / (1 + sum_j b_j r_j)`` (cash takes the rest; an
    asset without a price keeps its value). On a decision row, if
    ``max_i |b_i - w_i|`` over the row's finite targets is at most ``drift``
    (a fraction of equity), the row becomes NaN: nothing trades. Otherwise
    the row trades in full.
Cost-aware
    On a decision row that trades, each asset's trade from ``b_i`` to
    ``w_i`` is skipped (NaN: the position is kept) when its expected benefit
    ``|w_i - b_i| * edge`` is below its expected cost. The cost is what the
    simulators would charge for that trade
    (:func:`~alphaloop.execution.costs.fill_cost`: commission, fees,
    half-spread, slippage and square-root impact, from the average volume and
    volatility of the ``impact_window`` bars up to the decision bar), priced
    at the decision bar's close. ``edge`` is the book's own gross return per
    unit of gross exposure summed over the last ``edge_window`` bars (each
    bar's book return divided by the book's gross exposure before it), floored
    at 0: returns realized up to the decision bar only.

Exits always trade
    A finite target of 0 for an asset the book holds is an exit; a non-zero
    target for an asset it does not hold is an entry. A row with an exit or
    an entry is never skipped by the drift band: a band is a tolerance on
    weights, not on which assets are held (the position must go, and the
    weight it frees is re-deployed as the rule says). The cost rule never
    skips an exit; it may skip an entry whose cost exceeds its benefit.

Warm-up
    Until the book has been invested on each of the last ``edge_window``
    bars, the edge is unknown and the cost rule skips nothing.

Leverage headroom
    A skipped trade keeps a position whose weight the simulators value at
    the fill; the rest of the row trades to its targets. So that the kept
    positions cannot push the row over the leverage cap, they are counted
    at ``1 + KEPT_HEADROOM`` times their book weight: where the row would
    exceed ``max_leverage``, the traded non-zero targets are scaled down to
    fit, and if they cannot be, the row trades in full. A gap of more than that between the decision
    close and the fill can still exceed the cap; the simulators then stop
    with a leverage error naming the bar.

Everything is point in time (row ``t`` uses closes and volumes up to bar
``t``) and deterministic. The book is an estimate: it ignores costs, fills
at the next open and the cash rule's scaling of buys.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alphaloop.errors import BacktestError
from alphaloop.execution.costs import CostModel, fill_cost, impact_inputs

__all__ = ["KEPT_HEADROOM", "filter_trades"]

#: Kept positions count at (1 + this) times their book weight against the leverage cap.
KEPT_HEADROOM = 0.05

# stats slots of the kernel
_DECISIONS, _DRIFT_ROWS, _DRIFT_SAVED, _COST_SKIPS, _COST_SAVED, _SCALED, _FORCED, _TRADED = range(
    8
)


@njit(cache=True)
def _filter_kernel(
    weights: np.ndarray,
    close: np.ndarray,
    rets: np.ndarray,
    adv: np.ndarray,
    sigma: np.ndarray,
    params: np.ndarray,
    drift: float,
    cost_aware: bool,
    edge_window: int,
    capital: float,
    max_leverage: float,
    headroom: float,
    out: np.ndarray,
    stats: np.ndarray,
) -> None:
    """Fill ``out`` (NaN on entry) with the filtered weights; counts go to ``stats``.

    ``drift`` <= 0 turns the drift band off; ``max_leverage`` <= 0 turns the
    headroom check of kept positions off.
    """
    n_rows, n_assets = weights.shape
    book = np.zeros(n_assets)
    unit_return = np.full(n_rows, np.nan)  # book return per unit gross exposure, per bar
    skip = np.zeros(n_assets, dtype=np.bool_)
    tmp = np.empty(5)
    nav = capital
    for t in range(n_rows):
        if t > 0:
            gross = 0.0
            ret = 0.0
            for j in range(n_assets):
                if book[j] != 0.0:
                    gross += abs(book[j])
                    ret += book[j] * rets[t, j]
            if gross > 0.0:
                unit_return[t] = ret / gross
                growth = 1.0 + ret
                if growth > 0.0:
                    for j in range(n_assets):
                        book[j] = book[j] * (1.0 + rets[t, j]) / growth
                    nav *= growth
                else:  # the book lost everything: nothing left to drift
                    book[:] = 0.0
                    nav = 0.0
        row = weights[t]
        decision = False
        changes_holdings = False
        deviation = 0.0
        for j in range(n_assets):
            w = row[j]
            if not np.isnan(w):
                decision = True
                deviation = max(deviation, abs(w - book[j]))
                if (w == 0.0) != (book[j] == 0.0):
                    changes_holdings = True  # an exit or an entry
        if not decision:
            continue
        stats[_DECISIONS] += 1
        if drift > 0.0 and not changes_holdings and deviation <= drift:
            stats[_DRIFT_ROWS] += 1
            for j in range(n_assets):
                if not np.isnan(row[j]):
                    stats[_DRIFT_SAVED] += _trade_cost(
                        params, abs(row[j] - book[j]), nav, close[t, j], adv[t, j], sigma[t, j], tmp
                    )
            continue
        for j in range(n_assets):
            out[t, j] = row[j]
            skip[j] = False
        stats[_TRADED] += 1
        edge = np.nan
        if cost_aware and t >= edge_window:
            edge = 0.0
            for s in range(t - edge_window + 1, t + 1):
                edge += unit_return[s]  # NaN while the book was not invested
            edge = np.nan if np.isnan(edge) else max(edge, 0.0)
        if not np.isnan(edge):
            n_skipped = 0
            saved = 0.0
            for j in range(n_assets):
                w = row[j]
                if np.isnan(w) or (w == 0.0 and book[j] != 0.0):
                    continue  # no target, or an exit: always trades
                dw = abs(w - book[j])
                if dw == 0.0:
                    continue
                cost = _trade_cost(params, dw, nav, close[t, j], adv[t, j], sigma[t, j], tmp)
                if not np.isnan(cost) and dw * edge * nav < cost:
                    skip[j] = True
                    n_skipped += 1
                    saved += cost
            if n_skipped:
                traded = 0.0
                others = 0.0
                for j in range(n_assets):
                    w = row[j]
                    if np.isnan(w):
                        others += abs(book[j])
                    elif skip[j]:
                        others += (1.0 + headroom) * abs(book[j])
                    else:
                        traded += abs(w)
                limit = max_leverage
                if limit > 0.0 and traded + others > limit * (1.0 + 1e-12):
                    room = limit - others
                    if traded > 0.0 and room > 0.0:
                        scale = room / traded
                        for j in range(n_assets):
                            if not skip[j] and not np.isnan(row[j]):
                                out[t, j] = row[j] * scale
                        stats[_SCALED] += 1
                    else:  # the kept positions do not fit: trade the row as the rule says
                        n_skipped = 0
                        saved = 0.0
                        for j in range(n_assets):
                            skip[j] = False
                        stats[_FORCED] += 1
                for j in range(n_assets):
                    if skip[j]:
                        out[t, j] = np.nan
                stats[_COST_SKIPS] += n_skipped
                stats[_COST_SAVED] += saved
        for j in range(n_assets):
            if not np.isnan(out[t, j]):
                book[j] = out[t, j]


@njit(cache=True)
def _trade_cost(
    params: np.ndarray,
    dw: float,
    nav: float,
    price: float,
    adv: float,
    sigma: float,
    tmp: np.ndarray,
) -> float:
    """Expected cost (currency) of trading ``dw`` of equity ``nav`` at ``price``; 0 if unknown."""
    if dw == 0.0 or not (price > 0.0) or not (nav > 0.0):
        return 0.0
    return fill_cost(params, dw * nav / price, price, adv, sigma, tmp)


def filter_trades(
    weights: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray | None,
    *,
    drift: float | None,
    cost_aware: bool,
    edge_window: int,
    costs: CostModel,
    capital: float,
    periods_per_year: float,
    max_leverage: float | None = None,
) -> tuple[np.ndarray, dict[str, float | int]]:
    """Skip the trades a drift band and a cost-benefit test find not worth making.

    Parameters
    ----------
    weights : ndarray, shape (time, asset)
        Target weights (fractions of equity) decided after each bar's close;
        a row of NaN is no decision, a NaN entry leaves that asset.
    close : ndarray, shape (time, asset)
        Closes on the same rows (the book drifts with their simple returns).
    volume : ndarray or None
        Traded volume in shares per bar, for the square-root impact estimate
        (None: no impact, as the simulators do without volume).
    drift : float or None
        Drift band, a fraction of equity in (0, 1); None = off.
    cost_aware : bool
        Skip each trade whose expected benefit is below its expected cost.
    edge_window : int
        Bars of the book's trailing return that estimate the edge (>= 1).
    costs : CostModel
        The model the simulation charges (pass the one with impact switched
        off where the volume is not traded volume).
    capital : float
        Initial equity (currency): trade sizes for per-share commissions and
        impact; the book's equity grows with its gross return.
    periods_per_year : float
        Bars per year; recorded with the stats (the edge is a sum over
        ``edge_window`` bars and is not annualized).
    max_leverage : float, optional
        The simulation's cap on ``sum |w|``: positions the cost rule keeps
        must fit under it (see the module notes). Pass it whenever the
        filtered weights go to a simulator; None skips the check.

    Returns
    -------
    weights : ndarray, shape (time, asset)
        The filtered targets: skipped rows and skipped assets are NaN.
    stats : dict
        ``decision_rows``, ``traded_rows``, ``drift_skipped_rows``,
        ``drift_cost_saved`` (currency, the estimated cost of the skipped
        rows' trades), ``cost_skipped_trades``, ``cost_aware_cost_saved``
        (currency), ``rows_scaled_for_headroom``, ``rows_forced_in_full``.

    Raises
    ------
    BacktestError
        Shapes differ, or a parameter is out of range.
    """
    w = np.ascontiguousarray(weights, dtype=np.float64)
    px = np.ascontiguousarray(close, dtype=np.float64)
    if w.ndim != 2 or px.shape != w.shape:
        raise BacktestError(
            f"weights {w.shape} and close {px.shape} must have the same (time, asset) shape"
        )
    if volume is not None and np.shape(volume) != w.shape:
        raise BacktestError(f"volume has shape {np.shape(volume)}; expected {w.shape}")
    if drift is not None and not 0.0 < drift < 1.0:
        raise BacktestError(
            f"drift must be a fraction of equity in (0, 1), got {drift}",
            hint="e.g. drift: 0.02 trades once a weight is 2 percentage points off its target",
        )
    if edge_window < 1:
        raise BacktestError(f"edge_window must be at least 1 bar, got {edge_window}")
    if not (np.isfinite(capital) and capital > 0):
        raise BacktestError(f"capital must be positive, got {capital}")
    if np.isinf(w).any():
        raise BacktestError("target weights contain an infinite value", hint="use NaN for none")
    n_rows, n_assets = w.shape
    rets = np.zeros_like(px)
    with np.errstate(invalid="ignore", divide="ignore"):
        if n_rows > 1:
            r = px[1:] / px[:-1] - 1.0
            rets[1:] = np.where(np.isfinite(r), r, 0.0)
    # impact inputs known at the decision bar's close: one padding row shifts
    # impact_inputs' "bars before row r" to "bars up to row t"
    pad = np.full((1, n_assets), np.nan)
    vol = None if volume is None else np.vstack([np.asarray(volume, dtype=np.float64), pad])
    adv, sigma = impact_inputs(np.vstack([px, pad]), vol, costs.impact_window)
    out = np.full_like(w, np.nan)
    stats = np.zeros(8)
    _filter_kernel(
        w, px, rets, np.ascontiguousarray(adv[1:]), np.ascontiguousarray(sigma[1:]),
        costs.as_array(), float(drift or 0.0), bool(cost_aware), int(edge_window),
        float(capital), float(max_leverage or 0.0), KEPT_HEADROOM, out, stats,
    )  # fmt: skip
    return out, {
        "decision_rows": int(stats[_DECISIONS]),
        "traded_rows": int(stats[_TRADED]),
        "drift_skipped_rows": int(stats[_DRIFT_ROWS]),
        "drift_cost_saved": float(stats[_DRIFT_SAVED]),
        "cost_skipped_trades": int(stats[_COST_SKIPS]),
        "cost_aware_cost_saved": float(stats[_COST_SAVED]),
        "rows_scaled_for_headroom": int(stats[_SCALED]),
        "rows_forced_in_full": int(stats[_FORCED]),
        "edge_window": int(edge_window),
        "periods_per_year": float(periods_per_year),
    }
