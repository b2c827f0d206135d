"""Score a mined pool on the sealed holdout: the one evaluation it gets.

The caller (the app layer) unseals the holdout and passes the full panel;
history before the boundary only feeds the factors' windows. The rows
scored are those at or after the boundary whose label ends inside the data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.data import Panel, as_utc
from alphaloop.errors import MiningError
from alphaloop.factors.evaluate import evaluate
from alphaloop.factors.mining.folds import FoldPlan, next_bar_label
from alphaloop.factors.mining.scoring import ICScorer
from alphaloop.factors.mining.significance import ic_significance

__all__ = ["score_pool_holdout"]


def score_pool_holdout(
    panel: Panel,
    expressions: Mapping[str, str],
    weights: Mapping[str, float],
    *,
    boundary: Any,
    horizon: int,
    n_trials: int,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Rank IC of each factor and of the weighted pool on the rows from ``boundary`` on.

    Returns a mapping with ``rows``, ``start``, ``end``, ``pool`` (mean IC and
    significance adjusted for ``n_trials``) and ``factors`` (the same per
    factor).
    """
    b = int(panel.index.searchsorted(as_utc(boundary)))
    end = panel.n_times - horizon - 1
    if end - b < 5:
        raise MiningError(
            f"the holdout has {max(0, end - b)} scorable bars at a {horizon}-bar horizon: "
            "too few to evaluate"
        )
    plan = FoldPlan(horizon=horizon, train=((0, b),), valid=((b, end),))
    label = next_bar_label(panel.field("close"), horizon)
    scorer = ICScorer(label, panel.membership, plan)
    values = evaluate(panel, dict(expressions))
    rows = np.zeros(panel.n_times, dtype=bool)
    rows[b:end] = True
    factors: dict[str, Any] = {}
    combined = np.zeros(panel.shape)
    seen = np.zeros(panel.shape, dtype=bool)
    for name, v in values.items():
        daily = scorer.daily_ic(v)
        sig = ic_significance(daily[rows], horizon=horizon, n_trials=n_trials, alpha=alpha)
        factors[name] = {"expression": expressions[name], **asdict(sig)}
        ranked = scorer.ranked(v).astype(np.float64)
        seen |= np.isfinite(ranked)
        combined += float(weights.get(name, 0.0)) * np.nan_to_num(ranked, nan=0.0)
    combined[~seen] = np.nan
    daily = scorer.daily_ic(combined)
    pool = asdict(ic_significance(daily[rows], horizon=horizon, n_trials=n_trials, alpha=alpha))
    return {
        "rows": int(rows.sum()),
        "start": pd.Timestamp(panel.index[b]).isoformat(),
        "end": pd.Timestamp(panel.index[end - 1]).isoformat(),
        "pool": pool,
        "factors": factors,
    }
