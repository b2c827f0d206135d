"""Today's optimizer weights on a dataset: the last window of its search span.

:func:`optimize_today` loads the dataset (loads stop before the sealed
holdout, which is never read here), takes the ``window`` returns ending at
the last bar's close and solves the optimizer on the assets eligible there
with a full window. A failure uses the configured fallback, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from alphaloop.errors import UsageError
from alphaloop.portfolio import OptimizerConfig, walk_forward_weights
from alphaloop.specfile import describe_validation_error

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["PortfolioToday", "optimize_today", "optimizer_config"]


@dataclass(frozen=True)
class PortfolioToday:
    """Weights decided at the close of ``date`` (to trade on the next bar)."""

    data: str
    date: str
    config: OptimizerConfig
    weights: dict[str, float]
    diagnostics: dict[str, Any] | None
    fallback: dict[str, str] | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``data``, ``date``, ``optimizer``, ``weights``, ``diagnostics``,
        ``fallback``."""
        return {
            "data": self.data,
            "date": self.date,
            "optimizer": self.config.model_dump(mode="json", exclude_none=True),
            "weights": self.weights,
            "diagnostics": self.diagnostics,
            "fallback": self.fallback,
        }


def optimizer_config(**fields: Any) -> OptimizerConfig:
    """An :class:`OptimizerConfig` from options; a bad value raises a UsageError naming it."""
    try:
        return OptimizerConfig(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, OptimizerConfig)) from None


def optimize_today(ws: Workspace, data: str, config: OptimizerConfig) -> PortfolioToday:
    """Optimizer weights at the last bar of ``data``'s search span.

    Raises
    ------
    UsageError
        The dataset is shorter than the window plus one bar, or no asset
        has a full window at its last bar.
    """
    panel = ws.data.load(data)  # stops before the sealed holdout
    close = np.asarray(panel["close"], dtype=np.float64)
    if panel.n_times <= config.window:
        raise UsageError(
            f"--window {config.window} needs more than {config.window} bars; "
            f"{data!r} has {panel.n_times} before its holdout",
            hint="use a shorter --window",
        )
    eligible = panel.membership & np.isfinite(close)
    last = panel.n_times - 1
    walk = walk_forward_weights(close, eligible, [last], config, assets=panel.assets)
    row = walk.weights[last]
    if not np.isfinite(row).any():
        reason = walk.events[0].reason if walk.events else "no weights"
        raise UsageError(f"no weights for {data!r} at its last bar: {reason}")
    weights = {a: float(w) for a, w in zip(panel.assets, row, strict=True) if w > 1e-9}
    event = walk.events[0] if walk.events else None
    return PortfolioToday(
        data=data,
        date=panel.index[last].isoformat(),
        config=config,
        weights=dict(sorted(weights.items(), key=lambda kv: -kv[1])),
        diagnostics=walk.diagnostics.get(last),
        fallback=None if event is None else {"reason": event.reason, "used": event.fallback},
    )
