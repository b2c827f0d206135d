"""Factor hypotheses from a language model: the answer schema, the prompt, the checks.

A model is asked for a few expressions in alphaloop's expression language,
each with a name, a rationale, the sign it expects of the rank IC and the
horizon it has in mind (:class:`FactorHypothesis`). What it may read is
:class:`MiningFacts`: the dataset's field names, the dates and size of the
search span, the mining horizon, the grammar's operators and windows, and
existing library factors with their IC on the miner's training folds. The
holdout is not in it: nothing the facts carry is computed from it, and the
caller builds them from the search span only.

The answer takes the path of every candidate: it must validate against the
schema (one repair round inside :func:`~alphaloop.llm.structured.ask_structured`),
then every expression is parsed by the expression parser and validated
against the fields (:func:`~alphaloop.factors.mining.hypotheses.screen_hypotheses`;
text never reaches ``eval``). When no expression passes, the parser's
messages go back to the model once; when still none passes, or the model
cannot be reached, :func:`propose_hypotheses` returns no hypotheses and
says why (``fallback``), and the miner's own random population takes over.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from alphaloop.factors.mining.hypotheses import Hypothesis, Rejection, screen_hypotheses
from alphaloop.llm.client import LLMClient, Message
from alphaloop.llm.errors import LLMConfigError, LLMError
from alphaloop.llm.structured import ask_structured

__all__ = [
    "FactorHypotheses",
    "FactorHypothesis",
    "HypothesisOutcome",
    "LibraryFact",
    "MiningFacts",
    "hypothesis_messages",
    "propose_hypotheses",
]


class FactorHypothesis(BaseModel):
    """One factor a language model proposes."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=60, description="A short identifier, e.g. volume_price_corr."
    )
    expression: str = Field(
        min_length=1,
        max_length=400,
        description="The factor in alphaloop's expression language, e.g. "
        "CsRank(Corr($close, $volume, 10)). Fields start with $.",
    )
    rationale: str = Field(
        min_length=1, max_length=600, description="Why it should predict forward returns."
    )
    expected_sign: Literal["positive", "negative"] = Field(
        description="The sign expected of its rank correlation with forward returns."
    )
    horizon: int = Field(ge=1, le=250, description="Bars ahead it should predict.")


class FactorHypotheses(BaseModel):
    """The answer: a list of hypotheses."""

    model_config = ConfigDict(extra="forbid")

    hypotheses: list[FactorHypothesis] = Field(min_length=1, max_length=20)


@dataclass(frozen=True)
class LibraryFact:
    """An existing factor and its mean daily rank IC on the miner's training folds."""

    name: str
    expression: str
    train_ic: float | None
    n_days: int


@dataclass(frozen=True)
class MiningFacts:
    """What a hypothesis prompt may say: search-span facts only.

    Attributes
    ----------
    dataset : str
    fields : tuple of str
        Field names without ``$`` (``close``, ``volume``...).
    start, end : str
        First and last bar of the search span (ISO dates).
    n_bars, n_assets : int
    horizon : int
        The mining label horizon in bars.
    operators, windows : tuple
        The grammar's operator names and window lengths.
    library : tuple of LibraryFact
        Existing factors with their training-fold IC.
    """

    dataset: str
    fields: tuple[str, ...]
    start: str
    end: str
    n_bars: int
    n_assets: int
    horizon: int
    operators: tuple[str, ...]
    windows: tuple[int, ...]
    library: tuple[LibraryFact, ...] = ()


_SYSTEM = (
    "You are a quantitative researcher. You propose cross-sectional factors for a factor "
    "miner, written in alphaloop's expression language: fields are $name (e.g. $close); "
    "operators are calls such as Mean($close, 20), Corr($close, $volume, 10), "
    "CsRank(x), Ref(x, 5) (5 bars ago), Delta(x, 1); + - * / also work. Windows and lags "
    "are positive whole numbers of bars; nothing may look into the future. Answer with one "
    "JSON object matching the schema, nothing else."
)


def _ic(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.4f}"


def hypothesis_messages(facts: MiningFacts, n: int) -> list[Message]:
    """The chat messages that ask for ``n`` hypotheses about ``facts``."""
    lines = [
        f"Dataset {facts.dataset}: {facts.n_assets} assets, {facts.n_bars} bars from "
        f"{facts.start} to {facts.end} (the span you may know about).",
        f"Fields: {', '.join('$' + f for f in facts.fields)}.",
        f"Operators: {', '.join(facts.operators)}.",
        f"Windows in bars: {', '.join(str(w) for w in facts.windows)}.",
        f"Target: the rank correlation of the factor at the close of a bar with the return "
        f"over the next {facts.horizon} bars, starting at the next bar.",
    ]
    if facts.library:
        lines.append(
            "Existing factors and their mean daily rank IC on the training folds "
            "(propose something different):"
        )
        lines += [
            f"- {f.name}: {f.expression} (IC {_ic(f.train_ic)} over {f.n_days} days)"
            for f in facts.library
        ]
    lines.append(f"Propose {n} new factors.")
    return [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": "\n".join(lines)},
    ]


@dataclass(frozen=True)
class HypothesisOutcome:
    """What a request for hypotheses produced.

    ``accepted`` passed the parser and the validator (canonical text),
    ``rejected`` did not (never scored, not trials); ``fallback`` says why
    the offline search runs alone (None when some hypothesis was accepted);
    ``answers`` are the validated answers as sent, ``attempts`` the
    requests made (schema repairs inside them not counted).
    """

    source: str
    accepted: tuple[Hypothesis, ...]
    rejected: tuple[Rejection, ...]
    fallback: str | None
    attempts: int
    answers: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "accepted": [
                {"name": h.name, "expression": h.expression, "rationale": h.rationale}
                for h in self.accepted
            ],
            "rejected": [r.to_dict() for r in self.rejected],
            "fallback": self.fallback,
            "attempts": self.attempts,
            "answers": list(self.answers),
        }


def _repair_message(rejected: Sequence[Rejection]) -> str:
    problems = "; ".join(f"{r.hypothesis.name}: {r.reason}" for r in rejected[:10])
    return (
        f"None of these expressions can be used: {problems}\n"
        "Propose again, using only the listed fields and operators."
    )


def propose_hypotheses(
    client: LLMClient,
    facts: MiningFacts,
    *,
    n: int = 5,
    seed: int = 0,
    max_tokens: int = 2048,
) -> HypothesisOutcome:
    """Ask ``client`` for ``n`` factor hypotheses and keep those the parser accepts.

    Parameters
    ----------
    client : LLMClient
        Its cache (``use``/``replay``/``off``) and token account apply.
    facts : MiningFacts
        Search-span facts only.
    n : int, default 5
        Hypotheses asked for (the answer may hold 1 to 20).
    seed : int, default 0
        Sent with the request (part of the cache key).

    Returns
    -------
    HypothesisOutcome
        With ``fallback`` set when no hypothesis can be used.

    Raises
    ------
    LLMConfigError
        Settings that cannot work (a key variable that is not set): a user
        error, not a reason to fall back silently.
    """
    if not 1 <= n <= 20:
        raise ValueError(f"n must be between 1 and 20, got {n}")
    source = f"llm:{client.settings.model}"
    messages = hypothesis_messages(facts, n)
    rejected: list[Rejection] = []
    answers: list[dict[str, Any]] = []
    for attempt in (1, 2):
        try:
            answer = ask_structured(
                client, messages, FactorHypotheses, seed=seed, max_tokens=max_tokens
            )
        except LLMConfigError:
            raise
        except LLMError as exc:
            why = f"{type(exc).__name__}: {exc.message}"
            return HypothesisOutcome(source, (), tuple(rejected), why, attempt, tuple(answers))
        answers.append(answer.model_dump(mode="json"))
        proposed = [
            Hypothesis(h.expression, source=source, name=h.name, rationale=h.rationale)
            for h in answer.hypotheses
        ]
        accepted, refused = screen_hypotheses(proposed, facts.fields)
        rejected += refused
        if accepted:
            return HypothesisOutcome(
                source, tuple(accepted), tuple(rejected), None, attempt, tuple(answers)
            )
        messages = [
            *messages,
            {"role": "assistant", "content": answer.model_dump_json()},
            {"role": "user", "content": _repair_message(refused)},
        ]
    return HypothesisOutcome(
        source,
        (),
        tuple(rejected),
        "no hypothesis passed the expression parser after one repair round",
        2,
        tuple(answers),
    )
