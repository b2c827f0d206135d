"""The trading policy: risk mode, allowed and blocked names, and what each mode allows.

A :class:`Policy` is a frozen value: the current :class:`RiskMode`
(``aggressive``, ``normal``, ``defensive``), the symbols and strategies
that are blocked (they may only reduce positions) or, when an allow list is
set, the only ones that may open positions, and per mode a
:class:`ModeSettings`: the mode's risk limits (applied on top of an
engine's own limits, the tighter of each wins, see :func:`tighter`) and the
lifecycle thresholds (:class:`LifecycleThresholds`: shadow period,
tracking tolerance, DSR, demotion and retirement triggers).

The policy is stored as an append-only history in the workspace database
(:class:`~alphaloop.execution.policy_store.PolicyStore`); a
:class:`~alphaloop.execution.risk_engine.RiskEngine` given a
:class:`PolicySource` re-reads it when its version changes and applies the
current mode's limits and the blocked names at the next check. This module
holds no database code, so the risk engine imports it for free.

Conventions: limits as in :class:`~alphaloop.execution.risk_limits.RiskLimits`
(fractions of equity, currency); ``version`` is the id of the change that
made the policy (0: the default, never changed).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alphaloop.errors import AlphaloopError
from alphaloop.execution.risk_limits import RiskLimits

__all__ = [
    "LifecycleThresholds",
    "ModeSettings",
    "Policy",
    "PolicyError",
    "PolicySource",
    "RiskMode",
    "default_modes",
    "risk_mode",
    "tighter",
]


class PolicyError(AlphaloopError):
    """A policy change or setting that is not allowed (unknown mode, bad limit, no reason)."""


class RiskMode(StrEnum):
    """How much risk the whole system takes; set by people or the meta controller."""

    AGGRESSIVE = "aggressive"
    NORMAL = "normal"
    DEFENSIVE = "defensive"


def risk_mode(value: RiskMode | str) -> RiskMode:
    """``aggressive`` / ``normal`` / ``defensive`` (any case) as a :class:`RiskMode`."""
    if isinstance(value, RiskMode):
        return value
    try:
        return RiskMode(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(m.value for m in RiskMode)
        raise PolicyError(f"unknown risk mode {value!r}", hint=f"allowed: {allowed}") from None


class LifecycleThresholds(BaseModel):
    """What the strategy lifecycle demands in one risk mode.

    Promotion to live
        ``min_shadow_bars`` bars of shadow (paper) trading recorded;
        ``max_tracking_difference``: the largest absolute daily tracking
        difference (paper minus backtest simple return) allowed;
        ``min_dsr``: deflated Sharpe ratio with the dataset's trial count at
        the time of promotion.
    Demotion (live -> shadow) and retirement
        ``demote_drawdown`` / ``retire_drawdown``: drawdown of the live
        (or shadow) account from its peak (fraction); ``min_sharpe_ratio``:
        live annualized Sharpe ratio over the validation's below it demotes
        (decay); ``min_ic_ratio``: the same for the rank IC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_shadow_bars: int = Field(20, ge=1)
    max_tracking_difference: float = Field(1e-4, ge=0, le=1, allow_inf_nan=False)
    min_dsr: float = Field(0.95, ge=0, le=1)
    demote_drawdown: float = Field(0.15, gt=0, lt=1)
    retire_drawdown: float = Field(0.25, gt=0, lt=1)
    min_sharpe_ratio: float = Field(0.5, ge=-10, le=10)
    min_ic_ratio: float = Field(0.5, ge=-10, le=10)

    @model_validator(mode="after")
    def _ordered(self) -> LifecycleThresholds:
        if self.demote_drawdown > self.retire_drawdown:
            raise ValueError(
                f"demote_drawdown {self.demote_drawdown} exceeds retire_drawdown "
                f"{self.retire_drawdown}: a strategy would retire before it is demoted"
            )
        return self


class ModeSettings(BaseModel):
    """The risk limits and lifecycle thresholds of one risk mode.

    ``limits`` are applied on top of an engine's own (the tighter of each
    wins); groups and group caps stay the engine's own (a mode may not set
    them).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    limits: RiskLimits = Field(default_factory=RiskLimits)
    thresholds: LifecycleThresholds = Field(default_factory=LifecycleThresholds)

    @field_validator("limits")
    @classmethod
    def _no_groups(cls, limits: RiskLimits) -> RiskLimits:
        if limits.groups or limits.group_caps:
            raise ValueError("a risk mode may not set groups or group_caps (the engine's own)")
        return limits


def default_modes() -> dict[RiskMode, ModeSettings]:
    """The shipped settings: no extra limit in aggressive and normal; defensive halves
    gross exposure, caps one asset at 10% and stops at a 2% daily loss, and its
    lifecycle promotes later and demotes sooner."""
    return {
        RiskMode.AGGRESSIVE: ModeSettings(
            thresholds=LifecycleThresholds(demote_drawdown=0.2, retire_drawdown=0.3)
        ),
        RiskMode.NORMAL: ModeSettings(),
        RiskMode.DEFENSIVE: ModeSettings(
            limits=RiskLimits(max_gross=0.5, max_weight=0.1, max_daily_loss=0.02),
            thresholds=LifecycleThresholds(
                min_shadow_bars=60, demote_drawdown=0.1, retire_drawdown=0.2,
                min_sharpe_ratio=0.7, min_ic_ratio=0.7,
            ),
        ),
    }  # fmt: skip


class Policy(BaseModel):
    """The whole policy at one version (frozen; changes make a new one).

    ``allowed_*`` empty means every name may trade; non-empty, only those
    names may open or grow positions. ``blocked_*`` names may only reduce,
    whatever the allow lists say.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: RiskMode = RiskMode.NORMAL
    allowed_symbols: tuple[str, ...] = ()
    blocked_symbols: tuple[str, ...] = ()
    allowed_strategies: tuple[str, ...] = ()
    blocked_strategies: tuple[str, ...] = ()
    modes: dict[RiskMode, ModeSettings] = Field(default_factory=default_modes)
    version: int = Field(0, ge=0)

    @field_validator("modes")
    @classmethod
    def _every_mode(cls, modes: dict[RiskMode, ModeSettings]) -> dict[RiskMode, ModeSettings]:
        missing = [m.value for m in RiskMode if m not in modes]
        if missing:
            raise ValueError(f"settings missing for mode(s) {', '.join(missing)}")
        return modes

    @property
    def settings(self) -> ModeSettings:
        """The current mode's limits and thresholds."""
        return self.modes[self.mode]

    @property
    def limits(self) -> RiskLimits:
        """The current mode's risk limits."""
        return self.modes[self.mode].limits

    @property
    def thresholds(self) -> LifecycleThresholds:
        """The current mode's lifecycle thresholds."""
        return self.modes[self.mode].thresholds

    def symbol_block(self, symbol: str) -> str | None:
        """Why ``symbol`` may not open or grow a position, or None."""
        if symbol in self.blocked_symbols:
            return f"symbol {symbol} is blocked by the policy"
        if self.allowed_symbols and symbol not in self.allowed_symbols:
            return f"symbol {symbol} is not on the policy's allow list"
        return None

    def strategy_block(self, strategy: str) -> str | None:
        """Why ``strategy`` may not open or grow positions, or None (empty id: never blocked)."""
        if not strategy:
            return None
        if strategy in self.blocked_strategies:
            return f"strategy {strategy} is blocked by the policy"
        if self.allowed_strategies and strategy not in self.allowed_strategies:
            return f"strategy {strategy} is not on the policy's allow list"
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, ``version`` included; limits without the unset ones."""
        return {
            "version": self.version,
            "mode": self.mode.value,
            "allowed_symbols": list(self.allowed_symbols),
            "blocked_symbols": list(self.blocked_symbols),
            "allowed_strategies": list(self.allowed_strategies),
            "blocked_strategies": list(self.blocked_strategies),
            "modes": {
                m.value: {
                    "limits": s.limits.model_dump(mode="json", exclude_defaults=True),
                    "thresholds": s.thresholds.model_dump(mode="json"),
                }
                for m, s in self.modes.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], version: int = 0) -> Policy:
        """The inverse of :meth:`to_dict` (``version`` from the stored row)."""
        body = {k: v for k, v in data.items() if k != "version"}
        try:
            return cls.model_validate({**body, "version": version})
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(policy)"
            msg = str(err["msg"]).removeprefix("Value error, ")
            raise PolicyError(f"policy: {field}: {msg}") from None


@runtime_checkable
class PolicySource(Protocol):
    """What a risk engine reads the policy from (cheap to call at every check)."""

    def current(self) -> Policy:
        """The current policy; its ``version`` changes whenever it does."""
        ...


_NUMERIC_MIN = (
    "max_order_notional", "max_weight", "price_collar", "max_gross", "max_net",
    "max_concentration", "max_daily_loss", "max_drawdown", "max_orders",
    "max_consecutive_rejects",
)  # fmt: skip


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def tighter(base: RiskLimits, extra: RiskLimits) -> RiskLimits:
    """The tighter of two sets of limits, field by field.

    Caps and breakers take the smaller value (an unset one yields to the
    other); ``min_notional`` the larger; ``restricted`` the union;
    ``concentration_from`` the smaller (checked earlier); ``lot_size``,
    ``rate_window``, ``groups`` and ``group_caps`` stay ``base``'s. One
    asset's weight, the net exposure and group caps are then held within the
    gross cap, so the result is always a valid set.
    """
    values: dict[str, Any] = base.model_dump()
    for name in _NUMERIC_MIN:
        values[name] = _min(getattr(base, name), getattr(extra, name))
    if extra.min_notional is not None:
        values["min_notional"] = max(base.min_notional or 0.0, extra.min_notional)
    values["restricted"] = tuple(dict.fromkeys((*base.restricted, *extra.restricted)))
    values["concentration_from"] = min(base.concentration_from, extra.concentration_from)
    gross = values["max_gross"]
    if gross is not None:
        for name in ("max_weight", "max_net"):
            if values[name] is not None:
                values[name] = min(values[name], gross)
        values["group_caps"] = {g: min(c, gross) for g, c in base.group_caps.items()}
    return RiskLimits.model_validate(values)
