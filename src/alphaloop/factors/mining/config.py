"""What a mining run does: :class:`MiningConfig`, recorded whole in the run's provenance."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from alphaloop.errors import MiningError
from alphaloop.factors.mining.grammar import Grammar
from alphaloop.factors.mining.hypotheses import Hypothesis

__all__ = ["MiningConfig"]


@dataclass(frozen=True)
class MiningConfig:
    """What a mining run does; every field is recorded in the run's provenance.

    Attributes
    ----------
    horizon : int
        Label horizon in bars: a factor at close ``t`` is scored against the
        return from close ``t+1`` to close ``t+1+horizon`` (next-bar fills).
    budget : int
        Distinct expressions to score (the run's trials).
    time_limit : float or None
        Wall-clock seconds; the run stops after the generation that crosses
        it (a time-limited run is not reproducible from its seed alone).
    pool : int
        Capacity of the synergistic pool (K).
    seed : int
        Seed of every random choice.
    population, tournament, elites : int
        Population size, tournament size, individuals copied unchanged.
    n_folds, n_valid : int
        Contiguous folds of the search span; the last ``n_valid`` validate.
        The last of those (the test fold) is held back from every selection:
        the other validation folds decide the pool, and significance is
        measured on the test fold.
    complexity : float
        Fitness penalty per node.
    novelty : float
        Fitness penalty per unit of the largest absolute correlation with
        a pool member.
    min_coverage : float
        Candidates with values on fewer member cells than this fraction, or
        a daily IC on fewer rows, of the training or of the validation rows,
        are discarded as degenerate (a factor scored on a few days has no IC
        worth the name).
    offers : int
        Candidates offered to the pool per generation (best fitness first).
    min_gain : float
        Pool validation IC a new factor must add.
    alpha : float
        Significance level of the gate, after adjustment for every trial.
    prior_trials : int
        Distinct expressions earlier sessions scored on the same data; they
        count in the adjustment.
    seed_expressions : tuple of str
        Expressions that enter generation 0 (checked like any expression).
    hypotheses : tuple of Hypothesis
        Expressions proposed from outside the search, with their source
        (``llm:<model>`` for a language model); they enter generation 0
        after the seed expressions, are scored and counted like any
        candidate, and the pool members descending from them name their
        sources (``MinedFactor.origins``). Screen them first
        (:func:`~alphaloop.factors.mining.hypotheses.screen_hypotheses`):
        an invalid one here is a :class:`MiningError`.
    grammar : Grammar or None
        None: the default grammar over the panel's price and volume fields.
    """

    horizon: int = 5
    budget: int = 3000
    time_limit: float | None = None
    pool: int = 10
    seed: int = 0
    population: int = 300
    tournament: int = 7
    elites: int = 10
    n_folds: int = 5
    n_valid: int = 2
    complexity: float = 0.0005
    novelty: float = 0.05
    min_coverage: float = 0.5
    offers: int = 20
    min_gain: float = 0.001
    alpha: float = 0.05
    prior_trials: int = 0
    seed_expressions: tuple[str, ...] = ()
    hypotheses: tuple[Hypothesis, ...] = ()
    grammar: Grammar | None = None

    def check(self) -> None:
        """Raise :class:`MiningError` for settings no run can use."""
        ints = {
            "horizon": (self.horizon, 1),
            "budget": (self.budget, 1),
            "pool": (self.pool, 1),
            "population": (self.population, 2),
            "tournament": (self.tournament, 1),
            "elites": (self.elites, 0),
            "n_folds": (self.n_folds, 2),
            "n_valid": (self.n_valid, 2),
            "offers": (self.offers, 1),
            "prior_trials": (self.prior_trials, 0),
        }
        for name, (value, low) in ints.items():
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
                raise MiningError(f"{name} must be a whole number >= {low}, got {value!r}")
        if self.n_valid >= self.n_folds:
            raise MiningError(
                f"n_valid ({self.n_valid}) must be smaller than n_folds ({self.n_folds}): "
                "training folds are needed"
            )
        if self.elites >= self.population:
            raise MiningError(f"elites ({self.elites}) must be fewer than population")
        if self.time_limit is not None and not (self.time_limit > 0):
            raise MiningError(f"time_limit must be positive seconds, got {self.time_limit!r}")
        for name in ("complexity", "novelty", "min_gain"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise MiningError(f"{name} must be a finite number >= 0, got {value!r}")
        if not 0 < self.alpha < 1:
            raise MiningError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not 0 <= self.min_coverage <= 1:
            raise MiningError(f"min_coverage must be in [0, 1], got {self.min_coverage!r}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(replace(self, grammar=None))
        out["seed_expressions"] = list(self.seed_expressions)
        if self.hypotheses:  # absent when none: keys of runs without them stay as they were
            out["hypotheses"] = [asdict(h) for h in self.hypotheses]
        else:
            out.pop("hypotheses")
        out["grammar"] = self.grammar.to_dict() if self.grammar is not None else None
        return out

    def replay_key(self) -> dict[str, Any]:
        """What determines the run's result (the time limit and prior trials excluded)."""
        out = self.to_dict()
        out.pop("time_limit")
        out.pop("prior_trials")
        return out
