"""Genetic evolution of specialist populations, selected on the search span only.

A genome is a specialist style (its template, see :mod:`.specialists`) and the
template's parameters on its ``GRID``. A population of genomes evolves over
generations:

- **fitness**: the annualised Sharpe ratio of the specialist's net simple returns
  (costs on, next-bar fills) on the *search span* -- the first
  ``1 - validation_fraction`` of the bars handed in (``mean / std * sqrt(periods per
  year)``, 0 for a book that never moves; a backtest that fails has no fitness and
  is never selected). The last ``validation_fraction`` of the bars (the *validation
  tail*) is never read during the search: only the final survivors are run on it,
  for the report. Callers hand in the research span: a sealed holdout never reaches
  this module (the workspace catalog stops loads at the seal).
- **selection**: tournaments of ``tournament`` genomes drawn with replacement; the
  fittest wins (ties: the one drawn first).
- **crossover** (probability ``crossover_rate``): two parents of the same template
  swap parameters (:func:`~alphaloop.research.template_operators.template_crossover`).
- **mutation** (probability ``mutation_rate``): one parameter moves one step along its
  grid (the research engine's ``param`` operator), or, one time in five, is drawn
  again from its grid (``redraw``).
- **elitism**: the ``elite`` fittest distinct genomes pass unchanged, so the best
  fitness never falls from one generation to the next.
- **immigrants**: a child identical to one already in the next generation is
  replaced by a random draw from its template's grid (the population keeps exploring
  instead of filling up with copies of the leader).

Every distinct genome (spec hash) is backtested once and counts as one trial; the
survivors' deflated Sharpe ratio is computed over every evaluated genome with the
total number of evaluations (or more) as the number of trials. Everything random
draws from one ``numpy.random.Generator`` seeded with ``seed``: the same seed and
data give the same populations, bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from alphaloop.data.panel import Panel
from alphaloop.live.evolution_records import (
    EVOLVABLE_STYLES,
    Evaluation,
    Evolution,
    EvolutionConfig,
    EvolutionError,
    Generation,
    Genome,
    fitness_key,
)
from alphaloop.live.specialists import (
    Specialist,
    SpecialistError,
    run_specialists,
    standard_specialists,
)

if TYPE_CHECKING:
    from alphaloop.data.catalog import DatasetInfo

__all__ = [
    "EVOLVABLE_STYLES",
    "Evaluation",
    "Evolution",
    "EvolutionConfig",
    "EvolutionError",
    "Generation",
    "Genome",
    "evolve",
    "split_spans",
]

#: styles whose template has a grid to evolve on (sentiment needs a text factor)
_REDRAW_SHARE = 0.2
_DRAW_TRIES = 20


def split_spans(panel: Panel, validation_fraction: float, *, min_bars: int = 60) -> int:
    """The first bar of the validation tail (a row position in ``panel``).

    Raises
    ------
    EvolutionError
        Fewer than ``min_bars`` search bars or fewer than 20 tail bars.
    """
    n = panel.n_times
    cut = round(n * (1.0 - validation_fraction))
    if cut < min_bars or n - cut < 20:
        raise EvolutionError(
            f"{n} bars leave {cut} for the search and {n - cut} for the validation tail; "
            f"needs at least {min_bars} and 20",
            hint="use a longer span or a smaller population of settings",
        )
    return cut


def _sharpe(returns: np.ndarray, periods_per_year: float) -> float:
    r = returns[np.isfinite(returns)]
    if r.size < 2:
        return 0.0
    sd = float(r.std(ddof=1))
    return 0.0 if sd <= 0 else float(r.mean() / sd * math.sqrt(periods_per_year))


class _Evaluator:
    """Builds and backtests genomes on one panel, each spec hash once."""

    def __init__(self, data: str, panel: Panel, info: DatasetInfo, store: dict[str, Evaluation]):
        self.data, self.panel, self.info, self.store = data, panel, info, store

    def specialist(self, genome: Genome) -> Specialist:
        made, skipped = standard_specialists(
            self.data,
            self.panel,
            styles=[genome.style],
            overrides={genome.style: dict(genome.params)},
        )
        if not made:
            raise EvolutionError(f"style {genome.style} cannot trade this data: {skipped}")
        spec = made[0].spec.model_copy(update={"name": genome.label[:200]})
        return Specialist(name=genome.label, style=genome.style, spec=spec)

    def evaluate(
        self, genome: Genome, operator: str, parents: tuple[str, ...], generation: int
    ) -> tuple[str, bool]:
        """(spec hash, whether it was new)."""
        sp = self.specialist(genome)
        key = sp.spec.hash
        if key in self.store:
            return key, False
        try:
            book = run_specialists([sp], self.info, self.panel)[sp.name]
        except SpecialistError as exc:
            ev = Evaluation(genome, sp, None, None, {}, str(exc), operator, parents, generation)
        else:
            ppy = float(book.metrics.get("periods_per_year", 252.0))
            fit = _sharpe(book.returns.to_numpy(dtype=float), ppy)
            ev = Evaluation(
                genome, sp, fit, book.returns, book.metrics, None, operator, parents, generation
            )
        self.store[key] = ev
        return key, True


def _genome(style: str, template: str, params: Mapping[str, Any]) -> Genome:
    from alphaloop.strategies import TEMPLATES

    grid = TEMPLATES[template].GRID
    return Genome(style, template, tuple(sorted((k, params[k]) for k in grid if k in params)))


def _initial(
    data: str, panel: Panel, config: EvolutionConfig, rng: np.random.Generator
) -> list[tuple[Genome, str]]:
    """The standard specialist of each style, then random grid draws, round-robin by style."""
    made, skipped = standard_specialists(data, panel, styles=list(config.styles))
    if skipped:
        raise EvolutionError(
            f"styles the data cannot support: {skipped}", hint="leave them out with --styles"
        )
    out: list[tuple[Genome, str]] = []
    templates = {}
    for sp in made:
        assert sp.spec.template is not None
        name = sp.spec.template.template
        templates[sp.style] = name
        out.append((_genome(sp.style, name, sp.spec.template.model_dump(mode="json")), "standard"))
    out = out[: config.population]
    seen = {g for g, _ in out}
    i = 0
    while len(out) < config.population:
        style = config.styles[i % len(config.styles)]
        i += 1
        genome = None
        for _ in range(_DRAW_TRIES):
            genome = _immigrant(style, templates[style], rng, panel.n_assets)
            if genome not in seen:
                break
        assert genome is not None
        seen.add(genome)
        out.append((genome, "random"))
    return out


def _tournament(rng: np.random.Generator, fit: Sequence[float], k: int, pool: Sequence[int]) -> int:
    drawn = [pool[int(j)] for j in rng.integers(len(pool), size=k)]
    best = drawn[0]
    for j in drawn[1:]:
        if fit[j] > fit[best]:
            best = j
    return best


def _mutate(genome: Genome, rng: np.random.Generator, n_assets: int) -> Genome:
    from alphaloop.research.goal import Constraints
    from alphaloop.research.template_operators import template_step

    operator = "redraw" if rng.random() < _REDRAW_SHARE else "param"
    try:
        recipe, _, _ = template_step(operator, n_assets)(
            genome.recipe(), rng, Constraints(long_only=False), ()
        )
    except ValueError:  # no grid move keeps this template valid
        return genome
    return _genome(genome.style, genome.template, recipe["strategy"]["params"])


def _cross(a: Genome, b: Genome, rng: np.random.Generator, n_assets: int) -> Genome:
    from alphaloop.research.goal import Constraints
    from alphaloop.research.template_operators import template_crossover

    child = template_crossover(
        a.recipe(), b.recipe(), rng, Constraints(long_only=False), (a.label, b.label), n_assets
    ).recipe
    return _genome(a.style, a.template, child["strategy"]["params"])


def _breed(
    ev: Evolution, members: list[str], rng: np.random.Generator, n_assets: int
) -> list[tuple[Genome, str, tuple[str, ...]]]:
    """The next generation: the elite, then tournament children."""
    cfg = ev.config
    genomes = [ev.evaluations[h].genome for h in members]
    fit = [fitness_key(ev.evaluations[h].fitness) for h in members]
    nxt: list[tuple[Genome, str, tuple[str, ...]]] = [
        (e.genome, "elite", (e.spec_hash,)) for e in ev.ranked(members)[: cfg.elite]
    ]
    everyone = list(range(len(members)))
    while len(nxt) < cfg.population:
        i = _tournament(rng, fit, cfg.tournament, everyone)
        child, operator, parents = genomes[i], "", (members[i],)
        if rng.random() < cfg.crossover_rate:
            mates = [j for j in everyone if genomes[j].template == genomes[i].template]
            j = _tournament(rng, fit, cfg.tournament, mates)
            if genomes[j] != genomes[i]:
                child = _cross(genomes[i], genomes[j], rng, n_assets)
                operator, parents = "crossover", (members[i], members[j])
        if rng.random() < cfg.mutation_rate:
            child = _mutate(child, rng, n_assets)
            operator = f"{operator}+mutation" if operator else "mutation"
        if any(child == g for g, _, _ in nxt):  # a twin adds nothing: a random immigrant
            child = _immigrant(child.style, child.template, rng, n_assets)
            operator, parents = "random", ()
        nxt.append((child, operator or "copy", parents))
    return nxt


def _immigrant(style: str, template: str, rng: np.random.Generator, n_assets: int) -> Genome:
    from alphaloop.research.template_families import random_params

    params = random_params(template, rng, long_only=False, n_assets=n_assets)
    return _genome(style, template, params)


def evolve(
    data: str,
    panel: Panel,
    info: DatasetInfo,
    config: EvolutionConfig | None = None,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_generation: Callable[[Generation, list[Evaluation]], None] | None = None,
) -> Evolution:
    """Evolve specialists on the search span of ``panel``; the tail stays unread.

    Parameters
    ----------
    data : str
        Dataset name the specs name.
    panel : Panel
        The research span (search span, then validation tail); never a holdout.
    info : DatasetInfo
        The dataset's description (asset class, costs).
    config : EvolutionConfig, optional
    should_stop : callable, optional
        Asked after each generation; True ends the evolution there (``stopped`` is
        ``interrupted``).
    on_generation : callable, optional
        Called after each generation with it and the evaluations it added (e.g. to
        record them as trials).

    Raises
    ------
    EvolutionError
        Bad settings, styles the data cannot trade, too few bars.
    """
    cfg = (config or EvolutionConfig()).check()
    cut = split_spans(panel, cfg.validation_fraction)
    search = panel.iloc(slice(0, cut))
    ev = Evolution(cfg, search.index[0], search.index[-1], panel.index[cut], panel.index[-1])
    rng = np.random.default_rng(cfg.seed)
    evaluator = _Evaluator(data, search, info, ev.evaluations)
    brood = [(g, op, ()) for g, op in _initial(data, search, cfg, rng)]
    for index in range(cfg.generations):
        members, new = [], []
        for genome, operator, parents in brood:
            key, fresh = evaluator.evaluate(genome, operator, parents, index)
            members.append(key)
            if fresh:
                new.append(ev.evaluations[key])
        fits = np.array([fitness_key(ev.evaluations[h].fitness) for h in members])
        finite = fits[np.isfinite(fits)]
        gen = Generation(
            index=index,
            members=tuple(members),
            best=float(fits.max()),
            mean=float(finite.mean()) if finite.size else -math.inf,
            new_evaluations=len(new),
            evaluations=ev.n_evaluations,
        )
        ev.generations.append(gen)
        if on_generation is not None:
            on_generation(gen, new)
        if index + 1 == cfg.generations:
            break
        if should_stop is not None and should_stop():
            ev.stopped = "interrupted"
            break
        brood = _breed(ev, members, rng, panel.n_assets)
    return ev
