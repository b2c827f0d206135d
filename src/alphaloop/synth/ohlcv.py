"""Open, high, low and volume for synthetic close paths, consistent bar by bar.

A real bar's shape is kept as three log ratios and its volume:
``gap = log(open_t / close_{t-1})``, ``up = log(high_t / max(open_t, close_t))``
and ``down = log(min(open_t, close_t) / low_t)`` (both >= 0). A synthetic bar
takes the shape of one real bar (the same real bar for every asset, so a
market-wide gap stays market-wide): the bar the bootstrap resampled, or a
bar drawn at random for model generators. Then ``open = prev_close * exp(gap)``,
``high = max(open, close) * exp(up)``, ``low = min(open, close) * exp(-down)``,
so ``low <= min(open, close) <= max(open, close) <= high`` holds on every bar.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphaloop.data import Panel

__all__ = ["BarShapes", "ohlcv_paths"]


@dataclass(frozen=True)
class BarShapes:
    """Shapes of real bars, one row per fitted return row (``(rows, assets)`` each).

    Missing values are stored as 0 (no gap, no wick); a missing volume as NaN.
    """

    gap: np.ndarray
    up: np.ndarray
    down: np.ndarray
    volume: np.ndarray | None

    @classmethod
    def from_panel(cls, panel: Panel, rows: np.ndarray) -> BarShapes | None:
        """The shapes of ``panel``'s bars ``rows`` (each >= 1), or None without open/high/low."""
        if not all(f in panel for f in ("open", "high", "low")):
            return None
        close = np.asarray(panel["close"], dtype=np.float64)
        o = np.asarray(panel["open"], dtype=np.float64)[rows]
        h = np.asarray(panel["high"], dtype=np.float64)[rows]
        lo = np.asarray(panel["low"], dtype=np.float64)[rows]
        c = close[rows]
        prev = close[rows - 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            gap = np.log(o / prev)
            up = np.log(h / np.maximum(o, c))
            down = np.log(np.minimum(o, c) / lo)
        gap = np.where(np.isfinite(gap), gap, 0.0)
        up = np.where(np.isfinite(up), np.maximum(up, 0.0), 0.0)
        down = np.where(np.isfinite(down), np.maximum(down, 0.0), 0.0)
        volume = None
        if "volume" in panel:
            volume = np.asarray(panel["volume"], dtype=np.float64)[rows].copy()
        return cls(gap, up, down, volume)

    def arrays(self) -> dict[str, np.ndarray]:
        """Named arrays for storage (:meth:`from_arrays` reads them back)."""
        out = {"shape_gap": self.gap, "shape_up": self.up, "shape_down": self.down}
        if self.volume is not None:
            out["shape_volume"] = self.volume
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> BarShapes | None:
        """The shapes stored by :meth:`arrays`, or None when none were."""
        if "shape_gap" not in arrays:
            return None
        vol = arrays.get("shape_volume")
        return cls(
            np.asarray(arrays["shape_gap"]),
            np.asarray(arrays["shape_up"]),
            np.asarray(arrays["shape_down"]),
            None if vol is None else np.asarray(vol),
        )


def ohlcv_paths(
    returns: np.ndarray,
    last_close: np.ndarray,
    shapes: BarShapes | None,
    days: np.ndarray | None,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Price fields of each path, each ``(n_paths, length, assets)``.

    Parameters
    ----------
    returns : ndarray, shape (n_paths, length, assets)
        Log close-to-close returns.
    last_close : ndarray, shape (assets,)
        The close before the first bar.
    shapes : BarShapes or None
        Without shapes only ``close`` is made.
    days : ndarray of int, shape (n_paths, length), optional
        Which real bar lends its shape to each synthetic bar; drawn from
        ``rng`` (uniformly) when None.
    """
    close = last_close * np.exp(np.cumsum(returns, axis=1))
    if shapes is None:
        return {"close": close}
    n, t, _ = returns.shape
    if days is None:
        days = rng.integers(0, shapes.gap.shape[0], size=(n, t))
    prev = np.concatenate([np.broadcast_to(last_close, (n, 1, close.shape[2])), close[:, :-1]], 1)
    open_ = prev * np.exp(shapes.gap[days])
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    out = {
        "open": open_,
        "high": top * np.exp(shapes.up[days]),
        "low": bottom * np.exp(-shapes.down[days]),
        "close": close,
    }
    if shapes.volume is not None:
        out["volume"] = shapes.volume[days]
    return out
