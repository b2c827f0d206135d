"""The constrained schema of a StrategyDraft, for grammar-bound local decoding.

A grammar-constrained server (llama.cpp turns a JSON Schema into a GBNF
grammar) guarantees keys, types and enums, but its converter ignores numeric
``minimum``/``maximum``, and the portable schema
(:func:`alphaloop.llm.portable_schema`) drops lengths and item counts. A small
model then writes windows of 5789 bars or loops on the assumptions list until
its token budget runs out. :func:`constrained_draft_schema` renders the same
:class:`~alphaloop.research.draft.StrategyDraft` so that every value the
grammar lets through is valid:

- the signal is one ``anyOf`` branch per template the dataset's fields allow
  (:func:`~alphaloop.research.templates.feasible_templates`): the family and
  template as one-value enums, each of its parameters as an enum of its grid
  (every grid's skip is below every lookback, every fast below every slow,
  so the cross-parameter rules hold too);
- ``k`` and ``quantile`` are enums of a few sizes (or null);
- ``name`` and each assumption have a ``maxLength`` and a ``pattern`` that
  leaves out control characters (strict JSON refuses them raw), the
  assumptions a ``maxItems``;
- exits are optional, with enums of holding periods and stop sizes (stops
  only when the data has high and low);
- left out, so their defaults apply: the factor-expression signal (a small
  model rarely writes a valid expression; hosted models keep it through the
  portable schema), ``universe`` (every asset) and the signal's ``kind``.

The answer is still validated by the pydantic model and
:func:`~alphaloop.research.draft.draft_to_spec`; this schema only narrows
what the grammar emits. Keywords used: :data:`CONSTRAINED_KEYWORDS`.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from alphaloop.research.templates import FAMILIES, feasible_templates

__all__ = ["CONSTRAINED_KEYWORDS", "constrained_draft_schema"]

CONSTRAINED_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "anyOf"}
    | {"minItems", "maxItems", "minLength", "maxLength", "pattern"}
)
"""The keywords a constrained schema uses (all honoured by llama.cpp's converter)."""

K_CHOICES: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 30, 50)
"""Positions a constrained draft may hold (``k``; draft_to_spec keeps it below the assets)."""
QUANTILE_CHOICES: tuple[float, ...] = (0.1, 0.2, 0.25, 0.3, 0.5)
"""Shares of assets on each side a constrained draft may ask for."""
HOLD_CHOICES: tuple[int, ...] = (0, 1, 5, 10, 21, 63)
STOP_CHOICES: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2)
NAME_LENGTH = 40
ASSUMPTION_LENGTH = 80
MAX_ASSUMPTIONS = 3


def _text(max_length: int) -> dict[str, Any]:
    """A string of 1 to ``max_length`` characters, none a control character.

    The grammar's own string rule lets raw control characters (a newline)
    through, which strict JSON refuses; the pattern (which llama.cpp turns
    into the grammar, in place of the lengths) leaves them out.
    """
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "pattern": f'^[^"\\\\\\x00-\\x1f]{{1,{max_length}}}$',
    }


def _enum(values: Collection[Any]) -> dict[str, Any]:
    return {"enum": list(values)}


def _object(properties: dict[str, Any], required: Collection[str] | None = None):
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties if required is None else required),
        "additionalProperties": False,
    }


def _signals(fields: Collection[str]) -> list[dict[str, Any]]:
    branches = []
    for family in FAMILIES:
        for tpl in feasible_templates(family, fields):
            props: dict[str, Any] = {"family": _enum([family]), "template": _enum([tpl.name])}
            props.update({p: _enum(values) for p, values in tpl.grid})
            branches.append(_object(props))
    return branches


def constrained_draft_schema(fields: Collection[str]) -> dict[str, Any]:
    """The StrategyDraft schema in which every emitted value is valid, for data with ``fields``.

    Parameters
    ----------
    fields : collection of str
        The dataset's field names (``close``, ``volume``, ...): templates
        reading other fields, and stops without ``high``/``low``, are left out.

    Returns
    -------
    dict
        A JSON Schema (keywords in :data:`CONSTRAINED_KEYWORDS`) whose every
        instance validates as :class:`~alphaloop.research.draft.StrategyDraft`.
    """
    have = {f.lower() for f in fields}
    stops = STOP_CHOICES if {"high", "low"} <= have else (0.0,)
    exits = _object(
        {
            "hold_bars": _enum(HOLD_CHOICES),
            "exit_on_flip": {"type": "boolean"},
            "stop_loss": _enum(stops),
            "trailing_stop": _enum(stops),
        }
    )
    props: dict[str, Any] = {
        "name": _text(NAME_LENGTH),
        "signal": {"anyOf": _signals(have)},
        "side": _enum(["long_only", "long_short"]),
        "method": _enum(["top_k", "quantile_long_short"]),
        "k": _enum([None, *K_CHOICES]),
        "quantile": _enum([None, *QUANTILE_CHOICES]),
        "weighting": _enum(["equal", "signal", "inverse_volatility"]),
        "rebalance": _enum(["daily", "weekly", "monthly", "quarterly"]),
        "assumptions": {
            "type": "array",
            "items": _text(ASSUMPTION_LENGTH),
            "maxItems": MAX_ASSUMPTIONS,
        },
        "exits": exits,
    }
    return _object(props, required=[p for p in props if p != "exits"])
