"""Exposures: factor betas, alpha/beta decomposition, group concentration.

Conventions
-----------
- Returns (of the portfolio, the assets and the factors) are simple returns
  per bar on one calendar; only bars where all of them are present are used.
  Pass excess returns (minus the risk-free rate) for a CAPM-style alpha;
  nothing is subtracted here.
- The regression is ordinary least squares with an intercept:
  ``r_t = alpha + sum_k beta_k f_{k,t} + e_t``. ``alpha`` is per bar;
  ``alpha_annualised = alpha x periods_per_year`` (arithmetic, not
  compounded). t-statistics use the classic OLS standard errors, or
  Newey-West (HAC) ones with ``hac_lags``.
- Weights in :func:`group_concentration` are fractions of the portfolio's
  value; gross = sum of absolute weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.risk._inputs import as_weights
from alphaloop.risk.errors import RiskInputError

__all__ = [
    "FactorExposure",
    "GroupConcentration",
    "asset_betas",
    "factor_exposures",
    "group_concentration",
    "market_beta",
]


@dataclass(frozen=True)
class FactorExposure:
    """The alpha/beta decomposition of one return series.

    Attributes
    ----------
    alpha : float
        Intercept per bar.
    alpha_annualised : float
        ``alpha x periods_per_year``.
    alpha_t : float
        t-statistic of the intercept.
    betas, beta_t : Series
        Slope and t-statistic per factor.
    r_squared : float
    residual_vol_annualised : float
        Standard deviation of the residuals x sqrt(periods_per_year).
    n_obs, periods_per_year : int
    """

    alpha: float
    alpha_annualised: float
    alpha_t: float
    betas: pd.Series
    beta_t: pd.Series
    r_squared: float
    residual_vol_annualised: float
    n_obs: int
    periods_per_year: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "alpha": self.alpha,
            "alpha_annualised": self.alpha_annualised,
            "alpha_t": self.alpha_t,
            "betas": {str(k): float(v) for k, v in self.betas.items()},
            "beta_t": {str(k): float(v) for k, v in self.beta_t.items()},
            "r_squared": self.r_squared,
            "residual_vol_annualised": self.residual_vol_annualised,
            "n_obs": self.n_obs,
            "periods_per_year": self.periods_per_year,
        }


def _as_factor_frame(factors: Any) -> pd.DataFrame:
    if isinstance(factors, pd.Series):
        return factors.to_frame(factors.name if factors.name is not None else "market")
    if isinstance(factors, pd.DataFrame):
        return factors
    raise RiskInputError("factors must be a Series or a DataFrame indexed by time", field="factors")


def _aligned(returns: pd.Series, factors: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(returns, pd.Series):
        raise RiskInputError("returns must be a Series indexed by time", field="returns")
    joined = pd.concat([returns.rename("__y__"), factors], axis=1, join="inner").dropna()
    if len(joined) < factors.shape[1] + 3:
        raise RiskInputError(
            f"only {len(joined)} bars where returns and every factor are present; "
            f"need at least {factors.shape[1] + 3}",
            field="factors",
            hint="check that the series share a calendar (same timezone and bar stamps)",
        )
    return joined


def factor_exposures(
    returns: pd.Series,
    factors: Any,
    *,
    periods_per_year: int = 252,
    hac_lags: int | None = None,
) -> FactorExposure:
    """Alpha, betas and their t-statistics of ``returns`` on ``factors``.

    Parameters
    ----------
    returns : Series
        Simple returns per bar, indexed by time.
    factors : Series or DataFrame
        Factor returns per bar (a Series is one factor, e.g. the market).
    periods_per_year : int, default=252
        Bars per year, for the annualised alpha and residual volatility.
    hac_lags : int, optional
        Newey-West lags for the t-statistics; classic OLS errors when omitted.
    """
    import statsmodels.api as sm

    frame = _as_factor_frame(factors)
    joined = _aligned(returns, frame)
    y = joined["__y__"].to_numpy()
    x = sm.add_constant(joined.drop(columns="__y__").to_numpy(), has_constant="add")
    model = sm.OLS(y, x)
    fit = (
        model.fit()
        if hac_lags is None
        else model.fit(cov_type="HAC", cov_kwds={"maxlags": int(hac_lags)})
    )
    names = [str(c) for c in frame.columns]
    params, tvalues = np.asarray(fit.params), np.asarray(fit.tvalues)
    return FactorExposure(
        alpha=float(params[0]),
        alpha_annualised=float(params[0] * periods_per_year),
        alpha_t=float(tvalues[0]),
        betas=pd.Series(params[1:], index=names, name="beta"),
        beta_t=pd.Series(tvalues[1:], index=names, name="t"),
        r_squared=float(fit.rsquared),
        residual_vol_annualised=float(
            np.std(fit.resid, ddof=x.shape[1]) * np.sqrt(periods_per_year)
        ),
        n_obs=int(y.size),
        periods_per_year=int(periods_per_year),
    )


def market_beta(
    returns: pd.Series, market: pd.Series, *, periods_per_year: int = 252
) -> FactorExposure:
    """:func:`factor_exposures` on the market alone (the CAPM decomposition)."""
    return factor_exposures(returns, market.rename("market"), periods_per_year=periods_per_year)


def asset_betas(asset_returns: pd.DataFrame, factors: Any) -> pd.DataFrame:
    """Betas of every asset on the factors: an (asset, factor) DataFrame.

    One least-squares solve for all assets, with an intercept, on the bars
    where every asset and factor is present. Feed it to
    :func:`~alphaloop.risk.stress.factor_shock` to turn factor shocks into
    asset shocks.
    """
    frame = _as_factor_frame(factors)
    if not isinstance(asset_returns, pd.DataFrame):
        raise RiskInputError(
            "asset_returns must be a (time, asset) DataFrame", field="asset_returns"
        )
    joined = pd.concat([asset_returns, frame.add_prefix("__f__")], axis=1, join="inner").dropna()
    if len(joined) < frame.shape[1] + 3:
        raise RiskInputError(
            f"only {len(joined)} bars where every asset and factor is present",
            field="asset_returns",
        )
    x = joined[[f"__f__{c}" for c in frame.columns]].to_numpy()
    x = np.column_stack([np.ones(len(x)), x])
    y = joined[list(asset_returns.columns)].to_numpy()
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return pd.DataFrame(
        coef[1:].T,
        index=pd.Index([str(a) for a in asset_returns.columns], name="asset"),
        columns=pd.Index([str(c) for c in frame.columns], name="factor"),
    )


@dataclass(frozen=True)
class GroupConcentration:
    """How a portfolio's weight spreads over groups (sectors, countries, ...).

    Attributes
    ----------
    frame : DataFrame
        Indexed by group, largest gross first: ``net`` (sum of weights),
        ``gross`` (sum of absolute weights), ``share`` (gross / total gross),
        ``n_assets``.
    hhi : float
        Herfindahl index of the gross shares (1 = one group, 1/G = even).
    effective_groups : float
        ``1 / hhi``.
    largest : str
        The group with the largest gross share.
    breaches : tuple of str
        Groups whose absolute net weight exceeds ``max_group_weight``.
    """

    frame: pd.DataFrame
    hhi: float
    effective_groups: float
    largest: str
    breaches: tuple[str, ...]


def group_concentration(
    weights: pd.Series | Mapping[str, float],
    groups: pd.Series | Mapping[str, str],
    *,
    max_group_weight: float | None = None,
) -> GroupConcentration:
    """Net and gross weight per group, the Herfindahl index, and limit breaches.

    Every asset with a weight needs a group (else :class:`RiskInputError`
    naming the first ones without).
    """
    w = pd.Series(weights, dtype=float)
    w.index = w.index.map(str)
    w = pd.Series(as_weights(w, list(w.index)), index=w.index)
    g = pd.Series(groups, dtype=object)
    g.index = g.index.map(str)
    missing = sorted(set(w.index[w != 0]) - set(g.index))
    if missing:
        raise RiskInputError(f"groups has no group for assets {missing[:5]}", field="groups")
    gross_total = float(w.abs().sum())
    if gross_total == 0:
        raise RiskInputError("weights are all zero", field="weights")
    labels = g.reindex(w.index).fillna("(none)").astype(str)
    frame = pd.DataFrame(
        {
            "net": w.groupby(labels).sum(),
            "gross": w.abs().groupby(labels).sum(),
            "n_assets": (w != 0).groupby(labels).sum().astype(int),
        }
    )
    frame["share"] = frame["gross"] / gross_total
    frame = frame.sort_values("gross", ascending=False)[["net", "gross", "share", "n_assets"]]
    frame.index.name = "group"
    hhi = float(np.sum(frame["share"].to_numpy() ** 2))
    breaches: tuple[str, ...] = ()
    if max_group_weight is not None:
        breaches = tuple(str(k) for k in frame.index[frame["net"].abs() > float(max_group_weight)])
    return GroupConcentration(frame, hhi, 1.0 / hhi, str(frame.index[0]), breaches)
