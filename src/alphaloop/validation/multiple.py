"""Multiple-testing corrections of p-values: Bonferroni, Holm and Benjamini-Hochberg.

The arithmetic is :func:`statsmodels.stats.multitest.multipletests`; this
module adds typed inputs, explicit NaN handling and a result that serializes.

Conventions
-----------
- A NaN p-value is a test that was not run (too few bars, an undefined
  statistic). It stays NaN after adjustment, is never rejected, and is not
  counted in ``n_tests``: the correction is over the tests that exist.
- Adjusted p-values are capped at 1 and, for Holm and Benjamini-Hochberg,
  monotone in the raw p-values (statsmodels' convention).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_number
from alphaloop.validation.sharpe import StatisticsError

__all__ = ["CorrectionMethod", "MultipleTestResult", "adjust_pvalues"]

CorrectionMethod = Literal["bonferroni", "holm", "fdr_bh"]

#: Our method names mapped explicitly to statsmodels' (they coincide today).
_STATSMODELS_METHOD: dict[str, str] = {
    "bonferroni": "bonferroni",
    "holm": "holm",
    "fdr_bh": "fdr_bh",
}

_ERROR_RATE: dict[str, str] = {
    "bonferroni": "family-wise error rate",
    "holm": "family-wise error rate",
    "fdr_bh": "false discovery rate (independent or positively dependent tests)",
}


@dataclass(frozen=True)
class MultipleTestResult:
    """P-values before and after a multiple-testing correction.

    Attributes
    ----------
    pvalues : ndarray of float, shape (n,)
        The raw p-values, in input order (NaN where a test was not run).
    adjusted_pvalues : ndarray of float, shape (n,)
        Corrected p-values in [0, 1]; NaN where the raw p-value is NaN.
    reject : ndarray of bool, shape (n,)
        True where the null is rejected at ``alpha`` after correction; always
        False for NaN p-values.
    method : {"bonferroni", "holm", "fdr_bh"}
    alpha : float
        The family-wise error rate (Bonferroni, Holm) or false discovery rate
        (``fdr_bh``) controlled.
    n_tests : int
        Number of non-NaN p-values: the size of the family corrected for.
    names : tuple or None
        Labels of the tests (a Series' index), or None for array input.
    """

    pvalues: np.ndarray
    adjusted_pvalues: np.ndarray
    reject: np.ndarray
    method: CorrectionMethod
    alpha: float
    n_tests: int
    names: tuple[Hashable, ...] | None = None

    @property
    def n_rejected(self) -> int:
        """Number of rejected nulls."""
        return int(self.reject.sum())

    def frame(self) -> pd.DataFrame:
        """One row per test: ``p_value``, ``adjusted_p_value``, ``reject``."""
        index = pd.Index(self.names) if self.names is not None else None
        return pd.DataFrame(
            {
                "p_value": self.pvalues,
                "adjusted_p_value": self.adjusted_pvalues,
                "reject": self.reject,
            },
            index=index,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: NaN becomes None, names become strings."""
        return {
            "method": self.method,
            "error_rate": _ERROR_RATE[self.method],
            "alpha": self.alpha,
            "n_tests": self.n_tests,
            "n_rejected": self.n_rejected,
            "names": None if self.names is None else [str(n) for n in self.names],
            "pvalues": [json_number(p) for p in self.pvalues],
            "adjusted_pvalues": [json_number(p) for p in self.adjusted_pvalues],
            "reject": [bool(r) for r in self.reject],
        }


def adjust_pvalues(
    pvalues: Sequence[float] | np.ndarray | pd.Series,
    method: CorrectionMethod = "holm",
    alpha: float = 0.05,
) -> MultipleTestResult:
    """Correct a family of p-values for multiple testing.

    Parameters
    ----------
    pvalues : sequence of float, ndarray or pandas.Series
        One p-value per test, each in [0, 1] or NaN (test not run). A Series'
        index names the tests.
    method : {"bonferroni", "holm", "fdr_bh"}, default="holm"
        ``"bonferroni"``: ``min(1, n p)``. ``"holm"``: Holm's step-down
        Bonferroni, uniformly more powerful at the same family-wise error
        rate. ``"fdr_bh"``: Benjamini-Hochberg step-up, controls the false
        discovery rate (valid for independent or positively dependent tests).
    alpha : float, default=0.05
        Error rate to control, in (0, 1).

    Returns
    -------
    MultipleTestResult
        ``n_tests`` counts the non-NaN p-values only; NaN p-values stay NaN
        and are not rejected.

    Raises
    ------
    StatisticsError
        If ``method`` is unknown, ``alpha`` is outside (0, 1), the input is not
        one-dimensional, or a p-value is outside [0, 1] or infinite.
    """
    from statsmodels.stats.multitest import multipletests

    if method not in _STATSMODELS_METHOD:
        raise StatisticsError(
            f"unknown multiple-testing method {method!r}",
            hint=f"use one of {sorted(_STATSMODELS_METHOD)}",
        )
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise StatisticsError(f"alpha must be in (0, 1); got {alpha!r}")
    names = tuple(pvalues.index) if isinstance(pvalues, pd.Series) else None
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise StatisticsError(f"pvalues must be one-dimensional; got shape {p.shape}")
    present = ~np.isnan(p)
    bad = present & ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        where = int(np.flatnonzero(bad)[0])
        raise StatisticsError(
            f"p-value at position {where} is {p[where]!r}; p-values must be in [0, 1] or NaN"
        )
    adjusted = np.full(p.shape, np.nan)
    reject = np.zeros(p.shape, dtype=bool)
    n_tests = int(present.sum())
    if n_tests:
        rej, adj, _, _ = multipletests(
            p[present], alpha=float(alpha), method=_STATSMODELS_METHOD[method]
        )
        adjusted[present] = np.minimum(adj, 1.0)
        reject[present] = rej
    return MultipleTestResult(
        pvalues=_readonly(p.copy()),
        adjusted_pvalues=_readonly(adjusted),
        reject=_readonly(reject),
        method=method,
        alpha=float(alpha),
        n_tests=n_tests,
        names=names,
    )


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
