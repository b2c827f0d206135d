"""Compliance checks before an order is sent: restricted list, hours, liquidity, short sales.

:class:`ComplianceRules` is a frozen, typed config; :class:`ComplianceChecker`
applies it to one order at a time and returns a :class:`ComplianceRefusal`
naming the rule and its values, or None.

- ``restricted``: assets that may not be traded at all (an order that only
  reduces a held position passes; the risk engine's own restricted list
  keeps reductions open in the same way).
- ``calendar``: an exchange calendar name of ``exchange-calendars``
  (``XNYS``, ``XLON``, ...; ``24/7`` for crypto): orders are sent only while
  the exchange is open, early closes and holidays included. A time outside
  the calendar's range is refused too (nothing known, nothing sent).
- ``max_participation``: an order's quantity at most this fraction of the
  asset's recent volume (shares, as the caller's market view measures it);
  an unknown or zero recent volume is refused while a cap is set.
- ``short_sales``: ``allowed``; ``forbidden`` (no sell beyond the position
  held); ``locate`` (short only assets in ``borrowable``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alphaloop.errors import AlphaloopError

__all__ = ["ComplianceChecker", "ComplianceError", "ComplianceRefusal", "ComplianceRules",
           "ShortSales"]  # fmt: skip


class ComplianceError(AlphaloopError):
    """Compliance rules that cannot be used (an unknown calendar)."""


class ShortSales(StrEnum):
    """What short sales the rules allow."""

    ALLOWED = "allowed"
    FORBIDDEN = "forbidden"
    LOCATE = "locate"


class ComplianceRules(BaseModel):
    """The rules every order passes before it is sent (all off unless set)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    restricted: tuple[str, ...] = ()
    calendar: str | None = None
    max_participation: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    short_sales: ShortSales = ShortSales.ALLOWED
    borrowable: tuple[str, ...] = ()

    @field_validator("calendar")
    @classmethod
    def _known_calendar(cls, value: str | None) -> str | None:
        if value is not None:
            _calendar(value)
        return value


@lru_cache(maxsize=16)
def _calendar(name: str) -> Any:
    try:
        import exchange_calendars as xcals
    except ImportError:
        raise ValueError(
            "the trading-hours rule needs exchange calendars: pip install 'alphaloop[risk]'"
        ) from None
    try:
        with warnings.catch_warnings():  # the calendars' own pandas deprecation notices
            warnings.simplefilter("ignore")
            return xcals.get_calendar(name)
    except Exception:
        names = xcals.get_calendar_names()
        raise ValueError(
            f"unknown exchange calendar {name!r} (e.g. XNYS, XLON, XTKS, 24/7; {len(names)} known)"
        ) from None


@dataclass(frozen=True, slots=True)
class ComplianceRefusal:
    """An order the rules refuse: the rule, and its value and threshold where it has them."""

    order_id: int
    asset: str
    rule: str
    detail: str
    value: float = math.nan
    threshold: float = math.nan

    @property
    def message(self) -> str:
        return f"compliance: order #{self.order_id} {self.asset} refused by {self.rule}: " + \
            self.detail  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "asset": self.asset,
            "rule": self.rule,
            "detail": self.detail,
            "value": self.value,
            "threshold": self.threshold,
        }


class ComplianceChecker:
    """Applies :class:`ComplianceRules` to orders.

    Parameters
    ----------
    rules : ComplianceRules
    """

    def __init__(self, rules: ComplianceRules) -> None:
        self.rules = rules
        self._restricted = frozenset(rules.restricted)
        self._borrowable = frozenset(rules.borrowable)
        try:
            self._cal = None if rules.calendar is None else _calendar(rules.calendar)
        except ValueError as exc:
            raise ComplianceError(str(exc)) from None
        self._minute = -1
        self._closed_detail: str | None = None

    def check(
        self,
        order_id: int,
        asset: str,
        quantity: float,
        when: datetime,
        *,
        position: float = 0.0,
        recent_volume: float | None = None,
    ) -> ComplianceRefusal | None:
        """Check an order of ``quantity`` signed shares at ``when`` (timezone-aware).

        ``position``: signed shares held now; ``recent_volume``: the asset's
        recent traded volume in shares (for the participation cap).
        """
        reducing = (quantity < 0 < position and -quantity <= position) or (
            quantity > 0 > position and quantity <= -position
        )
        if asset in self._restricted and not reducing:
            return ComplianceRefusal(order_id, asset, "restricted",
                                     "the asset is on the restricted list")  # fmt: skip
        refusal = self.check_hours(order_id, asset, when)
        if refusal is not None:
            return refusal
        cap = self.rules.max_participation
        if cap is not None:
            size = abs(quantity)
            if recent_volume is None or not recent_volume > 0:
                return ComplianceRefusal(order_id, asset, "max_participation",
                                         "no recent volume is known for the asset",
                                         size, cap)  # fmt: skip
            share = size / recent_volume
            if share > cap:
                return ComplianceRefusal(
                    order_id, asset, "max_participation",
                    f"{size:g} shares are {share:.4g} of the recent volume "
                    f"{recent_volume:g}, above the cap {cap:g}", share, cap,
                )  # fmt: skip
        short = -(quantity + position) if quantity < 0 and quantity + position < 0 else 0.0
        if short > 0:
            rule = self.rules.short_sales
            if rule is ShortSales.FORBIDDEN:
                return ComplianceRefusal(
                    order_id, asset, "short_sales",
                    f"short sales are forbidden: the sale would leave {-short:g} shares "
                    f"(holding {position:g})", short, 0.0,
                )  # fmt: skip
            if rule is ShortSales.LOCATE and asset not in self._borrowable:
                return ComplianceRefusal(
                    order_id, asset, "short_sales",
                    "short sales need a locate and the asset is not on the borrowable list",
                    short, 0.0,
                )  # fmt: skip
        return None

    def check_hours(self, order_id: int, asset: str, when: datetime) -> ComplianceRefusal | None:
        """The trading-hours rule alone (None when no calendar is set or the exchange is open).

        The calendar's answer is kept for the minute it is about: orders in
        the same minute cost a dictionary lookup.
        """
        cal = self._cal
        if cal is None:
            return None
        if when.tzinfo is None:
            raise ComplianceError("compliance: the time of an order must be timezone-aware")
        minute = int(when.timestamp() // 60)
        if minute != self._minute:
            with warnings.catch_warnings():  # the calendars' own pandas deprecation notices
                warnings.simplefilter("ignore")
                self._closed_detail = self._hours(cal, minute)
            self._minute = minute
        if self._closed_detail is None:
            return None
        return ComplianceRefusal(order_id, asset, "trading_hours", self._closed_detail)

    def _hours(self, cal: Any, minute: int) -> str | None:
        """Why the exchange is closed at ``minute`` (minutes since the epoch), or None."""
        import pandas as pd

        ts = pd.Timestamp(minute * 60, unit="s", tz="UTC")
        stamp = ts.strftime("%Y-%m-%d %H:%M UTC")
        name = self.rules.calendar
        try:
            is_open = bool(cal.is_open_on_minute(ts))
        except ValueError:
            return (
                f"{stamp} is outside the range of the {name} calendar "
                f"({cal.first_session.date()} to {cal.last_session.date()})"
            )
        if is_open:
            return None
        day = pd.Timestamp(ts.date())
        if not cal.is_session(day):
            return f"{stamp}: {day.date()} is not a {name} trading day (weekend or holiday)"
        opens = cal.session_open(day)
        closes = cal.session_close(day)
        early = " (early close)" if day in cal.early_closes else ""
        return (
            f"{stamp} is outside {name} trading hours: the session of {day.date()} runs "
            f"{opens.strftime('%H:%M')} to {closes.strftime('%H:%M')} UTC{early}"
        )
