"""A spec's signal on a panel: an expression, a model's predictions, or a composite.

Composite signals (``signal.components``) are computed here, point in time:
the value at bar ``t`` uses data up to and including ``t`` only.

1. Each component is evaluated (an expression, a built-in library factor, or
   the predictions of a model, passed in by the caller as ``model_values``)
   and normalized per bar over that bar's eligible assets with a value
   (eligible: a member with a finite close): ``rank`` gives the percentile
   rank centred on 0, ``(r - 1) / (n - 1) - 0.5`` in [-0.5, 0.5] with ties
   sharing their mean rank (0 when ``n == 1``); ``zscore`` gives
   ``(x - mean) / std`` with the population std (0 when the row is
   constant). Then it is multiplied by its ``sign``.
2. Per bar weights ``w_k`` (see below) combine them:
   ``sum_k w_k z_k / sum_k |w_k|`` over the components with a value at that
   asset and bar.
3. The result is re-ranked per bar to [0, 1], ``(r - 1) / (n - 1)`` (0.5
   when one asset has a value); NaN where the asset is not eligible or no
   component has a value.

Weights
    ``equal``: ``1 / K``. ``ic``: the mean, over the trailing ``window`` bars
    ``s`` whose forward return is realized by ``t`` (``s + horizon <= t``),
    of each signed component's rank IC (Spearman correlation across assets
    eligible at ``s``) with the simple return from ``s`` to ``s + horizon``.
    ``mean_variance``: ``inv(S + ridge) m``, where ``m`` and ``S`` are the
    mean and covariance (ddof 1) of the components' factor returns over the
    same bars: the rank-weighted long-short return of each signed component,
    ``sum_i c_i r_i / sum_i |c_i|`` with ``c_i`` its centred rank; the ridge
    adds ``RIDGE * trace(S) / K`` to the diagonal. Both normalize to
    ``sum |w| = 1`` and allow negative weights: a component whose history
    says it predicts the wrong way is turned around. Both use equal weights
    until ``min_history`` bars (:func:`min_history`) have a value, and when
    every weight is 0. ``model``: the predictions of the ``combiner`` model
    are the combination (where some component has a value).

Kernels are numba-compiled (cached on disk); windows are summed afresh at
every bar (no running sums), so a value does not depend on how much history
precedes its window.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from alphaloop.backtest.spec import Component, StrategySpec, library_factor
from alphaloop.data import Panel
from alphaloop.errors import BacktestError

__all__ = [
    "RIDGE",
    "combination_weights",
    "cross_sectional_rank",
    "forward_returns",
    "min_history",
    "normalize_components",
    "signal_expressions",
    "signal_models",
    "signal_values",
]

RIDGE = 0.1
"""Ridge of the mean-variance weights, as a fraction of the mean factor-return variance."""

_MIN_ASSETS = 3
"""Assets a bar needs for a rank IC or a factor return."""


def min_history(window: int, n_components: int) -> int:
    """Bars with a rank IC / factor return needed before IC or mean-variance weights apply.

    ``max(n_components + 2, window // 4)``, at most ``window`` (and at least 2).
    """
    return max(2, min(window, max(n_components + 2, window // 4)))


# ----------------------------------------------------------------- what a signal needs
def _component_text(c: Component) -> str | None:
    if c.expr is not None:
        return c.expr
    if c.factor is not None:
        return library_factor(c.factor)
    return None


def signal_models(spec: StrategySpec) -> list[str]:
    """Every model ref the spec's signal reads (components', then the combiner), once each."""
    sig = spec.signal
    if sig.model is not None:
        return [sig.model]
    refs = [c.model for c in sig.components or () if c.model is not None]
    if sig.combiner is not None:
        refs.append(sig.combiner)
    return list(dict.fromkeys(refs))


def signal_expressions(spec: StrategySpec) -> list[str]:
    """Every expression text the spec's signal evaluates (library factors as their formulas)."""
    sig = spec.signal
    if sig.expr is not None:
        return [sig.expr]
    texts = [_component_text(c) for c in sig.components or ()]
    return list(dict.fromkeys(t for t in texts if t is not None))


def _model(ref: str, model_values: Mapping[str, np.ndarray] | None, shape: tuple[int, int]):
    if model_values is None or ref not in model_values:
        have = ", ".join(sorted(model_values or {})) or "none"
        raise BacktestError(
            f"the signal needs the predictions of model {ref} (given: {have})",
            hint="predict every model of alphaloop.backtest.composite.signal_models(spec) "
            "on the panel and pass them as model_values",
        )
    values = np.asarray(model_values[ref], dtype=np.float64)
    if values.shape != shape:
        raise BacktestError(
            f"predictions of model {ref} have shape {values.shape}; the panel is {shape}"
        )
    return values


def signal_values(
    spec: StrategySpec,
    panel: Panel,
    *,
    model_values: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The spec's signal on every bar of ``panel``, shape (time, asset), point in time.

    An expression signal is the expression's value; a model signal is
    ``model_values[model]`` as given; a composite is described in the module
    docstring (values in [0, 1]).

    Parameters
    ----------
    spec : StrategySpec
    panel : Panel
        The spec's data, universe selected.
    model_values : mapping of str to ndarray, optional
        The (time, asset) predictions on ``panel`` of every model of
        :func:`signal_models`.

    Raises
    ------
    BacktestError
        A model's predictions are missing or have the wrong shape.
    ExpressionError
        An expression does not compile on the panel's fields.
    """
    from alphaloop.factors.evaluate import evaluate

    sig = spec.signal
    shape = (panel.n_times, panel.n_assets)
    if sig.model is not None:
        return _model(sig.model, model_values, shape)
    if sig.components is None:
        return evaluate(panel, {"signal": str(sig.expr)}, mode=sig.mode)["signal"]
    texts = {f"c{i}": t for i, c in enumerate(sig.components) if (t := _component_text(c))}
    evaluated = evaluate(panel, texts, mode=sig.mode) if texts else {}
    raw = [
        evaluated[f"c{i}"] if c.model is None else _model(c.model, model_values, shape)
        for i, c in enumerate(sig.components)
    ]
    combiner = _model(sig.combiner, model_values, shape) if sig.combiner is not None else None
    close = np.asarray(panel["close"], dtype=np.float64)
    eligible = np.asarray(panel.membership, dtype=bool) & np.isfinite(close)
    z = normalize_components(raw, sig.components, eligible)
    if combiner is not None:
        any_value = np.isfinite(z).any(axis=0)
        combined = np.where(any_value & eligible, combiner, np.nan)
    else:
        fwd = forward_returns(close, eligible, sig.horizon) if sig.combine != "equal" else close
        w = combination_weights(z, fwd, sig.combine, sig.window, sig.horizon)
        combined = _combine(z, w)
    return _unit_rank(np.ascontiguousarray(combined))


def cross_sectional_rank(x: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Percentile rank per bar over assets ``ok`` with a finite value: ``(r - 1) / (n - 1)``.

    In [0, 1], ties sharing their mean rank; 0.5 for a lone value; NaN elsewhere.
    """
    out = np.empty(x.shape)
    values = np.ascontiguousarray(x, dtype=np.float64)
    _normalize_into(values, np.ascontiguousarray(ok, dtype=np.bool_), False, 0.0, 1.0, out)
    return out


def normalize_components(
    raw: list[np.ndarray], components: list[Component], eligible: np.ndarray
) -> np.ndarray:
    """Signed, per-bar normalized components, shape (K, time, asset); NaN where no value."""
    out = np.empty((len(raw), *eligible.shape))
    ok = np.ascontiguousarray(eligible, dtype=np.bool_)
    for k, (values, comp) in enumerate(zip(raw, components, strict=True)):
        x = np.ascontiguousarray(values, dtype=np.float64)
        _normalize_into(x, ok, comp.normalize == "zscore", 0.5, float(comp.sign), out[k])
    return out


def forward_returns(close: np.ndarray, eligible: np.ndarray, horizon: int) -> np.ndarray:
    """Simple return from bar ``s`` to ``s + horizon``, stamped at ``s`` (NaN: unknown/ineligible).

    The value at ``s`` is known at the close of ``s + horizon`` only.
    """
    out = np.full(close.shape, np.nan)
    if horizon < close.shape[0]:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:-horizon] = close[horizon:] / close[:-horizon] - 1.0
    out[~eligible | ~(close > 0)] = np.nan
    return out


def combination_weights(
    z: np.ndarray, fwd: np.ndarray, combine: str, window: int, horizon: int
) -> np.ndarray:
    """Per-bar component weights, shape (time, K), ``sum |w| = 1`` on every bar.

    ``z``: normalized signed components (K, time, asset); ``fwd``:
    :func:`forward_returns`. Weights at ``t`` use ``fwd`` at ``s <= t - horizon`` only.
    """
    n_comp, n_times, _ = z.shape
    if combine == "equal":
        return np.full((n_times, n_comp), 1.0 / n_comp)
    need = min_history(window, n_comp)
    if combine == "ic":
        scores = np.stack([_rank_ic(np.ascontiguousarray(z[k]), fwd) for k in range(n_comp)], 1)
        return _ic_weights(scores, window, horizon, need)
    if combine == "mean_variance":
        rets = np.stack([_factor_return(np.ascontiguousarray(z[k]), fwd) for k in range(n_comp)], 1)
        return _mv_weights(rets, window, horizon, need, RIDGE)
    raise BacktestError(f"unknown combine {combine!r}; use equal, ic, mean_variance or model")


# ----------------------------------------------------------------- kernels
@njit(cache=True, nogil=True)
def _avg_ranks(values: np.ndarray, n: int, order: np.ndarray, ranks: np.ndarray) -> None:
    """Ranks 1..n of ``values[:n]`` (all finite) into ``ranks``, ties sharing their mean rank.

    ``order`` is scratch space; insertion sort, as rows are short (assets).
    """
    for i in range(n):
        v = values[i]
        pos = i
        while pos > 0 and values[order[pos - 1]] > v:
            order[pos] = order[pos - 1]
            pos -= 1
        order[pos] = i
    first = 0
    while first < n:
        end = first + 1
        while end < n and values[order[end]] == values[order[first]]:
            end += 1
        r = (first + end + 1) / 2.0
        for i in range(first, end):
            ranks[order[i]] = r
        first = end


@njit(cache=True, nogil=True)
def _normalize_into(
    x: np.ndarray, ok: np.ndarray, zscore: bool, shift: float, sign: float, out: np.ndarray
) -> None:
    """Per-row z-score, or rank ``(r - 1) / (n - 1) - shift`` (``0.5 - shift`` for a lone
    value), over the row's finite values where ``ok``, times ``sign``; NaN elsewhere."""
    n_times, n_assets = x.shape
    out[:, :] = np.nan
    idx = np.empty(n_assets, dtype=np.int64)
    vals = np.empty(n_assets)
    order = np.empty(n_assets, dtype=np.int64)
    ranks = np.empty(n_assets)
    for t in range(n_times):
        n = 0
        for j in range(n_assets):
            if ok[t, j] and np.isfinite(x[t, j]):
                idx[n] = j
                vals[n] = x[t, j]
                n += 1
        if n == 0:
            continue
        if zscore:
            mean = 0.0
            for i in range(n):
                mean += vals[i]
            mean /= n
            var = 0.0
            for i in range(n):
                var += (vals[i] - mean) ** 2
            std = np.sqrt(var / n)
            for i in range(n):
                out[t, idx[i]] = sign * ((vals[i] - mean) / std if std > 0 else 0.0)
        else:
            _avg_ranks(vals, n, order, ranks)
            for i in range(n):
                unit = (ranks[i] - 1.0) / (n - 1) if n > 1 else 0.5
                out[t, idx[i]] = sign * (unit - shift)


@njit(cache=True, nogil=True)
def _unit_rank(x: np.ndarray) -> np.ndarray:
    """Per-row rank in [0, 1]: ``(r - 1) / (n - 1)``, 0.5 for a lone value."""
    out = np.empty(x.shape)
    _normalize_into(x, np.ones(x.shape, dtype=np.bool_), False, 0.0, 1.0, out)
    return out


@njit(cache=True, nogil=True)
def _cross_section(z: np.ndarray, fwd: np.ndarray, ic: bool) -> np.ndarray:
    """Per bar: Spearman correlation of ``z`` and ``fwd`` (``ic``), else the factor return.

    The factor return is ``sum c r / sum |c|`` with ``c`` the centred rank of
    ``z``. NaN with fewer than 3 assets having both, or a constant side.
    """
    n_times, n_assets = z.shape
    out = np.full(n_times, np.nan)
    a = np.empty(n_assets)
    b = np.empty(n_assets)
    order = np.empty(n_assets, dtype=np.int64)
    ra = np.empty(n_assets)
    rb = np.empty(n_assets)
    for t in range(n_times):
        n = 0
        for j in range(n_assets):
            if np.isfinite(z[t, j]) and np.isfinite(fwd[t, j]):
                a[n] = z[t, j]
                b[n] = fwd[t, j]
                n += 1
        if n < _MIN_ASSETS:
            continue
        _avg_ranks(a, n, order, ra)
        centre = (n + 1) / 2.0  # the mean of ranks 1..n, ties included
        if ic:
            _avg_ranks(b, n, order, rb)
            sab = 0.0
            saa = 0.0
            sbb = 0.0
            for i in range(n):
                da = ra[i] - centre
                db = rb[i] - centre
                sab += da * db
                saa += da * da
                sbb += db * db
            if saa > 0 and sbb > 0:
                out[t] = sab / np.sqrt(saa * sbb)
        else:
            num = 0.0
            gross = 0.0
            for i in range(n):
                c = ra[i] - centre
                num += c * b[i]
                gross += abs(c)
            if gross > 0:
                out[t] = num / gross
    return out


def _rank_ic(z: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    return _cross_section(z, fwd, True)


def _factor_return(z: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    return _cross_section(z, fwd, False)


@njit(cache=True, nogil=True)
def _ic_weights(ic: np.ndarray, window: int, horizon: int, need: int) -> np.ndarray:
    """Mean IC of each component over ``s`` in ``[t - horizon - window + 1, t - horizon]``.

    Each window is summed afresh (no running sums), so the weights at ``t``
    depend on the window's values only.
    """
    n_times, n_comp = ic.shape
    out = np.full((n_times, n_comp), 1.0 / n_comp)
    vals = np.zeros((n_comp, n_times))
    valid = np.zeros((n_comp, n_times))
    for s in range(n_times):
        for k in range(n_comp):
            if np.isfinite(ic[s, k]):
                vals[k, s] = ic[s, k]
                valid[k, s] = 1.0
    mean = np.empty(n_comp)
    for t in range(horizon, n_times):
        last = t - horizon
        first = max(0, last - window + 1)
        enough = True
        gross = 0.0
        for k in range(n_comp):
            acc = 0.0
            cnt = 0.0
            for s in range(first, last + 1):
                acc += vals[k, s]
                cnt += valid[k, s]
            if cnt < need:
                enough = False
                break
            mean[k] = acc / cnt
            gross += abs(mean[k])
        if enough and gross > 0:
            for k in range(n_comp):
                out[t, k] = mean[k] / gross
    return out


@njit(cache=True, nogil=True)
def _mv_weights(rets: np.ndarray, window: int, horizon: int, need: int, ridge: float) -> np.ndarray:
    """``inv(S + ridge * trace(S) / K) m`` over the window bars with every factor return."""
    n_times, n_comp = rets.shape
    out = np.full((n_times, n_comp), 1.0 / n_comp)
    ok = np.zeros(n_times, dtype=np.bool_)
    for s in range(n_times):
        ok[s] = np.isfinite(rets[s]).all()
    total = np.empty(n_comp)
    cross = np.empty((n_comp, n_comp))
    for t in range(horizon, n_times):
        last = t - horizon
        total[:] = 0.0
        cross[:, :] = 0.0
        n = 0
        for s in range(max(0, last - window + 1), last + 1):
            if not ok[s]:
                continue
            n += 1
            for k in range(n_comp):
                rk = rets[s, k]
                total[k] += rk
                for m in range(k + 1):
                    cross[k, m] += rk * rets[s, m]
        if n < need:
            continue
        mean = total / n
        cov = np.empty((n_comp, n_comp))
        for k in range(n_comp):
            for m in range(k + 1):
                c = (cross[k, m] - n * mean[k] * mean[m]) / (n - 1)
                cov[k, m] = c
                cov[m, k] = c
        scale = np.trace(cov) / n_comp
        if not scale > 0:
            continue
        for k in range(n_comp):
            cov[k, k] += ridge * scale
        w = np.linalg.solve(cov, mean)
        gross = np.abs(w).sum()
        if np.isfinite(gross) and gross > 0:
            out[t] = w / gross
    return out


@njit(cache=True, nogil=True)
def _combine(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``sum_k w_k z_k / sum_k |w_k|`` over the components with a value (mean if all w are 0)."""
    n_comp, n_times, n_assets = z.shape
    out = np.full((n_times, n_assets), np.nan)
    for t in range(n_times):
        for j in range(n_assets):
            acc = 0.0
            gross = 0.0
            n = 0
            plain = 0.0
            for k in range(n_comp):
                v = z[k, t, j]
                if np.isfinite(v):
                    acc += w[t, k] * v
                    gross += abs(w[t, k])
                    plain += v
                    n += 1
            if n:
                out[t, j] = acc / gross if gross > 0 else plain / n
    return out
