"""A StrategyDraft from a small local model in two short answers: the family, then its parameters.

A grammar-bound local model (SmolLM2-135M on llama.cpp) writes about 25
tokens a second on two cores, and one-shot it wrote about 164 tokens per
draft (name, assumptions, every field) and picked the family the idea meant
for one idea in five. :func:`ask_local_draft` asks twice, each time for as
little as the model can usefully say, and lets code fill in the rest:

1. **The family**, one enum (``{"family": "momentum"}``, about 9 tokens),
   with a one-line definition of each family (:data:`FAMILY_NOTES`) and of
   each of its templates (:data:`TEMPLATE_NOTES`) in the prompt, only the
   families and templates the dataset's fields allow;
2. **That family's template and parameters** and the portfolio
   (``{"template": "mom", "lookback": 63, "side": "long_only", "k": 5,
   "rebalance": "monthly"}``, about 30 tokens): one branch per template of
   the family, each parameter an enum of its grid, ``k`` an enum of a few
   sizes, a stop size only when the data has high and low.

Code, not the model, then writes the rest of the
:class:`~alphaloop.research.draft.StrategyDraft`: the name (from the idea's
words), equal weighting, no holding period, the method that matches the
side, and an assumption saying which fields the model chose. The answer of
each step is validated (one repair round each) like any structured answer;
the draft then goes through :func:`~alphaloop.research.draft.draft_to_spec`
as usual. Nothing of the offline parser is used.

Prompt evaluation, not writing, is what a small model on a busy CPU spends
most on (about 60 to 150 prompt tokens a second against 30 to 50 written).
So the system message (every definition) is the same for every idea on the
same fields, and the second question extends the first conversation (the
question, the model's answer, one short line): a server that keeps its
prompt cache (llama.cpp does) evaluates the system message once, then about
40 tokens for the idea and 20 for the second question.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.research.draft import DraftExits, StrategyDraft, TemplateSignal
from alphaloop.research.draft_schema import K_CHOICES, STOP_CHOICES
from alphaloop.research.templates import FAMILIES, feasible_templates

__all__ = [
    "FAMILY_NOTES",
    "TEMPLATE_NOTES",
    "FamilyAnswer",
    "ParamsAnswer",
    "ask_local_draft",
    "compose_draft",
    "family_messages",
    "family_schema",
    "params_choices",
    "params_messages",
    "params_schema",
]

FAMILY_NOTES: dict[str, str] = {
    "momentum": "buy recent winners: the highest past return over N days, relative strength",
    "mean_reversion": "buy recent losers or oversold stocks: short-term reversal, RSI, "
    "price below its moving average, z-score",
    "volatility": "low volatility, low risk: the least volatile stocks",
    "trend": "moving-average crossovers (golden cross, fast above slow average), price slope",
    "breakout": "breakouts: new N-day highs, Donchian or price channel, near the high",
    "volume": "trading volume: volume trend, price-volume correlation",
    "quality": "steady rises: share of up days, straightness of the trend",
    "library": "a named Alpha158 factor: ROC, STD, RSQR, CNTD, SUMD, RESI, RSV, CORR",
}
"""One line per template family, the definitions the first question shows."""

TEMPLATE_NOTES: dict[str, str] = {
    "mom": "past return over lookback bars",
    "mom_skip": "past return over lookback bars, skipping the last skip bars",
    "mom_risk_adj": "past return divided by its volatility",
    "reversal": "loss over the last lookback bars (losers first)",
    "ma_distance": "how far the price is below its window-bar average",
    "zscore": "z-score of the price below its window-bar average",
    "low_vol": "lowest volatility of returns over window bars",
    "low_downside_vol": "lowest downside volatility over window bars",
    "ma_cross": "fast simple average above the slow one",
    "ema_cross": "fast exponential average above the slow one",
    "slope": "slope of the price over window bars",
    "channel": "position in the window-bar high-low channel of closes",
    "high_proximity": "closeness to the window-bar high",
    "channel_hl": "position in the window-bar high-low channel",
    "volume_trend": "fast average volume above the slow one",
    "price_volume_corr": "correlation of returns with volume",
    "volume_weighted_mom": "volume-weighted return",
    "trend_r2": "straightness of the trend (R squared)",
    "up_share": "share of up days",
    "smooth_mom": "return times the straightness of the trend",
}
"""One line per (non-library) template, shown in the second question."""

Side = Literal["long_only", "long_short"]
Rebalance = Literal["daily", "weekly", "monthly", "quarterly"]


class FamilyAnswer(BaseModel):
    """The first answer: the signal family."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str = Field(min_length=1, max_length=40)


class ParamsAnswer(BaseModel):
    """The second answer: the family's template, its parameters (bars) and the portfolio."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1, max_length=40)
    lookback: int | None = Field(default=None, ge=1, le=504)
    skip: int | None = Field(default=None, ge=1, le=504)
    window: int | None = Field(default=None, ge=1, le=504)
    fast: int | None = Field(default=None, ge=1, le=504)
    slow: int | None = Field(default=None, ge=1, le=504)
    side: Side = "long_only"
    k: int = Field(default=5, ge=1, le=500)
    rebalance: Rebalance = "monthly"
    stop: float = Field(default=0.0, ge=0.0, le=0.5)


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _families(fields: Collection[str]) -> list[str]:
    have = {f.lower() for f in fields}
    return [f for f in FAMILIES if feasible_templates(f, have)]


def family_schema(fields: Collection[str]) -> dict[str, Any]:
    """The first answer's schema: ``{"family": one of the families the fields allow}``."""
    return _object({"family": {"enum": _families(fields)}})


def _template_lines(fields: Collection[str]) -> str:
    have = {f.lower() for f in fields}
    lines = []
    for family in _families(fields):
        items = []
        for tpl in feasible_templates(family, have):
            note = TEMPLATE_NOTES.get(tpl.name) or f"the Alpha158 factor {tpl.name.upper()}"
            grid = ", ".join(f"{p} {list(v)}" for p, v in tpl.grid)
            items.append(f"{tpl.name} = {note} ({grid})")
        lines.append(f"- {family}: " + "; ".join(items))
    return "\n".join(lines)


def _system(fields: Collection[str]) -> str:
    families = "\n".join(f"- {f}: {FAMILY_NOTES[f]}" for f in _families(fields))
    return (
        f"You are a quant. Signal families:\n{families}\n"
        f"Templates of each family:\n{_template_lines(fields)}\n"
        "Bars are trading days (a week 5, a month 21, a year 252). side: long_only holds the "
        "k best stocks; long_short also shorts the worst. rebalance: how often."
    )


def family_messages(intent: str, fields: Collection[str]) -> list[dict[str, str]]:
    """The first question: the families (defined in one line each) and their templates, then
    the idea.

    The system message is the same for every idea on the same fields, so a
    server's prompt cache evaluates it once; only the idea is new.
    """
    return [
        {"role": "system", "content": _system(fields)},
        {"role": "user", "content": f"Idea: {intent}\nThe idea's signal family?"},
    ]


def params_schema(family: str, fields: Collection[str]) -> dict[str, Any]:
    """The second answer's schema: one branch per template of ``family`` the fields allow."""
    have = {f.lower() for f in fields}
    stops = STOP_CHOICES if {"high", "low"} <= have else ()
    branches = []
    for tpl in feasible_templates(family, have):
        props: dict[str, Any] = {"template": {"enum": [tpl.name]}}
        props.update({p: {"enum": list(values)} for p, values in tpl.grid})
        props["side"] = {"enum": ["long_only", "long_short"]}
        props["k"] = {"enum": list(K_CHOICES)}
        props["rebalance"] = {"enum": ["daily", "weekly", "monthly", "quarterly"]}
        if stops:
            props["stop"] = {"enum": list(stops)}
        branches.append(_object(props))
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def params_messages(intent: str, family: str, fields: Collection[str]) -> list[dict[str, str]]:
    """The second question: the first one, its answer, then a short question for the rest.

    It extends the first conversation, so a server's prompt cache covers all
    of it but the answer and the last line.
    """
    question = f"The idea's {family} template, its parameters, side, k and rebalance?"
    return [
        *family_messages(intent, fields),
        {"role": "assistant", "content": json.dumps({"family": family})},
        {"role": "user", "content": question},
    ]


def _name(intent: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", intent.lower())
    return ("-".join(words)[:40].strip("-")) or "local-draft"


def compose_draft(intent: str, family: str, answer: ParamsAnswer) -> StrategyDraft:
    """The full draft from the two answers; code fills the name, weighting, exits and method.

    Raises
    ------
    pydantic.ValidationError
        The family or template is not one the draft knows.
    """
    params = {p: getattr(answer, p) for p in ("lookback", "skip", "window", "fast", "slow")}
    signal = TemplateSignal.model_validate(
        {"family": family, "template": answer.template, **params}
    )
    stop = answer.stop
    return StrategyDraft(
        name=_name(intent),
        signal=signal,
        side=answer.side,
        method="top_k" if answer.side == "long_only" else "quantile_long_short",
        k=answer.k,
        rebalance=answer.rebalance,
        exits=DraftExits(stop_loss=stop),
        assumptions=[
            "a local model chose the family, then the template, parameters, side, k and "
            "rebalancing; the name, equal weighting and exits (stop loss only) were set by code"
        ],
    )


def _quoted(value: str) -> bool:
    return not value[:1].isdigit()


def _answer_json(parts: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f'"{k}": ' + (f'"{v}"' if _quoted(v) else v) for k, v in parts) + "}"


def params_choices(
    family: str, template: str, fields: Collection[str]
) -> list[tuple[str, list[str]]]:
    """The second answer's keys after ``template``, each with its options as the model writes
    them (the order of :func:`params_schema`'s properties)."""
    have = {f.lower() for f in fields}
    tpl = next(t for t in feasible_templates(family, have) if t.name == template)
    keys: list[tuple[str, list[str]]] = [(p, [str(v) for v in values]) for p, values in tpl.grid]
    keys += [
        ("side", ["long_only", "long_short"]),
        ("k", [str(k) for k in K_CHOICES]),
        ("rebalance", ["daily", "weekly", "monthly", "quarterly"]),
    ]
    if {"high", "low"} <= have:
        keys.append(("stop", [str(s) for s in STOP_CHOICES]))
    return keys


def ask_local_draft(
    client: Any,
    intent: str,
    fields: Collection[str],
    *,
    seed: int = 0,
) -> StrategyDraft:
    """Ask a grammar-bound model for a draft, value by value (see the module docstring).

    Parameters
    ----------
    client : LLMClient
        An OpenAI-compatible client of a llama.cpp server (plain ``/completions``
        with a GBNF grammar).
    intent : str
        The idea in plain words.
    fields : collection of str
        The dataset's field names (families and templates that need others are left out).
    seed : int

    Raises
    ------
    LLMAnswerError
        An answer outside its options (a server that ignores grammars, or one
        cut at ``max_tokens``), or a composed answer the draft refuses.
    LLMTransportError
    """
    from pydantic import ValidationError

    from alphaloop.llm import LLMAnswerError, ask_choice, chatml

    families = _families(fields)
    question = family_messages(intent, fields)
    family = ask_choice(
        client, chatml(question, answer_prefix='{"family": "'), families, what="the family", seed=seed
    )
    names = [t.name for t in feasible_templates(family, {f.lower() for f in fields})]
    parts: list[tuple[str, str]] = [("family", family)]

    def ask(key: str, options: list[str]) -> str:
        done = "".join(f"{_answer_json([p])[1:-1]}, " for p in parts)
        quote = '"' if _quoted(options[0]) else ""
        prompt = chatml(question, answer_prefix=f'{{{done}"{key}": {quote}')
        value = ask_choice(client, prompt, options, what=f"{family} {key}", seed=seed)
        parts.append((key, value))
        return value

    template = names[0] if len(names) == 1 else ask("template", names)
    if len(names) == 1:  # forced: code writes it, the model is not asked
        parts.append(("template", template))
    for key, options in params_choices(family, template, fields):
        ask(key, options)
    try:
        answer = ParamsAnswer.model_validate_json(_answer_json(parts[1:]))
        return compose_draft(intent, family, answer)
    except ValidationError as exc:
        raise LLMAnswerError(f"the model's answers do not make a draft: {exc}") from None
