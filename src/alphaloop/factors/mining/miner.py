"""The mining loop: a population of expressions evolved under a typed grammar.

One run
-------
1. The search span's rows are cut into contiguous folds (:mod:`.folds`): the
   first are purged training folds, the last validation folds. Nothing
   outside the panel handed in is read: the caller passes the search span
   only (the app layer loads it through the catalog, which stops at the
   sealed holdout).
2. Generation 0 is the seed expressions (hypotheses from outside: a user's
   list, later an LLM) plus random trees (ramped half-and-half). Each later
   generation is made by tournament selection and variation (crossover,
   subtree, point, hoist and constant mutation), keeping a few elites.
3. Every new candidate is canonicalised and hashed; an expression already
   scored is never scored again. The new candidates of a generation are
   evaluated in one batch (:func:`~alphaloop.factors.evaluate.evaluate_nodes`:
   a subexpression they share is computed once).
4. Fitness, on training rows only: ``|rank IC| - complexity * size -
   novelty * max |correlation with a pool member|``.
5. The best candidates of each generation are offered to the pool
   (:class:`~.pool.AlphaPool`), which admits on validation IC. A factor with
   a negative IC enters negated, so every pool factor points the same way.
6. The run stops at the budget of distinct expressions scored, at the time
   limit, or when asked to (an interrupt); the state after each generation
   can be written to a checkpoint so a killed run resumes where it stopped.

Trials
------
``n_scored`` is the number of distinct expressions scored: every one of
them counts in the multiple-testing adjustment of the pool's significance
(:mod:`.significance`), together with those scored on the same dataset
by earlier sessions (``MiningConfig.prior_trials``, from the app layer).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from alphaloop.data import Panel
from alphaloop.errors import ExpressionError, MiningError
from alphaloop.factors.ast import Call, Node
from alphaloop.factors.evaluate import evaluate_nodes
from alphaloop.factors.mining.canonical import canonicalize, expression_hash, size
from alphaloop.factors.mining.folds import FoldPlan, make_folds, next_bar_label
from alphaloop.factors.mining.grammar import Grammar, is_valid
from alphaloop.factors.mining.pool import AlphaPool
from alphaloop.factors.mining.scoring import CandidateScore, ICScorer
from alphaloop.factors.mining.significance import Significance, ic_significance
from alphaloop.factors.mining.variation import (
    constant_mutation,
    crossover,
    hoist_mutation,
    point_mutation,
    subtree_mutation,
)
from alphaloop.factors.parser import parse
from alphaloop.factors.validate import validate
from alphaloop.files import write_atomic
from alphaloop.jsonsafe import json_safe

__all__ = [
    "CHECKPOINT_VERSION",
    "Candidate",
    "MinedFactor",
    "MiningConfig",
    "MiningResult",
    "mine",
]

CHECKPOINT_VERSION = 1
#: fields a default grammar draws from, when the data has them
DEFAULT_FIELDS = ("open", "high", "low", "close", "volume", "vwap")
_OPERATORS: tuple[tuple[str, float], ...] = (
    ("crossover", 0.40),
    ("subtree", 0.20),
    ("point", 0.15),
    ("constant", 0.15),
    ("hoist", 0.10),
)


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
    complexity : float
        Fitness penalty per node.
    novelty : float
        Fitness penalty per unit of the largest absolute correlation with
        a pool member.
    min_coverage : float
        Candidates with values on fewer member cells (training rows) than
        this fraction are discarded as degenerate.
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
        Hypotheses that enter generation 0 (checked like any expression).
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
            "n_valid": (self.n_valid, 1),
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
        out["grammar"] = self.grammar.to_dict() if self.grammar is not None else None
        return out

    def replay_key(self) -> dict[str, Any]:
        """What determines the run's result (the time limit and prior trials excluded)."""
        out = self.to_dict()
        out.pop("time_limit")
        out.pop("prior_trials")
        return out


@dataclass(frozen=True)
class Candidate:
    """One distinct expression the run scored, whatever happened to it.

    ``status``: ``scored`` (a fitness), ``degenerate`` (too few values, or no
    finite IC), ``failed`` (evaluation error), ``pooled`` (admitted to the
    pool at some point).
    """

    key: str
    expression: str
    generation: int
    operator: str  # random | seed | crossover | subtree | point | constant | hoist
    parents: tuple[str, ...]
    size: int
    status: str
    fitness: float | None
    score: CandidateScore | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "expression": self.expression,
            "generation": self.generation,
            "operator": self.operator,
            "parents": list(self.parents),
            "size": self.size,
            "status": self.status,
            "fitness": _num(self.fitness),
            "score": self.score.to_dict() if self.score is not None else None,
            "reason": self.reason,
        }

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
            score=_score_from_dict(score) if score is not None else None,
            reason=d.get("reason"),
        )


@dataclass(frozen=True)
class MinedFactor:
    """A pool member with its provenance.

    ``expression`` is oriented: its IC on training rows is positive (a factor
    found with a negative IC is kept as ``Neg(...)``).
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "expression": self.expression,
            "found_as": self.found_as,
            "generation": self.generation,
            "operator": self.operator,
            "parents": list(self.parents),
            "weight": _num(self.weight),
            "marginal": _num(self.marginal),
            "valid_ic": _num(self.valid_ic),
            "score": self.score.to_dict(),
            "significance": _sig_dict(self.significance),
        }


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
            "folds": self.plan.to_dict(),
            "n_scored": self.n_scored,
            "n_proposed": self.n_proposed,
            "n_generations": self.n_generations,
            "n_trials": self.n_trials,
            "elapsed": round(self.elapsed, 3),
            "stopped": self.stopped,
            "pool": {
                "train_ic": _num(self.pool_train_ic),
                "valid_ic": _num(self.pool_valid_ic),
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


# ---------------------------------------------------------------------- the run
@dataclass
class _Individual:
    key: str
    node: Node
    fitness: float


class _Run:
    def __init__(
        self,
        panel: Panel,
        config: MiningConfig,
        checkpoint: Path | None,
        on_generation: Callable[[dict[str, Any]], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        config.check()
        if "close" not in panel.field_names:
            raise MiningError(
                "mining needs a $close field to build the label",
                hint=f"the data has {', '.join('$' + f for f in panel.field_names)}",
            )
        self.panel = panel
        self.config = config
        self.grammar = config.grammar or _default_grammar(panel)
        self.grammar.check()
        self.checkpoint = checkpoint
        self.on_generation = on_generation
        self.should_stop = should_stop
        self.data_hash = panel.content_hash()
        warm = min(2 * max(self.grammar.windows), max(0, panel.n_times // 5))
        self.plan = make_folds(
            panel.n_times,
            config.horizon,
            warmup=warm,
            n_folds=config.n_folds,
            n_valid=config.n_valid,
        )
        label = next_bar_label(panel.field("close"), config.horizon)
        self.scorer = ICScorer(label, panel.membership, self.plan)
        self.pool = AlphaPool(self.scorer, config.pool, min_gain=config.min_gain)
        self.rng = np.random.default_rng(config.seed)
        self.seeds = self._parse_seeds(config.seed_expressions)
        self.candidates: dict[str, Candidate] = {}
        self.ranked: dict[str, np.ndarray] = {}  # pool members' oriented ranked values
        self.population: list[_Individual] = []
        self.generation = 0
        self.n_proposed = 0
        self.elapsed_before = 0.0
        self.stale = 0
        self.nodes: dict[str, Node] = {}
        self._offer_later: list[tuple[float, str, np.ndarray]] = []

    # ------------------------------------------------------------ seeds
    def _parse_seeds(self, texts: Sequence[str]) -> list[Node]:
        out = []
        for text in texts:
            try:
                node = parse(text)
                validate(node, text=text, fields=self.panel.field_names)
            except ExpressionError as exc:
                raise MiningError(
                    f"seed expression {text!r}: {exc.message}", hint=exc.hint
                ) from exc
            out.append(canonicalize(node))
        return out

    # ------------------------------------------------------------ scoring
    def score_batch(self, items: list[tuple[Node, str, tuple[str, ...]]]) -> None:
        """Score new distinct candidates (node, operator, parents), in one evaluation batch."""
        fresh: dict[str, tuple[Node, str, tuple[str, ...]]] = {}
        for node, op, parents in items:
            key = expression_hash(node)
            if key in self.candidates or key in fresh:
                continue
            fresh[key] = (node, op, parents)
        room = self.config.budget - len(self.candidates)
        keys = list(fresh)[: max(0, room)]
        for chunk in _chunks(keys, _chunk_size(self.panel)):
            nodes = {k: fresh[k][0] for k in chunk}
            try:
                values = evaluate_nodes(self.panel, nodes)
            except Exception:  # one bad tree must not sink the batch: evaluate alone
                values = {}
                for k, n in nodes.items():
                    try:
                        values.update(evaluate_nodes(self.panel, {k: n}))
                    except Exception as exc:
                        self._record(k, fresh[k], "failed", None, None, f"{type(exc).__name__}")
            for k in chunk:
                if k in values:
                    self._score_one(k, fresh[k], values.pop(k))

    def _score_one(
        self, key: str, item: tuple[Node, str, tuple[str, ...]], values: np.ndarray
    ) -> None:
        node = item[0]
        score = self.scorer.score(values)
        if not (math.isfinite(score.ic) and score.coverage >= self.config.min_coverage):
            why = "no finite IC" if not math.isfinite(score.ic) else "too few values"
            self._record(key, item, "degenerate", None, score, why)
            return
        ranked = self.scorer.ranked(values)
        if score.ic < 0:
            ranked = -ranked
        corr = 0.0
        for member in self.pool.members:
            c = self.scorer.correlation(ranked, self.ranked[member.key])
            if math.isfinite(c):
                corr = max(corr, abs(c))
        fitness = abs(score.ic) - self.config.complexity * size(node) - self.config.novelty * corr
        self._record(key, item, "scored", fitness, score, None)
        self._offer_later.append((fitness, key, ranked))

    def _record(
        self,
        key: str,
        item: tuple[Node, str, tuple[str, ...]],
        status: str,
        fitness: float | None,
        score: CandidateScore | None,
        reason: str | None,
    ) -> None:
        node, op, parents = item
        self.candidates[key] = Candidate(
            key=key,
            expression=str(node),
            generation=self.generation,
            operator=op,
            parents=parents,
            size=size(node),
            status=status,
            fitness=fitness,
            score=score,
            reason=reason,
        )
        self.nodes[key] = node

    def offer(self) -> None:
        """Offer this generation's best candidates to the pool, best first."""
        offers = sorted(self._offer_later, key=lambda t: (-t[0], t[1]))[: self.config.offers]
        for _, key, ranked in offers:
            cand = self.candidates[key]
            text = _oriented(cand)
            decision = self.pool.try_add(key, text, ranked)
            if decision.admitted:
                self.ranked[key] = ranked
                self.candidates[key] = replace(cand, status="pooled")
                if decision.replaced is not None:
                    self.ranked.pop(decision.replaced, None)
        self._offer_later = []

    # ------------------------------------------------------------ generations
    def initial(self) -> list[tuple[Node, str, tuple[str, ...]]]:
        items: list[tuple[Node, str, tuple[str, ...]]] = [(n, "seed", ()) for n in self.seeds]
        tries = 0
        while len(items) < self.config.population and tries < 50 * self.config.population:
            tries += 1
            depth = 2 + int(self.rng.integers(0, max(1, self.grammar.max_depth - 1)))
            method = "full" if tries % 2 else "grow"
            tree = canonicalize(self.grammar.random_tree(self.rng, max_depth=depth, method=method))
            if is_valid(tree, self.grammar):
                items.append((tree, "random", ()))
        return items

    def select(self) -> _Individual:
        pop = self.population
        picks = self.rng.integers(0, len(pop), size=min(self.config.tournament, len(pop)))
        return max((pop[int(i)] for i in picks), key=lambda ind: (ind.fitness, ind.key))

    def offspring(self) -> list[tuple[Node, str, tuple[str, ...]]]:
        ops = [name for name, _ in _OPERATORS]
        probs = np.array([p for _, p in _OPERATORS])
        out: list[tuple[Node, str, tuple[str, ...]]] = []
        want = self.config.population - min(self.config.elites, len(self.population))
        attempts = 0
        while len(out) < want and attempts < 20 * want:
            attempts += 1
            op = ops[int(self.rng.choice(len(ops), p=probs))]
            a = self.select()
            if op == "crossover":
                b = self.select()
                child = crossover(a.node, b.node, self.grammar, self.rng)
                parents: tuple[str, ...] = (a.key, b.key)
            else:
                fn = {
                    "subtree": subtree_mutation,
                    "point": point_mutation,
                    "constant": constant_mutation,
                    "hoist": hoist_mutation,
                }[op]
                child = fn(a.node, self.grammar, self.rng)
                parents = (a.key,)
            child = canonicalize(child)
            self.n_proposed += 1
            key = expression_hash(child)
            if key in self.candidates or not is_valid(child, self.grammar):
                continue  # known expressions are not scored again
            out.append((child, op, parents))
        # a stalled search gets fresh random blood
        if len(out) < want // 4:
            depth = self.grammar.max_depth
            for _ in range(want - len(out)):
                tree = canonicalize(self.grammar.random_tree(self.rng, max_depth=depth))
                if is_valid(tree, self.grammar):
                    out.append((tree, "random", ()))
        return out

    def next_population(self) -> None:
        scored = [
            _Individual(k, self.nodes[k], c.fitness)
            for k, c in self.candidates.items()
            if c.fitness is not None
        ]
        if not scored:
            self.population = []
            return
        # the fittest distinct expressions seen so far (ties broken by key: reproducible)
        scored.sort(key=lambda ind: (-ind.fitness, ind.key))
        self.population = scored[: self.config.population]

    # ------------------------------------------------------------ driver
    def run(self, resume: bool) -> MiningResult:
        started = time.monotonic()
        stopped = "budget"
        if resume and self.checkpoint is not None and self.checkpoint.exists():
            self._restore()
        else:
            self.score_batch(self.initial())
            self.offer()
            self.next_population()
            self._after_generation(started)
        while True:
            if len(self.candidates) >= self.config.budget:
                stopped = "budget"
                break
            elapsed = self.elapsed_before + time.monotonic() - started
            if self.config.time_limit is not None and elapsed >= self.config.time_limit:
                stopped = "time"
                break
            if self.should_stop is not None and self.should_stop():
                stopped = "interrupted"
                break
            if not self.population:
                raise MiningError(
                    f"no candidate of {len(self.candidates)} could be scored: every expression "
                    "was degenerate or failed",
                    hint="widen the grammar (fields, windows, operators) or check the data",
                )
            if self.stale >= 5:
                stopped = "exhausted"
                break
            self.generation += 1
            before = len(self.candidates)
            self.score_batch(self.offspring())
            self.stale = self.stale + 1 if len(self.candidates) == before else 0
            self.offer()
            self.next_population()
            self._after_generation(started)
        elapsed = self.elapsed_before + time.monotonic() - started
        return self._result(stopped, elapsed)

    def _after_generation(self, started: float) -> None:
        elapsed = self.elapsed_before + time.monotonic() - started
        if self.checkpoint is not None:
            self._save(elapsed)
        if self.on_generation is not None:
            self.on_generation(
                {
                    "generation": self.generation,
                    "n_scored": len(self.candidates),
                    "budget": self.config.budget,
                    "pool_size": len(self.pool.members),
                    "pool_valid_ic": _num(self.pool.valid_ic()),
                    "best_fitness": _num(self.population[0].fitness) if self.population else None,
                    "elapsed": round(elapsed, 3),
                }
            )

    # ------------------------------------------------------------ checkpoints
    def _fingerprint(self) -> str:
        text = json.dumps(
            {"config": self.config.replay_key(), "data": self.data_hash}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def _save(self, elapsed: float) -> None:
        assert self.checkpoint is not None
        state = {
            "version": CHECKPOINT_VERSION,
            "fingerprint": self._fingerprint(),
            "generation": self.generation,
            "n_proposed": self.n_proposed,
            "stale": self.stale,
            "elapsed": elapsed,
            "rng": self.rng.bit_generator.state,
            "population": [ind.key for ind in self.population],
            "candidates": [c.to_dict() for c in self.candidates.values()],
            "pool": self.pool.state(),
        }
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.checkpoint, json.dumps(state, default=_json_default))

    def _restore(self) -> None:
        assert self.checkpoint is not None
        try:
            state = json.loads(self.checkpoint.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MiningError(f"{self.checkpoint}: unreadable checkpoint ({exc})") from exc
        if (
            state.get("version") != CHECKPOINT_VERSION
            or state.get("fingerprint") != self._fingerprint()
        ):
            raise MiningError(
                f"{self.checkpoint}: the checkpoint belongs to another run (other data, "
                "settings or seed)",
                hint="start a new run, or resume with the settings it was started with",
            )
        self.generation = int(state["generation"])
        self.n_proposed = int(state["n_proposed"])
        self.stale = int(state["stale"])
        self.elapsed_before = float(state["elapsed"])
        self.rng.bit_generator.state = state["rng"]
        for d in state["candidates"]:
            cand = Candidate.from_dict(d)
            self.candidates[cand.key] = cand
            self.nodes[cand.key] = parse(cand.expression)
        self.population = [
            _Individual(k, self.nodes[k], float(self.candidates[k].fitness or 0.0))
            for k in state["population"]
        ]
        members = {m["key"]: m["expression"] for m in state["pool"]["members"]}
        if members:
            values = evaluate_nodes(self.panel, {k: parse(t) for k, t in members.items()})
            self.ranked = {k: self.scorer.ranked(v) for k, v in values.items()}
        self.pool = AlphaPool.from_state(state["pool"], self.scorer, self.ranked)

    # ------------------------------------------------------------ result
    def _result(self, stopped: str, elapsed: float) -> MiningResult:
        n_scored = len(self.candidates)
        n_trials = n_scored + self.config.prior_trials
        h = self.config.horizon
        members: list[MinedFactor] = []
        for i, m in enumerate(self.pool.members):
            cand = self.candidates[m.key]
            values = evaluate_nodes(self.panel, {"f": parse(m.expression)})["f"]
            daily = self.scorer.daily_ic(values)
            valid_rows = _rows(self.plan.valid, len(daily))
            members.append(
                MinedFactor(
                    name=f"F{i + 1:02d}",
                    key=m.key,
                    expression=m.expression,
                    found_as=cand.expression,
                    generation=cand.generation,
                    operator=cand.operator,
                    parents=cand.parents,
                    weight=m.weight,
                    marginal=m.marginal,
                    valid_ic=m.valid_ic,
                    score=self.scorer.score(values),
                    significance=ic_significance(
                        daily[valid_rows], horizon=h, n_trials=n_trials, alpha=self.config.alpha
                    ),
                )
            )
        pool_sig = None
        if members:
            combined = self.pool.combined("valid")
            pool_sig = ic_significance(
                combined[_rows(self.plan.valid, len(combined))],
                horizon=h,
                n_trials=n_trials,
                alpha=self.config.alpha,
            )
        order = sorted(self.candidates.values(), key=lambda c: (c.generation, c.key))
        return MiningResult(
            config=self.config,
            members=tuple(members),
            pool_train_ic=self.pool.train_ic(),
            pool_valid_ic=self.pool.valid_ic(),
            pool_significance=pool_sig,
            n_scored=n_scored,
            n_proposed=self.n_proposed,
            n_generations=self.generation + 1,
            n_trials=n_trials,
            elapsed=elapsed,
            stopped=stopped,
            plan=self.plan,
            data_hash=self.data_hash,
            candidates=tuple(order),
        )


def mine(
    panel: Panel,
    config: MiningConfig | None = None,
    *,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    on_generation: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> MiningResult:
    """Mine factors on ``panel`` (the search span only) and return the pool.

    Parameters
    ----------
    panel : Panel
        The data to search: pass the search span, never the holdout.
    config : MiningConfig, optional
    checkpoint : path, optional
        Where the run's state is written after every generation (atomically).
    resume : bool, default False
        Continue from ``checkpoint`` when it exists (it must belong to the
        same data, settings and seed); the resumed run gives the same result
        as one that was never stopped.
    on_generation : callable, optional
        Called after each generation with a progress dict.
    should_stop : callable, optional
        Polled between generations; True ends the run (``stopped="interrupted"``).

    Raises
    ------
    MiningError
        Settings, grammar or data no run can use (with what and why).
    """
    run = _Run(
        panel,
        config or MiningConfig(),
        Path(checkpoint) if checkpoint is not None else None,
        on_generation,
        should_stop,
    )
    return run.run(resume)


# ---------------------------------------------------------------------- helpers
def _default_grammar(panel: Panel) -> Grammar:
    fields = tuple(f for f in DEFAULT_FIELDS if f in panel.field_names)
    return Grammar(fields=fields)


def _oriented(cand: Candidate) -> str:
    """The candidate's text, negated when its training IC is negative."""
    assert cand.score is not None
    if cand.score.ic < 0:
        return str(canonicalize(Call("Neg", (parse(cand.expression),))))
    return cand.expression


def _rows(ranges: Sequence[tuple[int, int]], n: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for a, b in ranges:
        mask[a:b] = True
    return mask


def _chunk_size(panel: Panel) -> int:
    """Candidates per evaluation batch: about 400 MB of float64 results at most."""
    cells = max(1, panel.n_times * panel.n_assets)
    return int(max(8, min(512, 400e6 // (8 * cells))))


def _chunks(items: list[str], n: int) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def _num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return round(x, 10) if math.isfinite(x) else None


def _sig_dict(sig: Significance | None) -> dict[str, Any] | None:
    if sig is None:
        return None
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in asdict(sig).items()}


def _score_from_dict(d: Mapping[str, Any]) -> CandidateScore:
    def f(x: Any) -> float:
        return float("nan") if x is None else float(x)

    return CandidateScore(
        train_ic=tuple(f(x) for x in d["train_ic"]),
        valid_ic=tuple(f(x) for x in d["valid_ic"]),
        ic=f(d["ic"]),
        icir=f(d["icir"]),
        valid_mean=f(d["valid_mean"]),
        coverage=f(d["coverage"]),
    )


def _status_counts(cands: Sequence[Candidate]) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in cands:
        out[c.status] = out.get(c.status, 0) + 1
    return dict(sorted(out.items()))


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")
