"""The records of an evolution: settings, genomes, evaluations and generations.

See :mod:`alphaloop.live.evolution` for the algorithm that fills them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from alphaloop.errors import AlphaloopError
from alphaloop.live.specialists import STYLES, Specialist

__all__ = [
    "EVOLVABLE_STYLES",
    "Evaluation",
    "Evolution",
    "EvolutionConfig",
    "EvolutionError",
    "Generation",
    "Genome",
    "fitness_key",
]

EVOLVABLE_STYLES: tuple[str, ...] = tuple(s for s in STYLES if s != "sentiment")


class EvolutionError(AlphaloopError):
    """An evolution was given bad input (settings, styles, too few bars)."""


@dataclass(frozen=True)
class EvolutionConfig:
    """Settings of one evolution (validated by :meth:`check`).

    Parameters
    ----------
    population : int, default 12
        Genomes per generation (>= 4).
    generations : int, default 5
        Generations evaluated, the first included (>= 1).
    styles : tuple of str
        Specialist styles in the population (from :data:`EVOLVABLE_STYLES`).
    tournament : int, default 3
        Genomes drawn per tournament (2 .. population).
    elite : int, default 2
        Fittest distinct genomes carried over unchanged (1 .. population - 1).
    crossover_rate, mutation_rate : float
        Probabilities in [0, 1] that a child is a crossover, and that it is mutated.
    validation_fraction : float, default 0.2
        Share of the bars kept back as the validation tail, in (0, 0.5].
    survivors : int, default 5
        Fittest distinct genomes of the last generation reported (>= 1).
    seed : int, default 0
    """

    population: int = 12
    generations: int = 5
    styles: tuple[str, ...] = ("momentum", "mean_reversion", "breakout")
    tournament: int = 3
    elite: int = 2
    crossover_rate: float = 0.5
    mutation_rate: float = 0.9
    validation_fraction: float = 0.2
    survivors: int = 5
    seed: int = 0

    def check(self) -> EvolutionConfig:
        """Raise :class:`EvolutionError` naming the first bad setting; return self."""
        rules: list[tuple[bool, str]] = [
            (self.population >= 4, f"population must be >= 4, got {self.population}"),
            (self.generations >= 1, f"generations must be >= 1, got {self.generations}"),
            (
                2 <= self.tournament <= self.population,
                f"tournament must be in 2..population ({self.population}), got {self.tournament}",
            ),
            (
                1 <= self.elite < self.population,
                f"elite must be in 1..population-1 ({self.population - 1}), got {self.elite}",
            ),
            (0 <= self.crossover_rate <= 1, f"crossover_rate {self.crossover_rate} not in [0, 1]"),
            (0 <= self.mutation_rate <= 1, f"mutation_rate {self.mutation_rate} not in [0, 1]"),
            (
                0 < self.validation_fraction <= 0.5,
                f"validation_fraction must be in (0, 0.5], got {self.validation_fraction}",
            ),
            (self.survivors >= 1, f"survivors must be >= 1, got {self.survivors}"),
            (self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            (len(self.styles) >= 1, "styles must name at least one style"),
        ]
        for ok, message in rules:
            if not ok:
                raise EvolutionError(message)
        bad = sorted(set(self.styles) - set(EVOLVABLE_STYLES))
        if bad or len(set(self.styles)) != len(self.styles):
            raise EvolutionError(
                f"styles {list(self.styles)}: unknown or repeated {bad or 'entries'}",
                hint=f"evolvable styles are {', '.join(EVOLVABLE_STYLES)}",
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Genome:
    """A specialist style and its template's grid parameters (sorted by name)."""

    style: str
    template: str
    params: tuple[tuple[str, Any], ...]

    @property
    def label(self) -> str:
        """``style:template(k=v,...)``, unique per genome."""
        inner = ",".join(f"{k}={v}" for k, v in self.params)
        return f"{self.style}:{self.template}({inner})"

    def recipe(self) -> dict[str, Any]:
        """The template recipe the research operators work on."""
        return {"strategy": {"template": self.template, "params": dict(self.params)}}


@dataclass(frozen=True)
class Evaluation:
    """One distinct genome's backtest on the search span (one trial).

    ``fitness`` is the annualised Sharpe ratio on the search span, None when the
    backtest failed (``error`` says why); ``returns`` are its net simple returns per
    bar; ``operator`` is how the genome first appeared (``standard``, ``random``,
    ``mutation``, ``crossover``, ``crossover+mutation``) and ``parents`` the spec
    hashes it came from; ``generation`` the generation that first evaluated it.
    """

    genome: Genome
    specialist: Specialist
    fitness: float | None
    returns: pd.Series | None
    metrics: dict[str, float]
    error: str | None
    operator: str
    parents: tuple[str, ...]
    generation: int

    @property
    def spec_hash(self) -> str:
        return self.specialist.spec.hash


@dataclass(frozen=True)
class Generation:
    """A generation: its genomes' spec hashes (population order) and fitness summary."""

    index: int
    members: tuple[str, ...]
    best: float
    mean: float
    new_evaluations: int
    evaluations: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.index,
            "best_fitness": _num(self.best),
            "mean_fitness": _num(self.mean),
            "new_evaluations": self.new_evaluations,
            "evaluations": self.evaluations,
            "members": list(self.members),
        }


@dataclass
class Evolution:
    """What an evolution did: its generations and every evaluation (by spec hash,
    in the order they were made). ``stopped``: ``completed`` or ``interrupted``."""

    config: EvolutionConfig
    search_start: pd.Timestamp
    search_end: pd.Timestamp
    tail_start: pd.Timestamp
    tail_end: pd.Timestamp
    generations: list[Generation] = field(default_factory=list)
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    stopped: str = "completed"

    @property
    def n_evaluations(self) -> int:
        """Distinct genomes evaluated: the trials of this evolution."""
        return len(self.evaluations)

    def ranked(self, hashes: Sequence[str]) -> list[Evaluation]:
        """Distinct evaluations of ``hashes``, fittest first (failed last; ties by hash)."""
        unique = [self.evaluations[h] for h in dict.fromkeys(hashes)]
        return sorted(unique, key=lambda e: (-fitness_key(e.fitness), e.spec_hash))

    def final(self) -> list[Evaluation]:
        """The last generation's distinct genomes, fittest first."""
        return self.ranked(self.generations[-1].members) if self.generations else []


def fitness_key(fitness: float | None) -> float:
    """The fitness as a sort key: a failed backtest (None) ranks below everything."""
    return -math.inf if fitness is None else fitness


def _num(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
