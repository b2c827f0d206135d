"""The risk profile of one return series: what a report's risk section shows.

:func:`risk_profile` gathers, for a strategy's simple returns per bar:

- VaR and CVaR at each confidence (default 95% and 99%) by the methods of
  :data:`PROFILE_METHODS` (historical, Student-t, Cornish-Fisher, filtered
  historical), one bar ahead, on every bar (:func:`~alphaloop.risk.var.estimate_var`);
- a backtest of rolling out-of-sample one-bar VaR forecasts at each
  confidence (:func:`~alphaloop.risk.rolling.rolling_var_forecasts`, each
  forecast from the ``window`` bars before it; Kupiec and Christoffersen
  tests with p-values, exceptions against the expected count);
- the built-in crisis windows inside the span (:func:`~alphaloop.risk.stress.replay_scenarios`;
  the others listed as skipped);
- the drawdown from the running peak (:class:`DrawdownSummary`);
- exposures to each factor set given (:func:`~alphaloop.risk.factor_sets.factor_set_exposure`).

A method that cannot be estimated on the series (too few bars, a GARCH
fit that fails) is left out with a note; nothing is silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_safe
from alphaloop.risk._inputs import as_return_vector, check_confidence
from alphaloop.risk.empirical import historical_var
from alphaloop.risk.errors import RiskError, RiskInputError
from alphaloop.risk.factor_sets import FactorSetExposure, factor_set_exposure
from alphaloop.risk.rolling import rolling_var_forecasts
from alphaloop.risk.stress import StressReport, replay_scenarios
from alphaloop.risk.var import VarEstimate, estimate_var, student_t_dof
from alphaloop.risk.var_backtest import VarBacktest, backtest_var
from alphaloop.risk.var_simulation import FHS_ONE_BAR, filtered_historical_losses

if TYPE_CHECKING:
    from alphaloop.data.factor_data import FactorData

__all__ = ["PROFILE_METHODS", "DrawdownSummary", "RiskProfile", "drawdown_summary", "risk_profile"]

#: The VaR methods of a profile, in display order.
PROFILE_METHODS: tuple[str, ...] = (
    "historical",
    "student_t",
    "cornish_fisher",
    "filtered_historical",
)
#: Fewest bars for a GARCH fit (filtered historical VaR).
MIN_GARCH_BARS = 100
#: Fewest bars of history per rolling VaR forecast.
MIN_WINDOW = 20
#: The methods that fit a model by maximum likelihood (the slow ones on long series).
FITTED_METHODS = ("student_t", "filtered_historical")


@dataclass(frozen=True)
class DrawdownSummary:
    """The deepest fall of the value path from its running peak, and where it stands now.

    Attributes
    ----------
    max_drawdown : float
        Positive fraction (0.25 = the value fell 25% below its peak).
    peak, valley : Timestamp or None
        Stamps of the peak before the deepest fall and of its bottom (None when
        the series never falls).
    recovery : Timestamp or None
        First stamp back at the peak's value; None when not recovered.
    bars_to_valley : int
    current : float
        The drawdown at the last bar (positive fraction).
    """

    max_drawdown: float
    peak: pd.Timestamp | None
    valley: pd.Timestamp | None
    recovery: pd.Timestamp | None
    bars_to_valley: int
    current: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (dates as ISO text)."""

        def day(t: pd.Timestamp | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "max_drawdown": self.max_drawdown,
            "peak": day(self.peak),
            "valley": day(self.valley),
            "recovery": day(self.recovery),
            "bars_to_valley": self.bars_to_valley,
            "current": self.current,
        }


def drawdown_summary(returns: pd.Series) -> DrawdownSummary:
    """:class:`DrawdownSummary` of the value path ``prod(1 + r)`` (1 before the first bar)."""
    r = as_return_vector(returns, min_obs=1)
    value = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peaks = np.maximum.accumulate(value)
    dd = 1.0 - value / peaks
    valley = int(np.argmax(dd))
    if dd[valley] <= 0:
        return DrawdownSummary(0.0, None, None, None, 0, 0.0)
    peak = int(np.flatnonzero(value[: valley + 1] == peaks[valley])[0])
    back = np.flatnonzero(value[valley:] >= peaks[valley])
    index = returns.index
    # value[k] is the value after bar k-1; value[0] is the start, stamped at the first bar
    stamp = lambda k: pd.Timestamp(index[max(k - 1, 0)])  # noqa: E731
    return DrawdownSummary(
        max_drawdown=float(dd[valley]),
        peak=stamp(peak),
        valley=stamp(valley),
        recovery=None if back.size == 0 else stamp(valley + int(back[0])),
        bars_to_valley=valley - peak,
        current=float(dd[-1]),
    )


@dataclass(frozen=True)
class RiskProfile:
    """See :func:`risk_profile`.

    Attributes
    ----------
    n_obs : int
    start, end : Timestamp
    periods_per_year : float
    confidences : tuple of float
    var : tuple of VarEstimate
        One per (confidence, method), confidence-major.
    window : int
        Bars of history per rolling forecast (0: no VaR backtest).
    var_method : str
        Method of the rolling forecasts.
    backtests : tuple of VarBacktest
        One per confidence (empty without a window).
    forecasts : DataFrame
        The rolling VaR forecasts, one column per confidence (``"var_95"``...).
    stress : StressReport
    drawdown : DrawdownSummary
    exposures : tuple of FactorSetExposure
    notes : tuple of str
    """

    n_obs: int
    start: pd.Timestamp
    end: pd.Timestamp
    periods_per_year: float
    confidences: tuple[float, ...]
    var: tuple[VarEstimate, ...]
    window: int
    var_method: str
    backtests: tuple[VarBacktest, ...]
    forecasts: pd.DataFrame
    stress: StressReport
    drawdown: DrawdownSummary
    exposures: tuple[FactorSetExposure, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (without the forecast series)."""
        return json_safe(
            {
                "n_obs": self.n_obs,
                "start": self.start.isoformat(),
                "end": self.end.isoformat(),
                "periods_per_year": self.periods_per_year,
                "confidences": list(self.confidences),
                "var": [v.to_dict() for v in self.var],
                "window": self.window,
                "var_method": self.var_method,
                "var_backtests": [b.to_dict() for b in self.backtests],
                "stress": {
                    "scenarios": [r.to_dict() for r in self.stress.results],
                    "skipped": self.stress.skipped,
                },
                "drawdown": self.drawdown.to_dict(),
                "exposures": [e.to_dict() for e in self.exposures],
                "notes": list(self.notes),
            }
        )


def _var_rows(
    r: pd.Series,
    confidences: Sequence[float],
    methods: Sequence[str],
    seed: int,
    notes: list[str],
    max_fit_bars: int | None,
) -> list[VarEstimate]:
    rows: list[VarEstimate] = []
    for method in methods:
        if method in FITTED_METHODS and max_fit_bars is not None and len(r) > max_fit_bars:
            notes.append(
                f"{method.replace('_', ' ')} VaR left out: its maximum-likelihood fit is skipped "
                f"on series longer than {max_fit_bars:,} bars (this one has {len(r):,})"
            )
            continue
        if method == "filtered_historical" and len(r) < MIN_GARCH_BARS:
            notes.append(
                f"filtered historical VaR needs {MIN_GARCH_BARS} bars for its GARCH fit; "
                f"the series has {len(r)}"
            )
            continue
        try:
            if method == "filtered_historical":
                # one GARCH fit serves every confidence (estimate_var would refit the same)
                losses = filtered_historical_losses(r.to_numpy())
                for c in confidences:
                    var, cvar = historical_var(losses, c)
                    rows.append(VarEstimate(method, c, 1, var, max(cvar, var), len(r), FHS_ONE_BAR))
                continue
            # one maximum-likelihood fit serves every confidence (the same dof each would fit)
            dof = student_t_dof(r.to_numpy()) if method == "student_t" else None
            rows += [
                estimate_var(r, confidence=c, method=method, seed=seed, dof=dof)  # type: ignore[arg-type]
                for c in confidences
            ]
        except (RiskError, ValueError, np.linalg.LinAlgError) as exc:
            notes.append(f"{method.replace('_', ' ')} VaR not estimated: {exc}")
    return sorted(rows, key=lambda v: (v.confidence, list(methods).index(v.method)))


def risk_profile(
    returns: pd.Series,
    *,
    factor_data: Sequence[FactorData] = (),
    confidences: Sequence[float] = (0.95, 0.99),
    methods: Sequence[str] = PROFILE_METHODS,
    window: int = 250,
    var_method: str = "historical",
    periods_per_year: float = 252,
    seed: int = 0,
    max_fit_bars: int | None = None,
) -> RiskProfile:
    """VaR/CVaR, a VaR backtest, crisis windows, drawdown and factor exposures of ``returns``.

    Parameters
    ----------
    returns : Series
        Simple returns per bar with a DatetimeIndex, no NaNs (net of costs
        for a strategy).
    factor_data : sequence of FactorData, default=()
        Factor sets to regress on (:func:`alphaloop.data.factor_data.factor_returns`).
    confidences : sequence of float, default=(0.95, 0.99)
    methods : sequence of str, default=PROFILE_METHODS
    window : int, default=250
        Bars of history per rolling forecast; shortened to half the series
        when that is shorter (with a note); no backtest below 20 bars.
    var_method : str, default="historical"
        Method of the rolling forecasts.
    periods_per_year : float, default=252
        Bars per year of ``returns``.
    seed : int, default=0
        Seed of the simulated methods.
    max_fit_bars : int, optional
        Leave out the fitted methods (:data:`FITTED_METHODS`: Student-t and
        filtered historical) on longer series, with a note; no limit when omitted.
    """
    if not isinstance(returns, pd.Series) or not isinstance(returns.index, pd.DatetimeIndex):
        raise RiskInputError("returns must be a Series indexed by time", field="returns")
    r = pd.Series(as_return_vector(returns, min_obs=2), index=returns.index, name="returns")
    levels = tuple(check_confidence(c) for c in confidences)
    notes: list[str] = []
    constant = bool(np.ptp(r.to_numpy()) == 0.0)
    if constant:
        # no spread: the parametric fits and the regressions have nothing to measure
        notes.append(
            "the returns are constant (no position changed the value): only historical VaR, "
            "no factor exposures"
        )
        methods = [m for m in methods if m == "historical"]
        factor_data = ()
    var = _var_rows(r, levels, methods, seed, notes, max_fit_bars)
    use = min(int(window), len(r) // 2)
    if use != window:
        notes.append(f"rolling VaR window shortened to {use} bars (half the series)")
    backtests: list[VarBacktest] = []
    forecasts = pd.DataFrame(index=r.index)
    if use >= MIN_WINDOW:
        for c in levels:
            f = rolling_var_forecasts(r, window=use, confidence=c, method=var_method)  # type: ignore[arg-type]
            forecasts[f"var_{round(100 * c):d}"] = f["var"]
            backtests.append(backtest_var(r, f["var"], c))
    else:
        notes.append(f"too few bars for a VaR backtest ({len(r)}; need {2 * MIN_WINDOW})")
        use = 0
    exposures = tuple(
        factor_set_exposure(r, data, periods_per_year=periods_per_year) for data in factor_data
    )
    return RiskProfile(
        n_obs=len(r),
        start=pd.Timestamp(r.index[0]),
        end=pd.Timestamp(r.index[-1]),
        periods_per_year=float(periods_per_year),
        confidences=levels,
        var=tuple(var),
        window=use,
        var_method=var_method,
        backtests=tuple(backtests),
        forecasts=forecasts,
        stress=replay_scenarios(r),
        drawdown=drawdown_summary(r),
        exposures=exposures,
        notes=tuple(notes),
    )
