"""Factor hypotheses from outside the search: checked, seeded, and measured on a span.

A hypothesis is an expression someone proposes before the search starts (a
user, a paper, a language model). It takes the same path as every candidate
the miner makes: parsed by the expression parser (never ``eval``),
validated against the panel's fields (unknown names and references to
future bars are refused), canonicalised, scored on the same training folds
and counted as a trial. :class:`Hypothesis` carries where it came from
(``source``), so what descends from it can be told apart in the result.

:func:`screen_hypotheses` sorts a list into accepted (canonical text) and
rejected (the parser's message); a rejected hypothesis was never scored and
is not a trial. :func:`span_ics` measures expressions on a row range of the
search span (the memorisation guard reports LLM-originated factors on the
bars after the model's knowledge cut-off); :func:`training_ics` on the
miner's training folds (what a prompt may say about existing factors).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from alphaloop.data import Panel
from alphaloop.errors import ExpressionError, MiningError
from alphaloop.factors.evaluate import evaluate_nodes
from alphaloop.factors.mining.canonical import canonicalize
from alphaloop.factors.parser import parse
from alphaloop.factors.validate import validate

if TYPE_CHECKING:
    from alphaloop.factors.mining.config import MiningConfig
    from alphaloop.factors.mining.scoring import ICScorer

__all__ = [
    "Hypothesis",
    "Rejection",
    "SpanIC",
    "lineage_sources",
    "screen_hypotheses",
    "span_ics",
    "training_ics",
]

#: longest expression text a hypothesis may have (characters)
MAX_EXPRESSION_CHARS = 400


@dataclass(frozen=True)
class Hypothesis:
    """An expression proposed from outside the search.

    Attributes
    ----------
    expression : str
        Expression-language text (``Corr($close, $volume, 10)``).
    source : str
        Who proposed it: ``user``, or ``llm:<model>`` for a language model.
    name : str or None
        A short label, shown with the result.
    rationale : str or None
        Why it might predict returns (recorded, never evaluated).
    """

    expression: str
    source: str = "user"
    name: str | None = None
    rationale: str | None = None


@dataclass(frozen=True)
class Rejection:
    """A hypothesis that did not pass the parser or the validator (never scored)."""

    hypothesis: Hypothesis
    reason: str

    def to_dict(self) -> dict[str, str | None]:
        return {
            "name": self.hypothesis.name,
            "expression": self.hypothesis.expression[:MAX_EXPRESSION_CHARS],
            "source": self.hypothesis.source,
            "reason": self.reason,
        }


def screen_hypotheses(
    hypotheses: Sequence[Hypothesis], fields: Collection[str]
) -> tuple[list[Hypothesis], list[Rejection]]:
    """Split hypotheses into those the miner can score and those it cannot.

    Each expression is parsed, validated against ``fields`` (no unknown
    field, no reference to a future bar) and canonicalised; the accepted
    ones carry their canonical text, the first of equal ones is kept.

    Returns
    -------
    accepted : list of Hypothesis
        With ``expression`` replaced by its canonical text.
    rejected : list of Rejection
        With the parser's or validator's message (or ``duplicate of ...``).
    """
    accepted: list[Hypothesis] = []
    rejected: list[Rejection] = []
    seen: dict[str, str] = {}
    for h in hypotheses:
        text = h.expression
        if len(text) > MAX_EXPRESSION_CHARS:
            rejected.append(Rejection(h, f"longer than {MAX_EXPRESSION_CHARS} characters"))
            continue
        try:
            node = parse(text)
            validate(node, text=text, fields=fields)
            canonical = str(canonicalize(node))
        except ExpressionError as exc:
            rejected.append(Rejection(h, exc.message.splitlines()[0]))
            continue
        except (RecursionError, ValueError) as exc:
            rejected.append(Rejection(h, f"not an expression ({type(exc).__name__})"))
            continue
        if canonical in seen:
            rejected.append(Rejection(h, f"duplicate of {seen[canonical]}"))
            continue
        seen[canonical] = h.name or text
        accepted.append(Hypothesis(canonical, source=h.source, name=h.name, rationale=h.rationale))
    return accepted, rejected


def lineage_sources(
    key: str, parents: Mapping[str, Sequence[str]], origins: Mapping[str, str]
) -> tuple[str, ...]:
    """The hypothesis sources among ``key`` and its ancestors, sorted.

    Parameters
    ----------
    key : str
        A candidate's hash.
    parents : mapping
        Candidate hash -> its parents' hashes.
    origins : mapping
        Candidate hash -> source, for the hypotheses.
    """
    found: set[str] = set()
    stack, seen = [key], {key}
    while stack:
        k = stack.pop()
        if k in origins:
            found.add(origins[k])
        for p in parents.get(k, ()):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return tuple(sorted(found))


@dataclass(frozen=True)
class SpanIC:
    """Mean daily rank IC of an expression on a span of rows, and how many days it rests on."""

    mean_ic: float | None
    n_days: int

    def to_dict(self) -> dict[str, float | int | None]:
        return {"mean_ic": self.mean_ic, "n_days": self.n_days}


def _scorer(panel: Panel, config: MiningConfig) -> ICScorer:
    from alphaloop.factors.mining.folds import next_bar_label
    from alphaloop.factors.mining.miner import search_folds
    from alphaloop.factors.mining.scoring import ICScorer

    plan, _ = search_folds(panel, config)
    label = next_bar_label(panel.field("close"), config.horizon)
    return ICScorer(label, panel.membership, plan)


def _mean(x: np.ndarray) -> SpanIC:
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return SpanIC(None, 0)
    value = float(finite.mean())
    return SpanIC(round(value, 10) if math.isfinite(value) else None, int(finite.size))


def span_ics(
    panel: Panel, expressions: Mapping[str, str], config: MiningConfig, *, start_row: int
) -> dict[str, SpanIC]:
    """Mean daily rank IC of each expression on rows ``start_row`` .. the end of ``panel``.

    The label is the miner's (next-bar, ``config.horizon`` bars); rows whose
    label would reach past the panel have none, so nothing beyond the panel
    handed in is read. Pass the search span only.
    """
    if not 0 <= start_row < panel.n_times:
        raise MiningError(f"start_row {start_row} is outside the panel's {panel.n_times} rows")
    scorer = _scorer(panel, config)
    values = evaluate_nodes(panel, {k: parse(t) for k, t in expressions.items()})
    return {k: _mean(scorer.daily_ic(values[k])[start_row:]) for k in expressions}


def training_ics(
    panel: Panel, expressions: Mapping[str, str], config: MiningConfig
) -> dict[str, SpanIC]:
    """Mean daily rank IC of each expression on the miner's training folds (the fitness rows).

    Expressions that fail to evaluate are left out. Validation and test
    folds are not used, so what a prompt learns from these figures cannot
    steer the pool's selection or its significance test.
    """
    scorer = _scorer(panel, config)
    rows = scorer.rows("train")
    out = {}
    for k, text in expressions.items():
        try:
            values = evaluate_nodes(panel, {k: parse(text)})[k]
        except Exception:  # a library formula this data cannot evaluate: not a fact
            continue
        out[k] = _mean(scorer.daily_ic(values)[rows])
    return out
