"""Rounding orders to a venue's price and size precision, and minimum checks.

Rules, applied before an order leaves the system:

* prices round to the price tick in the trader's favour, never against it:
  a buy's limit rounds *down* (never pay more than asked), a sell's limit
  rounds *up* (never sell for less); stop prices follow the same rule;
* amounts round *down* to the size step (never trade more than asked, never
  spend cash that is not there);
* after rounding, the amount must be at least the minimum amount and
  ``amount * price`` at least the minimum notional (cost), else
  :class:`~alphaloop.execution.brokers.errors.OrderSizeError` says which
  limit, the value and the threshold.

Arithmetic is in :class:`decimal.Decimal` built from the float's shortest
repr, and a value within 1e-9 steps of a grid point counts as on it, so
float noise (``0.1 + 0.2``) never moves a price across a tick.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from alphaloop.execution.brokers.errors import BrokerError, OrderSizeError
from alphaloop.execution.orders import OrderSide

if TYPE_CHECKING:
    from alphaloop.data.assets import Instrument

__all__ = ["MarketRules", "RoundedOrder"]

# ccxt's precision modes (ccxt.DECIMAL_PLACES, ccxt.SIGNIFICANT_DIGITS, ccxt.TICK_SIZE)
_DECIMAL_PLACES, _SIGNIFICANT_DIGITS, _TICK_SIZE = 2, 3, 4


def _dec(value: float | str | Decimal | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise BrokerError(f"not a finite number: {value}")
    return Decimal(repr(value) if isinstance(value, float) else str(value))


# a value this close to a grid point (in steps) is on it: float noise, not intent
_SNAP = Decimal("1e-9")


def _to_multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    steps = value / step
    nearest = steps.to_integral_value()
    if abs(steps - nearest) <= _SNAP:
        return nearest * step
    return steps.to_integral_value(rounding=rounding) * step


@dataclass(frozen=True, slots=True)
class RoundedOrder:
    """An order's amount and prices after rounding (floats, in venue units)."""

    amount: float
    price: float | None
    stop_price: float | None
    notional: float | None


@dataclass(frozen=True, slots=True)
class MarketRules:
    """A market's precision and minimums.

    Parameters
    ----------
    symbol : str
    price_tick : Decimal, optional
        Prices are multiples of it (None = any price).
    amount_step : Decimal, optional
        Amounts are multiples of it (None = any amount).
    min_amount : Decimal, optional
        Smallest amount, in base units (shares, coins).
    min_notional : Decimal, optional
        Smallest ``amount * price``, in the quote currency.
    """

    symbol: str
    price_tick: Decimal | None = None
    amount_step: Decimal | None = None
    min_amount: Decimal | None = None
    min_notional: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("price_tick", "amount_step"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise BrokerError(f"{self.symbol}: {name} must be positive, got {value}")

    @classmethod
    def from_ccxt(cls, market: Mapping[str, Any], precision_mode: int) -> MarketRules:
        """Rules from a ccxt market structure (``exchange.markets[symbol]``).

        ``precision_mode`` is the exchange's ``precisionMode``: with TICK_SIZE
        the precision values are the tick and step themselves, with
        DECIMAL_PLACES they are numbers of decimals.
        """
        symbol = str(market.get("symbol"))
        precision = market.get("precision") or {}
        limits = market.get("limits") or {}

        def step(key: str) -> Decimal | None:
            raw = precision.get(key)
            if raw is None:
                return None
            if precision_mode == _TICK_SIZE:
                return _dec(raw)
            if precision_mode == _DECIMAL_PLACES:
                return Decimal(1).scaleb(-int(raw))
            raise BrokerError(
                f"{symbol}: precision mode {precision_mode} (significant digits) is not supported"
            )

        def minimum(key: str) -> Decimal | None:
            value = (limits.get(key) or {}).get("min")
            return None if value in (None, 0) else _dec(value)

        return cls(
            symbol=symbol,
            price_tick=step("price"),
            amount_step=step("amount"),
            min_amount=minimum("amount"),
            min_notional=minimum("cost"),
        )

    def with_instrument(self, instrument: Instrument) -> MarketRules:
        """These rules with the stored instrument's metadata where it sets a value.

        ``tick_size`` replaces the price tick, the instrument's lot (its
        ``lot_size``, or 1 for a future) the size step, and ``min_notional``
        (in currency, ``amount * price * multiplier``) the minimum notional,
        divided by the multiplier because the check here multiplies amount
        and price only. Values the instrument leaves unset keep the venue's.
        """
        lot = instrument.unit_lot
        tick = self.price_tick if instrument.tick_size is None else _dec(instrument.tick_size)
        min_notional = self.min_notional
        if instrument.min_notional is not None:
            min_notional = _dec(instrument.min_notional) / _dec(instrument.multiplier)  # type: ignore[operator]
        return replace(
            self,
            price_tick=tick,
            amount_step=self.amount_step if lot is None else _dec(lot),
            min_notional=min_notional,
        )

    # ------------------------------------------------------------ rounding
    def round_price(self, price: float, side: OrderSide) -> float:
        """``price`` on the tick grid: down for buys, up for sells."""
        value = _dec(price)
        assert value is not None
        if value <= 0:
            raise OrderSizeError(f"{self.symbol}: price must be positive, got {price}")
        if self.price_tick is None:
            return float(value)
        rounding = ROUND_FLOOR if side is OrderSide.BUY else ROUND_CEILING
        rounded = _to_multiple(value, self.price_tick, rounding)
        if rounded <= 0:
            raise OrderSizeError(
                f"{self.symbol}: price {price} rounds to 0 at tick {self.price_tick}"
            )
        return float(rounded)

    def round_amount(self, amount: float) -> float:
        """``amount`` rounded down to the size step (0 when below one step)."""
        value = _dec(amount)
        assert value is not None
        if value <= 0:
            raise OrderSizeError(f"{self.symbol}: amount must be positive, got {amount}")
        if self.amount_step is None:
            return float(value)
        return float(_to_multiple(value, self.amount_step, ROUND_FLOOR))

    def prepare(
        self,
        side: OrderSide,
        amount: float,
        *,
        price: float | None = None,
        stop_price: float | None = None,
        reference_price: float | None = None,
    ) -> RoundedOrder:
        """Round an order and check the minimums (see the module rules).

        ``reference_price`` values a market order for the notional check (the
        last traded price); without it and without a limit price the notional
        check cannot run and :class:`OrderSizeError` is raised when the market
        has a minimum notional.
        """
        rounded_amount = self.round_amount(amount)
        rounded_price = None if price is None else self.round_price(price, side)
        rounded_stop = None if stop_price is None else self.round_price(stop_price, side)
        if rounded_amount <= 0:
            raise OrderSizeError(
                f"{self.symbol}: amount {amount:g} rounds to 0 at step {self.amount_step}",
                hint="trade at least one size step",
            )
        if self.min_amount is not None and _dec(rounded_amount) < self.min_amount:  # type: ignore[operator]
            raise OrderSizeError(
                f"{self.symbol}: amount {rounded_amount:g} is below the minimum "
                f"amount {self.min_amount}"
            )
        value_price = rounded_price if rounded_price is not None else reference_price
        notional = None
        if value_price is not None:
            notional_dec = _dec(rounded_amount) * _dec(value_price)  # type: ignore[operator]
            notional = float(notional_dec)
            if self.min_notional is not None and notional_dec < self.min_notional:
                raise OrderSizeError(
                    f"{self.symbol}: order notional {notional:g} ({rounded_amount:g} x "
                    f"{value_price:g}) is below the minimum notional {self.min_notional}",
                    hint="increase the amount; the venue would reject it",
                )
        elif self.min_notional is not None:
            raise OrderSizeError(
                f"{self.symbol}: a market order needs a reference price to check the "
                f"minimum notional {self.min_notional}"
            )
        return RoundedOrder(rounded_amount, rounded_price, rounded_stop, notional)
