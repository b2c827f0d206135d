"""The book of :mod:`alphaloop.strategies.pca_stat_arb`: fixed-size positions, a lazy hedge.

A position is ``state * size`` (a fraction of equity fixed by the template's
parameters); the hedge is the combination of eigenportfolios that zeroes the
book's regression beta to every kept factor (:func:`neutral_book`). On a
decision bar the orders are, per asset:

- an asset whose position opens, closes or flips: its new target, always;
- on a refit bar (new loadings): every priced asset, the *full row* that
  resets each asset to its target (and forgets the drift since the last one);
- otherwise a hedge leg is re-traded only when the book, with the untouched
  assets at their drifted weights, would carry more factor beta than the
  tolerance allows: the legs that move the exposure most, fewest first
  (:func:`legs_to_trade`);
- a full row also when the new targets plus the untouched assets' drifted
  weights might breach the leverage cap (:data:`HEADROOM`).

Weights drift between decision bars as a frictionless account's would
(:meth:`LazyBook.drift`): ``w_i (1 + R_i) / (1 + sum_k w_k R_k)`` with
``R`` each asset's close-to-close return since the last decision bar.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EPS", "HEADROOM", "LazyBook", "cap_scale", "legs_to_trade", "neutral_book"]

#: A target within this of the held weight (fraction of equity) is left as it is.
EPS = 1e-9

#: Relative margin on the untouched assets' drifted weights, for what the
#: template cannot see (a bar of prices until the fill, costs paid since the
#: last order): a partial row whose targets plus ``(1 + HEADROOM)`` times the
#: untouched assets' ``|w|`` exceed ``max_leverage`` becomes a full row.
HEADROOM = 0.1


def neutral_book(
    positions: np.ndarray, betas: np.ndarray, valid: np.ndarray, loadings: np.ndarray
) -> np.ndarray:
    """Positions plus the eigenportfolio hedge that zeroes their factor betas.

    Parameters
    ----------
    positions : ndarray, shape (asset,)
        Position legs (fractions of equity) of the fit's assets.
    betas : ndarray, shape (factor, asset)
        Regression betas on the bar (``B``).
    valid : ndarray of bool, shape (asset,)
        Assets with a regression on the bar; only they carry hedge legs.
    loadings : ndarray, shape (factor, asset)
        Eigenportfolio weights (``Q``).

    Returns
    -------
    ndarray, shape (asset,)
        ``w = p + Q' c`` with ``c`` solving ``B w = 0`` (least squares when
        ``B Q'`` is singular); zero when there is no position.
    """
    if not positions.any():
        return np.zeros_like(positions)
    q = np.where(valid[None, :], loadings, 0.0)
    b = np.where(valid[None, :], betas, 0.0)
    mix = b @ q.T  # the eigenportfolios' betas to the factors, about the identity
    hedge = np.linalg.pinv(mix) @ -(b @ positions)
    return positions + q.T @ hedge


def cap_scale(book: np.ndarray, max_leverage: float, max_weight: float) -> float:
    """The factor (<= 1) bringing ``sum |w|`` to ``max_leverage`` and ``|w|`` to ``max_weight``."""
    total = float(np.abs(book).sum())
    if total == 0.0:
        return 1.0
    peak = float(np.abs(book).max())
    return min(1.0, max_leverage / total, max_weight / peak)


def legs_to_trade(contrib: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Which candidate legs to re-trade so the left-over factor exposure is within ``tol``.

    Parameters
    ----------
    contrib : ndarray, shape (factor, leg)
        Each candidate's exposure gap ``beta_i * (held_i - target_i)``: what
        re-trading it to its target removes from the book's factor exposure.
    tol : ndarray, shape (factor,)
        Largest exposure allowed per factor (non-negative).

    Returns
    -------
    ndarray of bool, shape (leg,)
        The fewest legs, taken in order of their largest ``|contrib| / tol``,
        whose re-trade leaves ``|sum of the others' contrib| <= tol`` for every
        factor (all of them when no shorter prefix does).
    """
    n_legs = contrib.shape[1]
    chosen = np.zeros(n_legs, dtype=bool)
    if n_legs == 0:
        return chosen
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(tol[:, None] > 0, np.abs(contrib) / tol[:, None], np.inf)
    order = np.argsort(-weight.max(axis=0), kind="stable")
    left = contrib.sum(axis=1)[:, None] - np.cumsum(contrib[:, order], axis=1)
    left = np.concatenate([contrib.sum(axis=1)[:, None], left], axis=1)  # after 0..n legs
    within = (np.abs(left) <= tol[:, None]).all(axis=0)
    within[-1] = True  # every leg at its target: the book's exposure is the target's, zero
    chosen[order[: int(np.argmax(within))]] = True
    return chosen


class LazyBook:
    """The template's view of the account: drifted weights and what each asset was last sent.

    Parameters
    ----------
    level : ndarray, shape (time, asset)
        Close prices carried forward over gaps (NaN before an asset's first price).
    """

    def __init__(self, level: np.ndarray) -> None:
        self.level = level
        n_assets = level.shape[1]
        self.held = np.zeros(n_assets)  # drifted weights at bar `self.at`
        self.sent_state = np.zeros(n_assets, dtype=np.int8)  # position state last ordered
        self.at = 0
        self.full_rows = 0  # decision bars that ordered every priced asset

    def drift(self, t: int) -> np.ndarray:
        """Weights at bar ``t`` of the book set at the last decision bar, moved by prices."""
        with np.errstate(invalid="ignore", divide="ignore"):
            growth = self.level[t] / self.level[self.at]
        growth = np.where(np.isfinite(growth), growth, 1.0)
        equity = 1.0 + float(self.held @ (growth - 1.0))
        if equity <= 0.0:
            return np.zeros_like(self.held)
        return self.held * growth / equity

    def decide(
        self,
        t: int,
        target: np.ndarray,
        states: np.ndarray,
        betas: np.ndarray,
        tol: np.ndarray | None,
        priced: np.ndarray,
        max_leverage: float,
    ) -> np.ndarray:
        """The order row at bar ``t`` (NaN = no order), and the book updated to it.

        Parameters
        ----------
        t : int
            The decision bar.
        target : ndarray, shape (asset,)
            The factor-neutral book at fixed position sizes (fractions of equity).
        states : ndarray of int8, shape (asset,)
            Position state per asset on the bar (-1, 0, +1).
        betas : ndarray, shape (factor, asset)
            Betas on the bar, zero for assets without a regression.
        tol : ndarray, shape (factor,), or None
            Factor exposure allowed per factor; None orders a full row (refit bars).
        priced : ndarray of bool, shape (asset,)
            Assets with a price on the bar (only they can take an order).
        max_leverage : float
            The spec's cap on ``sum |w|``.
        """
        held = self.drift(t)
        send = priced.copy()
        if tol is not None:
            must = priced & (states != self.sent_state)
            open_ = states.any()
            maybe = priced & ~must & (np.abs(target - held) > EPS)
            legs = np.flatnonzero(maybe)
            send = must.copy()
            if not open_:
                send |= maybe  # no position: the hedge goes too
            else:
                gap = betas[:, legs] * (held[legs] - target[legs])
                send[legs[legs_to_trade(gap, tol)]] = True
            planned = np.abs(target[send]).sum() + (1.0 + HEADROOM) * np.abs(held[~send]).sum()
            if planned > max_leverage:
                send = priced.copy()
        self.full_rows += bool(send.sum() == priced.sum())
        row = np.where(send, target, np.nan)
        self.held = np.where(send, target, held)
        self.sent_state = np.where(send, states, self.sent_state).astype(np.int8)
        self.at = t
        return row
