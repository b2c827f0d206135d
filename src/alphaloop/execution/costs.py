"""Transaction costs and fill timing: one implementation for every engine.

The vectorized simulator, the event-driven engine and (later) the paper broker
all price a fill with :func:`fill_cost`, a numba function that takes the
model's parameters as a flat array (:meth:`CostModel.as_array`), so backtests
and paper trading agree by construction.

Conventions
-----------
- Amounts are in the account currency; ``bps`` are basis points (1e-4) of the
  traded notional ``|shares| * price`` at the fill's reference price.
- Spread, slippage and impact are charged as costs next to the reference
  price (the bar's open or close), not folded into the fill price, so the
  report can break them down.
- Market impact follows the square-root law: ``impact_coef * sigma *
  sqrt(|shares| / adv) * notional``, where ``sigma`` is the standard deviation
  of daily simple returns and ``adv`` the average daily volume in shares, both
  over the ``impact_window`` bars *before* the fill bar (no lookahead). When a
  dataset has no volume, impact cannot be estimated and is reported as not
  modelled.
- Short borrow is charged per bar on the value of short positions at the
  close: ``value * borrow_bps_annual * 1e-4 * days / 365``, with ``days`` the
  calendar time since the previous bar.

Presets by asset class
----------------------
:data:`COST_PRESETS` holds one model per asset class; a backtest whose spec
sets no costs takes the preset of its dataset's asset class
(:func:`cost_preset`):

- ``equities``: the :class:`CostModel` defaults (per-share commission with a
  minimum, exchange fees, spread, slippage, square-root impact from traded
  volume, short borrow).
- ``fx``: spread only (half-spread 1 bps); no commission, no exchange fees,
  no volume impact (FX volume is tick volume, not traded size), no borrow
  (financing of positions, swap or carry, is not modelled).
- ``crypto``: a taker fee of 10 bps as a percentage commission (fills at
  the open or close are market orders), no maker fee of its own (resting
  limit orders pay the taker fee unless a spec sets
  ``maker_commission_bps``: venues' maker fees and rebates differ too much
  by venue and volume tier for one figure), half-spread 2 bps, slippage
  2 bps, square-root impact only where the dataset has traded volume,
  margin borrow 500 bps a year on shorts (rates vary widely by venue and
  coin).
- ``futures``: a commission of 0.85 per contract (no minimum), exchange and
  clearing fees of 1.40 per contract (``fee_per_unit``), half a tick of
  spread per contract (``half_spread_per_unit``, set from the instruments'
  ``tick_size * multiplier``), slippage 0.5 bps, square-root impact from
  traded volume (contracts), no borrow (a short future borrows nothing;
  margin financing is not modelled).
- ``other``: the equities defaults.

Maker and taker
---------------
A fill *takes* liquidity (``taker``) unless its order was a limit order
resting on the book when the price came to it (``maker``); see
:mod:`~alphaloop.execution.matching` for the exact rule. Market orders,
auctions (rebalances, IOC/FOK orders), stops, stop-limits and trailing stops
are always takers. ``maker_commission_bps`` replaces ``commission_bps`` (the
percentage commission) on maker fills only; negative is a rebate. Left None
(the default) a maker pays ``commission_bps`` like a taker, and every result
is what it was before the field existed. The per-share commission, fees,
spread, slippage and impact are charged on maker fills as on taker fills (a
resting order does not pay the spread in reality; the bar data cannot tell
how much of it a quote earned, so the charge stays, on the conservative
side). :meth:`CostModel.as_array` carries the maker rate at position 9 and
:func:`maker_params` makes the parameter vector a maker fill is priced with.

Per-unit charges (``fee_per_unit``, ``half_spread_per_unit``) are currency
per traded unit, a contract when instrument metadata is stored; they need the
instrument's tick or pip and are resolved from stored instruments by
``alphaloop.app.assets.instrument_costs`` (futures: half a tick; FX pairs:
half a pip, 0.0001 or 0.01 for a yen quote, times the multiplier).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

__all__ = [
    "COST_CATEGORIES",
    "COST_PRESETS",
    "PRESET_FALLBACK",
    "CostModel",
    "FillTiming",
    "cost_preset",
    "describe_preset",
    "execution_lag",
    "fill_cost",
    "impact_inputs",
    "maker_params",
    "preset_name",
]

#: Order of the cost categories in every cost breakdown array.
COST_CATEGORIES: tuple[str, ...] = (
    "commission",
    "fees",
    "spread",
    "slippage",
    "impact",
    "borrow",
)

# Positions of the parameters in CostModel.as_array(); fill_cost reads the first nine,
# _MAKER_PCT is the percentage commission of maker fills (see maker_params).
_PER_SHARE, _MINIMUM, _PCT, _FEES, _SPREAD, _SLIP, _IMPACT, _FEE_UNIT, _SPREAD_UNIT = range(9)
_MAKER_PCT = 9

#: Bounds of ``maker_commission_bps``: rebates beyond 10 bps or maker fees beyond
#: 100 bps are not seen on any venue and are more likely a typo than a fee schedule.
MAKER_BPS_MIN, MAKER_BPS_MAX = -10.0, 100.0


class FillTiming(StrEnum):
    """When an order decided on bar ``t`` (after its close) is filled.

    ``next_open`` (default): at the open of bar ``t+1``. ``next_close``: at the
    close of bar ``t+1``. ``same_close``: at the close of bar ``t`` itself,
    the price the decision was computed from — optimistic, and labelled so in
    every report.
    """

    NEXT_OPEN = "next_open"
    NEXT_CLOSE = "next_close"
    SAME_CLOSE = "same_close"

    @property
    def optimistic(self) -> bool:
        """True for same-bar fills, which no real order can get."""
        return self is FillTiming.SAME_CLOSE

    @property
    def price_field(self) -> str:
        """The panel field whose value is the fill's reference price."""
        return "open" if self is FillTiming.NEXT_OPEN else "close"

    def describe(self) -> str:
        """Plain words for reports."""
        return {
            FillTiming.NEXT_OPEN: "orders decided after a bar's close fill at the next bar's open",
            FillTiming.NEXT_CLOSE: (
                "orders decided after a bar's close fill at the next bar's close"
            ),
            FillTiming.SAME_CLOSE: (
                "OPTIMISTIC: orders fill at the close of the bar whose close they were "
                "computed from, a price no real order can get"
            ),
        }[self]


def execution_lag(timing: FillTiming | str) -> int:
    """Bars between the decision bar and the fill bar (1, or 0 for ``same_close``)."""
    return 0 if FillTiming(timing) is FillTiming.SAME_CLOSE else 1


class CostModel(BaseModel):
    """Costs of trading, with defaults typical of US equities at a retail-pro broker.

    Parameters
    ----------
    commission_per_share : float, default 0.005
        Currency per share traded.
    commission_min : float, default 1.0
        Minimum commission per fill (applies when ``commission_per_share`` > 0).
    commission_bps : float, default 0.0
        Percentage commission, bps of notional (the taker fee where the venue
        has maker and taker fees).
    maker_commission_bps : float or None, default None
        Percentage commission of maker fills (a limit order that rested on the
        book, see the module docstring), bps of notional, in [-10, 100];
        negative is a rebate. None: maker fills pay ``commission_bps``.
    exchange_fee_bps : float, default 0.3
        Exchange and regulatory fees, bps of notional, both sides.
    half_spread_bps : float, default 2.0
        Half the quoted bid-ask spread, bps of notional, paid on every fill.
    slippage_bps : float, default 1.0
        Further adverse price movement, bps of notional.
    impact : {"sqrt", "none"}, default "sqrt"
        Square-root market impact from participation in average daily volume.
    impact_coef : float, default 0.5
        The square-root law's constant (empirical studies put it near 0.5-1).
    impact_window : int, default 20
        Bars of history for the average daily volume and the volatility.
    borrow_bps_annual : float, default 50.0
        Annual cost of borrowing shares sold short, bps of short value.
    fee_per_unit : float, default 0.0
        Exchange and clearing fees in currency per unit traded (per contract),
        charged with the ``fees`` category on top of ``exchange_fee_bps``.
    half_spread_per_unit : float, default 0.0
        Half the spread in currency per unit traded (half a tick times the
        multiplier for a future), charged with ``spread`` on top of
        ``half_spread_bps``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    commission_per_share: float = Field(0.005, ge=0, allow_inf_nan=False)
    commission_min: float = Field(1.0, ge=0, allow_inf_nan=False)
    commission_bps: float = Field(0.0, ge=0, allow_inf_nan=False)
    maker_commission_bps: float | None = Field(
        None, ge=MAKER_BPS_MIN, le=MAKER_BPS_MAX, allow_inf_nan=False
    )
    exchange_fee_bps: float = Field(0.3, ge=0, allow_inf_nan=False)
    half_spread_bps: float = Field(2.0, ge=0, allow_inf_nan=False)
    slippage_bps: float = Field(1.0, ge=0, allow_inf_nan=False)
    impact: Literal["sqrt", "none"] = "sqrt"
    impact_coef: float = Field(0.5, ge=0, allow_inf_nan=False)
    impact_window: int = Field(20, ge=2, le=1000)
    borrow_bps_annual: float = Field(50.0, ge=0, allow_inf_nan=False)
    fee_per_unit: float = Field(0.0, ge=0, allow_inf_nan=False)
    half_spread_per_unit: float = Field(0.0, ge=0, allow_inf_nan=False)

    @model_serializer(mode="wrap")
    def _leave_out_unset_maker(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Dump without ``maker_commission_bps`` while it is None: the field came after
        spec hashes, run records and configuration hashes were first written, and a model
        that does not set it dumps (and hashes) as it did before."""
        out = handler(self)
        if self.maker_commission_bps is None:
            out.pop("maker_commission_bps", None)
        return out

    @classmethod
    def zero(cls) -> CostModel:
        """A model with every cost off (for tests and parity runs, never a default)."""
        return cls(
            commission_per_share=0,
            commission_min=0,
            commission_bps=0,
            exchange_fee_bps=0,
            half_spread_bps=0,
            slippage_bps=0,
            impact="none",
            borrow_bps_annual=0,
        )

    @property
    def maker_bps(self) -> float:
        """The percentage commission a maker fill pays, bps (``commission_bps`` when unset)."""
        m = self.maker_commission_bps
        return self.commission_bps if m is None else m

    def as_array(self) -> np.ndarray:
        """The per-fill parameters as the float64 vector :func:`fill_cost` reads.

        Ten elements: the nine :func:`fill_cost` reads (a taker fill's), then
        the maker fills' percentage commission (:func:`maker_params`).
        """
        return np.array(
            [
                self.commission_per_share,
                self.commission_min,
                self.commission_bps * 1e-4,
                self.exchange_fee_bps * 1e-4,
                self.half_spread_bps * 1e-4,
                self.slippage_bps * 1e-4,
                self.impact_coef if self.impact == "sqrt" else 0.0,
                self.fee_per_unit,
                self.half_spread_per_unit,
                self.maker_bps * 1e-4,
            ],
            dtype=np.float64,
        )

    def maker_array(self) -> np.ndarray:
        """The parameters a maker fill is priced with (``maker_params(as_array())``)."""
        return maker_params(self.as_array())

    @property
    def borrow_rate(self) -> float:
        """Annual borrow rate as a fraction."""
        return self.borrow_bps_annual * 1e-4

    def describe(self, *, has_volume: bool = True, volume: str | None = None) -> list[str]:
        """Plain-language lines for reports.

        ``has_volume``: whether the dataset has a volume field. ``volume``:
        its kind (``traded``, ``tick``, ``none``), when known; impact is only
        modelled from traded volume.
        """
        lines = []
        if self.commission_per_share > 0:
            lines.append(
                f"commission {self.commission_per_share:g} per share, minimum "
                f"{self.commission_min:g} per fill, plus {self.commission_bps:g} bps "
                "(per-share amounts apply to the dataset's prices: on split-adjusted "
                "history they overstate early costs)"
            )
        elif self.commission_bps > 0:
            lines.append(f"commission (trading fee) {self.commission_bps:g} bps of notional")
        else:
            lines.append("no commission")
        if self.maker_commission_bps is not None:
            m = self.maker_commission_bps
            what = f"a rebate of {-m:g} bps" if m < 0 else f"{m:g} bps"
            lines.append(
                f"maker fills (limit orders that rested on the book) pay {what} instead of "
                f"the {self.commission_bps:g} bps percentage commission"
            )
        if self.exchange_fee_bps > 0:
            lines.append(f"exchange and regulatory fees {self.exchange_fee_bps:g} bps")
        if self.fee_per_unit > 0:
            lines.append(f"exchange and clearing fees {self.fee_per_unit:g} per unit (contract)")
        lines.append(
            f"half-spread {self.half_spread_bps:g} bps and slippage {self.slippage_bps:g} bps "
            "on every fill"
        )
        if self.half_spread_per_unit > 0:
            lines.append(f"half-spread {self.half_spread_per_unit:g} per unit (contract) traded")
        if self.impact == "none":
            lines.append("market impact not modelled (impact: none)")
        elif volume == "tick":
            lines.append(
                "market impact NOT modelled: the dataset's volume is tick volume (a count of "
                "price updates), not traded size"
            )
        elif has_volume and volume in (None, "traded"):
            lines.append(
                f"square-root market impact {self.impact_coef:g} x daily volatility x "
                f"sqrt(shares / average daily volume), both over the previous "
                f"{self.impact_window} bars"
            )
        else:
            lines.append("market impact NOT modelled: the dataset has no volume")
        lines.append(f"short borrow {self.borrow_bps_annual:g} bps a year on short value")
        return lines


#: One cost model per asset class (see the module docstring).
COST_PRESETS: dict[str, CostModel] = {
    "equities": CostModel(),
    "fx": CostModel(
        commission_per_share=0,
        commission_min=0,
        commission_bps=0,
        exchange_fee_bps=0,
        half_spread_bps=1.0,
        slippage_bps=0,
        impact="none",
        borrow_bps_annual=0,
    ),
    "crypto": CostModel(
        commission_per_share=0,
        commission_min=0,
        commission_bps=10.0,
        exchange_fee_bps=0,
        half_spread_bps=2.0,
        slippage_bps=2.0,
        impact="sqrt",
        borrow_bps_annual=500.0,
    ),
    "futures": CostModel(
        commission_per_share=0.85,
        commission_min=0,
        commission_bps=0,
        exchange_fee_bps=0,
        fee_per_unit=1.40,
        half_spread_bps=0,
        slippage_bps=0.5,
        impact="sqrt",
        borrow_bps_annual=0,
    ),
}

_PRESET_SUMMARY = {
    "equities": (
        "equity defaults: {commission_per_share:g} per share (minimum {commission_min:g}), "
        "fees {exchange_fee_bps:g} bps, half-spread {half_spread_bps:g} bps, slippage "
        "{slippage_bps:g} bps, square-root impact from traded volume, borrow "
        "{borrow_bps_annual:g} bps a year"
    ),
    "fx": (
        "spread only: half-spread {half_spread_bps:g} bps, no commission, no volume impact "
        "(FX volume is tick volume), financing (swap) not modelled"
    ),
    "crypto": (
        "taker fee {commission_bps:g} bps, half-spread {half_spread_bps:g} bps, slippage "
        "{slippage_bps:g} bps, impact only from traded volume, borrow "
        "{borrow_bps_annual:g} bps a year"
    ),
    "futures": (
        "{commission_per_share:g} commission and {fee_per_unit:g} exchange fees per contract, "
        "half a tick of spread per contract ({half_spread_per_unit:g}), slippage "
        "{slippage_bps:g} bps, impact only from traded volume, no borrow"
    ),
}


#: asset classes without a preset of their own, and the preset they take: ``other``
#: (e.g. a commodity spot price) and ``mixed`` (a combined dataset of several classes)
#: are charged the equities defaults; a spec that knows better sets ``costs:``
PRESET_FALLBACK: dict[str, str] = {"other": "equities", "mixed": "equities", "future": "futures"}


def cost_preset(asset_class: str) -> CostModel:
    """The cost model of an asset class (:data:`PRESET_FALLBACK` for ``other`` and ``mixed``).

    Raises
    ------
    ValueError
        For a name that is neither a preset nor in :data:`PRESET_FALLBACK`.
    """
    key = str(asset_class).strip().lower()
    key = PRESET_FALLBACK.get(key, key)
    if key not in COST_PRESETS:
        raise ValueError(
            f"{asset_class!r} is not a cost preset; use one of {', '.join(COST_PRESETS)}"
        )
    return COST_PRESETS[key]


def preset_name(costs: CostModel) -> str | None:
    """The preset ``costs`` equals, or None for a custom model."""
    return next((name for name, model in COST_PRESETS.items() if model == costs), None)


def describe_preset(name: str) -> str:
    """``crypto preset (taker fee 10 bps, ...)``: one line naming a preset and its numbers."""
    model = cost_preset(name)
    return f"{name} preset ({_PRESET_SUMMARY[name].format(**model.model_dump())})"


@njit(cache=True, nogil=True)
def maker_params(params: np.ndarray) -> np.ndarray:
    """A copy of :meth:`CostModel.as_array`'s vector with the maker commission in the
    percentage-commission slot: :func:`fill_cost` with it prices a maker fill.

    Equal to ``params`` element for element when the model has no maker fee of its own.
    """
    out = params.copy()
    out[_PCT] = params[_MAKER_PCT]
    return out


@njit(cache=True, nogil=True)
def fill_cost(
    params: np.ndarray, shares: float, price: float, adv: float, sigma: float, out: np.ndarray
) -> float:
    """Cost of one fill, by category, written into ``out[:5]``; returns the total.

    Parameters
    ----------
    params : ndarray
        :meth:`CostModel.as_array` (a taker fill) or :func:`maker_params` of it
        (a maker fill); only the first nine elements are read.
    shares : float
        Signed or unsigned quantity; only its magnitude matters.
    price : float
        Reference fill price.
    adv, sigma : float
        Average daily volume (shares) and daily return volatility before the
        fill bar; NaN or non-positive ``adv`` means no impact is charged.
    out : ndarray
        At least 5 elements: commission, fees, spread, slippage, impact.
    """
    q = abs(shares)
    if q == 0.0:
        for k in range(5):
            out[k] = 0.0
        return 0.0
    notional = q * price
    commission = params[_PER_SHARE] * q
    if params[_PER_SHARE] > 0.0 and commission < params[_MINIMUM]:
        commission = params[_MINIMUM]
    commission += params[_PCT] * notional
    fees = params[_FEES] * notional + params[_FEE_UNIT] * q
    spread = params[_SPREAD] * notional + params[_SPREAD_UNIT] * q
    slippage = params[_SLIP] * notional
    impact = 0.0
    if params[_IMPACT] > 0.0 and adv > 0.0 and sigma > 0.0:
        impact = params[_IMPACT] * sigma * np.sqrt(q / adv) * notional
    out[0] = commission
    out[1] = fees
    out[2] = spread
    out[3] = slippage
    out[4] = impact
    return commission + fees + spread + slippage + impact


def impact_inputs(
    close: np.ndarray, volume: np.ndarray | None, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Average daily volume and return volatility known before each bar.

    Parameters
    ----------
    close : ndarray, shape (time, asset)
    volume : ndarray or None
        Shares per bar; ``None`` gives all-NaN outputs (no impact).
    window : int
        Bars of history.

    Returns
    -------
    adv, sigma : ndarray, shape (time, asset)
        Row ``r`` uses bars ``r-window .. r-1`` only (mean of volume; sample
        standard deviation of simple returns); NaN until enough history.
    """
    t, n = close.shape
    adv = np.full((t, n), np.nan)
    sigma = np.full((t, n), np.nan)
    if volume is None or t <= window:
        return adv, sigma
    vol = _rolling_mean(np.asarray(volume, dtype=np.float64), window)
    adv[window:] = vol[window - 1 : -1]
    prev = np.asarray(close, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rets = np.full((t, n), np.nan)
        rets[1:] = prev[1:] / prev[:-1] - 1.0
    sd = _rolling_std(rets, window)
    sigma[window:] = sd[window - 1 : -1]
    return adv, sigma


def _rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over ``window`` rows (row ``r`` covers ``r-window+1 .. r``), NaN if any NaN."""
    c = np.cumsum(np.nan_to_num(x), axis=0)
    bad = np.cumsum(~np.isfinite(x), axis=0)
    out = np.full_like(x, np.nan)
    out[window - 1] = c[window - 1]
    out[window:] = c[window:] - c[:-window]
    nbad = bad.copy()
    nbad[window:] = bad[window:] - bad[:-window]
    out[window - 1 :] /= window
    out[nbad > 0] = np.nan
    out[: window - 1] = np.nan
    return out


def _rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing sample standard deviation over ``window`` rows, NaN if any NaN."""
    mean = _rolling_mean(x, window)
    mean_sq = _rolling_mean(x * x, window)
    var = (mean_sq - mean * mean) * window / (window - 1)
    return np.sqrt(np.clip(var, 0.0, None))
