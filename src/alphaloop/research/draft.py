"""StrategyDraft: the form of a strategy a language model (or the offline parser) writes.

:class:`~alphaloop.backtest.spec.StrategySpec` has free-form mappings and no
portable JSON schema, and it leaves too much to guess. A draft is the small,
fully constrained projection an LLM fills in: every choice is an enum, every
number is bounded (enforced on validation), and the signal is either a known
indicator template (:data:`~alphaloop.research.templates.FAMILIES`, family +
template + integer parameters) or a factor expression, which is parsed and
validated by the expression parser (never evaluated as code). Only when the
caller allows it (:class:`CodeStrategyDraft`, ``alphaloop generate
--allow-code``) may the signal be Python code (:class:`CodeSignal`), which
then runs in the strategy-code sandbox only (:mod:`alphaloop.sandbox`).

:func:`draft_to_spec` (code, not the model) turns a draft into a spec with
honest defaults: fills on the next bar (the next open when the data has
opens, else the next close), the dataset's cost preset, no leverage. Each
default it fills in or change it makes is added to the assumptions.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import DraftError, ExpressionError, SpecError
from alphaloop.research.templates import FAMILIES, Template

__all__ = [
    "CodeSignal",
    "CodeStrategyDraft",
    "DraftExits",
    "ExpressionSignal",
    "GeneratedSpec",
    "StrategyDraft",
    "TemplateSignal",
    "draft_to_spec",
    "template_expression",
]

Family = Literal[
    "momentum", "mean_reversion", "volatility", "trend", "breakout", "volume", "quality", "library"
]
TemplateName = Literal[
    "mom", "mom_skip", "mom_risk_adj", "reversal", "ma_distance", "zscore", "low_vol",
    "low_downside_vol", "ma_cross", "ema_cross", "slope", "channel", "high_proximity",
    "channel_hl", "volume_trend", "price_volume_corr", "volume_weighted_mom", "trend_r2",
    "up_share", "smooth_mom", "roc", "std", "rsqr", "cntd", "sumd", "resi", "rsv", "corr",
]  # fmt: skip
_PARAMS = ("lookback", "skip", "window", "fast", "slow")
MAX_WINDOW = 504
"""Longest window or lag a draft may ask for (bars; two years of days)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _bars(description: str) -> object:
    return Field(default=None, ge=1, le=MAX_WINDOW, description=description)


class TemplateSignal(_Strict):
    """A known indicator: family, template and its integer parameters (bars)."""

    kind: Literal["template"] = "template"
    family: Family
    template: TemplateName = Field(description="A template of the family.")
    lookback: int | None = _bars("Look-back in bars (mom, mom_skip, mom_risk_adj, reversal).")
    skip: int | None = _bars("Most recent bars skipped (mom_skip), below lookback.")
    window: int | None = _bars("Window in bars (every template with a window).")
    fast: int | None = _bars("Fast window in bars (ma_cross, ema_cross, volume_trend).")
    slow: int | None = _bars("Slow window in bars, above fast.")

    def params(self) -> dict[str, int]:
        """The parameters given (name -> bars)."""
        return {p: getattr(self, p) for p in _PARAMS if getattr(self, p) is not None}


class ExpressionSignal(_Strict):
    """A factor expression (``Mean($close, 5) / $close``), parsed, never evaluated as code."""

    kind: Literal["expression"] = "expression"
    expr: str = Field(min_length=1, max_length=2000)
    higher_is_better: bool = Field(
        default=True, description="False when a lower value of the expression is more attractive."
    )


class CodeSignal(_Strict):
    """Python code for a signal no template or expression can say; runs in the sandbox only.

    The code defines ``signal(close, high=None, low=None, volume=None,
    open=None)``: (time, asset) float arrays in, a same-shape signal out
    (higher = more attractive, NaN = none), row ``t`` from rows ``<= t`` only;
    numpy as ``np`` and ``math``, nothing else.
    """

    kind: Literal["code"] = "code"
    code: str = Field(
        min_length=1,
        max_length=20_000,
        description="Python defining signal(close, high=None, low=None, volume=None, open=None).",
    )


class DraftExits(_Strict):
    """Holding rules and stops (fractions of the entry price; 0 = off)."""

    hold_bars: int = Field(default=0, ge=0, le=252, description="Minimum holding period, bars.")
    exit_on_flip: bool = False
    stop_loss: float = Field(default=0.0, ge=0.0, le=0.5)
    trailing_stop: float = Field(default=0.0, ge=0.0, le=0.5)


class StrategyDraft(_Strict):
    """A strategy idea in the constrained form a model answers with.

    ``side`` long_only holds the ``k`` best assets (``top_k``); long_short
    holds the best ``quantile`` long and the worst short. ``assumptions``
    lists what was assumed to resolve ambiguity in the request.
    """

    name: str = Field(min_length=1, max_length=80)
    signal: TemplateSignal | ExpressionSignal
    side: Literal["long_only", "long_short"] = "long_only"
    method: Literal["top_k", "quantile_long_short"] = "top_k"
    k: int | None = Field(default=None, ge=1, le=500, description="Assets held (top_k).")
    quantile: float | None = Field(
        default=None, ge=0.05, le=0.5, description="Share of assets on each side (long-short)."
    )
    weighting: Literal["equal", "signal", "inverse_volatility"] = "equal"
    rebalance: Literal["daily", "weekly", "monthly", "quarterly"] = "monthly"
    exits: DraftExits = DraftExits()
    universe: list[str] | None = Field(
        default=None, max_length=200, description="Assets to trade; null for all of the dataset."
    )
    assumptions: list[str] = Field(default_factory=list, max_length=20)


class CodeStrategyDraft(StrategyDraft):
    """A :class:`StrategyDraft` whose signal may also be Python code (:class:`CodeSignal`).

    Offered to a model only when the user allows model-written code.
    """

    signal: TemplateSignal | ExpressionSignal | CodeSignal  # type: ignore[assignment]


@dataclass(frozen=True)
class GeneratedSpec:
    """A draft made into a spec, and every assumption behind it (the draft's, then ours).

    ``expression`` is the signal's expression; empty for a code signal, whose
    source is the spec's ``signal.code``.
    """

    draft: StrategyDraft
    spec: StrategySpec
    expression: str
    assumptions: tuple[str, ...]

    @property
    def model_code(self) -> bool:
        """Whether the signal is model-written Python code (run in the sandbox)."""
        return self.spec.signal is not None and self.spec.signal.code is not None


def _template(signal: TemplateSignal) -> Template:
    for tpl in FAMILIES[signal.family]:
        if tpl.name == signal.template:
            return tpl
    known = ", ".join(t.name for t in FAMILIES[signal.family])
    raise DraftError(
        f"signal: family {signal.family} has no template {signal.template!r}",
        hint=f"its templates: {known}",
    )


def template_expression(signal: TemplateSignal) -> tuple[str, list[str]]:
    """The expression of a template signal with the given parameters, and assumptions.

    A parameter left out takes the middle of the template's grid (said in the
    assumptions); a value off the grid is used as given (the grid is the
    research search's, not a limit).

    Raises
    ------
    DraftError
        An unknown template, a parameter the template does not take, a skip
        not below the lookback or a fast window not below the slow one.
    """
    tpl = _template(signal)
    grid = tpl.params
    given = signal.params()
    extra = sorted(set(given) - set(grid))
    if extra:
        raise DraftError(
            f"signal: template {tpl.family}/{tpl.name} takes {', '.join(grid)}, "
            f"not {', '.join(extra)}"
        )
    params, notes = {}, []
    for name, values in grid.items():
        if name in given:
            params[name] = given[name]
        else:
            params[name] = values[len(values) // 2]
            notes.append(f"{tpl.name}: {name} not given; took {params[name]} bars (grid middle)")
    if "skip" in params and params["skip"] >= params["lookback"]:
        skip, lookback = params["skip"], params["lookback"]
        raise DraftError(f"signal: skip {skip} must be below lookback {lookback}")
    if "fast" in params and params["fast"] >= params["slow"]:
        raise DraftError(f"signal: fast {params['fast']} must be below slow {params['slow']}")
    if not tpl.factor:
        return tpl.text.format(**params), notes
    from alphaloop.factors.library.alpha158 import ROLLING

    stem = tpl.text.split("{", 1)[0]
    text = ROLLING[stem].format(d=params["window"])
    return (f"-({text})" if tpl.sign < 0 else text), notes


def _check_expression(expr: str, fields: Collection[str]) -> None:
    from alphaloop.factors import compile_expression

    try:
        compile_expression(expr, fields=fields)
    except ExpressionError as exc:
        raise DraftError(f"signal: {exc.message}", hint=exc.hint) from None


def draft_to_spec(
    draft: StrategyDraft,
    data: str,
    *,
    fields: Collection[str],
    assets: Collection[str],
    intent: str = "",
    allow_code: bool = False,
) -> GeneratedSpec:
    """The spec a draft describes, on dataset ``data`` (with ``fields`` and ``assets``).

    Defaults filled in and changes made are appended to the draft's
    assumptions: ``k`` (5, kept below the number of assets), ``quantile``
    (0.2), the method that matches ``side``, the fill timing (next open, or
    next close when the data has no opens), the costs (the dataset's preset).

    A code signal (``allow_code`` only) becomes ``signal: {code: ...}``; the
    spec's validation checks it against the sandbox's allowlist.

    Raises
    ------
    DraftError
        An unknown template or parameter, an expression that does not parse
        or reads a field the data lacks, code when ``allow_code`` is False or
        code the sandbox refuses, stops without high/low data, assets not in
        the dataset, or a spec that does not validate.
    """
    notes = list(draft.assumptions)
    have = {f.lower() for f in fields}
    signal_doc: dict[str, str]
    expr = ""
    if isinstance(draft.signal, CodeSignal):
        if not allow_code:
            raise DraftError(
                "signal: the draft's signal is Python code, which was not allowed",
                hint="allow model-written code explicitly (alphaloop generate --allow-code)",
            )
        signal_doc = {"code": draft.signal.code}
        notes.append("signal: model-written Python code, run in the sandbox")
    else:
        if isinstance(draft.signal, TemplateSignal):
            expr, more = template_expression(draft.signal)
            notes += more
        else:
            expr = draft.signal.expr
            if not draft.signal.higher_is_better:
                expr = f"-({expr})"
        _check_expression(expr, have)
        signal_doc = {"expr": expr}
    n_assets = len(draft.universe) if draft.universe else len(assets)
    if draft.universe:
        missing = sorted(set(draft.universe) - set(assets))
        if missing:
            raise DraftError(
                f"universe: {', '.join(missing[:5])} not in dataset {data!r}",
                hint=f"its assets: {', '.join(sorted(assets)[:20])}",
            )
    else:
        notes.append(f"universe: every asset of {data} ({n_assets})")
    method = draft.method
    if draft.side == "long_short" and method == "top_k":
        method = "quantile_long_short"
        notes.append("long-short: the top quantile long, the bottom one short")
    elif draft.side == "long_only" and method == "quantile_long_short":
        method = "top_k"
        notes.append("long-only: the quantile long-short book became a top-k book")
    portfolio: dict[str, object] = {"method": method, "weighting": draft.weighting}
    if method == "top_k":
        if draft.k is not None:
            k = draft.k
        elif draft.quantile is not None:
            k = max(1, round(draft.quantile * n_assets))
            notes.append(f"long-only top {draft.quantile:.0%} of {n_assets} assets: hold {k}")
        else:
            k = 5
            notes.append("k not given: hold the top 5 assets")
        if n_assets > 1 and k >= n_assets:
            k = max(1, n_assets // 2)
            notes.append(f"k reduced to {k}, below the {n_assets} assets of the universe")
        portfolio["k"] = k
    else:
        if draft.quantile is not None:
            quantile = draft.quantile
        elif draft.k is not None:
            quantile = min(0.5, max(0.05, round(draft.k / max(n_assets, 1), 4)))
            notes.append(f"long-short with k={draft.k}: {quantile:.0%} of assets on each side")
        else:
            quantile = 0.2
            notes.append("quantile not given: 20% of assets on each side")
        portfolio["quantile"] = quantile
    stops = {"stop_loss": draft.exits.stop_loss, "trailing_stop": draft.exits.trailing_stop}
    if (stops["stop_loss"] or stops["trailing_stop"]) and not {"high", "low"} <= have:
        raise DraftError(
            f"exits: stops are checked against each bar's high and low; {data!r} has none",
            hint="drop the stops or use a dataset with high and low",
        )
    fills = "next_open" if "open" in have else "next_close"
    notes.append(
        "fills at the next bar's open"
        if fills == "next_open"
        else "fills at the next bar's close (the data has no opens)"
    )
    notes.append("costs: the dataset's asset-class preset (costs on)")
    doc = {
        "name": draft.name,
        "description": intent[:500],
        "data": data,
        "universe": list(draft.universe) if draft.universe else "all",
        "signal": signal_doc,
        "portfolio": portfolio,
        "rebalance": {"frequency": draft.rebalance},
        "limits": {"allow_short": method == "quantile_long_short"},
        "stops": stops,
        "exits": {"hold_bars": draft.exits.hold_bars, "exit_on_flip": draft.exits.exit_on_flip},
        "fills": fills,
    }
    try:
        spec = StrategySpec.from_dict(doc, source="draft")
    except SpecError as exc:
        raise DraftError(exc.message, hint=exc.hint) from None
    return GeneratedSpec(draft, spec, expr, tuple(dict.fromkeys(notes)))
