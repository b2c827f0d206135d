"""Backtests of VaR forecasts: Kupiec and Christoffersen coverage tests.

A VaR *exception* (hit) at bar t is a realised loss above that bar's VaR
forecast. A forecast for bar t must use data up to bar t-1 only; the
forecasts of :mod:`alphaloop.risk.rolling` do.

Tests (likelihood ratios, asymptotically chi-squared):

- Kupiec proportion of failures (POF), 1 degree of freedom: is the
  exception rate ``x / T`` equal to ``p = 1 - confidence``?
  ``LR = -2 ln[(1-p)^(T-x) p^x] + 2 ln[(1-x/T)^(T-x) (x/T)^x]``.
- Christoffersen independence, 1 degree of freedom: does an exception make
  the next one likelier? From the transition counts ``n_ij`` (state i at
  t-1, j at t), ``pi01 = n01/(n00+n01)``, ``pi11 = n11/(n10+n11)``, ``pi =
  (n01+n11)/(n00+n01+n10+n11)``:
  ``LR = -2 ln[(1-pi)^(n00+n10) pi^(n01+n11)] + 2 ln[(1-pi01)^n00 pi01^n01
  (1-pi11)^n10 pi11^n11]``.
- Christoffersen conditional coverage, 2 degrees of freedom: the sum of the
  two. (The independence test counts T-1 transitions; Kupiec counts T bars,
  as is usual.)

``0 ln 0`` is taken as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from alphaloop.risk._inputs import check_confidence
from alphaloop.risk.errors import RiskInputError

__all__ = [
    "CoverageTest",
    "VarBacktest",
    "backtest_var",
    "christoffersen_conditional_coverage",
    "christoffersen_independence",
    "kupiec_pof",
    "transition_counts",
]


@dataclass(frozen=True)
class CoverageTest:
    """A likelihood-ratio test: ``statistic`` ~ chi-squared(``dof``) under the null."""

    name: str
    statistic: float
    p_value: float
    dof: int

    def rejects(self, level: float = 0.05) -> bool:
        """True when the null is rejected at ``level`` (p-value below it)."""
        return self.p_value < level


def _lr_test(name: str, statistic: float, dof: int) -> CoverageTest:
    statistic = max(float(statistic), 0.0)  # rounding can give -1e-15
    return CoverageTest(name, statistic, float(stats.chi2.sf(statistic, dof)), dof)


def kupiec_pof(n_obs: int, n_exceptions: int, confidence: float) -> CoverageTest:
    """Kupiec's proportion-of-failures test of ``n_exceptions`` in ``n_obs`` bars."""
    c = check_confidence(confidence)
    t, x = int(n_obs), int(n_exceptions)
    if t < 1 or not 0 <= x <= t:
        raise RiskInputError(
            f"need 0 <= n_exceptions <= n_obs and n_obs >= 1, got {x} of {t}", field="n_exceptions"
        )
    p, phat = 1.0 - c, x / t
    log_null = xlogy(t - x, 1.0 - p) + xlogy(x, p)
    log_alt = xlogy(t - x, 1.0 - phat) + xlogy(x, phat)
    return _lr_test("kupiec_pof", -2.0 * (log_null - log_alt), 1)


def _as_hits(hits: Any) -> np.ndarray:
    h = np.asarray(hits)
    if h.ndim != 1 or h.size < 2:
        raise RiskInputError("hits must be a 1-D sequence of at least 2 booleans", field="hits")
    if h.dtype != bool:
        if not np.all(np.isin(h, (0, 1))):
            raise RiskInputError("hits must be booleans (or 0/1)", field="hits")
        h = h.astype(bool)
    return h


def transition_counts(hits: Any) -> tuple[int, int, int, int]:
    """``(n00, n01, n10, n11)``: transitions from bar t-1's state i to bar t's state j."""
    h = _as_hits(hits)
    prev, curr = h[:-1], h[1:]
    return (
        int(np.sum(~prev & ~curr)),
        int(np.sum(~prev & curr)),
        int(np.sum(prev & ~curr)),
        int(np.sum(prev & curr)),
    )


def christoffersen_independence(hits: Any) -> CoverageTest:
    """Christoffersen's test that exceptions do not cluster (first-order Markov alternative)."""
    n00, n01, n10, n11 = transition_counts(hits)
    total = n00 + n01 + n10 + n11
    pi = (n01 + n11) / total
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    log_null = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    log_alt = xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11) + xlogy(n11, pi11)
    return _lr_test("christoffersen_independence", -2.0 * (log_null - log_alt), 1)


def christoffersen_conditional_coverage(hits: Any, confidence: float) -> CoverageTest:
    """Christoffersen's conditional coverage: Kupiec POF + independence, 2 degrees of freedom."""
    h = _as_hits(hits)
    pof = kupiec_pof(h.size, int(h.sum()), confidence)
    ind = christoffersen_independence(h)
    return _lr_test("christoffersen_conditional_coverage", pof.statistic + ind.statistic, 2)


@dataclass(frozen=True)
class VarBacktest:
    """Coverage of a sequence of VaR forecasts.

    Attributes
    ----------
    confidence : float
    n_obs : int
        Bars with a forecast.
    n_exceptions : int
        Bars whose loss exceeded the forecast VaR.
    expected_rate, exception_rate : float
        ``1 - confidence`` and ``n_exceptions / n_obs``.
    kupiec, independence, conditional_coverage : CoverageTest
    transitions : tuple of int
        ``(n00, n01, n10, n11)``.
    hits : Series of bool
        The exceptions, on the forecasts' index.
    """

    confidence: float
    n_obs: int
    n_exceptions: int
    expected_rate: float
    exception_rate: float
    kupiec: CoverageTest
    independence: CoverageTest
    conditional_coverage: CoverageTest
    transitions: tuple[int, int, int, int]
    hits: pd.Series

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (without the hits)."""
        tests = {
            t.name: {"statistic": t.statistic, "p_value": t.p_value, "dof": t.dof}
            for t in (self.kupiec, self.independence, self.conditional_coverage)
        }
        return {
            "confidence": self.confidence,
            "n_obs": self.n_obs,
            "n_exceptions": self.n_exceptions,
            "expected_rate": self.expected_rate,
            "exception_rate": self.exception_rate,
            "transitions": list(self.transitions),
            "tests": tests,
        }


def backtest_var(
    realised_returns: pd.Series, var_forecasts: pd.Series, confidence: float
) -> VarBacktest:
    """Compare realised returns with VaR forecasts made for the same bars.

    Parameters
    ----------
    realised_returns : Series
        Simple returns per bar (the portfolio's); loss = ``-return``.
    var_forecasts : Series
        VaR (positive loss) forecast for each bar, e.g. the ``var`` column of
        :func:`~alphaloop.risk.rolling.rolling_var_forecasts`. Only bars with a
        forecast are tested; every such bar needs a realised return.
    confidence : float
        The forecasts' confidence level.
    """
    c = check_confidence(confidence)
    forecasts = var_forecasts.dropna()
    missing = forecasts.index.difference(realised_returns.index)
    if len(missing):
        raise RiskInputError(
            f"realised_returns lacks {len(missing)} bar(s) that have a forecast, "
            f"first {missing[0]}",
            field="realised_returns",
        )
    realised = realised_returns.reindex(forecasts.index)
    if realised.isna().any():
        raise RiskInputError(
            f"realised_returns is missing at {realised.index[realised.isna().to_numpy()][0]}",
            field="realised_returns",
        )
    hits = pd.Series(
        -realised.to_numpy() > forecasts.to_numpy(), index=forecasts.index, name="exception"
    )
    n, x = len(hits), int(hits.sum())
    return VarBacktest(
        confidence=c,
        n_obs=n,
        n_exceptions=x,
        expected_rate=1.0 - c,
        exception_rate=x / n if n else float("nan"),
        kupiec=kupiec_pof(n, x, c),
        independence=christoffersen_independence(hits.to_numpy()),
        conditional_coverage=christoffersen_conditional_coverage(hits.to_numpy(), c),
        transitions=transition_counts(hits.to_numpy()),
        hits=hits,
    )
