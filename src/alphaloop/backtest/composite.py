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

The numba kernels live in :mod:`alphaloop.backtest._composite_kernels`;
windows are summed afresh at every bar (no running sums), so a value does
not depend on how much history precedes its window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from alphaloop.backtest._composite_kernels import (
    _combine,
    _cross_section,
    _ic_weights,
    _mv_weights,
    _normalize_into,
    _unit_rank,
)
from alphaloop.backtest.spec import Component, StrategySpec, library_factor
from alphaloop.data import Panel
from alphaloop.errors import BacktestError

if TYPE_CHECKING:
    from alphaloop.backtest.code_signal import CodeLimits

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


def _rank_ic(z: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    return _cross_section(z, fwd, True)


def _factor_return(z: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    return _cross_section(z, fwd, False)


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
    if sig is None:
        return []
    if sig.model is not None:
        return [sig.model]
    refs = [c.model for c in sig.components or () if c.model is not None]
    if sig.combiner is not None:
        refs.append(sig.combiner)
    return list(dict.fromkeys(refs))


def signal_expressions(spec: StrategySpec) -> list[str]:
    """Every expression text the spec's signal evaluates (library factors as their formulas)."""
    sig = spec.signal
    if sig is None:
        return []
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
    code_limits: CodeLimits | None = None,
) -> np.ndarray:
    """The spec's signal on every bar of ``panel``, shape (time, asset), point in time.

    An expression signal is the expression's value; a model signal is
    ``model_values[model]`` as given; a code signal is the code's value, run
    in the sandbox (:func:`~alphaloop.backtest.code_signal.code_signal_values`,
    limits ``code_limits``); a composite is described in the module
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
    CodeSignalError
        The sandbox refused or stopped the code, or the code failed.
    """
    from alphaloop.factors.evaluate import evaluate

    sig = spec.signal
    if sig is None:
        raise BacktestError(
            f"the spec has no signal: template {spec.describe_signal()} makes its own",
            hint="alphaloop.backtest.build_book gives a template's signal",
        )
    shape = (panel.n_times, panel.n_assets)
    if sig.model is not None:
        return _model(sig.model, model_values, shape)
    if sig.code is not None:
        from alphaloop.backtest.code_signal import code_signal_values

        return code_signal_values(sig.code, panel, code_limits)
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
