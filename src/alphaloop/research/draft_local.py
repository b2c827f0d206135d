"""A StrategyDraft from a small local model, value by value: the family, then its parameters.

A grammar-bound local model (SmolLM2-135M on llama.cpp) on two busy cores
evaluates a prompt at about 100 to 130 tokens a second and writes about 40
to 50 (one forward pass a token, plus the grammar's check of every token of
the vocabulary). One-shot it wrote about 164 tokens per draft (name,
assumptions, every field); in two chat answers (the family, then the
template, parameters and portfolio as JSON) about 58, most of them braces,
keys and quotes the schema already fixed.

:func:`ask_local_draft` lets the model write only the values. The answer is
one JSON object, ``{"family": "momentum","template":"mom","lookback":63,
"side":"long_only","k":5,"rebalance":"monthly"}``, asked key by key with
:func:`~alphaloop.llm.choice.ask_choice`: each request's prompt is the
conversation with the answer written so far and the next key (so the keys
are read, not written), and a grammar lets the model write one of that
key's options. After the family the JSON is compact (no spaces: two tokens
fewer per key); the family's own ``{"family": "`` keeps its spaces, with
which the model's family matched the idea more often (14 of 50 benchmark
intents against 13 compact). The keys, in order:

1. **family**: the families the dataset's fields allow, each defined in one
   line in the system message (:data:`FAMILY_NOTES`) with its templates
   (:data:`TEMPLATE_NOTES`);
2. **template**: that family's templates the fields allow;
3. **the template's parameters**, each one of its grid (bars);
4. **side**, **k** (one of a few sizes), **rebalance**, and **stop** only
   when the data has high and low.

A key with one option is written by code, not asked. Code, not the model,
then writes the rest of the :class:`~alphaloop.research.draft.StrategyDraft`:
the name (from the idea's words), equal weighting, no holding period, the
method that matches the side, and an assumption saying which fields the
model chose. The answer is validated as :class:`ParamsAnswer` and the draft
goes through :func:`~alphaloop.research.draft.draft_to_spec` as usual.
Nothing of the offline parser is used.

Every request shares its beginning with the previous one: the system
message (the same for every idea on the same fields), the idea, the answer
so far. A server that keeps its prompt cache (llama.cpp does) evaluates
the system message once, then about 40 tokens for the idea and 3 to 5 for
each later key: about 64 prompt tokens and 14 forward passes writing per
draft, against 72 and 58 in two chat answers.
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
    "ParamsAnswer",
    "ask_local_draft",
    "compose_draft",
    "family_messages",
    "family_schema",
    "params_choices",
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


class ParamsAnswer(BaseModel):
    """The answer after the family: its template, the template's parameters (bars) and the
    portfolio."""

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
    """What the family may be: ``{"family": one of the families the fields allow}`` (the
    options :func:`ask_local_draft` offers, as a JSON Schema)."""
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
    """The question: the families (defined in one line each) and their templates, then the idea.

    The system message is the same for every idea on the same fields, so a
    server's prompt cache evaluates it once; only the idea is new. The
    answer, asked key by key, continues this conversation.
    """
    return [
        {"role": "system", "content": _system(fields)},
        {"role": "user", "content": f"Idea: {intent}\nThe idea's signal family?"},
    ]


def params_schema(family: str, fields: Collection[str]) -> dict[str, Any]:
    """What may follow the family: one branch per template of ``family`` the fields allow
    (the options :func:`ask_local_draft` offers key by key, as a JSON Schema)."""
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


def _name(intent: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", intent.lower())
    return ("-".join(words)[:40].strip("-")) or "local-draft"


def compose_draft(intent: str, family: str, answer: ParamsAnswer) -> StrategyDraft:
    """The full draft from the family and the answer after it; code fills the name, weighting,
    exits and method.

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
    """Whether an option is a JSON string (names) rather than a number (as the model writes)."""
    return not value[:1].isdigit()


def _pair(key: str, value: str, colon: str = ": ") -> str:
    return f"{json.dumps(key)}{colon}{json.dumps(value) if _quoted(value) else value}"


def _answer_json(parts: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(_pair(k, v) for k, v in parts) + "}"


def params_choices(
    family: str, template: str, fields: Collection[str]
) -> list[tuple[str, list[str]]]:
    """The keys after ``template``, each with its options as the model writes them (the order
    of :func:`params_schema`'s properties)."""
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

    question = family_messages(intent, fields)
    parts: list[tuple[str, str]] = []

    def ask(key: str, options: list[str]) -> str:
        if len(options) == 1:  # forced: code writes it, the model is not asked
            value = options[0]
        else:
            quote = '"' if _quoted(options[0]) else ""
            if not parts:
                prefix = f'{{"{key}": {quote}'
            else:
                first = _pair(*parts[0])
                rest = "".join(f",{_pair(k, v, ':')}" for k, v in parts[1:])
                prefix = f'{{{first}{rest},"{key}":{quote}'
            prompt = chatml(question, answer_prefix=prefix)
            what = f"the {key}" if not parts else f"the {parts[0][1]} draft's {key}"
            value = ask_choice(client, prompt, options, what=what, seed=seed)
        parts.append((key, value))
        return value

    family = ask("family", _families(fields))
    template = ask("template", [t.name for t in feasible_templates(family, fields)])
    for key, options in params_choices(family, template, fields):
        ask(key, options)
    try:
        answer = ParamsAnswer.model_validate_json(_answer_json(parts[1:]))  # after the family
        return compose_draft(intent, family, answer)
    except ValidationError as exc:
        raise LLMAnswerError(f"the model's answers do not make a draft: {exc}") from None
