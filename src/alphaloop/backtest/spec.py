"""StrategySpec: a typed, serializable description of a strategy.

Agents and people write specs, not code. A spec names a dataset, a signal (a
factor expression), how the signal becomes a portfolio, when to rebalance,
the limits, the costs and the fill timing. Its identity is the SHA-256 of
its canonical form (every field, defaults included, keys sorted; the name and
description excluded), so equal strategies have equal hashes however they
were written.

A bad file fails at load with the field, the value and what is allowed
(:class:`~alphaloop.errors.SpecError`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alphaloop.backtest.spec_sizing import RegimeRule, Sizing, check_sizing_fields
from alphaloop.errors import SpecError
from alphaloop.execution import CostModel, FillTiming, RiskLimits, cost_preset
from alphaloop.portfolio import OptimizerConfig
from alphaloop.specfile import describe_validation_error, load_spec_file
from alphaloop.strategies import TEMPLATES, TemplateField, VolatilityTarget

__all__ = [
    "Component",
    "Exits",
    "Limits",
    "PortfolioRule",
    "Rebalance",
    "Signal",
    "Stops",
    "StrategySpec",
    "library_factor",
    "load_spec",
    "quick_spec",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_MODEL_REF = r"^[a-z0-9][a-z0-9_-]*/v[1-9][0-9]*$"


def library_factor(name: str) -> str:
    """The expression of a built-in library factor (``ROC20``): Alpha158 first, then Alpha360.

    Raises
    ------
    SpecError
        No built-in library has a factor of that name (with the closest names).
    """
    from alphaloop.factors.library import BUILTIN

    for library in ("alpha158", "alpha360"):
        factors = BUILTIN[library].factors
        if name in factors:
            return factors[name]
    known = [n for lib in ("alpha158", "alpha360") for n in BUILTIN[lib].factors]
    close = difflib.get_close_matches(name, known, n=3)
    guess = f"; did you mean {', '.join(close)}?" if close else ""
    raise SpecError(
        f"unknown library factor {name!r}{guess}",
        hint="factor names are those of the built-in alpha158 and alpha360 libraries "
        "(`alphaloop factor library show alpha158`); write other formulas as expr",
    )


class Component(_Frozen):
    """One ingredient of a composite signal: exactly one of

    ``expr``
        A factor expression.
    ``factor``
        A built-in library factor by name (``ROC20``; Alpha158, then Alpha360).
    ``model``
        A registered model's predictions, ``name/vN``.

    ``normalize`` makes components comparable on each bar, over that bar's
    eligible assets with a value: ``rank`` (percentile rank centred on 0,
    in [-0.5, 0.5]) or ``zscore`` (``(x - mean) / std``, population std).
    ``sign`` -1 turns the component around (lower = more attractive).
    """

    expr: str | None = Field(None, min_length=1, max_length=20_000)
    factor: str | None = Field(None, min_length=1, max_length=100)
    model: str | None = Field(None, pattern=_MODEL_REF)
    normalize: Literal["rank", "zscore"] = "rank"
    sign: Literal[1, -1] = 1

    @model_validator(mode="after")
    def _one_source(self) -> Component:
        given = [n for n in ("expr", "factor", "model") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a component needs exactly one of expr, factor (a library factor name) or "
                f"model; got {', '.join(given) if given else 'none'}"
            )
        if self.factor is not None:
            try:
                library_factor(self.factor)
            except SpecError as exc:
                raise ValueError(exc.message) from None
        return self

    def describe(self) -> str:
        text = (
            f"model {self.model}"
            if self.model
            else f"factor {self.factor}"
            if self.factor
            else repr(self.expr)
        )
        return ("-" if self.sign < 0 else "") + text


_REBALANCE_FILTERS = ("drift", "cost_aware", "edge_window")
"""Rebalance fields left out of the identity while at their defaults."""

_COMPOSITE_FIELDS = ("components", "combine", "combiner", "window", "horizon")
"""Signal fields that only a composite sets (left out of the identity otherwise)."""


def _check_code(code: str) -> None:
    """The sandbox's static check of a code signal, as a ValueError (pydantic adds the path)."""
    from alphaloop.sandbox import SandboxViolation, check_strategy_code

    try:
        check_strategy_code(code)
    except SandboxViolation as exc:
        raise ValueError(str(exc)) from None


class Signal(_Frozen):
    """Where the signal comes from (higher = more attractive): exactly one of

    ``expr``
        A factor expression.
    ``model``
        A registered model, ``name/vN`` (pinned, so the spec's hash names one
        model), whose predictions are the signal; the backtest starts after
        the model's training data ends (labels included).
    ``components``
        A composite of 2 to 20 :class:`Component` s, each normalized per bar,
        combined by ``combine`` and re-ranked per bar to [0, 1]
        (:mod:`alphaloop.backtest.composite`):

        - ``equal``: the mean of the signed, normalized components;
        - ``ic``: weights proportional to each component's mean rank IC with
          the ``horizon``-bar forward return over the trailing ``window`` bars
          whose returns are realized at the bar;
        - ``mean_variance``: weights proportional to ``inv(S) m`` of the
          components' trailing long-short factor returns (mean ``m``,
          covariance ``S``, ridge-regularized);
        - ``model``: the predictions of the model ``combiner`` (``name/vN``).

        The backtest starts after the training data of every model used.
    ``code``
        Python source defining ``signal(close, high=None, low=None,
        volume=None, open=None)``, run in the strategy-code sandbox
        (:mod:`alphaloop.sandbox`; :mod:`alphaloop.backtest.code_signal`) on
        the panel's fields of those names; it returns the signal, shape
        (time, asset). The source is part of the spec (and of its hash); it is
        checked against the sandbox's allowlist when the spec is read, so code
        that imports ``os`` or walks ``__subclasses__`` never loads.
    """

    expr: str | None = Field(None, min_length=1, max_length=20_000)
    model: str | None = Field(None, pattern=_MODEL_REF)
    components: list[Component] | None = Field(None, min_length=2, max_length=20)
    code: str | None = Field(None, min_length=1, max_length=100_000)
    combine: Literal["equal", "ic", "mean_variance", "model"] = "equal"
    combiner: str | None = Field(None, pattern=_MODEL_REF)
    window: int = Field(252, ge=2, le=100_000)
    horizon: int = Field(1, ge=1, le=10_000)
    mode: Literal["strict", "qlib"] = "strict"

    @field_validator("code")
    @classmethod
    def _allowed_code(cls, code: str | None) -> str | None:
        if code is not None:
            _check_code(code)
        return code

    @model_validator(mode="after")
    def _one_source(self) -> Signal:
        given = [n for n in ("expr", "model", "components", "code") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a signal needs exactly one of expr (an expression), model, components or "
                f"code (Python); got {', '.join(given) if given else 'none'}"
            )
        if self.code is not None and self.mode != "strict":
            raise ValueError("mode applies to expressions, not to code")
        if self.components is None:
            set_ = [
                n
                for n in _COMPOSITE_FIELDS[1:]
                if getattr(self, n) != type(self).model_fields[n].default
            ]
            if set_:
                verb = "applies" if len(set_) == 1 else "apply"
                raise ValueError(f"{', '.join(set_)} {verb} to composite signals (components) only")
        elif self.combine == "model" and self.combiner is None:
            raise ValueError("combine: model needs combiner (the model, name/vN)")
        elif self.combine != "model" and self.combiner is not None:
            raise ValueError(f"combiner is used with combine: model only, not {self.combine}")
        return self

    @property
    def is_composite(self) -> bool:
        return self.components is not None

    def describe(self) -> str:
        if self.components is not None:
            how = {
                "equal": "equal weights",
                "ic": f"IC weights over {self.window} bars",
                "mean_variance": f"mean-variance weights over {self.window} bars",
                "model": f"combined by model {self.combiner}",
            }[self.combine]
            parts = ", ".join(c.describe() for c in self.components)
            return f"composite of {len(self.components)} ({how}): {parts}"
        if self.code is not None:
            n_lines = len(self.code.strip().splitlines())
            return f"Python code ({n_lines} lines, run in the sandbox)"
        return f"model {self.model}" if self.model else repr(self.expr)


class PortfolioRule(_Frozen):
    """How signals become target weights on each rebalance.

    method
        ``top_k``: long the ``k`` highest signals. ``quantile_long_short``:
        long the top ``quantile`` of eligible assets, short the bottom one,
        half the gross exposure on each side. ``threshold``: hold long while
        the signal stays above ``exit_long`` after rising above
        ``entry_long`` (and short, if ``entry_short`` is set, mirrored).
        ``optimize``: the weights of ``optimizer``
        (:class:`~alphaloop.portfolio.OptimizerConfig`: min variance, max
        Sharpe, risk parity, HRP, ...) over the assets eligible at the
        rebalance bar with a finite signal and a full estimation window (the
        ``k`` highest signals only, when ``k`` is set), estimated on the
        trailing window of returns ending at that bar's close; a failure
        falls back to ``optimizer.fallback`` and is recorded.
    weighting
        ``equal``; ``signal`` (proportional to ``|signal|``);
        ``inverse_volatility`` (proportional to 1 / the standard deviation of
        daily simple returns over ``vol_window`` bars up to the decision bar).
    gross
        Gross exposure (sum of |weights|) to deploy, a fraction of equity.
    """

    method: Literal["top_k", "quantile_long_short", "threshold", "optimize"] = "top_k"
    k: int | None = Field(None, ge=1)
    quantile: float = Field(0.2, gt=0, le=0.5)
    entry_long: float | None = None
    exit_long: float | None = None
    entry_short: float | None = None
    exit_short: float | None = None
    weighting: Literal["equal", "signal", "inverse_volatility"] = "equal"
    vol_window: int = Field(20, ge=2, le=2520)
    gross: float = Field(1.0, gt=0, le=10)
    optimizer: OptimizerConfig | None = None

    @model_validator(mode="after")
    def _method_fields(self) -> PortfolioRule:
        if self.method == "optimize" and self.optimizer is None:
            raise ValueError("method optimize needs optimizer (e.g. {method: hrp, window: 252})")
        if self.optimizer is not None and self.method != "optimize":
            raise ValueError(f"optimizer applies to method optimize only, not {self.method}")
        if self.method == "optimize" and self.weighting != "equal":
            raise ValueError("method optimize sets its own weights; remove weighting")
        if self.method == "top_k" and self.k is None:
            raise ValueError("method top_k needs k (the number of assets to hold)")
        if self.method == "threshold":
            if self.entry_long is None and self.entry_short is None:
                raise ValueError("method threshold needs entry_long and/or entry_short")
            if (
                self.entry_long is not None
                and self.exit_long is not None
                and self.exit_long > self.entry_long
            ):
                raise ValueError("exit_long must not be above entry_long")
            if (
                self.entry_short is not None
                and self.exit_short is not None
                and self.exit_short < self.entry_short
            ):
                raise ValueError("exit_short must not be below entry_short")
        return self

    @property
    def shorts(self) -> bool:
        """Whether the rule ever takes short positions."""
        return self.method == "quantile_long_short" or (
            self.method == "threshold" and self.entry_short is not None
        )


class Rebalance(_Frozen):
    """When the portfolio is rebalanced: at the close of the first bar of each period.

    ``frequency``: daily, weekly, monthly, quarterly, or ``bars`` with
    ``every`` = N (every N bars counted from the first bar of the backtest).

    Two filters skip trades on those bars (:mod:`alphaloop.strategies.rebalancing`):

    ``drift``
        Threshold rebalancing: trade on a scheduled bar only when some
        asset's weight, drifted with prices since the last trade, is more
        than ``drift`` (a fraction of equity) away from its new target.
    ``cost_aware``
        Skip each asset's trade whose expected benefit is below its expected
        cost (benefit estimated from the book's own trailing gross return
        over ``edge_window`` bars; cost from the spec's cost model).
    """

    frequency: Literal["daily", "weekly", "monthly", "quarterly", "bars"] = "monthly"
    every: int = Field(1, ge=1, le=100_000)
    drift: float | None = Field(None, gt=0, lt=1)
    cost_aware: bool = False
    edge_window: int = Field(63, ge=5, le=100_000)


class Limits(_Frozen):
    """Position and leverage limits.

    ``max_weight``, ``max_leverage`` and ``allow_short`` shape the target
    weights in both engines. ``risk`` (a
    :class:`~alphaloop.execution.risk_limits.RiskLimits`: order notional,
    price collar, lot size, min notional, restricted list, net exposure,
    concentration, group caps, loss, drawdown, rate and reject breakers)
    is enforced by the event engine's risk engine only, on every order and
    rebalance leg (see :meth:`risk_limits`).
    """

    max_weight: float = Field(1.0, gt=0, le=10)
    max_leverage: float = Field(1.0, gt=0, le=10)
    allow_short: bool = False
    risk: RiskLimits | None = None

    def risk_limits(self) -> RiskLimits | None:
        """The event engine's risk limits (None when ``risk`` is not given: no risk engine).

        They are hard limits next to the target caps above: ``max_weight``
        and ``max_leverage`` shape the weights a rebalance aims at, ``risk``
        says what no order may pass. Give the hard limits headroom over the
        target caps: marks move weights between rebalances, a book past a
        hard limit only reduces, and a leg sized to a cap is checked at the
        last prices the engine knows.
        """
        return self.risk


class Stops(_Frozen):
    """Exit rules checked against each bar's range; fractions of the entry price, 0 = off."""

    stop_loss: float = Field(0.0, ge=0, lt=1)
    take_profit: float = Field(0.0, ge=0, le=100)
    trailing_stop: float = Field(0.0, ge=0, lt=1)

    @property
    def active(self) -> bool:
        return self.stop_loss > 0 or self.take_profit > 0 or self.trailing_stop > 0


class Exits(_Frozen):
    """Holding rules on top of the portfolio rule (see :func:`.portfolio.target_weights`).

    hold_bars
        Minimum holding period in bars: at a rebalance, a position entered
        fewer than ``hold_bars`` bars before is kept (it still counts toward
        ``k`` or its quantile) if the asset is still eligible. 0 = off.
    exit_on_flip
        Close a position on the first bar, between rebalances, whose signal
        is on the wrong side of that bar's cross-sectional median (a long's
        percentile rank below 0.5, a short's above); the freed weight stays
        in cash until the next rebalance. A flip exit wins over ``hold_bars``.
    """

    hold_bars: int = Field(0, ge=0, le=100_000)
    exit_on_flip: bool = False

    @property
    def active(self) -> bool:
        return self.hold_bars > 0 or self.exit_on_flip


class StrategySpec(_Frozen):
    """A strategy, complete enough to backtest and compare.

    Parameters
    ----------
    name : str
        Label; not part of the identity.
    data : str
        Dataset name in the workspace (``version`` pins one version).
    universe : "all" or list of str
        Assets to consider; the dataset's membership mask always applies.
    start, end : date, optional
        Backtest span (inclusive); earlier history still feeds the signal.
    benchmark : str, optional
        ``DATASET`` or ``DATASET:ASSET`` whose close is the benchmark for
        alpha, beta and the information ratio.
    capital : float
        Initial capital in the account currency.
    lot_size : float
        Shares are traded in multiples of it (0 = fractional).
    participation : float in (0, 1], optional
        At most this fraction of a bar's volume trades per asset on that bar;
        what does not fit keeps working on the next bars until it is done or
        the next target for the asset replaces it (see
        :func:`alphaloop.backtest.simulate`). None (default) = no cap. Needs
        data with volume; not with stops.
    costs : CostModel, preset name or None
        None (default): the cost preset of the dataset's asset class
        (:data:`~alphaloop.execution.costs.COST_PRESETS`). A preset name
        (``equities``, ``fx``, ``crypto``), a mapping of
        :class:`~alphaloop.execution.costs.CostModel` fields (unset fields
        take the equity defaults), or a mapping with ``preset:`` and the
        fields to change in it; explicit costs always win over the dataset's
        preset.
    overlay : VolatilityTarget, optional
        Scale the book on each decision bar to an annualized volatility
        target (:mod:`alphaloop.strategies.overlay`), after the portfolio
        rule or template and before the rebalance filters.
    sizing : Sizing, optional
        Size the book on each decision bar (``method``: ``vol_target``,
        ``kelly``, ``fixed_fractional``, ``atr``, ``risk_parity``; see
        :mod:`alphaloop.backtest.spec_sizing`), within ``limits``.
    regime : RegimeRule, optional
        Gate or scale the sized book by the market's causal regime
        (:class:`~alphaloop.backtest.spec_sizing.RegimeRule`).
    periods_per_year : float, optional
        Bars per year for annualization; default the dataset's own (from its
        calendar: 252 daily on exchange sessions, 365 on 24/7 markets, 260
        on 24x5 FX, ...).
    """

    name: str = Field("strategy", min_length=1, max_length=200)
    description: str = ""
    data: str = Field(min_length=1)
    version: int | None = Field(None, ge=1)
    universe: Literal["all"] | list[str] = "all"
    start: date | None = None
    end: date | None = None
    signal: Signal | None = None
    template: TemplateField | None = None
    portfolio: PortfolioRule = PortfolioRule(k=5)
    rebalance: Rebalance = Rebalance()
    limits: Limits = Limits()
    overlay: VolatilityTarget | None = None
    sizing: Sizing | None = None
    regime: RegimeRule | None = None
    stops: Stops = Stops()
    exits: Exits = Exits()
    costs: CostModel | None = None
    fills: FillTiming = FillTiming.NEXT_OPEN
    participation: float | None = Field(None, gt=0, le=1, allow_inf_nan=False)
    capital: float = Field(1_000_000.0, gt=0, allow_inf_nan=False)
    lot_size: float = Field(0.0, ge=0, allow_inf_nan=False)
    benchmark: str | None = None
    periods_per_year: float | None = Field(None, gt=0, le=1e8, allow_inf_nan=False)

    @field_validator("costs", mode="before")
    @classmethod
    def _cost_preset(cls, v: Any) -> Any:
        """``costs: crypto`` and ``costs: {preset: fx, half_spread_bps: 0.5}`` become models."""
        if isinstance(v, str):
            return cost_preset(v)
        if isinstance(v, dict) and "preset" in v:
            rest = {k: x for k, x in v.items() if k != "preset"}
            return CostModel.model_validate({**cost_preset(str(v["preset"])).model_dump(), **rest})
        return v

    @field_validator("sizing", mode="before")
    @classmethod
    def _sizing_fields(cls, v: Any) -> Any:
        return check_sizing_fields(v)

    @field_validator("universe")
    @classmethod
    def _universe(cls, v: Any) -> Any:
        if isinstance(v, list):
            if not v:
                raise ValueError("universe must list at least one asset (or be 'all')")
            if len(set(v)) != len(v):
                raise ValueError("universe lists an asset twice")
        return v

    @model_validator(mode="after")
    def _cross_fields(self) -> StrategySpec:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        self._check_template()
        sizing = self.sizing
        if self.overlay is not None and sizing is not None and sizing.method == "vol_target":
            raise ValueError("sizing vol_target and overlay both target volatility: keep one")
        if self.portfolio.shorts and not self.limits.allow_short and self.uses_portfolio_rule:
            raise ValueError(
                f"portfolio method {self.portfolio.method} takes short positions but "
                "limits.allow_short is false"
            )
        if self.portfolio.gross > self.limits.max_leverage:
            raise ValueError(
                f"portfolio.gross {self.portfolio.gross} exceeds limits.max_leverage "
                f"{self.limits.max_leverage}"
            )
        return self

    def _check_template(self) -> None:
        template = self.template
        if template is None:
            if self.signal is None:
                raise ValueError(
                    "a spec needs a signal (expr, model or components) or a template "
                    f"({', '.join(sorted(TEMPLATES))})"
                )
            return
        if template.USES_SIGNAL and self.signal is None:
            raise ValueError(f"template {template.template} reads the spec's signal; add signal:")
        if not template.USES_SIGNAL and self.signal is not None:
            raise ValueError(
                f"template {template.template} makes its own signal; remove signal: "
                "(or use a template that reads one)"
            )
        if template.output_kind != "signal":
            unused = [
                name
                for name in ("portfolio", "exits")
                if getattr(self, name) != type(self).model_fields[name].default
            ]
            if unused:
                verb, it = ("apply", "them") if len(unused) > 1 else ("applies", "it")
                raise ValueError(
                    f"template {template.template} builds its own book; "
                    f"{' and '.join(unused)} {verb} to signals only: remove {it}"
                )
        if template.output_kind == "quotes" and (self.sizing or self.regime):
            raise ValueError(
                f"template {template.template} quotes; sizing and regime scale target weights: "
                "remove them"
            )
        if template.output_kind == "quotes" and self.overlay is not None:
            raise ValueError(
                f"template {template.template} quotes; overlay scales target weights: remove it"
            )
        if template.shorts and not self.limits.allow_short:
            raise ValueError(
                f"template {template.template} takes short positions but limits.allow_short "
                "is false"
            )

    @property
    def uses_portfolio_rule(self) -> bool:
        """Whether ``portfolio`` turns a signal into weights (not for book-building templates)."""
        return self.template is None or self.template.output_kind == "signal"

    def describe_signal(self) -> str:
        """The signal, or the template, in one line."""
        if self.template is not None:
            text = self.template.describe()
            return f"{text} on {self.signal.describe()}" if self.signal is not None else text
        assert self.signal is not None
        return self.signal.describe()

    # ------------------------------------------------------------ identity
    def canonical(self) -> dict[str, Any]:
        """Every field that changes results, defaults included, JSON-ready.

        Fields added after hashes were first recorded are left out while they
        hold their defaults (``exits``, ``sizing``, ``regime``, ``participation``; a non-composite
        signal's composite fields, ``signal.code`` when not set), so every spec
        written before them keeps its hash.
        """
        out = self.model_dump(mode="json", exclude={"name", "description"})
        if self.portfolio.optimizer is None:
            del out["portfolio"]["optimizer"]
        if self.exits == Exits():
            del out["exits"]
        if self.limits.risk is None:
            del out["limits"]["risk"]
        for name in ("template", "signal", "overlay", "sizing", "regime", "participation"):
            if out[name] is None:
                del out[name]
        if self.signal is not None and self.signal.components is None:
            for name in _COMPOSITE_FIELDS:
                del out["signal"][name]
        if self.signal is not None and self.signal.code is None:
            del out["signal"]["code"]
        if isinstance(out.get("costs"), dict):
            # per-unit charges came after hashes were first recorded: left out at their default
            for name in ("fee_per_unit", "half_spread_per_unit"):
                if out["costs"].get(name) == 0.0:
                    del out["costs"][name]
        defaults = Rebalance()
        for name in _REBALANCE_FILTERS:
            if getattr(self.rebalance, name) == getattr(defaults, name):
                del out["rebalance"][name]
        return out

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON (sorted keys, no spaces)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def replace(self, **changes: Any) -> StrategySpec:
        """A validated copy with top-level fields changed (``spec.replace(fills="next_close")``)."""
        return StrategySpec.from_dict({**self.model_dump(mode="json"), **changes}, source="replace")

    def to_yaml(self) -> str:
        """The spec as YAML (every field)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "spec") -> StrategySpec:
        """Validate a mapping; errors become one :class:`SpecError` naming each bad field."""
        if not isinstance(data, dict):
            raise SpecError(f"{source}: a strategy spec must be a mapping of fields")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SpecError(f"{source}: {describe_validation_error(exc, cls)}") from None


def load_spec(path: str | Path) -> StrategySpec:
    """Read a spec from a YAML or JSON file.

    Raises
    ------
    SpecError
        The file is missing or unreadable, is not YAML/JSON, or a field is invalid.
    """
    return load_spec_file(path, StrategySpec, "spec")


def quick_spec(
    expr: str,
    data: str,
    *,
    top_k: int = 5,
    weighting: str = "equal",
    rebalance: str = "monthly",
    fills: str = "next_open",
    start: str | None = None,
    end: str | None = None,
    capital: float = 1_000_000.0,
    mode: str = "strict",
    name: str | None = None,
) -> StrategySpec:
    """A top-k long-only spec from a one-line description (the CLI's ``--expr`` form).

    Everything not given keeps the spec's defaults: the costs of the
    dataset's asset class, next-open fills, no leverage.
    """
    return StrategySpec.from_dict(
        {
            "name": name or f"top{top_k} {expr}",
            "data": data,
            "signal": {"expr": expr, "mode": mode},
            "portfolio": {"method": "top_k", "k": top_k, "weighting": weighting},
            "rebalance": {"frequency": rebalance},
            "fills": fills,
            "start": start,
            "end": end,
            "capital": capital,
        },
        source="command line",
    )
