"""Time-series factor analysis: per asset, does the factor line up with its own future returns?

A cross-sectional analysis (IC across assets, quantile buckets) needs several
assets at every bar. On one asset, or a handful, the question becomes a
time-series one: for each asset, is a high factor value followed by a high
return, and does the factor's sign match the return's sign?

Conventions
-----------
- ``factor[t]`` is known at ``t``'s close; the forward return is
  ``close[t+h] / close[t] - 1`` stamped at ``t`` (as in the cross-sectional
  analysis). A bar counts for an asset when both are finite and the asset is
  a member at ``t``.
- **IC** and **rank IC** of an asset: Pearson and Spearman correlation, over
  the asset's counting bars, of the factor with the forward return. The rank
  IC equals the mean of ``z(rank f) * z(rank r)`` (ranks over the asset's
  whole span, standardized with ddof=0); its **t (HAC)** is the Newey-West
  t-statistic of that mean with at least ``h - 1`` lags, because
  overlapping ``h``-bar returns are autocorrelated. Ranks and
  standardization use the whole span: these numbers describe the sample,
  they are not a signal that could have been traded.
- **Pooled**: per bar, the mean of those products over the assets counting
  at that bar; its mean is the pooled rank IC (one asset: that asset's), its
  Newey-West t-statistic the pooled t (HAC).
- **Hit rate**: the share of bars where ``sign(factor)`` equals
  ``sign(forward return)``, over bars where neither is zero (bars with a
  zero are counted apart). The factor's sign is taken as given: a factor
  that is never negative (a price ratio near 1, say) "calls up" on every
  bar, so its hit rate is just the share of up bars. **Chance hit rate**
  is the hit rate the same sign frequencies would give if the factor's
  sign were unrelated to the return's, ``p_f p_r + (1 - p_f)(1 - p_r)``;
  compare the hit rate with it, not with 50 %.
- **Rolling IC**: Pearson correlation over the last ``window`` bars
  (current included, all ``window`` bars needed), stamped at ``t``; it uses
  forward returns up to ``t + h``, so it is known only at ``t + h``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import (
    FactorAnalysisError,
    as_panel_array,
    forward_returns,
    json_number,
)
from alphaloop.factors.analysis.stats import mean_t_stat_hac

__all__ = [
    "CROSS_SECTION_ONLY",
    "AssetTimeSeries",
    "TimeSeriesReport",
    "time_series_analysis",
]

#: What a time-series analysis does not show, and what each needs a cross-section for.
CROSS_SECTION_ONLY: dict[str, str] = {
    "cross-sectional IC and rank IC": (
        "correlate the factor with forward returns across assets at each bar"
    ),
    "IC decay across assets": "repeats the cross-sectional IC at longer horizons",
    "quantile returns and the top-minus-bottom spread": (
        "sort each bar's assets into quantile buckets by factor value"
    ),
    "turnover": "follows the assets entering and leaving the quantile buckets",
    "orthogonality": "regresses the top-minus-bottom spread on market and known factor returns",
    "regimes": "average the cross-sectional IC by market regime",
}


@dataclass(frozen=True)
class AssetTimeSeries:
    """One asset's factor against its own forward returns over time.

    Attributes
    ----------
    asset : str
    n_bars : int
        Bars where the factor and the forward return are finite (member bars).
    ic, rank_ic : float
        Pearson / Spearman correlation over those bars (NaN below 3 bars or
        when either side is constant).
    rank_ic_t_stat_hac : float
        Newey-West t-statistic of the rank IC (see the module notes).
    hit_rate : float
        ``n_hits / n_signed``.
    n_hits, n_signed, n_zero : int
        Bars where the signs match; bars where neither is zero; bars where
        the factor or the return is exactly zero (left out of the hit rate).
    chance_hit_rate : float
        ``p_f p_r + (1 - p_f)(1 - p_r)`` with ``p_f``, ``p_r`` the shares of
        positive factor values and positive returns over the signed bars.
    share_up, share_factor_positive : float
        ``p_r`` and ``p_f``.
    start, end : pandas.Timestamp or None
        First and last counting bar.
    """

    asset: str
    n_bars: int
    ic: float
    rank_ic: float
    rank_ic_t_stat_hac: float
    hit_rate: float
    n_hits: int
    n_signed: int
    n_zero: int
    chance_hit_rate: float
    share_up: float
    share_factor_positive: float
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_bars": self.n_bars,
            "ic": json_number(self.ic),
            "rank_ic": json_number(self.rank_ic),
            "rank_ic_t_stat_hac": json_number(self.rank_ic_t_stat_hac),
            "hit_rate": json_number(self.hit_rate),
            "n_hits": self.n_hits,
            "n_signed": self.n_signed,
            "n_zero": self.n_zero,
            "chance_hit_rate": json_number(self.chance_hit_rate),
            "share_up": json_number(self.share_up),
            "share_factor_positive": json_number(self.share_factor_positive),
            "start": self.start.isoformat() if self.start is not None else None,
            "end": self.end.isoformat() if self.end is not None else None,
        }


@dataclass(frozen=True)
class TimeSeriesReport:
    """Per-asset and pooled time-series measures at one horizon, plus their decay.

    Attributes
    ----------
    horizon : int
        Forward-return horizon in bars.
    window : int
        Bars in the rolling IC.
    assets : dict of str to AssetTimeSeries
    pooled : dict
        ``n_assets`` (with at least one counting bar), ``n_bars`` (bars of
        the pooled series), ``rank_ic``, ``rank_ic_t_stat_hac``, ``hac_lags``,
        ``ic_mean_over_assets``, ``hit_rate``, ``n_hits``, ``n_signed``,
        ``chance_hit_rate``.
    decay : dict of int to dict
        The pooled measures at each decay horizon.
    rolling_ic : pandas.DataFrame
        Rolling IC per asset (time x asset).
    not_shown : dict of str to str
        Measures that need a cross-section -> what they do across assets.
    """

    horizon: int
    window: int
    assets: dict[str, AssetTimeSeries]
    pooled: dict[str, Any]
    decay: dict[int, dict[str, Any]]
    rolling_ic: pd.DataFrame = field(repr=False)
    not_shown: dict[str, str] = field(default_factory=lambda: dict(CROSS_SECTION_ONLY))

    @property
    def start(self) -> pd.Timestamp | None:
        stamps = [a.start for a in self.assets.values() if a.start is not None]
        return min(stamps) if stamps else None

    @property
    def end(self) -> pd.Timestamp | None:
        stamps = [a.end for a in self.assets.values() if a.end is not None]
        return max(stamps) if stamps else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None; horizons are string keys).

        The rolling IC series and ``not_shown`` are left out (the enclosing
        :class:`FactorReport` states what is not shown and why).
        """
        return {
            "horizon": self.horizon,
            "rolling_window": self.window,
            "pooled": {k: json_number(v) for k, v in self.pooled.items()},
            "assets": {name: a.to_dict() for name, a in self.assets.items()},
            "decay": {
                str(h): {k: json_number(v) for k, v in d.items()} for h, d in self.decay.items()
            },
        }


def _rank_products(f: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``z(rank f) * z(rank r)`` over the finite pairs (NaN elsewhere); mean = Spearman."""
    out = np.full(f.shape, np.nan)
    ok = np.isfinite(f) & np.isfinite(r)
    if ok.sum() < 3:
        return out
    rf = pd.Series(f[ok]).rank().to_numpy()
    rr = pd.Series(r[ok]).rank().to_numpy()
    sf, sr = rf.std(), rr.std()
    if sf == 0 or sr == 0:
        return out
    out[ok] = (rf - rf.mean()) / sf * ((rr - rr.mean()) / sr)
    return out


def _pearson(f: np.ndarray, r: np.ndarray) -> float:
    ok = np.isfinite(f) & np.isfinite(r)
    if ok.sum() < 3:
        return math.nan
    x, y = f[ok], r[ok]
    dx, dy = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / denom if denom > 0 else math.nan


def _share(num: int, den: int) -> float:
    return num / den if den else math.nan


def _asset(
    name: str, f: np.ndarray, r: np.ndarray, index: pd.DatetimeIndex, horizon: int
) -> tuple[AssetTimeSeries, np.ndarray]:
    ok = np.isfinite(f) & np.isfinite(r)
    products = _rank_products(f, r)
    sf, sr = np.sign(f[ok]), np.sign(r[ok])
    signed = (sf != 0) & (sr != 0)
    n_signed = int(signed.sum())
    n_hits = int((sf[signed] == sr[signed]).sum())
    p_f = _share(int((sf[signed] > 0).sum()), n_signed)
    p_r = _share(int((sr[signed] > 0).sum()), n_signed)
    stamps = index[ok]
    t_hac, _ = mean_t_stat_hac(products, horizon=horizon)
    stats = AssetTimeSeries(
        asset=name,
        n_bars=int(ok.sum()),
        ic=_pearson(f, r),
        rank_ic=float(np.nanmean(products)) if np.isfinite(products).any() else math.nan,
        rank_ic_t_stat_hac=t_hac,
        hit_rate=_share(n_hits, n_signed),
        n_hits=n_hits,
        n_signed=n_signed,
        n_zero=int(ok.sum()) - n_signed,
        chance_hit_rate=p_f * p_r + (1 - p_f) * (1 - p_r) if n_signed else math.nan,
        share_up=p_r,
        share_factor_positive=p_f,
        start=stamps[0] if len(stamps) else None,
        end=stamps[-1] if len(stamps) else None,
    )
    return stats, products


def _measure(
    f: np.ndarray,
    prices: np.ndarray,
    mem: np.ndarray | None,
    index: pd.DatetimeIndex,
    assets: Sequence[str],
    horizon: int,
) -> tuple[dict[str, AssetTimeSeries], dict[str, Any], np.ndarray, np.ndarray]:
    fwd = forward_returns(prices, horizon)
    ff = f.copy()
    if mem is not None:
        ff[~mem] = np.nan
    per_asset: dict[str, AssetTimeSeries] = {}
    products = np.full(f.shape, np.nan)
    for j, name in enumerate(assets):
        per_asset[name], products[:, j] = _asset(str(name), ff[:, j], fwd[:, j], index, horizon)
    with np.errstate(invalid="ignore"):
        counted = np.isfinite(products).sum(axis=1)
        pooled_series = np.where(counted > 0, np.nansum(products, axis=1) / counted, np.nan)
    t_hac, lags = mean_t_stat_hac(pooled_series, horizon=horizon)
    n_hits = sum(a.n_hits for a in per_asset.values())
    n_signed = sum(a.n_signed for a in per_asset.values())
    chance = sum(
        a.chance_hit_rate * a.n_signed for a in per_asset.values() if a.n_signed
    )  # weighted by signed bars
    ics = [a.ic for a in per_asset.values() if math.isfinite(a.ic)]
    finite = pooled_series[np.isfinite(pooled_series)]
    pooled = {
        "n_assets": sum(1 for a in per_asset.values() if a.n_bars),
        "n_bars": int(finite.size),
        "rank_ic": float(finite.mean()) if finite.size else math.nan,
        "rank_ic_t_stat_hac": t_hac,
        "hac_lags": lags,
        "ic_mean_over_assets": float(np.mean(ics)) if ics else math.nan,
        "hit_rate": _share(n_hits, n_signed),
        "n_hits": n_hits,
        "n_signed": n_signed,
        "chance_hit_rate": chance / n_signed if n_signed else math.nan,
    }
    return per_asset, pooled, ff, fwd


def time_series_analysis(
    factor: np.ndarray,
    close: np.ndarray,
    *,
    index: pd.DatetimeIndex | Sequence[Any],
    assets: Sequence[str],
    horizon: int = 1,
    membership: np.ndarray | None = None,
    decay_horizons: Iterable[int] = (1, 5, 20),
    window: int = 63,
) -> TimeSeriesReport:
    """Per-asset and pooled time-series IC, rank IC and hit rate of a factor.

    Parameters
    ----------
    factor, close : ndarray, shape (n_times, n_assets)
        Factor values (known at each bar's close) and prices on one grid.
    index : DatetimeIndex
        The calendar.
    assets : sequence of str
    horizon : int, default=1
        Forward-return horizon in bars.
    membership : ndarray of bool, optional
        Only member bars count.
    decay_horizons : iterable of int, default=(1, 5, 20)
        Horizons (bars) of the pooled decay.
    window : int, default=63
        Bars in the rolling IC (all needed).

    Returns
    -------
    TimeSeriesReport
    """
    f = as_panel_array(factor, "factor")
    prices = as_panel_array(close, "close", f.shape)
    idx = pd.DatetimeIndex(index)
    if len(idx) != f.shape[0]:
        raise FactorAnalysisError(f"index has {len(idx)} timestamps for {f.shape[0]} factor rows")
    if len(assets) != f.shape[1]:
        raise FactorAnalysisError(f"{len(assets)} assets given for {f.shape[1]} factor columns")
    if int(window) < 3:
        raise FactorAnalysisError(f"the rolling IC window must be at least 3 bars; got {window}")
    mem = None if membership is None else np.asarray(membership, dtype=bool)
    if mem is not None and mem.shape != f.shape:
        raise FactorAnalysisError(f"membership has shape {mem.shape}, expected {f.shape}")
    h = int(horizon)
    per_asset, pooled, ff, fwd = _measure(f, prices, mem, idx, assets, h)
    decay: dict[int, dict[str, Any]] = {}
    for hz in sorted({int(x) for x in decay_horizons} | {h}):
        point = pooled if hz == h else _measure(f, prices, mem, idx, assets, hz)[1]
        decay[hz] = {
            k: point[k]
            for k in ("rank_ic", "rank_ic_t_stat_hac", "ic_mean_over_assets", "hit_rate", "n_bars")
        }
    both = np.isfinite(ff) & np.isfinite(fwd)
    fx = pd.DataFrame(np.where(both, ff, np.nan), index=idx, columns=list(assets))
    rx = pd.DataFrame(np.where(both, fwd, np.nan), index=idx, columns=list(assets))
    rolling = fx.rolling(int(window), min_periods=int(window)).corr(rx)
    rolling = rolling.replace([np.inf, -np.inf], np.nan)
    return TimeSeriesReport(
        horizon=h,
        window=int(window),
        assets=per_asset,
        pooled=pooled,
        decay=decay,
        rolling_ic=rolling,
    )
