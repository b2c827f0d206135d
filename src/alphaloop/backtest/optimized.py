"""The ``optimize`` portfolio method: optimizer weights at each rebalance, with fallbacks.

Weights at a rebalance row ``t`` come from the ``optimizer.window`` returns
ending at bar ``t``'s close (:func:`~alphaloop.portfolio.walk_forward_weights`);
they are target weights like any other, filled on a later bar by the
spec's fill timing. A failed optimization never stops a backtest: the
configured fallback is used and the event is recorded
(:func:`optimizer_stats`, in the result's ``assumptions["portfolio"]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alphaloop.backtest.spec import Limits, PortfolioRule
from alphaloop.errors import BacktestError
from alphaloop.portfolio import WalkResult, walk_forward_weights

__all__ = ["optimized_targets", "optimizer_stats"]


def optimized_targets(
    signal: np.ndarray,
    close: np.ndarray,
    eligible: np.ndarray,
    rule: PortfolioRule,
    limits: Limits,
    rebalance: np.ndarray,
    *,
    history: np.ndarray | None = None,
    assets: Sequence[str] | None = None,
) -> WalkResult:
    """Optimizer target weights on the rows of ``signal``/``close``/``eligible``.

    ``history``: closes of the bars before the first row (so the first
    rebalances have a full window); not traded. An asset is a candidate at a
    rebalance when eligible with a finite signal there (and among the ``k``
    highest signals when ``rule.k`` is set). Weights are the optimizer's
    (summing to 1) times ``rule.gross``, each capped at ``limits.max_weight``.
    Event rows in the result are rows of ``close`` (not of ``history``).
    """
    if rule.optimizer is None:
        raise BacktestError("portfolio method optimize needs portfolio.optimizer")
    candidates = eligible & np.isfinite(signal)
    rows = np.flatnonzero(rebalance)
    if rule.k is not None:
        for t in rows:
            ok = np.flatnonzero(candidates[t])
            if ok.size > rule.k:
                keep = ok[np.argsort(-signal[t, ok], kind="stable")[: rule.k]]
                candidates[t] = False
                candidates[t, keep] = True
    pad = 0 if history is None else len(history)
    full = close if history is None else np.vstack([history, close])
    mask = np.zeros(full.shape, dtype=bool)
    mask[pad:] = candidates
    walk = walk_forward_weights(
        full, mask, rows + pad, rule.optimizer, assets=assets, gross=rule.gross
    )
    weights = np.minimum(walk.weights[pad:], limits.max_weight)
    events = tuple(type(e)(e.row - pad, e.reason, e.fallback) for e in walk.events)
    diagnostics = {t - pad: d for t, d in walk.diagnostics.items()}
    return WalkResult(weights, events, walk.solved, diagnostics)


def optimizer_stats(walk: WalkResult, index: pd.DatetimeIndex) -> dict[str, Any]:
    """The walk's counts and events with dates, JSON-ready.

    ``solved``: rebalances the optimizer solved; ``fallbacks``: rebalances
    where it failed and the fallback was used; ``skipped``: rebalances
    with no asset having a full window yet (no order); ``events``: both
    kinds, with ``date``, ``reason`` and ``fallback`` (``none`` = skipped).
    """
    fallbacks = sum(e.fallback != "none" for e in walk.events)
    return {
        "solved": walk.solved,
        "fallbacks": fallbacks,
        "skipped": len(walk.events) - fallbacks,
        "events": [
            {"date": index[e.row].isoformat(), "reason": e.reason, "fallback": e.fallback}
            for e in walk.events
        ],
    }
