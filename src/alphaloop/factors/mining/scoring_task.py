"""Scoring a chunk of candidates, the part of a mining generation that runs on workers.

:func:`score_chunk` evaluates a chunk of expressions on the panel (a
subexpression they share is computed once), scores each by rank IC and, for
each that may still enter the population (its fitness bound above the
population's threshold), returns its oriented ranked values for the
novelty term. What depends on the run's state between chunks (the pool,
the population) stays with the miner: the workers read only the panel and
the scorer, shipped to each of them once as a :class:`ScoringData`, and the
threshold, sent with each call. The miner runs the same function in
process, so a run gives the same result on any task pool.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alphaloop.data import Panel
from alphaloop.factors.ast import Node
from alphaloop.factors.evaluate import evaluate_nodes
from alphaloop.factors.mining.canonical import size
from alphaloop.factors.mining.scoring import CandidateScore, ICScorer

__all__ = ["ChunkOutcome", "ScoringData", "score_chunk"]


@dataclass(frozen=True)
class ScoringData:
    """What every scoring task reads: the search-span panel, the scorer and two settings."""

    panel: Panel
    scorer: ICScorer
    min_coverage: float
    complexity: float


@dataclass(frozen=True)
class ChunkOutcome:
    """One candidate's outcome: ``failed`` (``reason``: the exception's type),
    ``degenerate`` (``reason``: why) or ``scored`` (``bound``: ``|IC| - complexity *
    size``; ``ranked``: oriented ranked values, only when ``bound`` beats the threshold)."""

    key: str
    status: str
    score: CandidateScore | None = None
    bound: float | None = None
    ranked: np.ndarray | None = None
    reason: str | None = None


def score_chunk(
    data: ScoringData, chunk: Sequence[tuple[str, Node]], threshold: float
) -> list[ChunkOutcome]:
    """Outcomes of a chunk of ``(key, node)`` candidates, in chunk order."""
    nodes = dict(chunk)
    failed: dict[str, str] = {}
    try:
        values = evaluate_nodes(data.panel, nodes)
    except Exception:  # one bad tree must not sink the chunk: evaluate alone
        values = {}
        for k, n in nodes.items():
            try:
                values.update(evaluate_nodes(data.panel, {k: n}))
            except Exception as exc:
                failed[k] = type(exc).__name__
    out: list[ChunkOutcome] = []
    for key, node in chunk:
        if key in failed:
            out.append(ChunkOutcome(key, "failed", reason=failed[key]))
        elif key in values:
            out.append(_score_one(data, key, node, values.pop(key), threshold))
    return out


def _score_one(
    data: ScoringData, key: str, node: Node, values: np.ndarray, threshold: float
) -> ChunkOutcome:
    score = data.scorer.score(values)
    least = data.min_coverage
    shares = (score.coverage, score.valid_coverage, score.days, score.valid_days)
    covered = all(x >= least for x in shares)  # NaN: not covered
    if not (math.isfinite(score.ic) and covered):
        why = "no finite IC" if not math.isfinite(score.ic) else "too few values"
        return ChunkOutcome(key, "degenerate", score=score, reason=why)
    bound = abs(score.ic) - data.complexity * size(node)
    if bound <= threshold:
        # it cannot reach the population (nor the pool's offers): the novelty
        # term, which only lowers fitness, is not worth its ranks
        return ChunkOutcome(key, "scored", score=score, bound=bound)
    ranked = data.scorer.ranked(values)
    if score.ic < 0:
        ranked = -ranked
    return ChunkOutcome(key, "scored", score=score, bound=bound, ranked=ranked)
