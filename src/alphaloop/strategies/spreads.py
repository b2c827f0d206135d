"""The mechanics of trading spreads: formation dates, a Kalman hedge ratio, band states.

Used by the pairs template (:mod:`alphaloop.strategies.pairs`); every
function here is point in time (row ``t`` of an output uses rows up to
``t`` of its inputs).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd

__all__ = ["band_states", "emit_changes", "formation_rows", "kalman_hedge"]

_EPOCH_MONDAY = np.datetime64("1970-01-05", "D")


def formation_rows(
    index: pd.DatetimeIndex, frequency: str, formation: int, trade_period: int
) -> np.ndarray:
    """Rows of ``index`` that are formation dates (see the module notes).

    Parameters
    ----------
    index : DatetimeIndex
        The panel's calendar (UTC).
    frequency : str
        The panel's frequency name (``"daily"`` counts weekdays).
    formation, trade_period : int
        Bars in the formation window; bars (weekdays on daily data) between
        formation dates.

    Returns
    -------
    ndarray of int
        Increasing rows ``>= formation - 1``.
    """
    n = len(index)
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    if frequency == "daily":
        days = index.tz_convert("UTC").tz_localize(None).values.astype("datetime64[D]")
        clock = np.busday_count(_EPOCH_MONDAY, days).astype(np.int64)
    else:
        ns = index.as_unit("ns").asi8
        step = max(int(np.median(np.diff(ns))), 1)
        clock = ns // step
    block = np.floor_divide(clock, trade_period)
    starts = np.flatnonzero(block[1:] != block[:-1]) + 1
    return starts[starts >= formation - 1]


@numba.njit(cache=True)
def kalman_hedge(
    y: np.ndarray, x: np.ndarray, delta: float, obs_var: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random-walk regression ``y_t = beta_t x_t + a_t + e_t`` filtered bar by bar.

    Parameters
    ----------
    y, x : ndarray, shape (time,)
        Log prices; a non-finite pair of values skips the update (the
        state carries over, its uncertainty grows).
    delta : float
        Per-bar state noise: each state component's variance grows by
        ``delta / (1 - delta) * obs_var`` each bar (0 < delta < 1).
    obs_var : float
        Variance of the observation noise ``e_t`` (log units squared).

    Returns
    -------
    beta, intercept : ndarray, shape (time,)
        The filtered state after the update with bar ``t`` (uses bars <= t).
    zscore : ndarray, shape (time,)
        The prediction error of bar ``t`` (forecast from bars < t) over its
        standard deviation; NaN where skipped.
    """
    n = y.shape[0]
    beta = np.empty(n)
    icpt = np.empty(n)
    z = np.full(n, np.nan)
    w = delta / (1.0 - delta) * obs_var
    s0 = 0.0
    s1 = 0.0
    p00 = 1e4
    p01 = 0.0
    p11 = 1e4
    for t in range(n):
        p00 += w
        p11 += w
        if np.isfinite(y[t]) and np.isfinite(x[t]):
            h0 = x[t]
            ph0 = p00 * h0 + p01
            ph1 = p01 * h0 + p11
            q = h0 * ph0 + ph1 + obs_var
            err = y[t] - (s0 * h0 + s1)
            z[t] = err / math.sqrt(q)
            k0 = ph0 / q
            k1 = ph1 / q
            s0 += k0 * err
            s1 += k1 * err
            p00 -= k0 * ph0
            p01 -= k0 * ph1
            p11 -= k1 * ph1
        beta[t] = s0
        icpt[t] = s1
    return beta, icpt, z


def band_states(
    z: np.ndarray,
    beta: np.ndarray,
    entry: float,
    exit_: float,
    stop: float,
    max_hold: int,
    need_positive_beta: bool,
    counts: dict[str, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in one spread from its z-score, bar by bar.

    Parameters
    ----------
    z : ndarray, shape (time,)
        The spread's z-score at each bar's close (NaN: a price is missing).
    beta : ndarray, shape (time,)
        The hedge ratio known at each bar.
    entry, exit_, stop : float
        |z| bands (standard deviations): open a flat spread at ``|z| >= entry``
        (short when z > 0, long when z < 0; not at ``|z| >= stop``), close an
        open one when it is back to ``exit_`` or beyond (``-position * z <=
        exit_``), stop it at ``-position * z >= stop`` (then no trade until
        the end of ``z``).
    max_hold : int
        Close after this many bars (0: no limit); re-entry then waits for
        ``|z| < entry``.
    need_positive_beta : bool
        Open only where ``beta > 0`` (beta-weighted legs).
    counts : dict of str to int
        ``entries``, ``exits``, ``stops``, ``timeouts`` and ``missing``
        (closed for a missing price), incremented in place.

    Returns
    -------
    state : ndarray, shape (time,)
        +1 long the spread (long y, short x), -1 short it, 0 flat, after the
        decision at each bar.
    beta_at : ndarray, shape (time,)
        The hedge ratio at the position's entry (0 when flat).
    """
    n = z.shape[0]
    state = np.zeros(n)
    beta_at = np.zeros(n)
    pos, held, b = 0, 0, 0.0
    resting = False  # stopped: no more trades this period
    cooling = False  # timed out: wait for |z| < entry
    for t in range(n):
        zt = z[t]
        if not np.isfinite(zt):
            if pos:
                counts["missing"] += 1
            pos = 0
        elif pos:
            held += 1
            if -pos * zt >= stop:
                pos, resting = 0, True
                counts["stops"] += 1
            elif -pos * zt <= exit_:
                pos = 0
                counts["exits"] += 1
            elif max_hold and held >= max_hold:
                pos, cooling = 0, True
                counts["timeouts"] += 1
        elif not resting:
            if cooling and abs(zt) < entry:
                cooling = False
            if not cooling and entry <= abs(zt) < stop and (beta[t] > 0 or not need_positive_beta):
                pos, held, b = (-1 if zt > 0 else 1), 0, float(beta[t])
                counts["entries"] += 1
        state[t] = pos
        beta_at[t] = b if pos else 0.0
    return state, beta_at


def emit_changes(target: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Target weights to emit: the whole book on formation rows, else only changed targets.

    ``target`` is the book (time, asset) held after each bar; ``rows`` the
    formation rows, increasing. Rows before the first formation and
    unchanged targets are NaN (no order).
    """
    weights = np.full(target.shape, np.nan)
    if not rows.size:
        return weights
    first = int(rows[0])
    changed = np.zeros(target.shape, dtype=bool)
    changed[first + 1 :] = target[first + 1 :] != target[first:-1]
    weights[changed] = target[changed]
    weights[rows] = target[rows]
    return weights
