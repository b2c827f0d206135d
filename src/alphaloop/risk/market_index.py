"""A dataset's equal-weight market index: the series market regimes are read from."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["equal_weight_returns"]


def equal_weight_returns(close: pd.DataFrame, membership: np.ndarray) -> pd.Series:
    """Per-bar mean simple return of the member assets priced on the bar and the one before.

    A portfolio rebalanced every bar, without costs. Bars where no asset has a
    return (the first bar, gaps) are dropped.

    Parameters
    ----------
    close : DataFrame
        Closes, index timestamps, one column per asset.
    membership : ndarray of bool
        Same shape as ``close``: whether each asset is a member at each bar.
    """
    prices = close.to_numpy(dtype=float)
    valid = np.isfinite(prices) & (prices > 0.0) & membership
    both = valid[1:] & valid[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        asset_returns = np.where(both, prices[1:] / prices[:-1] - 1.0, 0.0)
    counts = both.sum(axis=1)
    keep = counts > 0
    mean = asset_returns.sum(axis=1)[keep] / counts[keep]
    return pd.Series(mean, index=close.index[1:][keep], name="equal_weight")
