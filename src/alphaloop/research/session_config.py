"""How a research session searches (:class:`SessionConfig`) and what it has done so far
(:class:`BatchReport`, for a live display)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BatchReport", "SessionConfig"]


class SessionConfig(BaseModel):
    """How a session searches; stored with the session.

    Parameters
    ----------
    budget : int
        New candidates this session proposes and evaluates (a repeat of a
        stored evaluation does not count; a spec refused before it ran does,
        though it is not a trial).
    time_limit : float, optional
        Seconds of wall-clock time; checked between batches.
    batch_size : int
        Proposals per batch. The policy sees the results of a batch before
        it proposes the next.
    workers : int
        Processes (local) or actors (Ray) evaluating candidates.
    executor : {"local", "ray"}
    seed : int
        Seeds the policy (batch ``b`` uses ``default_rng([seed, b])``) and
        every random process of the evaluation.
    picks : int
        Final picks evaluated on the sealed holdout at the end (the best
        survivors by deflated Sharpe ratio); 0 = never touch the holdout.
    folds : int
        Walk-forward folds of the search span.
    scan_points : int
        Truncation points of each candidate's lookahead scan.
    ml : bool
        Let hybrid and ML candidates in (when the goal allows them): the ML
        quant agent finds or trains the session's model first.
    improve : bool
        Run the model improver in its own process while the session runs.
    templates : bool
        Search the strategy templates (:data:`alphaloop.strategies.TEMPLATES`,
        each a family) besides the indicator and model families; the names
        registered at the session's start are stored with it.
    policy : {"bandit", "llm"}
        Who proposes candidates: ``bandit`` (offline Thompson sampling, the
        default) or ``llm`` (a language model prompted with the strategy
        database's search-span context, the bandit standing in for any
        proposal the model gets wrong; :class:`~alphaloop.research.llm_policy.LLMPolicy`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    budget: int = Field(200, ge=1, le=10_000_000)
    time_limit: float | None = Field(None, gt=0)
    batch_size: int = Field(32, ge=1, le=10_000)
    workers: int = Field(2, ge=1, le=512)
    executor: Literal["local", "ray"] = "local"
    seed: int = Field(0, ge=0, le=2**63 - 1)
    picks: int = Field(1, ge=0, le=20)
    folds: int = Field(5, ge=2, le=50)
    scan_points: int = Field(20, ge=1, le=1000)
    ml: bool = True
    improve: bool = False
    templates: bool = True
    policy: Literal["bandit", "llm"] = "bandit"


@dataclass
class BatchReport:
    """What a session has done so far, for a live display (``on_batch``)."""

    batch: int
    evaluated: int
    reused: int
    ok: int
    failed: int
    passed: int
    rejections: Counter[str] = field(default_factory=Counter)
    best: dict[str, Any] | None = None
    elapsed: float = 0.0
