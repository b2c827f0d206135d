"""Out-of-sample scores of a model's predictions: IC, rank IC, their t-statistics, accuracy, AUC.

Conventions
-----------
``ic``: the mean over dates of the cross-sectional Pearson correlation
between prediction and the simple forward return
(:attr:`LearningData.forward_return`); ``rank_ic``: the same with
Spearman correlation; ``icir``: mean / standard deviation of the per-date
IC (per date, not annualized); ``ic_tstat``: ``icir * sqrt(n_dates)``,
``ic_tstat_hac``: Newey-West t-statistic with at least ``horizon - 1`` lags
(overlapping labels). Dates with fewer than 5 scored assets (or all the
data's assets, if fewer) are skipped. Classifiers add ``accuracy``
(probability > 0.5 vs the 0/1 label) and ``auc`` (ROC AUC).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alphaloop.factors import information_coefficient, summarize_ic
from alphaloop.models.errors import ModelError
from alphaloop.models.learning_data import LearningData

__all__ = ["MIN_ASSETS", "prediction_ic_series", "prediction_metrics"]

MIN_ASSETS = 5


def prediction_metrics(
    data: LearningData,
    predictions: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    task: str | None = None,
) -> dict[str, float]:
    """Out-of-sample metrics of predictions on ``rows`` (default: every row with a prediction).

    Parameters
    ----------
    data : LearningData
    predictions : ndarray of shape (n,)
        One per row of ``data``; NaN rows are not scored.
    rows : ndarray of int, optional
        Positions to score.
    task : {"regression", "classification"}, optional
        Default ``data.label.kind``. Classification adds ``accuracy`` and
        ``auc`` against the 0/1 label.

    Returns
    -------
    dict
        ``ic``, ``rank_ic``, ``icir``, ``ic_tstat``, ``ic_tstat_hac``,
        ``n_dates`` (see the module conventions), and for classifiers
        ``accuracy`` and ``auc`` (NaN when one class is absent).
    """
    pred = np.asarray(predictions, dtype=np.float64)
    if pred.shape != (len(data),):
        raise ModelError(f"predictions must have shape ({len(data)},), got {pred.shape}")
    if rows is not None:
        scored = np.full(len(data), np.nan)
        scored[rows] = pred[rows]
        pred = scored
    out = _ic_metrics(data, pred)
    if (task or data.label.kind) == "classification":
        from sklearn.metrics import roc_auc_score

        ok = np.isfinite(pred) & np.isfinite(data.y)
        labels, probs = data.y[ok], pred[ok]
        out["accuracy"] = float(np.mean((probs > 0.5) == (labels > 0.5))) if ok.any() else math.nan
        both = len(np.unique(labels)) == 2
        out["auc"] = float(roc_auc_score(labels, probs)) if both else math.nan
    return out


def prediction_ic_series(
    data: LearningData, pred: np.ndarray, method: str = "spearman"
) -> pd.Series:
    """Per-date IC of per-row predictions against :attr:`LearningData.forward_return`.

    ``method`` is ``"pearson"`` or ``"spearman"``; dates with too few scored assets
    (see the module conventions) are NaN.
    """
    return _per_date_ic(data, pred, method)


def _per_date_ic(data: LearningData, pred: np.ndarray, method: str) -> pd.Series:
    min_assets = min(MIN_ASSETS, max(2, len(data.assets)))
    return information_coefficient(
        data.to_panel(pred),
        data.to_panel(data.forward_return),
        method,  # type: ignore[arg-type]
        index=data.panel_index,
        min_assets=min_assets,
    )


def _ic_metrics(data: LearningData, pred: np.ndarray) -> dict[str, float]:
    summary = summarize_ic(_per_date_ic(data, pred, "pearson"), horizon=data.label.horizon)
    rank = _per_date_ic(data, pred, "spearman")
    return {
        "ic": summary.mean,
        "rank_ic": float(rank.mean()) if rank.notna().any() else math.nan,
        "icir": summary.ir,
        "ic_tstat": summary.t_stat,
        "ic_tstat_hac": summary.t_stat_hac,
        "n_dates": float(summary.n_periods),
    }
