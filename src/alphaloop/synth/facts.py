"""The stylized facts of daily returns, each with a pass/fail rule and its numbers.

:func:`stylized_facts` measures log returns (one real series or many
synthetic paths, ``(paths, bars, assets)``) against the facts of Cont (2001),
"Empirical properties of asset returns: stylized facts and statistical
issues". A statistic is measured on each path and asset and summarised by
its median over paths, then its mean over assets; the rule is applied to
that number. Rules are absolute (what real daily stock returns show), so a
generator can fail a fact the real data passes, and the real data's own
verdicts are reported beside every generator's. With ``reference`` (the
real returns) the distances of the marginal distributions are added.

Facts, their statistic, and the rule ("pass when"):

- ``heavy_tails``: excess kurtosis > 1, and Hill's tail index of ``|r|``
  (largest 5%) < 6.
- ``no_autocorrelation``: mean ``|ACF(r)|`` at lags 1..10 < 0.1.
- ``volatility_clustering``: mean ACF of ``|r|`` at lags 1..20 > 0.05
  (the ACF of ``r^2`` is reported too).
- ``leverage_effect``: mean corr(``r_t``, ``|r_{t+k}|``), k = 1..10, < -0.01
  (a symmetric process scores about 0, give or take sampling noise).
- ``gain_loss_asymmetry``: ``|q1%| / q99%`` of demeaned returns > 1 (skewness
  reported). Individual stocks often fail it; indices pass.
- ``aggregational_gaussianity``: excess kurtosis of 20-bar sums < half the
  1-bar excess kurtosis, which is > 1.
- ``cross_correlation``: mean pairwise correlation > 0.1 (two assets or more).
- ``correlation_in_drawdowns``: mean pairwise correlation in the worst 20%
  of 63-bar windows (by equal-weight return) minus in the rest > 0.02.
- ``distance_ks``: mean Kolmogorov-Smirnov statistic to the real returns
  (paths pooled, per asset) < 0.05.
- ``distance_wasserstein``: mean Wasserstein-1 distance to the real returns,
  in units of the real standard deviation, < 0.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphaloop.errors import SynthError
from alphaloop.jsonsafe import json_safe
from alphaloop.synth import facts_stats as st

__all__ = ["FACTS", "Fact", "FactsReport", "stylized_facts"]

#: The facts in report order.
FACTS = (
    "heavy_tails",
    "no_autocorrelation",
    "volatility_clustering",
    "leverage_effect",
    "gain_loss_asymmetry",
    "aggregational_gaussianity",
    "cross_correlation",
    "correlation_in_drawdowns",
    "distance_ks",
    "distance_wasserstein",
)

ACF_LAGS = 20
RETURN_LAGS = 10
LEVERAGE_LAGS = 10
AGG_BARS = 20
MIN_BARS = 252


@dataclass(frozen=True)
class Fact:
    """One stylized fact measured on a set of return paths.

    Attributes
    ----------
    name : str
    statistic : str
        What ``value`` is.
    value : float
        The number the rule is applied to.
    rule : str
        The rule, e.g. ``"> 1"``.
    passed : bool or None
        None when the fact does not apply (one asset for correlations,
        no reference for distances).
    details : dict
        Other numbers (e.g. the Hill index) and curves by lag, for plots.
    """

    name: str
    statistic: str
    value: float
    rule: str
    passed: bool | None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "name": self.name,
                "statistic": self.statistic,
                "value": self.value,
                "rule": self.rule,
                "passed": self.passed,
                "details": self.details,
            }
        )


@dataclass(frozen=True)
class FactsReport:
    """Every fact of one source (a generator's paths or the real data).

    Attributes
    ----------
    label : str
    facts : tuple of Fact
    n_paths, n_bars, n_assets : int
    """

    label: str
    facts: tuple[Fact, ...]
    n_paths: int
    n_bars: int
    n_assets: int

    def __getitem__(self, name: str) -> Fact:
        for fact in self.facts:
            if fact.name == name:
                return fact
        raise KeyError(name)

    @property
    def passed(self) -> int:
        """Facts passed."""
        return sum(f.passed is True for f in self.facts)

    @property
    def applicable(self) -> int:
        """Facts with a verdict."""
        return sum(f.passed is not None for f in self.facts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "n_paths": self.n_paths,
            "n_bars": self.n_bars,
            "n_assets": self.n_assets,
            "passed": self.passed,
            "applicable": self.applicable,
            "facts": [f.to_dict() for f in self.facts],
        }


def _summary(values: np.ndarray) -> float:
    """Median over paths (axis 0), then mean over assets."""
    return float(np.mean(np.median(values, axis=0)))


def _curve(values: np.ndarray) -> list[float]:
    """``(lags, paths, assets)`` -> one value per lag (median over paths, mean over assets)."""
    return [float(v) for v in np.mean(np.median(values, axis=1), axis=1)]


def _as_paths(returns: Any) -> np.ndarray:
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise SynthError(f"returns must be (bars, assets) or (paths, bars, assets), got {x.shape}")
    if x.shape[1] < MIN_BARS:
        raise SynthError(f"{x.shape[1]} bars per path; the facts need at least {MIN_BARS}")
    if not np.all(np.isfinite(x)):
        raise SynthError("returns hold NaN or infinite values")
    return x


def _distances(x: np.ndarray, ref: np.ndarray) -> tuple[Fact, Fact]:
    from scipy import stats

    ks, ws = [], []
    for j in range(x.shape[2]):
        pooled = x[:, :, j].ravel()
        real = ref[:, :, j].ravel()
        ks.append(stats.ks_2samp(pooled, real).statistic)
        ws.append(stats.wasserstein_distance(pooled, real) / max(np.std(real), 1e-300))
    k, w = float(np.mean(ks)), float(np.mean(ws))
    per = {"per_asset_ks": [float(v) for v in ks], "per_asset_wasserstein": [float(v) for v in ws]}
    return (
        Fact("distance_ks", "mean KS statistic to the real returns", k, "< 0.05", k < 0.05, per),
        Fact(
            "distance_wasserstein",
            "mean Wasserstein-1 distance to the real returns / real std",
            w,
            "< 0.1",
            w < 0.1,
        ),
    )


def stylized_facts(returns: Any, *, reference: Any = None, label: str = "") -> FactsReport:
    """Measure every stylized fact on log returns.

    Parameters
    ----------
    returns : array-like, shape (bars, assets) or (paths, bars, assets)
        Log returns per bar (at least 252 bars), no NaN.
    reference : array-like, optional
        The real log returns ``(bars, assets)`` on the same assets, for the
        distance facts (left without a verdict when not given).
    label : str
        Name of the source in reports.
    """
    x = _as_paths(returns)
    n_paths, n_bars, d = x.shape
    facts: list[Fact] = []

    kurt = _summary(st.excess_kurtosis(x))
    hill = _summary(st.hill_alpha(x))
    facts.append(
        Fact(
            "heavy_tails",
            "excess kurtosis",
            kurt,
            "> 1 and Hill tail index < 6",
            kurt > 1.0 and hill < 6.0,
            {"hill_alpha": hill},
        )
    )
    r_acf = st.acf(x, RETURN_LAGS)
    mean_abs = float(np.mean(np.abs(_curve(r_acf))))
    facts.append(
        Fact(
            "no_autocorrelation",
            f"mean |ACF(r)| at lags 1..{RETURN_LAGS}",
            mean_abs,
            "< 0.1",
            mean_abs < 0.1,
            {"acf": _curve(r_acf)},
        )
    )
    abs_curve = _curve(st.acf(np.abs(x), ACF_LAGS))
    sq_curve = _curve(st.acf(x * x, ACF_LAGS))
    abs_mean = float(np.mean(abs_curve))
    facts.append(
        Fact(
            "volatility_clustering",
            f"mean ACF(|r|) at lags 1..{ACF_LAGS}",
            abs_mean,
            "> 0.05",
            abs_mean > 0.05,
            {"acf_abs": abs_curve, "acf_sq": sq_curve, "acf_sq_mean": float(np.mean(sq_curve))},
        )
    )
    lev_curve = _curve(st.leverage(x, LEVERAGE_LAGS))
    lev = float(np.mean(lev_curve))
    facts.append(
        Fact(
            "leverage_effect",
            f"mean corr(r_t, |r_t+k|), k = 1..{LEVERAGE_LAGS}",
            lev,
            "< -0.01",
            lev < -0.01,
            {"leverage": lev_curve},
        )
    )
    asym = _summary(st.quantile_asymmetry(x))
    facts.append(
        Fact(
            "gain_loss_asymmetry",
            "|1% quantile| / 99% quantile",
            asym,
            "> 1",
            asym > 1.0,
            {"skewness": _summary(st.skewness(x))},
        )
    )
    agg = st.aggregate(x, AGG_BARS)
    agg_kurt = _summary(st.excess_kurtosis(agg)) if agg.shape[1] >= 20 else math.nan
    facts.append(
        Fact(
            "aggregational_gaussianity",
            f"excess kurtosis of {AGG_BARS}-bar sums",
            agg_kurt,
            "< half the 1-bar excess kurtosis, which is > 1",
            bool(kurt > 1.0 and agg_kurt < kurt / 2) if math.isfinite(agg_kurt) else None,
            {"daily_kurtosis": kurt},
        )
    )
    if d >= 2:
        corr = float(np.median(st.mean_pairwise_correlation(x)))
        rise = float(np.median(st.drawdown_correlation_rise(x)))
        facts.append(
            Fact("cross_correlation", "mean pairwise correlation", corr, "> 0.1", corr > 0.1)
        )
        facts.append(
            Fact(
                "correlation_in_drawdowns",
                "correlation in the worst 20% of 63-bar windows minus the rest",
                rise,
                "> 0.02",
                rise > 0.02,
            )
        )
    else:
        for name in ("cross_correlation", "correlation_in_drawdowns"):
            facts.append(Fact(name, "needs two assets or more", math.nan, "-", None))
    if reference is not None:
        ref = _as_paths(reference)
        if ref.shape[2] != d:
            raise SynthError(f"reference has {ref.shape[2]} assets, the returns {d}")
        facts.extend(_distances(x, ref))
    else:
        for name in ("distance_ks", "distance_wasserstein"):
            facts.append(Fact(name, "needs the real returns", math.nan, "-", None))
    return FactsReport(label, tuple(facts), n_paths, n_bars, d)
