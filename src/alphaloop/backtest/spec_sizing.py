"""StrategySpec parts that size the book and gate it by market regime.

``sizing:`` turns the portfolio rule's (or template's) target weights into
sized positions; ``regime:`` scales or gates the sized book by the causal
regime of the market. Both act on decision bars with data up to that bar's
close; the engines trade from the next bar (:mod:`alphaloop.backtest.sizing_steps`).
A spec without them behaves, and hashes, as before they existed.

Sizing methods (``method``):

``vol_target``
    Scale the whole book so that its ex-ante annualized volatility (today's
    book on the assets' trailing ``lookback`` returns) is ``target``; the
    multiplier is at most ``max_scale``.
``kelly``
    Scale the whole book by the fractional Kelly leverage of its own
    trailing ``lookback`` returns (today's book on those returns), the mean
    first shrunk by ``z`` standard errors (``haircut: standard_error``);
    a book whose edge is not above its noise is flat. Never above
    ``limits.max_leverage``.
``fixed_fractional``
    Each held position gets the weight that loses ``risk_per_trade`` of
    equity when the price moves ``stop`` against it: ``risk_per_trade / stop``
    (``stop`` defaults to ``stops.stop_loss``).
``atr``
    Each held position gets ``risk_per_trade * close / (atr_multiple * ATR)``:
    a move of ``atr_multiple`` average true ranges (Wilder, ``window`` bars,
    the decision bar included) loses ``risk_per_trade`` of equity. Needs
    ``high`` and ``low``.
``risk_parity``
    The held assets' gross (per side) re-spread so that each contributes the
    same share of risk on the trailing ``lookback`` returns: equal risk
    contribution (``erc``) or inverse volatility.

Every method then respects ``limits.max_weight`` per asset and
``limits.max_leverage`` on the gross (scaled down as a whole).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DETECTORS",
    "SIZING_METHODS",
    "AtrSizing",
    "FixedFractionalSizing",
    "KellySizing",
    "RegimeRule",
    "RiskParitySizing",
    "Sizing",
    "VolTargetSizing",
    "check_sizing_fields",
    "regime_names",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VolTargetSizing(_Frozen):
    """Scale the book to an annualized volatility ``target`` (0.10 = 10 % a year)."""

    method: Literal["vol_target"]
    target: float = Field(0.10, gt=0, le=2.0)
    lookback: int = Field(63, ge=5, le=5000)
    max_scale: float = Field(2.0, gt=0, le=10.0)

    def warmup(self) -> int:
        """Bars of history the sizing reads before a decision."""
        return self.lookback

    def describe(self) -> str:
        return f"vol target {self.target:.0%} ({self.lookback} bars, scale <= {self.max_scale:g})"


class KellySizing(_Frozen):
    """Scale the book by ``fraction`` of its haircut Kelly leverage over ``lookback`` bars."""

    method: Literal["kelly"]
    fraction: float = Field(0.5, gt=0, le=1)
    lookback: int = Field(252, ge=20, le=5000)
    haircut: Literal["standard_error", "none"] = "standard_error"
    z: float = Field(1.0, ge=0, le=10)

    def warmup(self) -> int:
        """Bars of history the sizing reads before a decision."""
        return self.lookback

    def describe(self) -> str:
        cut = f", mean less {self.z:g} s.e." if self.haircut == "standard_error" else ""
        return f"{self.fraction:g} Kelly over {self.lookback} bars{cut}"


class FixedFractionalSizing(_Frozen):
    """Each position risks ``risk_per_trade`` of equity to a stop ``stop`` (a fraction) away."""

    method: Literal["fixed_fractional"]
    risk_per_trade: float = Field(0.01, gt=0, le=1)
    stop: float | None = Field(None, gt=0, lt=1)

    def warmup(self) -> int:
        """Bars of history the sizing reads before a decision."""
        return 0

    def describe(self) -> str:
        stop = f"{self.stop:.1%}" if self.stop is not None else "stops.stop_loss"
        return f"fixed fractional: {self.risk_per_trade:.2%} of equity to a stop {stop} away"


class AtrSizing(_Frozen):
    """Each position risks ``risk_per_trade`` of equity on ``atr_multiple`` ATRs of ``window``."""

    method: Literal["atr"]
    risk_per_trade: float = Field(0.01, gt=0, le=1)
    window: int = Field(14, ge=2, le=1000)
    atr_multiple: float = Field(2.0, gt=0, le=100)

    def warmup(self) -> int:
        """Bars of history the sizing reads before a decision."""
        # Wilder's average forgets its start to 1e-9 after about 21 windows
        return 21 * self.window

    def describe(self) -> str:
        return (
            f"ATR sizing: {self.risk_per_trade:.2%} of equity per {self.atr_multiple:g} "
            f"ATR({self.window})"
        )


class RiskParitySizing(_Frozen):
    """Spread the held assets' gross by equal risk contribution over ``lookback`` bars."""

    method: Literal["risk_parity"]
    lookback: int = Field(63, ge=10, le=5000)
    kind: Literal["erc", "inverse_volatility"] = "erc"

    def warmup(self) -> int:
        """Bars of history the sizing reads before a decision."""
        return self.lookback

    def describe(self) -> str:
        return f"risk parity ({self.kind}, {self.lookback} bars)"


Sizing = Annotated[
    VolTargetSizing | KellySizing | FixedFractionalSizing | AtrSizing | RiskParitySizing,
    Field(discriminator="method"),
]
"""One of the sizing methods, told apart by ``method``."""

SIZING_METHODS: dict[str, type[BaseModel]] = {
    "vol_target": VolTargetSizing,
    "kelly": KellySizing,
    "fixed_fractional": FixedFractionalSizing,
    "atr": AtrSizing,
    "risk_parity": RiskParitySizing,
}
"""Sizing method name -> its model."""


def check_sizing_fields(value: object) -> object:
    """A sizing mapping's method and field names checked before validation, with a sentence
    naming what is allowed (the tagged union alone says little)."""
    if not isinstance(value, dict):
        return value
    method = value.get("method")
    if method not in SIZING_METHODS:
        raise ValueError(f"sizing needs method, one of {', '.join(SIZING_METHODS)}; got {method!r}")
    known = SIZING_METHODS[method].model_fields
    unknown = sorted(k for k in value if k not in known)
    if unknown:
        raise ValueError(
            f"sizing method {method} has no field {', '.join(map(str, unknown))}; its fields: "
            f"{', '.join(k for k in known if k != 'method')}"
        )
    return value


DETECTORS: tuple[str, ...] = ("volatility", "trend", "hmm", "markov")
"""The regime detectors a spec can name."""


def regime_names(detector: str, n_regimes: int = 2) -> tuple[str, ...]:
    """The names of a detector's regimes, in label order (0 first)."""
    if detector == "trend":
        return ("down", "flat", "up")
    if n_regimes == 2:
        return ("calm", "turbulent")
    if n_regimes == 3:
        return ("calm", "normal", "turbulent")
    return tuple(f"vol-{k}" for k in range(n_regimes))


class RegimeRule(_Frozen):
    """Gate or scale the book by the market's causal regime.

    The market is the equal-weight mean of the universe's close-to-close
    returns. Its regime at bar t is filtered (data up to t only,
    :mod:`alphaloop.risk.regimes`); the book decided at t is multiplied by
    the regime's multiplier, and a change of multiplier between decisions is
    a decision of its own (the book is re-targeted at that bar's close). Both
    fill from the next bar.

    Parameters
    ----------
    detector : {"volatility", "trend", "hmm", "markov"}
        Trailing volatility against its expanding quantiles (``window``,
        ``n_regimes``, ``min_history``); the ``fast``/``slow`` moving-average
        gap of the market's growth index (regimes down, flat within ``band``,
        up); a Gaussian
        HMM or Markov switching model fitted walk-forward (``n_regimes``,
        ``min_history`` training bars, refit yearly) and forward-filtered.
    allow : list of str, optional
        Regimes in which the book is held (multiplier 1); the others are
        flat (multiplier 0).
    scale : mapping of str to float, optional
        A multiplier per regime (regimes not named keep 1). Give ``allow``
        or ``scale``, not both.
    warmup_scale : float, default 1.0
        The multiplier while the detector has no label yet.
    """

    detector: Literal["volatility", "trend", "hmm", "markov"] = "volatility"
    allow: list[str] | None = Field(None, min_length=1, max_length=10)
    scale: dict[str, float] | None = None
    warmup_scale: float = Field(1.0, ge=0, le=10)
    n_regimes: int = Field(2, ge=2, le=5)
    window: int = Field(21, ge=2, le=1000)
    min_history: int | None = Field(None, ge=20, le=100_000)
    fast: int = Field(50, ge=1, le=1000)
    slow: int = Field(200, ge=2, le=5000)
    band: float = Field(0.0, ge=0, le=0.5)

    @model_validator(mode="after")
    def _names(self) -> RegimeRule:
        if (self.allow is None) == (self.scale is None):
            raise ValueError(
                "a regime rule needs exactly one of allow (regimes to hold) or scale "
                "(a multiplier per regime)"
            )
        names = self.names
        given = list(self.allow or ()) + list(self.scale or {})
        unknown = sorted({g for g in given if g not in names})
        if unknown:
            raise ValueError(
                f"regime(s) {', '.join(unknown)} are not regimes of detector {self.detector}; "
                f"its regimes: {', '.join(names)}"
            )
        for name, value in (self.scale or {}).items():
            if not 0 <= value <= 10:
                raise ValueError(f"scale of regime {name} is {value}; expected 0 to 10")
        if self.detector == "trend" and self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be shorter than slow ({self.slow})")
        return self

    @property
    def names(self) -> tuple[str, ...]:
        """The detector's regime names, label 0 first."""
        return regime_names(self.detector, self.n_regimes)

    def multipliers(self) -> tuple[float, ...]:
        """The multiplier of each regime, label 0 first."""
        if self.allow is not None:
            return tuple(1.0 if n in self.allow else 0.0 for n in self.names)
        assert self.scale is not None
        return tuple(float(self.scale.get(n, 1.0)) for n in self.names)

    def warmup(self) -> int:
        """Bars of history before the labels stop depending on where the data starts
        (the hidden-state detectors refit from the first bar: their labels always do)."""
        if self.detector == "trend":
            return self.slow
        if self.detector == "volatility":
            return self.window + (self.min_history or 504)
        return self.min_history or 504

    def describe(self) -> str:
        """One line: ``volatility regime: hold in calm`` or ``trend regime: scale down 0, ...``."""
        if self.allow is not None:
            return f"{self.detector} regime: hold in {', '.join(self.allow)} only"
        pairs = ", ".join(f"{n} {m:g}" for n, m in zip(self.names, self.multipliers(), strict=True))
        return f"{self.detector} regime: scale {pairs}"
