"""The live loop's configuration (``alphaloop run --config live.yaml``).

Example::

    name: crisis-drill
    data: sp500-stocks
    start: 2007-06-01
    end: 2009-06-30
    styles: [momentum, mean_reversion, breakout]
    autonomy: L3
    bus: {backend: memory}
    controller: {confirm_bars: 3}
    lifecycle: {shadow_bars: 63, review_every: 21}
    learning: {model: tiny, every: 63}

Every field is checked when the file loads; errors name the field.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BusSettings", "LearningSettings", "LifecycleSettings", "LoopConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BusSettings(_Strict):
    """Where the loop publishes its events: in process, or Redis Streams."""

    backend: Literal["memory", "redis"] = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = Field("alphaloop", min_length=1, max_length=100)
    publish_bars: bool = True
    publish_pnl: bool = Field(True, description="One pnl_tick per sleeve per bar.")


class LifecycleSettings(_Strict):
    """How the loop moves its strategies: entry gate, shadow period, reviews (bars)."""

    entry_bars: int = Field(252, ge=20, description="Bars before start the entry gate reads.")
    min_entry_sharpe: float = Field(0.0, description="Annualised Sharpe the entry gate needs.")
    shadow_bars: int = Field(63, ge=1)
    review_every: int = Field(21, ge=1)
    min_review_bars: int = Field(
        63, ge=2, description="Bars in a state before its Sharpe ratio is judged for decay."
    )


class LearningSettings(_Strict):
    """The learning manager's part: which model, how often (bars), with what policy."""

    model: str = Field(min_length=1)
    every: int = Field(63, ge=1)
    policy: dict[str, Any] = Field(default_factory=dict)


class LoopConfig(_Strict):
    """One run of the live loop over a replayed dataset (paper: no venue is reached)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    data: str = Field(min_length=1)
    start: date
    end: date | None = None
    styles: list[str] = Field(
        default_factory=lambda: ["momentum", "mean_reversion", "breakout"], min_length=1
    )
    sentiment_signal: str | None = None
    capital: float = Field(1_000_000.0, gt=0, allow_inf_nan=False)
    autonomy: Literal["L1", "L2", "L3", "L4", "L5"] = "L3"
    bus: BusSettings = BusSettings()
    controller: dict[str, Any] = Field(default_factory=dict)
    lifecycle: LifecycleSettings = LifecycleSettings()
    learning: LearningSettings | None = None

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "loop configuration") -> LoopConfig:
        """Validate a mapping; errors become one :class:`SpecError` naming each bad field."""
        from pydantic import ValidationError

        from alphaloop.errors import SpecError
        from alphaloop.specfile import describe_validation_error

        if not isinstance(data, dict):
            raise SpecError(f"{source}: a loop configuration must be a mapping of fields")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(f"{source}: {describe_validation_error(exc, cls)}") from None

    @model_validator(mode="after")
    def _span(self) -> LoopConfig:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} must be after start {self.start}")
        if len(set(self.styles)) != len(self.styles):
            raise ValueError(f"styles repeat a style: {self.styles}")
        return self
