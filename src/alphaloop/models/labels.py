"""Labels: what a learning row predicts, and when that label's information ends.

Conventions
-----------
Label timing (:class:`LabelSpec`)
    The decision is taken at the close of bar ``t``: features use data up to
    and including bar ``t`` and nothing later (expressions that reference the
    future are rejected). The position is entered at bar ``t + entry_lag`` and
    held ``horizon`` bars; the label is the *simple* return of ``price``
    between those bars, ``p[t + lag + h] / p[t + lag] - 1``. ``t1`` is the
    timestamp of bar ``t + lag + h``, the last bar the label uses. The default
    (``price="close"``, ``entry_lag=1``) enters at the next bar's close, one
    full bar after the decision; ``entry_lag=0`` trades at the close the
    features already saw, which flatters results.
Classification
    The label is 1 when the forward return exceeds the round-trip cost,
    ``2 * cost_bps / 10_000`` (``cost_bps`` is charged on entry and again on
    exit), else 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from alphaloop.data import Panel
from alphaloop.models.errors import ModelError
from alphaloop.models.normalization import _METHOD, Normalize, _normalize_block_jit

__all__ = ["LabelSpec"]


@dataclass(frozen=True)
class LabelSpec:
    """What a row's label is: a forward return over ``horizon`` bars, or its sign net of costs.

    Parameters
    ----------
    horizon : int, default 5
        Bars the position is held, >= 1.
    kind : {"regression", "classification"}, default "regression"
        ``"regression"``: the simple forward return (a fraction, 0.01 = 1%).
        ``"classification"``: 1 when that return exceeds the round-trip cost,
        else 0.
    cost_bps : float, default 0.0
        One-way trading cost in basis points; the round trip costs twice this.
        Used by classification only.
    entry_lag : int, default 1
        Bars between the decision (the close of bar ``t``) and entry: the
        return runs from bar ``t + entry_lag`` to ``t + entry_lag + horizon``.
    price : str, default "close"
        The panel field entry and exit are priced at (e.g. ``"open"`` with
        ``entry_lag=1`` enters at the next bar's open).
    normalize : {None, "zscore", "rank"}, default None
        Regression only: normalize the label across assets per timestamp, as
        the features are (for models that learn a cross-sectional ranking).
        The raw return is kept in :attr:`LearningData.forward_return`.
    """

    horizon: int = 5
    kind: Literal["regression", "classification"] = "regression"
    cost_bps: float = 0.0
    entry_lag: int = 1
    price: str = "close"
    normalize: Normalize = None

    def __post_init__(self) -> None:
        for name in ("horizon", "entry_lag"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ModelError(f"LabelSpec.{name} must be an integer, got {value!r}")
        if self.horizon < 1:
            raise ModelError(
                f"LabelSpec.horizon must be >= 1 bar, got {self.horizon}",
                hint="a label needs at least one bar between entry and exit",
            )
        if self.entry_lag < 0:
            raise ModelError(f"LabelSpec.entry_lag must be >= 0 bars, got {self.entry_lag}")
        if self.kind not in ("regression", "classification"):
            raise ModelError(
                f"LabelSpec.kind must be 'regression' or 'classification', got {self.kind!r}"
            )
        cost = self.cost_bps
        if isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost):
            raise ModelError(f"LabelSpec.cost_bps must be a finite number, got {cost!r}")
        if cost < 0:
            raise ModelError(f"LabelSpec.cost_bps must be >= 0, got {self.cost_bps!r}")
        if self.normalize not in _METHOD:
            raise ModelError(
                f"LabelSpec.normalize must be None, 'zscore' or 'rank', got {self.normalize!r}"
            )
        if self.normalize is not None and self.kind == "classification":
            raise ModelError("LabelSpec.normalize applies to regression labels only")

    @property
    def round_trip_cost(self) -> float:
        """Entry plus exit cost as a fraction (``2 * cost_bps / 10_000``)."""
        return 2.0 * self.cost_bps / 10_000.0

    @property
    def span(self) -> int:
        """Bars from the decision to the label's last bar (``entry_lag + horizon``)."""
        return self.entry_lag + self.horizon


def _labels(panel: Panel, spec: LabelSpec) -> np.ndarray:
    """Forward simple returns, (time, asset) float64; NaN where no label exists."""
    if spec.price not in panel.field_names:
        raise ModelError(
            f"label price field {spec.price!r} is not in the panel",
            hint=f"fields: {list(panel.field_names)}",
        )
    p = np.asarray(panel.field(spec.price), dtype=np.float64)
    out = np.full(panel.shape, np.nan)
    n = panel.n_times - spec.span
    if n > 0:
        entry, exit_ = p[spec.entry_lag : spec.entry_lag + n], p[spec.span :]
        with np.errstate(all="ignore"):
            r = exit_ / entry - 1.0
        ok = np.isfinite(r) & (entry > 0) & np.isfinite(entry)
        out[:n] = np.where(ok, r, np.nan)
    return out


def _targets(
    panel: Panel, forward: np.ndarray, rows: np.ndarray, cols: np.ndarray, label: LabelSpec
) -> tuple[np.ndarray, np.ndarray]:
    """``y`` and the raw forward return of each row (float64, NaN where unlabeled)."""
    fwd = forward[rows, cols]
    if label.kind == "classification":
        return np.where(np.isnan(fwd), np.nan, (fwd > label.round_trip_cost) * 1.0), fwd
    if label.normalize is None:
        return fwd.copy(), fwd
    grid = np.full(panel.shape, -1, dtype=np.int64)
    grid[rows, cols] = np.arange(len(rows))
    normalized = np.empty((len(rows), 1), dtype=np.float32)
    _normalize_block_jit(
        forward.astype(np.float32)[None], panel.membership, grid, normalized, 0, 0.0,
        _METHOD[label.normalize], np.nan, np.zeros(len(rows), dtype=np.int32), 0, panel.n_times,
    )  # fmt: skip
    return np.where(np.isnan(fwd), np.nan, normalized[:, 0].astype(np.float64)), fwd
