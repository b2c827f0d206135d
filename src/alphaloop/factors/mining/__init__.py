"""Factor mining: genetic programming over the expression language.

Candidates are expression trees generated and varied under a typed grammar
(:mod:`.grammar`, :mod:`.variation`), canonicalised and hashed so that an
expression is scored once (:mod:`.canonical`), and scored by rank IC on
purged training folds of the search span (:mod:`.folds`, :mod:`.scoring`);
validation folds decide which factors enter a synergistic pool
(:mod:`.pool`), whose significance is adjusted for every expression scored
(:mod:`.significance`). :func:`mine` runs it (:mod:`.miner`); the pool
becomes a library with provenance (:mod:`.export`). See docs/mining.md.

Public names load on first use (:func:`alphaloop.faces.load_public`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.factors.mining.canonical import (
        canonical_texts,
        canonicalize,
        depth,
        expression_hash,
        size,
    )
    from alphaloop.factors.mining.config import MiningConfig
    from alphaloop.factors.mining.export import library_document, library_yaml
    from alphaloop.factors.mining.folds import FoldPlan, make_folds, next_bar_label
    from alphaloop.factors.mining.grammar import Grammar, invalid_reason, is_valid
    from alphaloop.factors.mining.holdout import score_pool_holdout
    from alphaloop.factors.mining.hypotheses import (
        Hypothesis,
        Rejection,
        SpanIC,
        screen_hypotheses,
        span_ics,
        training_ics,
    )
    from alphaloop.factors.mining.miner import DEFAULT_FIELDS, mine, search_folds
    from alphaloop.factors.mining.planted import PlantedPanel, planted_ic, planted_panel
    from alphaloop.factors.mining.pool import AlphaPool, PoolDecision, PoolMember
    from alphaloop.factors.mining.results import Candidate, MinedFactor, MiningResult
    from alphaloop.factors.mining.scoring import CandidateScore, ICScorer
    from alphaloop.factors.mining.significance import Significance, ic_significance
    from alphaloop.factors.mining.variation import (
        constant_mutation,
        crossover,
        hoist_mutation,
        point_mutation,
        subtree_mutation,
    )

_HOME: dict[str, str] = {
    "canonical_texts": "alphaloop.factors.mining.canonical",
    "canonicalize": "alphaloop.factors.mining.canonical",
    "depth": "alphaloop.factors.mining.canonical",
    "expression_hash": "alphaloop.factors.mining.canonical",
    "size": "alphaloop.factors.mining.canonical",
    "library_document": "alphaloop.factors.mining.export",
    "library_yaml": "alphaloop.factors.mining.export",
    "FoldPlan": "alphaloop.factors.mining.folds",
    "make_folds": "alphaloop.factors.mining.folds",
    "next_bar_label": "alphaloop.factors.mining.folds",
    "Grammar": "alphaloop.factors.mining.grammar",
    "invalid_reason": "alphaloop.factors.mining.grammar",
    "is_valid": "alphaloop.factors.mining.grammar",
    "score_pool_holdout": "alphaloop.factors.mining.holdout",
    "Hypothesis": "alphaloop.factors.mining.hypotheses",
    "Rejection": "alphaloop.factors.mining.hypotheses",
    "SpanIC": "alphaloop.factors.mining.hypotheses",
    "screen_hypotheses": "alphaloop.factors.mining.hypotheses",
    "span_ics": "alphaloop.factors.mining.hypotheses",
    "training_ics": "alphaloop.factors.mining.hypotheses",
    "search_folds": "alphaloop.factors.mining.miner",
    "DEFAULT_FIELDS": "alphaloop.factors.mining.miner",
    "Candidate": "alphaloop.factors.mining.results",
    "MinedFactor": "alphaloop.factors.mining.results",
    "MiningConfig": "alphaloop.factors.mining.config",
    "MiningResult": "alphaloop.factors.mining.results",
    "mine": "alphaloop.factors.mining.miner",
    "PlantedPanel": "alphaloop.factors.mining.planted",
    "planted_ic": "alphaloop.factors.mining.planted",
    "planted_panel": "alphaloop.factors.mining.planted",
    "AlphaPool": "alphaloop.factors.mining.pool",
    "PoolDecision": "alphaloop.factors.mining.pool",
    "PoolMember": "alphaloop.factors.mining.pool",
    "CandidateScore": "alphaloop.factors.mining.scoring",
    "ICScorer": "alphaloop.factors.mining.scoring",
    "Significance": "alphaloop.factors.mining.significance",
    "ic_significance": "alphaloop.factors.mining.significance",
    "constant_mutation": "alphaloop.factors.mining.variation",
    "crossover": "alphaloop.factors.mining.variation",
    "hoist_mutation": "alphaloop.factors.mining.variation",
    "point_mutation": "alphaloop.factors.mining.variation",
    "subtree_mutation": "alphaloop.factors.mining.variation",
}
"""Public name -> the module of this package that defines it."""

__all__ = [
    "DEFAULT_FIELDS",
    "AlphaPool",
    "Candidate",
    "CandidateScore",
    "FoldPlan",
    "Grammar",
    "Hypothesis",
    "ICScorer",
    "MinedFactor",
    "MiningConfig",
    "MiningResult",
    "PlantedPanel",
    "PoolDecision",
    "PoolMember",
    "Rejection",
    "Significance",
    "SpanIC",
    "canonical_texts",
    "canonicalize",
    "constant_mutation",
    "crossover",
    "depth",
    "expression_hash",
    "hoist_mutation",
    "ic_significance",
    "invalid_reason",
    "is_valid",
    "library_document",
    "library_yaml",
    "make_folds",
    "mine",
    "next_bar_label",
    "planted_ic",
    "planted_panel",
    "point_mutation",
    "score_pool_holdout",
    "screen_hypotheses",
    "search_folds",
    "size",
    "span_ics",
    "subtree_mutation",
    "training_ics",
]


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
