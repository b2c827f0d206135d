"""Does a proposal's validation IC beat the incumbent's by a margin? A paired, one-sided test.

Conventions
-----------
Pairing
    Both models are scored on the same validation dates: the per-date IC
    series are aligned on the dates both have (inner join, NaN dropped), and
    the test runs on the differences ``d_t = ic_proposal_t - ic_incumbent_t``.
Overlap
    With an ``h``-bar label, consecutive dates share ``h - 1`` bars of their
    forward returns, so their differences are correlated and a test on every
    date would overstate the evidence. The test keeps every ``step``-th common
    date (``step = h``: labels that do not overlap); ``n`` is the count kept.
Hypotheses
    H0: the differences are centred at or below ``margin``; H1: above it
    (one-sided). Both tests run on ``d_t - margin``:

    * Wilcoxon signed-rank (``scipy.stats.wilcoxon``, ``alternative="greater"``):
      the decision test. It needs no normality; IC differences are fat-tailed.
    * Paired t-test (``scipy.stats.ttest_1samp`` on the differences): recorded
      beside it.

    A proposal wins when the mean difference exceeds ``margin`` *and* the
    Wilcoxon p-value is below the level the caller sets.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_number

__all__ = ["DECISION_TEST", "PairedComparison", "TestResult", "compare_ic"]

DECISION_TEST = "wilcoxon"
"""The test whose p-value decides (see the module conventions)."""

MIN_PAIRS = 5
"""Fewer paired dates than this: no test (p-value 1)."""

TIE = 1e-9
"""Differences smaller than this (in IC units) are float noise: they count as zero."""


@dataclass(frozen=True)
class TestResult:
    """One test's outcome: ``name``, ``statistic``, one-sided ``p_value``, pairs ``n``."""

    name: str
    statistic: float
    p_value: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["statistic"] = json_number(self.statistic)
        out["p_value"] = json_number(self.p_value)
        return out


@dataclass(frozen=True)
class PairedComparison:
    """A proposal's per-date validation IC against the incumbent's on common dates.

    Attributes
    ----------
    mean_incumbent, mean_proposal : float
        Mean per-date IC over the common dates (all of them, not thinned).
    mean_diff : float
        ``mean_proposal - mean_incumbent``.
    margin : float
        The IC gain the proposal must beat.
    step : int
        Every ``step``-th common date was tested.
    n_common : int
        Common dates before thinning.
    wilcoxon, t_test : TestResult
        Both tests; :data:`DECISION_TEST` names the one that decides.
    """

    mean_incumbent: float
    mean_proposal: float
    mean_diff: float
    margin: float
    step: int
    n_common: int
    wilcoxon: TestResult
    t_test: TestResult

    @property
    def decision(self) -> TestResult:
        """The decision test's result."""
        return self.wilcoxon

    def beats(self, alpha: float) -> bool:
        """Mean gain above the margin and decision p-value below ``alpha``."""
        return self.mean_diff > self.margin and self.decision.p_value < alpha

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean_incumbent": json_number(self.mean_incumbent),
            "mean_proposal": json_number(self.mean_proposal),
            "mean_diff": json_number(self.mean_diff),
            "margin": self.margin,
            "step": self.step,
            "n_common": self.n_common,
            "decision_test": DECISION_TEST,
            "wilcoxon": self.wilcoxon.to_dict(),
            "t_test": self.t_test.to_dict(),
        }


def compare_ic(
    incumbent: pd.Series, proposal: pd.Series, *, margin: float, step: int = 1
) -> PairedComparison:
    """Paired one-sided tests that ``proposal`` beats ``incumbent`` by more than ``margin``.

    Parameters
    ----------
    incumbent, proposal : pandas.Series
        Per-date validation IC (unitless), indexed by date.
    margin : float
        IC gain to beat (e.g. 0.005).
    step : int, default 1
        Keep every ``step``-th common date (the label horizon: see the module
        conventions).

    Returns
    -------
    PairedComparison
        With fewer than :data:`MIN_PAIRS` pairs, or no difference at all
        after the margin, both p-values are 1. With constant differences the
        t statistic is NaN and its p-value 0 (above the margin) or 1.
    """
    from scipy import stats

    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    both = pd.concat([incumbent.rename("inc"), proposal.rename("prop")], axis=1, join="inner")
    both = both.dropna().sort_index()
    n_common = len(both)
    mean_inc = float(both["inc"].mean()) if n_common else math.nan
    mean_prop = float(both["prop"].mean()) if n_common else math.nan
    diff = np.array(both["prop"] - both["inc"], dtype=np.float64)
    diff[np.abs(diff) < TIE] = 0.0
    tested = diff[::step] - margin
    tested[np.abs(tested) < TIE] = 0.0
    n = len(tested)
    if n < MIN_PAIRS or not np.any(tested != 0.0):
        w = TestResult("wilcoxon", math.nan, 1.0, n)
        t = TestResult("paired_t", math.nan, 1.0, n)
    else:
        wres = stats.wilcoxon(tested, alternative="greater", zero_method="wilcox")
        w = TestResult("wilcoxon", float(wres.statistic), float(wres.pvalue), n)
        if np.ptp(tested) < TIE:  # constant differences: the t statistic is undefined
            t = TestResult("paired_t", math.nan, 0.0 if tested[0] > 0 else 1.0, n)
        else:
            tres = stats.ttest_1samp(tested, 0.0, alternative="greater")
            t = TestResult("paired_t", float(tres.statistic), float(tres.pvalue), n)
    return PairedComparison(
        mean_incumbent=mean_inc,
        mean_proposal=mean_prop,
        mean_diff=mean_prop - mean_inc if n_common else math.nan,
        margin=margin,
        step=step,
        n_common=n_common,
        wilcoxon=w,
        t_test=t,
    )
