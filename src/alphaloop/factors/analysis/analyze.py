"""One call from a factor array to a :class:`FactorReport` with every measure."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import (
    FactorAnalysisError,
    as_panel_array,
    check_return_scale,
    forward_returns,
    periods_per_year_of,
)
from alphaloop.factors.analysis.ic import information_coefficient, summarize_ic, usable_mask
from alphaloop.factors.analysis.orthogonality import factor_orthogonality
from alphaloop.factors.analysis.quantiles import assign_quantiles, quantile_returns
from alphaloop.factors.analysis.regimes import regime_report
from alphaloop.factors.analysis.report import (
    ANALYSIS_MODES,
    AnalysisMode,
    FactorReport,
    ICDecayPoint,
)
from alphaloop.factors.analysis.timeseries import time_series_analysis
from alphaloop.factors.analysis.turnover import summarize_turnover

__all__ = ["analyze_factor", "choose_analysis_mode"]


def choose_analysis_mode(
    close: np.ndarray,
    membership: np.ndarray | None = None,
    *,
    min_assets: int = 5,
    requested: str = "auto",
) -> tuple[str, str]:
    """Pick the cross-section or the time-series analysis for a panel, and say why.

    The cross-section needs ``min_assets`` assets at a period. ``auto``
    counts, per period, the member assets with a positive price and takes
    the median over the periods that have any: below ``min_assets`` the
    analysis is a time-series one. The choice depends on the data only, not
    on the factor, so every factor of a library gets the same mode.

    Parameters
    ----------
    close : ndarray, shape (n_times, n_assets)
    membership : ndarray of bool, optional
    min_assets : int, default=5
    requested : {"auto", "cross-section", "time-series"}

    Returns
    -------
    (str, str)
        ``"cross-section"`` or ``"time-series"``, and the reason in words.

    Raises
    ------
    FactorAnalysisError
        For an unknown mode, or ``"cross-section"`` asked for on a panel
        whose median cross-section is below ``min_assets``.
    """
    if requested not in ANALYSIS_MODES:
        raise FactorAnalysisError(
            f"unknown analysis mode {requested!r}", hint=f"use one of {', '.join(ANALYSIS_MODES)}"
        )
    prices = np.asarray(close, dtype=np.float64)
    have = np.isfinite(prices) & (prices > 0)
    if membership is not None:
        have &= np.asarray(membership, dtype=bool)
    counts = have.sum(axis=1)
    counts = counts[counts > 0]
    typical = float(np.median(counts)) if counts.size else 0.0
    seen = f"a median of {typical:g} asset{'s' if typical != 1 else ''} with a price per period"
    if requested == "time-series":
        return "time-series", f"asked for ({seen})"
    if requested == "cross-section":
        if typical < min_assets:
            raise FactorAnalysisError(
                f"a cross-sectional analysis needs at least {min_assets} assets per period; "
                f"the data has {seen}",
                hint="use the time-series mode, which compares each asset's factor with its "
                "own forward returns",
            )
        return "cross-section", f"asked for ({seen})"
    if typical < min_assets:
        return "time-series", (
            f"auto: {seen}, fewer than the {min_assets} (min_assets) a cross-section needs"
        )
    return "cross-section", (
        f"auto: {seen}, at least the {min_assets} (min_assets) a cross-section needs"
    )


def _check_index(index: Any, n_times: int) -> pd.DatetimeIndex:
    idx = pd.DatetimeIndex(index)
    if len(idx) != n_times:
        raise FactorAnalysisError(
            f"index has {len(idx)} timestamps but the factor has {n_times} rows"
        )
    return idx


def _as_series(market: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(market, pd.DataFrame):
        if market.shape[1] != 1:
            raise FactorAnalysisError(
                f"market must be one return series; got {market.shape[1]} columns"
            )
        market = market.iloc[:, 0]
    check_return_scale(market, "market")
    return market.astype(np.float64)


def _align_to(series: pd.Series, index: pd.DatetimeIndex) -> pd.Series:
    idx = pd.DatetimeIndex(series.index)
    if (idx.tz is None) != (index.tz is None):
        idx = idx.tz_localize(index.tz) if idx.tz is None else idx.tz_convert(None)
    elif idx.tz is not None:
        idx = idx.tz_convert(index.tz)
    return pd.Series(series.to_numpy(), index=idx.as_unit(index.unit)).reindex(index)


def analyze_factor(
    factor: np.ndarray,
    close: np.ndarray,
    *,
    index: pd.DatetimeIndex | Sequence[Any],
    assets: Sequence[str],
    horizon: int = 1,
    quantiles: int = 5,
    membership: np.ndarray | None = None,
    decay_horizons: Iterable[int] = (1, 5, 20),
    market: pd.Series | None = None,
    known_factors: pd.DataFrame | None = None,
    caveats: Iterable[str] = (),
    min_assets: int | None = None,
    periods_per_year: float | None = None,
    volatility_window: int = 21,
    trend_window: int = 63,
    trend_up: float = 0.05,
    trend_down: float = -0.05,
    mode: AnalysisMode = "auto",
    rolling_window: int = 63,
) -> FactorReport:
    """Analyze a factor: IC, rank IC, decay, turnover, quantile returns, orthogonality, regimes.

    Parameters
    ----------
    factor : ndarray, shape (n_times, n_assets)
        Factor values aligned with a Panel's ``index`` and ``assets``; the value
        at ``t`` is known at ``t``'s close. Higher is more bullish.
    close : ndarray, shape (n_times, n_assets)
        Prices (adjusted close) on the same grid.
    index : DatetimeIndex
        The calendar (``Panel.index``).
    assets : sequence of str
        Asset ids (``Panel.assets``).
    horizon : int, default=1
        Forward-return horizon ``h`` in periods.
    quantiles : int, default=5
        Number of equal-count buckets.
    membership : ndarray of bool, optional
        Only members at ``t`` count (``Panel.membership``).
    decay_horizons : iterable of int, default=(1, 5, 20)
        Horizons (periods) for the IC decay.
    market : pandas.Series, optional
        Simple market returns stamped where realized (e.g.
        ``simple_returns(index_close)``); enables orthogonality and regimes.
    known_factors : pandas.DataFrame, optional
        Returns of known factors on a daily or coarser (monthly) calendar;
        enables orthogonality.
    caveats : iterable of str
        Text shown with every rendering of the report (e.g. the dataset's
        caveats).
    min_assets : int, optional
        Minimum counting assets per period; default ``max(5, quantiles)``.
    periods_per_year : float, optional
        Annualization factor; default from the frequency alone (252 daily,
        none intraday). Pass the dataset's own
        (``DatasetInfo.market.periods_per_year``: 365 for daily crypto, 260
        for daily FX).
    volatility_window, trend_window : int
        Trailing windows (periods, current included) for the regimes.
    trend_up, trend_down : float
        Trailing market return thresholds (decimals) of up and down markets.
    mode : {"auto", "cross-section", "time-series"}, default="auto"
        ``auto`` analyzes across assets when the data has a cross-section
        (see :func:`choose_analysis_mode`), else each asset over time.
    rolling_window : int, default=63
        Bars in the rolling IC of the time-series mode.

    Returns
    -------
    FactorReport
    """
    f = as_panel_array(factor, "factor")
    shape = f.shape
    prices = as_panel_array(close, "close", shape)
    idx = _check_index(index, shape[0])
    if len(assets) != shape[1]:
        raise FactorAnalysisError(f"{len(assets)} assets given for {shape[1]} factor columns")
    q = int(quantiles)
    if q < 2:
        raise FactorAnalysisError(f"quantiles must be >= 2; got {quantiles}")
    floor = max(5, q) if min_assets is None else int(min_assets)
    if floor < q:
        raise FactorAnalysisError(
            f"min_assets ({floor}) is below quantiles ({q}): periods would leave buckets empty",
            hint=f"pass min_assets >= {q}",
        )
    h = int(horizon)
    ppy = periods_per_year if periods_per_year is not None else periods_per_year_of(idx)
    mem = None if membership is None else np.asarray(membership, dtype=bool)

    chosen, reason = choose_analysis_mode(prices, mem, min_assets=floor, requested=mode)
    if chosen == "time-series":
        return FactorReport(
            horizon=h,
            quantiles=q,
            min_assets=floor,
            periods_per_year=ppy,
            n_skipped={},
            ic_decay={},
            mode="time-series",
            mode_reason=reason,
            time_series=time_series_analysis(
                f,
                prices,
                index=idx,
                assets=assets,
                horizon=h,
                membership=mem,
                decay_horizons=decay_horizons,
                window=rolling_window,
            ),
            caveats=tuple(str(c) for c in caveats),
        )

    def measure(hz: int) -> tuple[np.ndarray, np.ndarray, pd.Series, pd.Series]:
        fwd = forward_returns(prices, hz)
        mask = usable_mask(f, fwd, mem, min_assets=floor)
        ic = information_coefficient(
            f, fwd, "pearson", index=idx, membership=mask, min_assets=floor
        )
        rank_ic = information_coefficient(
            f, fwd, "spearman", index=idx, membership=mask, min_assets=floor
        )
        return fwd, mask, ic, rank_ic

    fwd, mask, ic, rank_ic = measure(h)
    labels = assign_quantiles(f, q, mask=mask)

    decay: dict[int, ICDecayPoint] = {}
    for hz in sorted({int(x) for x in decay_horizons}):
        _, _, d_ic, d_rank = (fwd, mask, ic, rank_ic) if hz == h else measure(hz)
        d_summary = summarize_ic(d_rank, horizon=hz)
        decay[hz] = ICDecayPoint(
            hz, float(d_ic.mean()), d_summary.mean, d_summary.t_stat_hac, d_summary.n_periods
        )

    if h == 1:
        fwd1, mask1, labels1 = fwd, mask, labels
    else:
        fwd1 = forward_returns(prices, 1)
        mask1 = usable_mask(f, fwd1, mem, min_assets=floor)
        labels1 = assign_quantiles(f, q, mask=mask1)
    daily = quantile_returns(labels1, fwd1, quantiles=q, horizon=1, index=idx)

    orthogonality = None
    market_series = None if market is None else _align_to(_as_series(market), idx)
    if market_series is not None or known_factors is not None:
        # positions formed at t's close earn the spread by t+1's close: stamp it there
        realized = pd.Series(daily.spread.to_numpy()[:-1], index=idx[1:], name="long_short")
        orthogonality = factor_orthogonality(
            realized,
            market=market_series,
            known_factors=known_factors,
            native_periods_per_year=ppy,
        )
    regimes = None
    if market_series is not None:
        regimes = regime_report(
            ic,
            rank_ic,
            market_series,
            volatility_window=volatility_window,
            trend_window=trend_window,
            trend_up=trend_up,
            trend_down=trend_down,
            periods_per_year=ppy,
        )

    counts = mask.any(axis=1)
    beyond = min(h, shape[0])
    within = shape[0] - beyond
    too_few = int(within - counts[:within].sum())
    ic_summary = summarize_ic(ic, horizon=h, periods_per_year=ppy)
    return FactorReport(
        horizon=h,
        quantiles=q,
        min_assets=floor,
        periods_per_year=ppy,
        mode="cross-section",
        mode_reason=reason,
        n_skipped={
            "beyond_data": beyond,
            "too_few_assets": too_few,
            "undefined": int(counts.sum()) - ic_summary.n_periods,
        },
        ic=ic,
        rank_ic=rank_ic,
        ic_summary=ic_summary,
        rank_ic_summary=summarize_ic(rank_ic, horizon=h, periods_per_year=ppy),
        ic_decay=decay,
        turnover=summarize_turnover(f, labels, quantiles=q, lags=(1, h), mask=mask, index=idx),
        quantile_returns=quantile_returns(labels, fwd, quantiles=q, horizon=h, index=idx),
        daily_quantile_returns=daily,
        orthogonality=orthogonality,
        regimes=regimes,
        caveats=tuple(str(c) for c in caveats),
    )
