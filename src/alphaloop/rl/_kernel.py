"""The numba step of the trading environments: N accounts advanced by one bar.

:class:`~alphaloop.rl.TradingEnv` runs it with N = 1, :class:`~alphaloop.rl.
VecTradingEnv` with N accounts in parallel (``prange``); both go through the
same function for one account, :func:`_step_env`.

Bar protocol of one step, for an account whose decision row is ``t``:

1. The action becomes target weights (:func:`_decode`).
2. Orders fill on row ``t + lag`` (``lag`` 1: the next open or close; 0: the
   close of ``t``, optimistic) at that row's reference price, sized by the
   backtester's :func:`~alphaloop.execution.rebalance.plan_rebalance`, sells
   first, then :func:`~alphaloop.execution.rebalance.fit_buys_to_cash`, then
   buys, every fill priced by :func:`~alphaloop.execution.costs.fill_cost`
   with the same cash and share arithmetic as the vectorized kernel
   (:mod:`alphaloop.backtest.kernel`), so equity equals a backtest of the
   same targets.
   Under a participation cap (``fparams[F_PART] > 0``) each asset trades at
   most that fraction of the fill row's volume and what does not fit keeps
   working on the next steps (:func:`_rebalance_capped`, the rules of the
   vectorized backtester's :mod:`alphaloop.backtest._capped_kernel`).
3. Row ``t + 1`` is marked at its close; shorts pay borrow on its calendar time.
4. The reward is computed from the equity before and after (costs inside);
   the observation of row ``t + 1`` is written.

State layout (per account ``i``): ``fstate[i] = (cash, equity, peak, dsr_a,
dsr_b, initial)``, ``istate[i] = (row, end_row, episode, steps)``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from alphaloop.execution.costs import fill_cost
from alphaloop.execution.participation import bar_room, capped_quantity, remainder
from alphaloop.execution.rebalance import ERR_LEVERAGE, OK, fit_buys_to_cash, plan_rebalance

# fparams
F_BORROW, F_MAX_LEV, F_MIN_TRADE, F_CAPITAL, F_SCALE, F_ETA, F_DD, F_UNIT, F_PART = range(9)
# iparams
(
    I_LAG, I_REWARD, I_ACTION, I_SHORT, I_HOLD, I_STACK, I_CASH_ONLY, I_LO, I_HI, I_LENGTH,
    I_RANDOM,
) = range(11)  # fmt: skip
N_IPARAMS = 11
# fstate / istate columns
S_CASH, S_EQUITY, S_PEAK, S_DSR_A, S_DSR_B = range(5)
S_ROW, S_END, S_EPISODE, S_STEPS = range(4)
# reward kinds, action kinds
REWARDS = {"pnl": 0, "log_return": 1, "differential_sharpe": 2, "drawdown_penalised": 3}
ACTIONS = {"discrete": 0, "continuous": 1}
MIN_RATIO = 1e-6  # floor of equity ratios in log rewards (a ruined account)

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)

# The per-account functions allocate nothing, so they are compiled without
# numba's reference counting: the many row views a step takes (``shares[i]``,
# ``adv[r]``, ...) then cost no atomic increments, which otherwise bounce the
# arrays' shared counters between the cores of a parallel step.
_lean = njit(cache=True, nogil=True, _nrt=False)


@_lean
def _splitmix64(x: np.uint64) -> np.uint64:
    z = x + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@_lean
def _project_simplex(u, z, scratch):
    """Euclidean projection of ``u >= 0`` (with ``sum u > z``) onto ``{w >= 0, sum w = z}``.

    ``u`` is overwritten; NaN entries (held assets) are left out. Sort-based
    (Duchi et al., 2008), insertion sort into ``scratch``.
    """
    m = 0
    for j in range(u.shape[0]):
        v = u[j]
        if np.isnan(v):
            continue
        k = m
        while k > 0 and scratch[k - 1] < v:
            scratch[k] = scratch[k - 1]
            k -= 1
        scratch[k] = v
        m += 1
    total = 0.0
    theta = 0.0
    for k in range(m):
        total += scratch[k]
        t = (total - z) / (k + 1)
        if scratch[k] - t > 0.0:
            theta = t
    for j in range(u.shape[0]):
        if u[j] == u[j]:
            u[j] = max(u[j] - theta, 0.0)


@_lean
def _decode(act, kind, levels, unit, max_lev, allow_short, targets, scratch, signs):
    """Target weights from one action row; returns how many entries were clipped."""
    n = act.shape[0]
    clipped = 0
    if kind == 0:
        n_levels = levels.shape[0]
        for j in range(n):
            a = act[j]
            if np.isnan(a):
                targets[j] = np.nan  # no usable action: hold
                clipped += 1
                continue
            if a < 0.0 or a > n_levels - 1:
                clipped += 1
                a = min(max(a, 0.0), n_levels - 1.0)
            targets[j] = levels[int(np.floor(a + 0.5))] * unit
        return clipped
    gross = 0.0
    for j in range(n):
        a = act[j]
        if np.isnan(a):
            targets[j] = np.nan
            clipped += 1
            continue
        if a < -1.0 or a > 1.0:
            clipped += 1
            a = min(max(a, -1.0), 1.0)
        if not allow_short and a < 0.0:
            a = 0.0
        targets[j] = a * max_lev
        gross += abs(targets[j])
    if gross > max_lev:
        if not allow_short:
            _project_simplex(targets, max_lev, scratch)
        else:
            for j in range(n):
                s = targets[j]
                signs[j] = -1.0 if s < 0.0 else 1.0
                targets[j] = abs(s)
            _project_simplex(targets, max_lev, scratch)
            for j in range(n):
                targets[j] *= signs[j]
    return clipped


@_lean
def _fill_one(j, dq, price, adv, sigma, params, cost_tmp, cash, shares):
    """One fill: cash and shares as :func:`alphaloop.backtest.kernel._fill` moves them."""
    total = fill_cost(params, dq, price, adv, sigma, cost_tmp)
    flow = -dq * price - total
    cash += flow
    prev = shares[j]
    new = prev + dq
    if abs(new) < 1e-12 * (abs(prev) + abs(dq)):
        new = 0.0
    shares[j] = new
    return cash, total


@_lean
def _plan(px, targets, last_px, shares, cash, lot, fparams, allow_short, delta, base):
    """Size ``targets`` at ``px`` into ``delta`` / ``base``; returns the sizing's status.

    Targets of assets without a price are dropped (NaN: no order), and
    targets beyond the leverage cap left by held assets without a target
    are scaled into it; ``targets`` keeps what was sent.
    """
    n = targets.shape[0]
    for j in range(n):  # an order for an asset without a price on the fill row cannot fill
        if targets[j] == targets[j] and not (px[j] > 0.0):
            targets[j] = np.nan
    max_lev = fparams[F_MAX_LEV]
    min_trade = fparams[F_MIN_TRADE]
    code, _, lev = plan_rebalance(
        targets, px, last_px, shares, cash, max_lev, allow_short, lot, min_trade, delta, base
    )
    if code == ERR_LEVERAGE:  # held assets without an order take up part of the cap
        asked = 0.0
        for j in range(n):
            if targets[j] == targets[j]:
                asked += abs(targets[j])
        room = max_lev * (1.0 - 1e-9) - (lev - asked)
        f = max(room, 0.0) / asked if asked > 0.0 else 0.0
        for j in range(n):
            targets[j] *= f
        code, _, lev = plan_rebalance(
            targets, px, last_px, shares, cash, max_lev, allow_short, lot, min_trade, delta, base
        )
    return code


@_lean
def _rebalance(r, targets, exec_px, last_px, shares, cash, adv, sigma, costs, lot,
               fparams, allow_short, cash_only, delta, base, cost_tmp):  # fmt: skip
    """Fill ``targets`` on row ``r``; returns (cash, traded notional, costs, status)."""
    px = exec_px[r]
    n = targets.shape[0]
    code = _plan(px, targets, last_px, shares, cash, lot, fparams, allow_short, delta, base)
    if code != OK:
        return cash, 0.0, 0.0, code
    traded = 0.0
    spent = 0.0
    for j in range(n):
        if delta[j] < 0.0:
            cash, c = _fill_one(j, delta[j], px[j], adv[r, j], sigma[r, j], costs, cost_tmp,
                                cash, shares)  # fmt: skip
            traded += abs(delta[j]) * px[j]
            spent += c
    if cash_only:
        fit_buys_to_cash(delta, base, shares, cash, px, lot, costs, adv[r], sigma[r], cost_tmp)
    for j in range(n):
        if delta[j] > 0.0:
            cash, c = _fill_one(j, delta[j], px[j], adv[r, j], sigma[r, j], costs, cost_tmp,
                                cash, shares)  # fmt: skip
            traded += delta[j] * px[j]
            spent += c
    return cash, traded, spent, OK


@_lean
def _rebalance_capped(r, targets, exec_px, last_px, shares, cash, adv, sigma, volume, costs,
                      lot, fparams, allow_short, cash_only, delta, base, pending, room,
                      cost_tmp):  # fmt: skip
    """:func:`_rebalance` under a participation cap, with remainders working in ``pending``.

    The rules and the order of the fills are those of the vectorized
    backtester's :func:`alphaloop.backtest._capped_kernel.capped_orders`
    (weights): new trades first (sells, buys scaled to the cash, buys),
    each at most the room left in the row's cap, an asset with a target
    dropping its old remainder; then the remainders of earlier rows (sells,
    then buys scaled down to the cash, what the cash no longer covers
    dropped).
    """
    px = exec_px[r]
    n = targets.shape[0]
    bar_room(volume[r], fparams[F_PART], room)
    traded = 0.0
    spent = 0.0
    has_targets = False
    for j in range(n):
        if targets[j] == targets[j]:
            has_targets = True
            break
    if has_targets:
        code = _plan(px, targets, last_px, shares, cash, lot, fparams, allow_short, delta, base)
        if code != OK:
            return cash, 0.0, 0.0, code
        for j in range(n):
            if targets[j] == targets[j]:
                pending[j] = 0.0  # a new target replaces what was still working
        for side in range(2):
            if side == 1 and cash_only:
                fit_buys_to_cash(delta, base, shares, cash, px, lot, costs, adv[r], sigma[r],
                                 cost_tmp)  # fmt: skip
            for j in range(n):
                want = delta[j]
                if (want < 0.0) if side == 0 else (want > 0.0):
                    q = capped_quantity(want, room[j], lot[j])
                    if q != 0.0:
                        room[j] -= abs(q)
                        cash, c = _fill_one(j, q, px[j], adv[r, j], sigma[r, j], costs,
                                            cost_tmp, cash, shares)  # fmt: skip
                        traded += abs(q) * px[j]
                        spent += c
                    pending[j] = remainder(want, q)
                    if pending[j] != 0.0:
                        room[j] = 0.0  # starts working on the next row
    for j in range(n):  # the remainders of earlier rows: sells, then buys
        want = pending[j]
        if want < 0.0 and px[j] > 0.0 and room[j] > 0.0:
            q = capped_quantity(want, room[j], lot[j])
            if q != 0.0:
                room[j] -= abs(q)
                cash, c = _fill_one(j, q, px[j], adv[r, j], sigma[r, j], costs, cost_tmp,
                                    cash, shares)  # fmt: skip
                traded += abs(q) * px[j]
                spent += c
                pending[j] = remainder(want, q)
    any_buy = False
    for j in range(n):
        delta[j] = 0.0
        if pending[j] > 0.0 and px[j] > 0.0 and room[j] > 0.0:
            delta[j] = capped_quantity(pending[j], room[j], lot[j])
            base[j] = shares[j] + delta[j]
            any_buy = any_buy or delta[j] > 0.0
    short_of_cash = False
    if any_buy and cash_only:
        short_of_cash = fit_buys_to_cash(
            delta, base, shares, cash, px, lot, costs, adv[r], sigma[r], cost_tmp
        )
    for j in range(n):
        q = delta[j]
        if q > 0.0:
            cash, c = _fill_one(j, q, px[j], adv[r, j], sigma[r, j], costs, cost_tmp, cash,
                                shares)  # fmt: skip
            traded += q * px[j]
            spent += c
            pending[j] = remainder(pending[j], q)
        if short_of_cash and pending[j] > 0.0:
            pending[j] = 0.0  # the cash is spent: what it no longer covers is dropped
    return cash, traded, spent, OK


@_lean
def _mark(r, close, year_frac, borrow, shares, last_px, cash):
    """Mark row ``r`` at its close, charging borrow on shorts; returns (cash, equity)."""
    value = 0.0
    for j in range(shares.shape[0]):
        c = close[r, j]
        if not np.isnan(c):
            last_px[j] = c
        q = shares[j]
        if q != 0.0:
            v = q * last_px[j]
            value += v
            if q < 0.0 and borrow > 0.0:
                cash -= -v * borrow * year_frac[r]
    return cash, cash + value


@_lean
def _write_obs(t, feats, stack, shares, last_px, cash, equity, out):
    n_feat = feats.shape[1]
    k = 0
    for s in range(t - stack + 1, t + 1):
        for f in range(n_feat):
            out[k] = feats[s, f]
            k += 1
    inv = 1.0 / equity if equity > 0.0 else 0.0
    for j in range(shares.shape[0]):
        q = shares[j]
        out[k] = q * last_px[j] * inv if q != 0.0 else 0.0
        k += 1
    out[k] = cash * inv


@_lean
def _reset_env(i, close, feats, iparams, fparams, keys, fstate, istate, shares, last_px,
               prev_target, pending, obs):  # fmt: skip
    lo = iparams[I_LO]
    hi = iparams[I_HI]
    istate[i, S_EPISODE] += 1
    start = lo
    if iparams[I_RANDOM] != 0 and hi > lo:
        x = _splitmix64(keys[i] ^ (np.uint64(istate[i, S_EPISODE]) * _GOLDEN))
        start = lo + np.int64(x % np.uint64(hi - lo + 1))
    istate[i, S_ROW] = start
    istate[i, S_END] = start + iparams[I_LENGTH]
    istate[i, S_STEPS] = 0
    capital = fparams[F_CAPITAL]
    fstate[i, S_CASH] = capital
    fstate[i, S_EQUITY] = capital
    fstate[i, S_PEAK] = capital
    fstate[i, S_DSR_A] = 0.0
    fstate[i, S_DSR_B] = 0.0
    for j in range(shares.shape[1]):
        shares[i, j] = 0.0
        last_px[i, j] = close[start, j]  # NaN where the asset has no close yet
        prev_target[i, j] = np.nan
        pending[i, j] = 0.0
    _write_obs(start, feats, iparams[I_STACK], shares[i], last_px[i], capital, capital, obs[i])


@_lean
def _reward(kind, eq_old, eq_new, fstate_i, fparams):
    ratio = eq_new / eq_old if eq_old > 0.0 else 0.0
    log_r = np.log(max(ratio, MIN_RATIO))
    if kind == 0:
        rew = (eq_new - eq_old) / fparams[F_CAPITAL]
    elif kind == 1:
        rew = log_r
    elif kind == 2:  # Moody and Saffell's differential Sharpe ratio
        ret = ratio - 1.0
        a = fstate_i[S_DSR_A]
        b = fstate_i[S_DSR_B]
        da = ret - a
        db = ret * ret - b
        var = b - a * a
        rew = (b * da - 0.5 * a * db) / var**1.5 if var > 1e-12 else 0.0
        eta = fparams[F_ETA]
        fstate_i[S_DSR_A] = a + eta * da
        fstate_i[S_DSR_B] = b + eta * db
    else:
        peak = fstate_i[S_PEAK]
        dd_old = 1.0 - eq_old / peak
        dd_new = 1.0 - eq_new / max(peak, eq_new)
        rew = log_r - fparams[F_DD] * max(dd_new - dd_old, 0.0)
    fstate_i[S_PEAK] = max(fstate_i[S_PEAK], eq_new)
    return rew * fparams[F_SCALE]


@_lean
def _step_env(i, act, exec_px, close, adv, sigma, volume, year_frac, feats, costs, lot,
              levels, iparams, fparams, fstate, istate, shares, last_px, prev_target, targets,
              delta, base, pending, room, cost_tmp, obs, reward, terminated, truncated,
              info):  # fmt: skip
    """Advance account ``i`` by one bar. ``info[i] = (costs, turnover, clipped, status)``."""
    t = istate[i, S_ROW]
    tg = targets[i]
    clipped = _decode(
        act, iparams[I_ACTION], levels, fparams[F_UNIT], fparams[F_MAX_LEV],
        iparams[I_SHORT] != 0, tg, base[i], delta[i],
    )  # fmt: skip
    same = iparams[I_HOLD] != 0
    if same:
        for j in range(tg.shape[0]):
            a = tg[j]
            b = prev_target[i, j]
            if a != b and not (np.isnan(a) and np.isnan(b)):
                same = False
                break
    for j in range(tg.shape[0]):
        prev_target[i, j] = tg[j]
    cash = fstate[i, S_CASH]
    eq_old = fstate[i, S_EQUITY]
    traded = 0.0
    spent = 0.0
    status = OK
    if same:
        for j in range(tg.shape[0]):
            tg[j] = np.nan  # no orders: the record of what was sent
    if fparams[F_PART] > 0.0:  # remainders work on every bar, new targets or not
        cash, traded, spent, status = _rebalance_capped(
            t + iparams[I_LAG], tg, exec_px, last_px[i], shares[i], cash, adv, sigma, volume,
            costs, lot, fparams, iparams[I_SHORT] != 0, iparams[I_CASH_ONLY] != 0, delta[i],
            base[i], pending[i], room[i], cost_tmp[i],
        )  # fmt: skip
    elif not same:
        cash, traded, spent, status = _rebalance(
            t + iparams[I_LAG], tg, exec_px, last_px[i], shares[i], cash, adv, sigma, costs,
            lot, fparams, iparams[I_SHORT] != 0, iparams[I_CASH_ONLY] != 0, delta[i], base[i],
            cost_tmp[i],
        )  # fmt: skip
    r = t + 1
    cash, eq_new = _mark(r, close, year_frac, fparams[F_BORROW], shares[i], last_px[i], cash)
    fstate[i, S_CASH] = cash
    fstate[i, S_EQUITY] = eq_new
    istate[i, S_ROW] = r
    istate[i, S_STEPS] += 1
    reward[i] = _reward(iparams[I_REWARD], eq_old, eq_new, fstate[i], fparams)
    terminated[i] = eq_new <= 0.0
    truncated[i] = r >= istate[i, S_END] and not terminated[i]
    info[i, 0] = spent
    info[i, 1] = traded / eq_old if eq_old > 0.0 else 0.0
    info[i, 2] = clipped
    info[i, 3] = status
    _write_obs(r, feats, iparams[I_STACK], shares[i], last_px[i], cash, eq_new, obs[i])


@njit(cache=True)
def step_serial(actions, exec_px, close, adv, sigma, volume, year_frac, feats, costs, lot,
                levels, iparams, fparams, keys, fstate, istate, shares, last_px, prev_target,
                targets, delta, base, pending, room, cost_tmp, obs, reward, terminated,
                truncated, info, autoreset, final_obs):  # fmt: skip
    """Step every account on the calling thread (see :func:`step_parallel`)."""
    for i in range(actions.shape[0]):
        _step_env(
            i, actions[i], exec_px, close, adv, sigma, volume, year_frac, feats, costs, lot,
            levels, iparams, fparams, fstate, istate, shares, last_px, prev_target, targets,
            delta, base, pending, room, cost_tmp, obs, reward, terminated, truncated, info,
        )  # fmt: skip
        if autoreset and (terminated[i] or truncated[i]):
            final_obs[i] = obs[i]
            _reset_env(i, close, feats, iparams, fparams, keys, fstate, istate, shares,
                       last_px, prev_target, pending, obs)  # fmt: skip


@njit(cache=True, parallel=True)
def step_parallel(actions, exec_px, close, adv, sigma, volume, year_frac, feats, costs, lot,
                  levels, iparams, fparams, keys, fstate, istate, shares, last_px, prev_target,
                  targets, delta, base, pending, room, cost_tmp, obs, reward, terminated,
                  truncated, info, autoreset, final_obs):  # fmt: skip
    """Step every account in parallel; with ``autoreset`` a finished account starts anew.

    ``final_obs[i]`` then holds its last observation and ``obs[i]`` the first of
    its next episode (the convention of stable-baselines3's vectorized envs).
    """
    for i in prange(actions.shape[0]):
        _step_env(
            i, actions[i], exec_px, close, adv, sigma, volume, year_frac, feats, costs, lot,
            levels, iparams, fparams, fstate, istate, shares, last_px, prev_target, targets,
            delta, base, pending, room, cost_tmp, obs, reward, terminated, truncated, info,
        )  # fmt: skip
        if autoreset and (terminated[i] or truncated[i]):
            final_obs[i] = obs[i]
            _reset_env(i, close, feats, iparams, fparams, keys, fstate, istate, shares,
                       last_px, prev_target, pending, obs)  # fmt: skip


@njit(cache=True)
def reset_envs(which, close, feats, iparams, fparams, keys, fstate, istate, shares, last_px,
               prev_target, pending, obs):  # fmt: skip
    """Start a new episode for each account in ``which`` (int64 indices)."""
    for k in range(which.shape[0]):
        _reset_env(which[k], close, feats, iparams, fparams, keys, fstate, istate, shares,
                   last_px, prev_target, pending, obs)  # fmt: skip
