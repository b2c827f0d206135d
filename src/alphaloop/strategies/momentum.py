"""Momentum templates: cross-sectional and time-series momentum.

``xs_momentum`` ranks assets by their return from ``lookback`` bars ago to
``skip`` bars ago (Jegadeesh and Titman's 12-1 momentum is lookback 252,
skip 21 on daily bars): the most recent month is skipped because returns
over it tend to reverse. The spec's portfolio rule turns the score into a
book (top k long, or a quantile long-short).

``ts_momentum`` (Moskowitz, Ooi and Pedersen) looks at each asset on its
own: long after a trailing rise, short (or flat) after a fall, each position
sized to a volatility target from the asset's trailing volatility, split
equally across the assets. It builds the weights itself.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from alphaloop.errors import SpecError
from alphaloop.strategies.base import OutputKind, TemplateInputs, TemplateOutput, TemplateParams

__all__ = ["CrossSectionalMomentum", "TimeSeriesMomentum", "rolling_volatility", "trailing_return"]


class CrossSectionalMomentum(TemplateParams):
    """Cross-sectional momentum: rank by the return from ``lookback`` to ``skip`` bars ago.

    Parameters
    ----------
    lookback : int
        Bars back to the start of the formation period (252 = a year of days).
    skip : int
        Most recent bars left out (21 = a month of days); 0 keeps them.
    """

    template: Literal["xs_momentum"] = "xs_momentum"
    lookback: int = Field(252, ge=2, le=5000)
    skip: int = Field(21, ge=0, le=1000)

    OUTPUT: ClassVar[OutputKind] = "signal"
    TITLE: ClassVar[str] = "Cross-sectional momentum"
    SUMMARY: ClassVar[str] = (
        "rank assets by their return from lookback to skip bars ago; the portfolio rule "
        "holds the winners (and shorts the losers in a long-short book)"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "returns persist across assets over months (the momentum premium)",
        "a universe wide enough to rank: at least 2k assets for a top-k book",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "survivorship: a universe of today's survivors holds no past losers that died; "
        "bundled sp500-stocks carries that caveat into every result",
        "momentum crashes: long-short momentum loses heavily in sharp rebounds; look at the "
        "worst month, not only the Sharpe",
        "skip = 0 mixes in short-term reversal, which costs turnover",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "lookback": (63, 126, 189, 252),
        "skip": (0, 5, 21),
    }

    @model_validator(mode="after")
    def _skip_before_lookback(self) -> CrossSectionalMomentum:
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be below lookback ({self.lookback})")
        return self

    def warmup(self) -> int:
        return self.lookback

    def spec_defaults(self) -> dict[str, Any]:
        return {
            "portfolio": {"method": "top_k", "k": 5},
            "rebalance": {"frequency": "monthly"},
        }

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        score = np.full(close.shape, np.nan)
        if close.shape[0] > self.lookback:
            with np.errstate(invalid="ignore", divide="ignore"):
                end = close[self.lookback - self.skip : close.shape[0] - self.skip]
                start = close[: close.shape[0] - self.lookback]
                score[self.lookback :] = end / start - 1.0
        score[~np.isfinite(score)] = np.nan
        return TemplateOutput(kind="signal", signal=score)


def trailing_return(close: np.ndarray, lookback: int, skip: int) -> np.ndarray:
    """Simple return from ``lookback`` bars ago to ``skip`` bars ago, per (time, asset).

    Row ``t`` is ``close[t - skip] / close[t - lookback] - 1`` (NaN for
    ``t < lookback`` and where either close is missing or not positive).
    """
    out = np.full(close.shape, np.nan)
    n = close.shape[0]
    if n > lookback:
        with np.errstate(invalid="ignore", divide="ignore"):
            start = close[: n - lookback]
            out[lookback:] = np.where(
                start > 0, close[lookback - skip : n - skip] / start - 1.0, np.nan
            )
    out[~np.isfinite(out)] = np.nan
    return out


def rolling_volatility(close: np.ndarray, window: int, periods_per_year: float) -> np.ndarray:
    """Annualized sample volatility of simple close-to-close returns, per (time, asset).

    Row ``t`` is the standard deviation (ddof 1) of the returns of bars
    ``t - window + 1`` .. ``t`` (bar ``s``'s return is close ``s - 1`` to
    close ``s``), times ``sqrt(periods_per_year)``; NaN unless at least two
    thirds of those returns exist. A finite window: the value does not
    depend on how much history was loaded before it (an EWMA would).
    """
    rets = np.full(close.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets[1:] = close[1:] / close[:-1] - 1.0
    rets[~np.isfinite(rets)] = np.nan
    need = max(2, -(-2 * window // 3))
    vol = pd.DataFrame(rets).rolling(window, min_periods=need).std(ddof=1).to_numpy()
    return vol * np.sqrt(periods_per_year)


class TimeSeriesMomentum(TemplateParams):
    """Time-series momentum with volatility scaling (Moskowitz, Ooi and Pedersen 2012).

    On each rebalance bar every eligible asset is held in the direction of its
    own trailing return (long after a rise, short after a fall; flat instead of
    short when ``long_only``), sized to ``vol_target`` of annualized ex-ante
    volatility and divided by the number of eligible assets:
    ``w = sign(r) * vol_target / (sigma * N)``. Then ``|w| <= max_weight`` and
    the row is scaled down so that ``sum |w| <= max_leverage``.

    Parameters
    ----------
    lookback : int
        Bars back to the start of the trend window (252 = a year of days).
    skip : int
        Most recent bars left out of the trend window (0 = none).
    vol_target : float
        Annualized volatility each position is sized to before the 1/N split
        (a fraction: 0.40 = 40 %, Moskowitz-Ooi-Pedersen's choice).
    vol_window : int
        Bars of trailing returns in the volatility estimate (see
        :func:`rolling_volatility`; a simple window rather than the paper's
        EWMA, so that no value depends on how much history was loaded).
    long_only : bool
        Flat instead of short after a fall.
    """

    template: Literal["ts_momentum"] = "ts_momentum"
    lookback: int = Field(252, ge=2, le=5000)
    skip: int = Field(0, ge=0, le=1000)
    vol_target: float = Field(0.40, gt=0, le=2.0)
    vol_window: int = Field(63, ge=5, le=2000)
    long_only: bool = False

    OUTPUT: ClassVar[OutputKind] = "weights"
    TITLE: ClassVar[str] = "Time-series momentum"
    SUMMARY: ClassVar[str] = (
        "hold each asset long after its own trailing rise and short after a fall, "
        "sized to a volatility target and split equally across assets"
    )
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "an asset's own past return predicts the sign of its next month's return "
        "(trends persist over months)",
        "ex-ante volatility (the sample volatility of the last vol_window returns) forecasts "
        "next month's volatility well enough to size positions",
        "shorting at the modelled borrow cost (unless long_only)",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "a published result on 58 futures over a century does not transfer to 20 stocks over "
        "a decade: with few, correlated assets the book is one bet on the market's trend",
        "on equities the long side mostly earns the equity premium; compare with buy-and-hold "
        "and look at the short side on its own",
        "volatility scaling raises leverage after calm periods, just before volatility "
        "spikes; max_leverage caps it and the cap binds often",
        "trend reversals (2009, 2020) cost a year of gains in weeks; look at the worst month",
        "lookback and skip tuned on the full sample overfit; tune on the search span only",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "lookback": (21, 63, 126, 189, 252),
        "skip": (0, 5, 21),
        "vol_target": (0.1, 0.2, 0.4),
        "vol_window": (21, 63, 126),
    }

    @model_validator(mode="after")
    def _skip_before_lookback(self) -> TimeSeriesMomentum:
        if self.skip >= self.lookback:
            raise ValueError(f"skip ({self.skip}) must be below lookback ({self.lookback})")
        return self

    @property
    def shorts(self) -> bool:
        return not self.long_only

    def warmup(self) -> int:
        return max(self.lookback, self.vol_window)

    def spec_defaults(self) -> dict[str, Any]:
        limits: dict[str, Any] = {"max_leverage": 1.0}
        if self.shorts:
            limits["allow_short"] = True
        return {"rebalance": {"frequency": "monthly"}, "limits": limits}

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        if self.shorts and not inputs.allow_short:
            raise SpecError(
                "template ts_momentum takes short positions but shorting is off",
                hint="set limits.allow_short: true, or long_only: true in the template",
            )
        close = np.asarray(inputs.panel["close"], dtype=np.float64)
        trend = trailing_return(close, self.lookback, self.skip)
        vol = rolling_volatility(close, self.vol_window, inputs.periods_per_year)
        usable = inputs.eligible & np.isfinite(trend) & np.isfinite(vol) & (vol > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            signal = np.where(usable, trend / vol, np.nan)
        direction = np.sign(np.nan_to_num(signal))
        if self.long_only:
            direction = np.maximum(direction, 0.0)
        n_usable = usable.sum(axis=1)
        decide = np.asarray(inputs.rebalance, dtype=bool) & (n_usable > 0)
        weights = np.full(close.shape, np.nan)
        rows = np.flatnonzero(decide)
        capped = 0
        if rows.size:
            with np.errstate(invalid="ignore", divide="ignore"):
                raw = direction[rows] * self.vol_target / (vol[rows] * n_usable[rows, None])
            raw = np.clip(np.where(usable[rows], raw, 0.0), -inputs.max_weight, inputs.max_weight)
            gross = np.abs(raw).sum(axis=1)
            over = gross > inputs.max_leverage
            capped = int(over.sum())
            shrink = np.ones_like(gross)
            shrink[over] = inputs.max_leverage / gross[over]
            weights[rows] = raw * shrink[:, None]
        diagnostics = {
            "rebalances": int(rows.size),
            "mean_assets": float(n_usable[rows].mean()) if rows.size else 0.0,
            "mean_gross": float(np.abs(weights[rows]).sum(axis=1).mean()) if rows.size else 0.0,
            "leverage_capped_rows": capped,
        }
        notes = (
            f"time-series momentum: sign of the {self.lookback}-bar return"
            + (f" skipping the last {self.skip}" if self.skip else "")
            + f", sized to {self.vol_target:.0%} annualized volatility per asset "
            f"(over {self.vol_window} bars) divided by the number of assets",
        )
        return TemplateOutput(
            kind="weights", signal=signal, weights=weights, diagnostics=diagnostics, notes=notes
        )
