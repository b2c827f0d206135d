"""Market observations: factor values and past returns, normalized causally.

:func:`market_features` computes, once per environment, an array of shape
``(time, n_blocks * n_assets)``: block ``b`` holds one value per asset
(feature-major: every asset of block 0, then block 1, ...). The blocks are
the factor expressions in the order given, then the past one-bar log
returns ``log(close[t - k] / close[t - k - 1])`` for ``k = 0 .. returns - 1``.
Only rows up to the span's last bar are read, so nothing after the span can
reach an observation.

Normalization (:func:`running_normalize`) is causal: the value at bar ``t``
is standardised by the mean and standard deviation of its own column over
bars ``0 .. t`` (expanding) or an exponentially weighted history with a
half-life, never later bars, then clipped. A value is NaN until its column
has ``min_periods`` finite values; a missing input stays missing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from alphaloop.data import Panel
from alphaloop.errors import AlphaloopError, ExpressionError
from alphaloop.rl.config import EnvConfig
from alphaloop.rl.errors import RLConfigError

__all__ = ["market_features", "running_normalize", "running_normalize_py"]

_NORM = {"none": 0, "expanding": 1, "ewm": 2}


def running_normalize_py(
    x: np.ndarray, method: int, halflife: float, min_periods: int, clip: float, out: np.ndarray
) -> None:
    """Causal z-score of each column of ``x`` (time, columns) into ``out`` (plain Python).

    ``method`` 1: expanding mean and (population) variance over bars ``0 .. t``;
    2: exponentially weighted with ``alpha = 1 - 2 ** (-1 / halflife)``. NaN
    inputs are skipped (and give NaN); a zero deviation gives 0.
    """
    n_rows, n_cols = x.shape
    alpha = 1.0 - 2.0 ** (-1.0 / halflife)
    for c in range(n_cols):
        count = 0
        mean = 0.0
        var = 0.0
        for t in range(n_rows):
            v = x[t, c]
            if not np.isfinite(v):
                out[t, c] = np.nan
                continue
            count += 1
            if method == 1 or count == 1:
                d = v - mean
                mean += d / count
                var += (d * (v - mean) - var) / count
            else:
                d = v - mean
                mean += alpha * d
                var = (1.0 - alpha) * (var + alpha * d * d)
            if count < min_periods:
                out[t, c] = np.nan
                continue
            sd = np.sqrt(var)
            z = (v - mean) / sd if sd > 1e-12 * abs(mean) + 1e-300 else 0.0
            out[t, c] = min(max(z, -clip), clip)


running_normalize = njit(cache=True, nogil=True)(running_normalize_py)


def _expressions(panel: Panel, features: object) -> dict[str, np.ndarray]:
    from alphaloop.factors import compile_expression
    from alphaloop.factors.evaluate import evaluate
    from alphaloop.models import resolve_features

    if features is None:
        return {}
    try:
        formulas = resolve_features(
            dict(features) if isinstance(features, dict) else features, None
        )
    except AlphaloopError as exc:
        raise RLConfigError(f"features: {exc.message}", hint=exc.hint) from exc
    compiled = {}
    for name, text in formulas.items():
        try:
            compiled[name] = compile_expression(text, fields=panel.field_names)
        except ExpressionError as exc:
            raise RLConfigError(f"feature {name!r}: {exc.message}", hint=exc.hint) from exc
    return evaluate(panel, compiled, mode="strict")


def past_log_returns(close: np.ndarray, lags: int) -> list[np.ndarray]:
    """``lags`` arrays: ``log(close[t - k] / close[t - k - 1])`` for ``k = 0 .. lags - 1``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        one = np.full_like(close, np.nan)
        one[1:] = np.log(close[1:] / close[:-1])
    one[~np.isfinite(one)] = np.nan
    out = []
    for k in range(lags):
        shifted = np.full_like(one, np.nan)
        shifted[k:] = one[: len(one) - k]
        out.append(shifted)
    return out


def market_features(panel: Panel, config: EnvConfig, last_row: int) -> tuple[np.ndarray, list[str]]:
    """Normalized market values of rows ``0 .. last_row`` and the block names.

    Returns
    -------
    values : ndarray, shape (last_row + 1, n_blocks * n_assets), float32
    names : list of str
        One per column: ``"<block>:<asset>"``.
    """
    view = panel.iloc(slice(0, last_row + 1))
    blocks = _expressions(view, config.features)
    close = np.asarray(view["close"], dtype=np.float64)
    for k, arr in enumerate(past_log_returns(close, config.returns)):
        blocks[f"logret_{k}"] = arr
    n_rows, n_assets = close.shape
    raw = np.empty((n_rows, len(blocks) * n_assets))
    names = []
    for b, (name, arr) in enumerate(blocks.items()):
        raw[:, b * n_assets : (b + 1) * n_assets] = arr
        names.extend(f"{name}:{a}" for a in view.assets)
    raw[~np.isfinite(raw)] = np.nan
    method = _NORM[config.normalize]
    if method == 0:
        out = np.clip(raw, -config.obs_clip, config.obs_clip)
    else:
        out = np.empty_like(raw)
        running_normalize(
            raw, method, float(config.norm_halflife), config.norm_min_periods,
            float(config.obs_clip), out,
        )  # fmt: skip
    return np.ascontiguousarray(out, dtype=np.float32), names
