"""The limits a :class:`~alphaloop.execution.risk_engine.RiskEngine` enforces.

Every limit is off (``None``) unless set. Conventions: weights, leverage,
losses and collars are fractions (``0.05`` = 5%); exposures and weights are
taken against the account's equity; notionals are in the account currency;
``rate_window`` is in the unit of the ``now`` the caller passes to the engine
(seconds for a live feed, bars for a backtest).

A contradictory set (``max_weight`` above ``max_gross``, ``max_net`` above
``max_gross``, a group cap on a group no asset belongs to, ...) is refused
with a :class:`~alphaloop.errors.SpecError` that names the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alphaloop.errors import SpecError

__all__ = ["RiskLimits", "risk_limits"]

_Pos = Field(None, gt=0, allow_inf_nan=False)
_Frac = Field(None, gt=0, le=1, allow_inf_nan=False)


class RiskLimits(BaseModel):
    """Pre-trade limits, portfolio limits and circuit breakers.

    Per order
        ``max_order_notional`` (currency), ``max_weight`` (one asset's
        absolute position after the order, fraction of equity),
        ``price_collar`` (a limit or stop price at most this fraction away
        from the last price), ``lot_size`` (quantities in multiples of it),
        ``min_notional`` (currency; orders that only reduce a position are
        exempt), ``restricted`` (assets that may only be reduced).
    Portfolio
        ``max_gross`` and ``max_net`` (``sum |exposure|`` and ``|sum
        exposure|`` over equity), ``max_concentration`` (one asset's share of
        gross exposure, checked once gross is at least
        ``concentration_from`` of equity), ``group_caps`` (gross exposure of
        a group over equity, groups from ``groups``: asset -> group).
    Circuit breakers
        ``max_daily_loss`` (loss since the start of the day over that day's
        opening equity) and ``max_drawdown`` (from the equity peak) halt
        trading; ``max_orders`` per ``rate_window`` refuses orders above the
        rate; ``max_consecutive_rejects`` refusals or venue rejects in a row
        halt trading.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_order_notional: float | None = _Pos
    max_weight: float | None = Field(None, gt=0, le=10, allow_inf_nan=False)
    price_collar: float | None = _Frac
    lot_size: float | None = _Pos
    min_notional: float | None = _Pos
    restricted: tuple[str, ...] = ()
    max_gross: float | None = Field(None, gt=0, le=10, allow_inf_nan=False)
    max_net: float | None = Field(None, ge=0, le=10, allow_inf_nan=False)
    max_concentration: float | None = _Frac
    concentration_from: float = Field(0.5, ge=0, le=10, allow_inf_nan=False)
    groups: dict[str, str] = Field(default_factory=dict)
    group_caps: dict[str, float] = Field(default_factory=dict)
    max_daily_loss: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)
    max_drawdown: float | None = Field(None, gt=0, lt=1, allow_inf_nan=False)
    max_orders: int | None = Field(None, ge=1)
    rate_window: float = Field(1.0, gt=0, allow_inf_nan=False)
    max_consecutive_rejects: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> RiskLimits:
        gross = self.max_gross
        if gross is not None:
            if self.max_weight is not None and self.max_weight > gross:
                raise ValueError(
                    f"max_weight {self.max_weight} exceeds max_gross {gross}: "
                    "one position could never reach it"
                )
            if self.max_net is not None and self.max_net > gross:
                raise ValueError(f"max_net {self.max_net} exceeds max_gross {gross}")
        for group, cap in self.group_caps.items():
            if not (cap > 0):
                raise ValueError(f"group_caps[{group!r}] must be > 0, got {cap}")
            if group not in self.groups.values():
                raise ValueError(f"group_caps[{group!r}]: no asset in groups belongs to it")
            if gross is not None and cap > gross:
                raise ValueError(f"group_caps[{group!r}] {cap} exceeds max_gross {gross}")
        return self

    @property
    def active(self) -> bool:
        """Whether any limit is set."""
        return self != RiskLimits()


def risk_limits(data: RiskLimits | dict[str, Any] | None, where: str = "risk limits") -> RiskLimits:
    """Validate ``data`` into :class:`RiskLimits`; a SpecError names the bad field."""
    if data is None:
        return RiskLimits()
    if isinstance(data, RiskLimits):
        return data
    try:
        return RiskLimits.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(limits)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise SpecError(f"{where}: {field}: {msg}") from None
