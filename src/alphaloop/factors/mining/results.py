"""What a mining run returns: every candidate it scored, the pool with provenance.

Numbers are rounded to 10 significant decimals and NaN becomes None in the
dictionaries, so the same run serialises to the same text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from alphaloop.factors.mining.config import MiningConfig
from alphaloop.factors.mining.folds import FoldPlan
from alphaloop.factors.mining.scoring import CandidateScore
from alphaloop.factors.mining.significance import Significance
from alphaloop.jsonsafe import json_safe

__all__ = ["Candidate", "MinedFactor", "MiningResult", "clean_float", "score_from_dict"]


@dataclass(frozen=True)
class Candidate:
    """One distinct expression the run scored, whatever happened to it.

    ``status``: ``scored`` (a fitness), ``degenerate`` (too few values, or no
    finite IC), ``failed`` (evaluation error), ``pooled`` (admitted to the
    pool at some point). ``origin`` is the source of a hypothesis
    (``operator == "hypothesis"``), None otherwise.
    """

    key: str
    expression: str
    generation: int
    operator: str  # random | seed | hypothesis | crossover | subtree | point | constant | hoist
    parents: tuple[str, ...]
    size: int
    status: str
    fitness: float | None
    score: CandidateScore | None
    reason: str | None = None
    origin: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "key": self.key,
            "expression": self.expression,
            "generation": self.generation,
            "operator": self.operator,
            "parents": list(self.parents),
            "size": self.size,
            "status": self.status,
            "fitness": clean_float(self.fitness),
            "score": self.score.to_dict() if self.score is not None else None,
            "reason": self.reason,
        }
        if self.origin is not None:
            out["origin"] = self.origin
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Candidate:
        score = d.get("score")
        return cls(
            key=d["key"],
            expression=d["expression"],
            generation=int(d["generation"]),
            operator=d["operator"],
            parents=tuple(d["parents"]),
            size=int(d["size"]),
            status=d["status"],
            fitness=d["fitness"],
            score=score_from_dict(score) if score is not None else None,
            reason=d.get("reason"),
            origin=d.get("origin"),
        )


@dataclass(frozen=True)
class MinedFactor:
    """A pool member with its provenance.

    ``expression`` is oriented: its IC on training rows is positive (a factor
    found with a negative IC is kept as ``Neg(...)``). ``origins`` are the
    hypothesis sources among the factor and its ancestors (``llm:<model>``,
    ``user``); empty when the search found it on its own.
    """

    name: str
    key: str
    expression: str
    found_as: str
    generation: int
    operator: str
    parents: tuple[str, ...]
    weight: float
    marginal: float
    valid_ic: float
    score: CandidateScore
    significance: Significance
    origins: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name,
            "key": self.key,
            "expression": self.expression,
            "found_as": self.found_as,
            "generation": self.generation,
            "operator": self.operator,
            "parents": list(self.parents),
            "weight": clean_float(self.weight),
            "marginal": clean_float(self.marginal),
            "valid_ic": clean_float(self.valid_ic),
            "score": self.score.to_dict(),
            "significance": _sig_dict(self.significance),
        }
        if self.origins:
            out["origins"] = list(self.origins)
        return out


@dataclass(frozen=True)
class MiningResult:
    """What a run found, with everything needed to judge it.

    ``pool_significance`` and each member's ``significance`` are adjusted
    for ``n_trials`` = this run's ``n_scored`` plus ``prior_trials``.
    ``stopped`` says why the run ended: ``budget``, ``time``,
    ``interrupted`` or ``exhausted`` (variation produced no new
    expression for several generations).
    """

    config: MiningConfig
    members: tuple[MinedFactor, ...]
    pool_train_ic: float
    pool_valid_ic: float
    pool_significance: Significance | None
    n_scored: int
    n_proposed: int
    n_generations: int
    n_trials: int
    elapsed: float
    stopped: str
    plan: FoldPlan
    test: tuple[int, int]
    data_hash: str
    candidates: tuple[Candidate, ...] = field(repr=False)

    @property
    def passed(self) -> tuple[MinedFactor, ...]:
        """Members whose adjusted significance passes the gate."""
        return tuple(m for m in self.members if m.significance.passed)

    def to_dict(self, *, candidates: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "config": self.config.to_dict(),
            "data_hash": self.data_hash,
            "folds": {**self.plan.to_dict(), "test": list(self.test)},
            "n_scored": self.n_scored,
            "n_proposed": self.n_proposed,
            "n_generations": self.n_generations,
            "n_trials": self.n_trials,
            "elapsed": round(self.elapsed, 3),
            "stopped": self.stopped,
            "pool": {
                "train_ic": clean_float(self.pool_train_ic),
                "valid_ic": clean_float(self.pool_valid_ic),
                "significance": _sig_dict(self.pool_significance)
                if self.pool_significance is not None
                else None,
                "members": [m.to_dict() for m in self.members],
            },
            "passed": [m.name for m in self.passed],
            "status_counts": _status_counts(self.candidates),
        }
        if candidates:
            out["candidates"] = [c.to_dict() for c in self.candidates]
        return json_safe(out)


def clean_float(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, 10) if math.isfinite(x) else None


def _sig_dict(sig: Significance | None) -> dict[str, Any] | None:
    if sig is None:
        return None
    return {k: (clean_float(v) if isinstance(v, float) else v) for k, v in asdict(sig).items()}


def score_from_dict(d: Mapping[str, Any]) -> CandidateScore:
    def f(x: Any) -> float:
        return float("nan") if x is None else float(x)

    return CandidateScore(
        train_ic=tuple(f(x) for x in d["train_ic"]),
        valid_ic=tuple(f(x) for x in d["valid_ic"]),
        ic=f(d["ic"]),
        icir=f(d["icir"]),
        valid_mean=f(d["valid_mean"]),
        coverage=f(d["coverage"]),
        valid_coverage=f(d.get("valid_coverage")),
        days=f(d.get("days")),
        valid_days=f(d.get("valid_days")),
    )


def _status_counts(cands: Sequence[Candidate]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cands:
        out[c.status] = out.get(c.status, 0) + 1
    return dict(sorted(out.items()))
