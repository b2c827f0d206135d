"""Walk-forward optimization: weights at each rebalance from the trailing window only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphaloop.portfolio.config import OptimizerConfig
from alphaloop.portfolio.errors import OptimizationError, PortfolioInputError
from alphaloop.portfolio.optimize import Solver, optimize_weights

__all__ = ["FallbackEvent", "WalkResult", "inverse_volatility_weights", "walk_forward_weights"]


@dataclass(frozen=True)
class FallbackEvent:
    """A rebalance where the optimizer failed and the fallback was used.

    ``row``: the rebalance row; ``reason``: the failure; ``fallback``: what
    was used (``inverse_volatility``, ``previous`` or ``none`` when no asset
    could be held: the row then has no order).
    """

    row: int
    reason: str
    fallback: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "reason": self.reason, "fallback": self.fallback}


@dataclass(frozen=True)
class WalkResult:
    """Target weights per (time, asset), NaN off rebalance rows, and the fallback events."""

    weights: np.ndarray
    events: tuple[FallbackEvent, ...] = ()
    solved: int = 0
    diagnostics: dict[int, dict[str, Any]] = field(default_factory=dict)


def simple_returns(close: np.ndarray) -> np.ndarray:
    """Simple returns per bar (row 0 NaN; NaN where either close is missing or not positive)."""
    rets = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets[1:] = close[1:] / close[:-1] - 1.0
    bad = ~np.isfinite(close) | (close <= 0)
    rets[bad] = np.nan
    rets[1:][bad[:-1]] = np.nan
    return rets


def inverse_volatility_weights(window: np.ndarray, config: OptimizerConfig) -> np.ndarray:
    """Weights proportional to 1 / the std of each column's finite returns, capped at max_weight.

    Columns without two finite returns or with zero volatility get the
    mean volatility of the rest (equal weights when none has one).
    """
    vol = np.array(
        [
            np.std(c[np.isfinite(c)], ddof=1) if np.isfinite(c).sum() >= 2 else np.nan
            for c in window.T
        ]
    )
    good = np.isfinite(vol) & (vol > 0)
    vol = np.where(good, vol, vol[good].mean() if good.any() else 1.0)
    w = (1.0 / vol) / np.sum(1.0 / vol)
    cap = max(config.max_weight, 1.0 / len(w))
    for _ in range(len(w)):  # water-filling: cap, share the excess among the rest
        over = w > cap + 1e-12
        if not over.any():
            break
        excess = float(np.sum(w[over] - cap))
        w[over] = cap
        free = w < cap - 1e-12
        w[free] += excess * w[free] / w[free].sum()
    return w


def walk_forward_weights(
    close: np.ndarray,
    eligible: np.ndarray,
    rebalance_rows: Sequence[int] | np.ndarray,
    config: OptimizerConfig,
    *,
    assets: Sequence[str] | None = None,
    gross: float = 1.0,
    solver: Solver = "auto",
) -> WalkResult:
    """Optimize at each rebalance row on the ``config.window`` returns ending at its close.

    Parameters
    ----------
    close : ndarray (time, asset)
        Closes; the returns of row ``t`` use closes ``t-1`` and ``t``, so a
        window at row ``t`` reads no bar after ``t``.
    eligible : ndarray of bool (time, asset)
        Assets that may be held at each row; an asset is optimized at ``t``
        when eligible there and its window's returns are all finite.
    rebalance_rows : sequence of int
        Rows whose close the weights are decided at (they fill on a later bar,
        as every target weight does).
    config : OptimizerConfig
    assets : sequence of str, optional
        Asset names (for views, budgets and groups); default ``A0``, ``A1``, ...
    gross : float
        The weights (summing to 1) are scaled by it.
    solver : {"auto", "skfolio"}, default "auto"
        See :func:`~alphaloop.portfolio.optimize_weights`.

    Returns
    -------
    WalkResult
        Rebalance rows hold a full row of weights (0 = not held); rows where
        no asset has a full window get no order (NaN) and a recorded event.
    """
    close = np.asarray(close, dtype=np.float64)
    if close.ndim != 2 or eligible.shape != close.shape:
        raise PortfolioInputError(
            f"close {close.shape} and eligible {np.shape(eligible)} must be the same 2-D shape",
            field="close",
        )
    names = tuple(assets) if assets is not None else tuple(f"A{i}" for i in range(close.shape[1]))
    if len(names) != close.shape[1]:
        raise PortfolioInputError(
            f"{len(names)} asset names for {close.shape[1]} columns", field="assets"
        )
    rets = simple_returns(close)
    out = np.full(close.shape, np.nan)
    events: list[FallbackEvent] = []
    diagnostics: dict[int, dict[str, Any]] = {}
    previous = np.zeros(close.shape[1])
    held = False
    solved = 0
    win = config.window
    for t in (int(r) for r in rebalance_rows):
        lo = t - win + 1
        if lo < 1:
            events.append(
                FallbackEvent(t, f"only {max(t, 0)} returns before the window of {win}", "none")
            )
            continue
        window = rets[lo : t + 1]
        cols = np.flatnonzero(eligible[t] & np.isfinite(window).all(axis=0))
        if cols.size == 0:
            events.append(FallbackEvent(t, "no eligible asset has a full window", "none"))
            continue
        row = np.zeros(close.shape[1])
        try:
            prev = (
                previous[cols] / previous[cols].sum() if held and previous[cols].sum() > 0 else None
            )
            res = optimize_weights(
                window[:, cols],
                config,
                assets=[names[c] for c in cols],
                previous=prev,
                solver=solver,
            )
            row[cols] = res.weights
            diagnostics[t] = res.diagnostics
            solved += 1
        except OptimizationError as exc:
            if config.fallback == "previous" and held:
                row = previous.copy()
                used = "previous"
            else:
                row[cols] = inverse_volatility_weights(window[:, cols], config)
                used = "inverse_volatility"
            events.append(FallbackEvent(t, exc.message, used))
        previous = row
        held = True
        out[t] = row * gross
    return WalkResult(out, tuple(events), solved, diagnostics)
