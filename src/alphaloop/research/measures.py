"""Per-candidate measures on the search span: walk-forward folds and market regimes.

Walk-forward folds: the trading bars cut into ``k`` consecutive blocks; fold
``i`` is the out-of-sample block of an expanding-window walk-forward whose
in-sample window is every bar before it. Sharpe ratios are annualized
``mean / std (ddof=1) * sqrt(periods_per_year)``; a constant block scores 0.

Regimes: :func:`regime_share` is :func:`alphaloop.validation.regime_performance`'s
``share_acceptable`` with its defaults (volatility terciles with full-sample
cuts over the strategy's bars, trend over 63 bars, the default crisis
windows, at least 20 bars, acceptable = Sharpe ratio above 0), computed
without building a metrics table per regime: a Sharpe ratio is above 0
exactly when the regime's mean return is above 0 and its returns vary. The
market labels depend on the strategy's first bar only, so they are cached
per (market, first bar).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fold_bounds", "fold_stats", "folds", "regime_share"]

_MIN_BARS = 20
_LABELS: OrderedDict[tuple[int, int, int, float], tuple[pd.Series, pd.DataFrame]] = OrderedDict()


def fold_bounds(n_obs: int, k: int) -> list[tuple[int, int]]:
    """``k`` consecutive blocks ``[start, stop)`` of ``n_obs`` bars (as ``array_split``)."""
    k = max(1, min(k, n_obs))
    size, extra = divmod(n_obs, k)
    out, start = [], 0
    for i in range(k):
        stop = start + size + (1 if i < extra else 0)
        out.append((start, stop))
        start = stop
    return out


def _sharpe(r: np.ndarray, ppy: float) -> float | None:
    if r.size < 2:
        return None
    sd = float(np.std(r, ddof=1))
    return float(np.mean(r) / sd * math.sqrt(ppy)) if sd > 0 else 0.0


def folds(r: np.ndarray, index: pd.DatetimeIndex, k: int, ppy: float) -> list[dict[str, Any]]:
    """Per fold: ``start``, ``end`` (ISO), ``n_obs``, ``sharpe`` (OOS), ``is_sharpe``."""
    out = []
    for start, stop in fold_bounds(r.size, k):
        out.append(
            {
                "start": index[start].isoformat(),
                "end": index[stop - 1].isoformat(),
                "n_obs": stop - start,
                "sharpe": _sharpe(r[start:stop], ppy),
                "is_sharpe": _sharpe(r[:start], ppy) if start else None,
            }
        )
    return out


def fold_stats(per_fold: list[dict[str, Any]]) -> dict[str, float]:
    """``oos_is_ratio`` (folds 2..k) and ``fold_share`` (share of folds with Sharpe > 0)."""
    from alphaloop.validation.walkforward import oos_is_ratio

    pairs = [(f["is_sharpe"], f["sharpe"]) for f in per_fold[1:] if f["is_sharpe"] is not None]
    ratio = math.nan
    if pairs:
        ratio = oos_is_ratio(
            [math.nan if a is None else a for a, _ in pairs],
            [math.nan if b is None else b for _, b in pairs],
        )
    measured = [f["sharpe"] for f in per_fold if f["sharpe"] is not None]
    share = sum(s > 0 for s in measured) / len(measured) if measured else math.nan
    return {"oos_is_ratio": float(ratio), "fold_share": float(share)}


def _labels(market: pd.Series, index: pd.DatetimeIndex, ppy: float) -> pd.DataFrame:
    from alphaloop.validation.regimes import market_regimes

    key = (id(market), len(index), int(index[0].value), ppy)
    hit = _LABELS.get(key)
    if hit is None or hit[0] is not market:  # the same object, not a new one at its address
        labels = market_regimes(market, periods_per_year=ppy, sample=index).reindex(index)
        hit = _LABELS[key] = (market, labels)
        while len(_LABELS) > 64:
            _LABELS.popitem(last=False)
    return hit[1]


def regime_share(
    returns: np.ndarray, index: pd.DatetimeIndex, market: pd.Series, ppy: float
) -> tuple[float, int]:
    """Share of evaluated regimes with a positive Sharpe ratio, and how many were evaluated.

    ``market`` is the market's returns on ``index`` or a longer history (NaN
    bars dropped, as :func:`~alphaloop.validation.market_regimes` does).
    """
    from alphaloop.validation.regimes import DEFAULT_CRISES, TREND_LABELS, VOLATILITY_LABELS

    labels = _labels(market, index, ppy)
    masks = [labels["volatility_regime"].to_numpy() == v for v in VOLATILITY_LABELS]
    masks += [labels["trend_regime"].to_numpy() == t for t in TREND_LABELS]
    for crisis in DEFAULT_CRISES:
        start = pd.Timestamp(crisis.start).tz_localize(index.tz)
        end = pd.Timestamp(crisis.end).tz_localize(index.tz) + pd.Timedelta(days=1)
        masks.append(np.asarray((index >= start) & (index < end)))
    evaluated = ok = 0
    for mask in masks:
        part = returns[mask]
        if part.size < _MIN_BARS:
            continue
        evaluated += 1
        ok += bool(part.mean() > 0 and part.std(ddof=1) > 0)
    return (ok / evaluated if evaluated else math.nan), evaluated
