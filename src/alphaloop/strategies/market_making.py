"""Market making on bars: two-sided quotes around a fair value, skewed by inventory.

An approximation, and labelled as one. At each bar's close the template
decides, per asset, a fair value (an exponential moving average of the close
over ``fair_window`` bars; the close itself for ``fair_window = 1``), a
half-spread in basis points (the wider of a floor and a multiple of the
trailing mean bar range) and a quote size (a fraction of equity per side).
Those arrays, decided from bars up to ``t`` only, form a :class:`QuotePlan`.

What the quotes are on each bar depends on the inventory held, which depends
on earlier fills: the path is the simulator's business. The quote simulator
(:func:`alphaloop.backtest.quotes.simulate_quotes`, both engines) turns the
plan into quotes bar by bar::

    ratio  = clip(position value / (max_inventory * equity), -1, 1)
    centre = fair * (1 - skew * ratio * half_spread)
    bid    = min(centre * (1 - half_spread), close * (1 - market_half_spread))
    ask    = max(centre * (1 + half_spread), close * (1 + market_half_spread))

(half_spread as a fraction; market_half_spread is the cost model's), sizes
``size * equity / price`` per side, cut so that no fill takes the asset's
position beyond ``max_inventory`` of equity (the side that would is not
quoted). A quote lives for the next bar only and fills when that bar's range
reaches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from alphaloop.errors import BacktestError
from alphaloop.strategies.base import OutputKind, TemplateInputs, TemplateOutput, TemplateParams

__all__ = ["MarketMaking", "QuotePlan", "ema", "trailing_mean_range_bps"]


@dataclass(frozen=True)
class QuotePlan:
    """What a market maker decided at each bar's close, before its inventory is known.

    Attributes
    ----------
    fair : ndarray, shape (time, asset)
        Fair value (price units) at each close; NaN where no quote is posted.
    half_spread_bps : ndarray, shape (time, asset)
        Half the quoted spread around the (skewed) fair value, basis points.
    size : ndarray, shape (time, asset)
        Quote size per side as a fraction of equity; NaN where no quote.
    skew : float
        Shift of both quotes per unit of inventory ratio, in half-spreads
        (0 = no skew; 1 = a full inventory moves the quotes by one half-spread).
    max_inventory : float
        Largest position per asset, fraction of equity (either sign).
    adverse_selection_bps : float
        Charged on every fill's notional on top of the cost model, basis points.
    min_half_spread_bps : float
        The half-spread floor (the simulator refuses one inside the cost
        model's half-spread).
    short_inventory : bool
        Whether the ask may take the position below zero.
    """

    fair: np.ndarray
    half_spread_bps: np.ndarray
    size: np.ndarray
    skew: float
    max_inventory: float
    adverse_selection_bps: float
    min_half_spread_bps: float
    short_inventory: bool = True

    def __post_init__(self) -> None:
        shape = self.fair.shape
        if self.half_spread_bps.shape != shape or self.size.shape != shape:
            raise BacktestError(
                f"quote plan arrays differ in shape: fair {shape}, half_spread_bps "
                f"{self.half_spread_bps.shape}, size {self.size.shape}"
            )

    def arrays(self) -> dict[str, np.ndarray]:
        """The (time, asset) arrays by name (what a lookahead scan compares)."""
        return {"fair": self.fair, "half_spread_bps": self.half_spread_bps, "size": self.size}

    def rows(self, start: int) -> QuotePlan:
        """The plan from row ``start`` on (scalars unchanged)."""
        sl = slice(start, None)
        return QuotePlan(
            self.fair[sl], self.half_spread_bps[sl], self.size[sl], self.skew,
            self.max_inventory, self.adverse_selection_bps, self.min_half_spread_bps,
            self.short_inventory,
        )  # fmt: skip


def ema(values: np.ndarray, window: int) -> np.ndarray:
    """Exponential moving average down each column, ``alpha = 2 / (window + 1)``.

    Row ``t`` uses rows ``<= t`` only; it starts at a column's first finite
    value and carries through NaN rows (a NaN input row gives NaN out, the
    average keeps its state). Values before ``window - 1`` rows of history
    are NaN. ``window = 1`` returns the input.
    """
    x = np.asarray(values, dtype=np.float64)
    if window == 1:
        return x.copy()
    alpha = 2.0 / (window + 1.0)
    out = np.full(x.shape, np.nan)
    state = np.full(x.shape[1:], np.nan)
    seen = np.zeros(x.shape[1:], dtype=np.int64)
    for t in range(x.shape[0]):  # one pass over time, vectorized across assets
        row = x[t]
        ok = np.isfinite(row)
        fresh = ok & np.isnan(state)
        state = np.where(fresh, row, state)
        upd = ok & ~fresh
        state = np.where(upd, state + alpha * (row - state), state)
        seen += ok
        out[t] = np.where(ok & (seen >= window), state, np.nan)
    return out


def trailing_mean_range_bps(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, window: int
) -> np.ndarray:
    """Mean of ``(high - low) / close`` over bars ``t-window+1 .. t``, in basis points.

    NaN until ``window`` bars, or where any bar in the window lacks a value.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        rng = (np.asarray(high, float) - np.asarray(low, float)) / np.asarray(close, float)
    rng[~np.isfinite(rng)] = np.nan
    t = rng.shape[0]
    out = np.full(rng.shape, np.nan)
    if t < window:
        return out
    filled = np.nan_to_num(rng)
    csum = np.cumsum(filled, axis=0)
    bad = np.cumsum(np.isnan(rng), axis=0)
    total = csum[window - 1 :].copy()
    total[1:] -= csum[:-window]
    nbad = bad[window - 1 :].copy()
    nbad[1:] -= bad[:-window]
    mean = total / window * 1e4
    mean[nbad > 0] = np.nan
    out[window - 1 :] = mean
    return out


class MarketMaking(TemplateParams):
    """Quote both sides around a fair value, skewed against inventory (an approximation on bars).

    Parameters
    ----------
    fair_window : int
        Bars of the exponential moving average of the close that is the fair
        value (1 = the close itself).
    vol_window : int
        Bars of the trailing mean bar range (``(high - low) / close``).
    min_half_spread_bps : float
        Floor of the half-spread, basis points; must be at least the cost
        model's ``half_spread_bps`` (a quote inside the market's spread earns
        nothing on bars).
    spread_vol_mult : float
        Half-spread as a multiple of the trailing mean bar range (0 = the
        floor only). Where the range is unknown (warm-up, a missing high or
        low in the window) no quote is posted.
    quote_size : float
        Shares quoted per side, as a fraction of equity at the decision close.
    max_inventory : float
        Largest position per asset, fraction of equity; a side whose fill
        would pass it is cut, or not quoted.
    skew : float
        Inventory skew: both quotes shift by ``-skew * ratio * half_spread``,
        ``ratio`` the position over ``max_inventory`` (in [-1, 1]).
    adverse_selection_bps : float
        Charged on every fill's notional on top of the cost model, basis
        points: what the price tends to move against a passive fill.
    short_inventory : bool
        Whether inventory may go short (the spec must allow shorts); False
        quotes the ask only against a long position.
    """

    template: Literal["market_making"] = "market_making"
    fair_window: int = Field(10, ge=1, le=1000)
    vol_window: int = Field(20, ge=2, le=1000)
    min_half_spread_bps: float = Field(10.0, gt=0, le=5000, allow_inf_nan=False)
    spread_vol_mult: float = Field(0.5, ge=0, le=10, allow_inf_nan=False)
    quote_size: float = Field(0.05, gt=0, le=1, allow_inf_nan=False)
    max_inventory: float = Field(0.2, gt=0, le=5, allow_inf_nan=False)
    skew: float = Field(1.0, ge=0, le=10, allow_inf_nan=False)
    adverse_selection_bps: float = Field(5.0, ge=0, le=1000, allow_inf_nan=False)
    short_inventory: bool = True

    OUTPUT: ClassVar[OutputKind] = "quotes"
    TITLE: ClassVar[str] = "Market making on bars"
    SUMMARY: ClassVar[str] = (
        "post a bid and an ask around a fair value, skewed against inventory; a quote fills "
        "when the next bar's range reaches it (an approximation: bars show no queue)"
    )
    FIELDS: ClassVar[tuple[str, ...]] = ("close", "high", "low")
    ASSUMES: ClassVar[tuple[str, ...]] = (
        "a quote posted at a bar's close rests for the whole next bar and fills in full when "
        "the bar's range reaches it (at the open when the bar opens through it)",
        "every fill pays the cost model plus adverse_selection_bps; a quote filled inside the "
        "bar's range pays the maker commission (maker_commission_bps, the taker's when unset), "
        "one the bar opens through the taker's; spread and slippage are charged as a taker's",
        "bars of an hour or longer: shorter bars are refused, because there a market maker's "
        "result is queue position and latency, which bars do not show",
    )
    PITFALLS: ClassVar[tuple[str, ...]] = (
        "fill-rate optimism: touching the quote is counted as a fill, but a real quote waits in "
        "a queue and a touch often trades none of it; the result is an upper bound",
        "no intrabar order: when a bar reaches both quotes, the round trip is counted although "
        "the price may have passed one side first and never come back; the report counts them",
        "adverse selection: passive fills come when the price moves against you (you buy "
        "before it falls further); set adverse_selection_bps honestly, and compare a trending "
        "period with a range-bound one",
        "a quote resting a whole day is exposed to news for a day: daily-bar fill rates say "
        "little about a real quote's, which lives seconds",
    )
    GRID: ClassVar[dict[str, tuple[Any, ...]]] = {
        "fair_window": (1, 5, 10, 20),
        "min_half_spread_bps": (5.0, 10.0, 20.0, 50.0),
        "spread_vol_mult": (0.25, 0.5, 1.0),
        "quote_size": (0.02, 0.05, 0.1),
        "skew": (0.0, 0.5, 1.0, 2.0),
    }

    @property
    def shorts(self) -> bool:
        return self.short_inventory

    def warmup(self) -> int:
        return max(self.fair_window, self.vol_window)

    def spec_defaults(self) -> dict[str, Any]:
        return {
            "limits": {"allow_short": self.short_inventory, "max_leverage": 2.0},
            "fills": "next_open",
        }

    def build(self, inputs: TemplateInputs) -> TemplateOutput:
        panel = inputs.panel
        missing = [f for f in ("high", "low") if f not in panel]
        if missing:
            raise BacktestError(
                f"market making fills quotes when a bar's range reaches them; the data has no "
                f"{' or '.join(repr(f) for f in missing)} field (fields: "
                f"{', '.join(panel.field_names)})",
                hint="use a dataset with high and low (OHLC bars)",
            )
        close = np.asarray(panel["close"], dtype=np.float64)
        fair = ema(close, self.fair_window)
        if self.spread_vol_mult > 0:
            vol = trailing_mean_range_bps(panel["high"], panel["low"], close, self.vol_window)
            half = np.maximum(self.min_half_spread_bps, self.spread_vol_mult * vol)
        else:  # the floor only: no range needed
            half = np.full(close.shape, self.min_half_spread_bps)
        ok = np.isfinite(fair) & np.isfinite(half) & inputs.eligible & (close > 0)
        fair = np.where(ok, fair, np.nan)
        half = np.where(ok, half, np.nan)
        size = np.where(ok, self.quote_size, np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            signal = np.where(ok, (fair - close) / close, np.nan)
        plan = QuotePlan(
            fair=fair,
            half_spread_bps=half,
            size=size,
            skew=float(self.skew),
            max_inventory=float(self.max_inventory),
            adverse_selection_bps=float(self.adverse_selection_bps),
            min_half_spread_bps=float(self.min_half_spread_bps),
            short_inventory=bool(self.short_inventory),
        )
        quoted = ok.any(axis=0)
        diagnostics = {
            "assets_quoted": int(quoted.sum()),
            "median_half_spread_bps": float(np.nanmedian(half)) if ok.any() else None,
            "half_spread_at_floor": float(np.mean(half[ok] <= self.min_half_spread_bps))
            if ok.any()
            else None,
        }
        notes = (
            f"quotes around an EMA of the close over {self.fair_window} bars, half-spread "
            f"max({self.min_half_spread_bps:g} bps, {self.spread_vol_mult:g} x the mean bar "
            f"range over {self.vol_window} bars), {self.quote_size:g} of equity a side, "
            f"inventory cap {self.max_inventory:g} of equity, skew {self.skew:g}",
        )
        return TemplateOutput(
            kind="quotes", signal=signal, quotes=plan, diagnostics=diagnostics, notes=notes
        )
