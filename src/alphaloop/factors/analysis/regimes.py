"""Does the factor work in every kind of market? Mean IC by market regime.

Regimes are read from trailing market returns that include the current
period (known at its close), so a period's regime is known when its factor
value is. One exception, stated in every report: the volatility terciles'
cut points are quantiles of the whole sample, which is descriptive
(hindsight), not a signal that could have been traded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.factors.analysis._common import FactorAnalysisError, json_number

__all__ = [
    "RegimeReport",
    "mean_by_regime",
    "regime_report",
    "trend_regimes",
    "volatility_regimes",
]

VOLATILITY_LABELS = ("low", "mid", "high")
TREND_LABELS = ("up", "sideways", "down")

VOLATILITY_NOTE = (
    "volatility terciles use cut points from the whole sample: a description "
    "of when the factor worked, not a tradable signal"
)


def volatility_regimes(
    market_returns: pd.Series,
    *,
    window: int = 21,
    sample: pd.Index | None = None,
) -> tuple[pd.Series, tuple[float, float]]:
    """Label each period low / mid / high by terciles of trailing market volatility.

    Parameters
    ----------
    market_returns : pandas.Series
        Simple market returns (decimals), stamped where realized.
    window : int, default=21
        Periods in the trailing window, current period included.
    sample : pandas.Index, optional
        Periods whose volatility sets the tercile cut points (e.g. the periods
        with a defined IC); default every period with a volatility.

    Returns
    -------
    (pandas.Series, (float, float))
        Labels (object dtype; None where the window is incomplete) and the two
        cut points as per-period standard deviations (multiply by
        ``sqrt(periods_per_year)`` to annualize). A period is "low" when its
        volatility is at or below the first cut point, "high" above the second.
    """
    if window < 2:
        raise FactorAnalysisError(f"volatility window must be >= 2 periods; got {window}")
    vol = market_returns.rolling(window, min_periods=window).std(ddof=1)
    basis = vol if sample is None else vol.reindex(sample)
    basis = basis.dropna()
    if basis.empty:
        raise FactorAnalysisError(
            "no period has a complete trailing volatility window",
            hint="the market series must overlap the factor's sample by more than the window",
        )
    low_cut, high_cut = (float(v) for v in np.quantile(basis.to_numpy(), [1 / 3, 2 / 3]))
    labels = pd.Series(
        np.select(
            [vol.to_numpy() <= low_cut, vol.to_numpy() <= high_cut, vol.to_numpy() > high_cut],
            list(VOLATILITY_LABELS),
            default=None,
        ),
        index=vol.index,
        name="volatility_regime",
        dtype=object,
    )
    return labels, (low_cut, high_cut)


def trend_regimes(
    market_returns: pd.Series, *, window: int = 63, up: float = 0.05, down: float = -0.05
) -> pd.Series:
    """Label each period up / down / sideways by the trailing compounded market return.

    ``prod(1 + r)`` over the last ``window`` periods (current included) minus
    1: above ``up`` is "up", below ``down`` is "down", otherwise "sideways";
    None where the window is incomplete.
    """
    if not down < up:
        raise FactorAnalysisError(f"trend thresholds need down < up; got down={down}, up={up}")
    growth = np.log1p(market_returns.astype(np.float64))
    trailing = np.expm1(growth.rolling(window, min_periods=window).sum()).to_numpy()
    labels = np.select(
        [trailing > up, trailing < down, np.isfinite(trailing)],
        ["up", "down", "sideways"],
        default=None,
    )
    return pd.Series(labels, index=market_returns.index, name="trend_regime", dtype=object)


def mean_by_regime(
    values: dict[str, pd.Series], labels: pd.Series, order: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    """Mean of each series per regime label, and the number of periods behind it.

    Returns ``{label: {"<name>_mean": float, "n_periods": int}}`` where
    ``n_periods`` counts the periods with a defined first series.
    """
    out: dict[str, dict[str, Any]] = {}
    aligned = labels.reindex(next(iter(values.values())).index)
    for label in order:
        in_regime = (aligned == label).to_numpy()
        row: dict[str, Any] = {}
        counts: list[int] = []
        for name, series in values.items():
            x = series.to_numpy(dtype=np.float64)[in_regime]
            x = x[np.isfinite(x)]
            row[f"{name}_mean"] = float(x.mean()) if x.size else math.nan
            counts.append(int(x.size))
        row["n_periods"] = counts[0]
        out[label] = row
    return out


@dataclass(frozen=True)
class RegimeReport:
    """Mean IC and rank IC by volatility tercile and by market trend.

    Attributes
    ----------
    volatility, trend : dict
        ``{regime: {"ic_mean", "rank_ic_mean", "n_periods"}}``.
    volatility_cut_points : (float, float)
        Tercile cut points of trailing volatility, annualized when the
        calendar has an annualization factor.
    parameters : dict
        Windows and thresholds used.
    n_unclassified : dict of str to int
        Periods with an IC but no regime (trailing window incomplete or market
        data missing), per kind.
    notes : tuple of str
    """

    volatility: dict[str, dict[str, Any]]
    trend: dict[str, dict[str, Any]]
    volatility_cut_points: tuple[float, float]
    parameters: dict[str, Any]
    n_unclassified: dict[str, int]
    notes: tuple[str, ...] = (VOLATILITY_NOTE,)

    def to_dict(self) -> dict[str, Any]:
        def clean(table: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {k: {f: json_number(v) for f, v in row.items()} for k, row in table.items()}

        return {
            "volatility": clean(self.volatility),
            "trend": clean(self.trend),
            "volatility_cut_points": [json_number(v) for v in self.volatility_cut_points],
            "parameters": dict(self.parameters),
            "n_unclassified": dict(self.n_unclassified),
            "notes": list(self.notes),
        }


def regime_report(
    ic: pd.Series,
    rank_ic: pd.Series,
    market_returns: pd.Series,
    *,
    volatility_window: int = 21,
    trend_window: int = 63,
    trend_up: float = 0.05,
    trend_down: float = -0.05,
    periods_per_year: float | None = None,
) -> RegimeReport:
    """Regimes of ``market_returns`` (aligned to the IC's index) and mean IC in each."""
    market = market_returns.reindex(ic.index)
    sample = ic.index[ic.notna().to_numpy()]
    vol_labels, cuts = volatility_regimes(market, window=volatility_window, sample=sample)
    trend_labels = trend_regimes(market, window=trend_window, up=trend_up, down=trend_down)
    series = {"ic": ic, "rank_ic": rank_ic}
    scale = math.sqrt(periods_per_year) if periods_per_year else 1.0
    defined = ic.notna().to_numpy()
    return RegimeReport(
        volatility=mean_by_regime(series, vol_labels, VOLATILITY_LABELS),
        trend=mean_by_regime(series, trend_labels, TREND_LABELS),
        volatility_cut_points=(cuts[0] * scale, cuts[1] * scale),
        parameters={
            "volatility_window": volatility_window,
            "volatility_cut_points_annualized": bool(periods_per_year),
            "trend_window": trend_window,
            "trend_up": trend_up,
            "trend_down": trend_down,
        },
        n_unclassified={
            "volatility": int((defined & vol_labels.isna().to_numpy()).sum()),
            "trend": int((defined & trend_labels.isna().to_numpy()).sum()),
        },
    )
