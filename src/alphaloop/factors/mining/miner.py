"""The mining loop: a population of expressions evolved under a typed grammar.

One run
-------
1. The search span's rows are cut into contiguous folds (:mod:`.folds`): the
   first are purged training folds, the last validation folds. Nothing
   outside the panel handed in is read: the caller passes the search span
   only (the app layer loads it through the catalog, which stops at the
   sealed holdout).
2. Generation 0 is the seed expressions (a user's list), the hypotheses
   (:class:`~.hypotheses.Hypothesis`: proposed from outside, e.g. by a
   language model, each with its source) and random trees (ramped
   half-and-half). Each later
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from alphaloop.compute.pools import TaskPool, make_pool
from alphaloop.data import Panel
from alphaloop.errors import ExpressionError, MiningError
from alphaloop.factors.ast import Call, Node
from alphaloop.factors.evaluate import evaluate_nodes
from alphaloop.factors.mining.canonical import canonicalize, expression_hash, size
from alphaloop.factors.mining.config import MiningConfig
from alphaloop.factors.mining.folds import FoldPlan, make_folds, next_bar_label
from alphaloop.factors.mining.grammar import Grammar, follows_rules
from alphaloop.factors.mining.holdout import combine_ranked
from alphaloop.factors.mining.hypotheses import lineage_sources
from alphaloop.factors.mining.pool import AlphaPool
from alphaloop.factors.mining.results import (
    Candidate,
    MinedFactor,
    MiningResult,
    clean_float,
)
from alphaloop.factors.mining.scoring import CandidateScore, ICScorer
from alphaloop.factors.mining.scoring_task import ScoringData, score_chunk
from alphaloop.factors.mining.significance import ic_significance
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

__all__ = [
    "CHECKPOINT_VERSION",
    "Candidate",
    "MinedFactor",
    "MiningConfig",
    "MiningResult",
    "mine",
    "search_folds",
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
        self.plan, self.test = search_folds(panel, config, self.grammar)
        label = next_bar_label(panel.field("close"), config.horizon)
        self.scorer = ICScorer(label, panel.membership, self.plan)
        self.scoring = ScoringData(panel, self.scorer, config.min_coverage, config.complexity)
        self.tasks: TaskPool[ScoringData] | None = None
        self.pool = AlphaPool(self.scorer, config.pool, min_gain=config.min_gain)
        self.rng = np.random.default_rng(config.seed)
        self.seeds = self._parse_seeds(config.seed_expressions)
        self.hypotheses = [
            (node, h.source)
            for node, h in zip(
                self._parse_seeds([h.expression for h in config.hypotheses]),
                config.hypotheses,
                strict=True,
            )
        ]
        #: candidate hash -> source, for hypotheses
        self.origins: dict[str, str] = {expression_hash(n): src for n, src in self.hypotheses}
        self.candidates: dict[str, Candidate] = {}
        self.ranked: dict[str, np.ndarray] = {}  # pool members' oriented ranked values
        self.population: list[_Individual] = []
        self.generation = 0
        self.n_proposed = 0
        self.elapsed_before = 0.0
        self.stale = 0
        self.nodes: dict[str, Node] = {}
        self.threshold = -math.inf  # fitness of the population's last member, once full
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
        """Score new distinct candidates (node, operator, parents), in evaluation chunks.

        The chunks are scored by :func:`~.scoring_task.score_chunk`, in this
        process or on the run's task pool; the outcomes are then taken in
        candidate order, so the result does not depend on where they ran.
        """
        fresh: dict[str, tuple[Node, str, tuple[str, ...]]] = {}
        for node, op, parents in items:
            key = expression_hash(node)
            if key in self.candidates or key in fresh:
                continue
            fresh[key] = (node, op, parents)
        room = self.config.budget - len(self.candidates)
        keys = list(fresh)[: max(0, room)]
        size_ = _chunk_size(self.panel)
        if self.tasks is not None and keys:
            # enough chunks to keep every worker busy
            size_ = min(size_, max(1, math.ceil(len(keys) / (2 * self.tasks.workers))))
        chunks = [[(k, fresh[k][0]) for k in chunk] for chunk in _chunks(keys, size_)]
        if self.tasks is None:
            parts = [score_chunk(self.scoring, chunk, self.threshold) for chunk in chunks]
        else:
            parts = self.tasks.map(score_chunk, chunks, common=self.threshold, batch_size=1)
        for outcomes in parts:
            for o in outcomes:
                item = fresh[o.key]
                if o.status == "scored" and o.ranked is not None:
                    self._admit(o.key, item, o.score, o.bound, o.ranked)
                else:
                    self._record(o.key, item, o.status, o.bound, o.score, o.reason)

    def _admit(
        self,
        key: str,
        item: tuple[Node, str, tuple[str, ...]],
        score: CandidateScore | None,
        bound: float | None,
        ranked: np.ndarray,
    ) -> None:
        """A candidate that may enter the population: its fitness with the novelty term."""
        assert bound is not None
        corr = 0.0
        for member in self.pool.members:
            c = self.scorer.correlation(ranked, self.ranked[member.key])
            if math.isfinite(c):
                corr = max(corr, abs(c))
        fitness = bound - self.config.novelty * corr
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
            origin=self.origins.get(key) if op == "hypothesis" else None,
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
        items += [(n, "hypothesis", ()) for n, _ in self.hypotheses]
        tries = 0
        while len(items) < self.config.population and tries < 50 * self.config.population:
            tries += 1
            depth = 2 + int(self.rng.integers(0, max(1, self.grammar.max_depth - 1)))
            method = "full" if tries % 2 else "grow"
            tree = canonicalize(self.grammar.random_tree(self.rng, max_depth=depth, method=method))
            if follows_rules(tree, self.grammar):
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
            if key in self.candidates or not follows_rules(child, self.grammar):
                continue  # known expressions are not scored again
            out.append((child, op, parents))
        # a stalled search gets fresh random blood
        if len(out) < want // 4:
            depth = self.grammar.max_depth
            for _ in range(want - len(out)):
                tree = canonicalize(self.grammar.random_tree(self.rng, max_depth=depth))
                if follows_rules(tree, self.grammar):
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
        full = len(self.population) >= self.config.population
        self.threshold = self.population[-1].fitness if full else -math.inf

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
            best = self.population[0].fitness if self.population else None
            self.on_generation(
                {
                    "generation": self.generation,
                    "n_scored": len(self.candidates),
                    "budget": self.config.budget,
                    "pool_size": len(self.pool.members),
                    "pool_valid_ic": clean_float(self.pool.valid_ic()),
                    "best_fitness": clean_float(best),
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
        full = len(self.population) >= self.config.population
        self.threshold = self.population[-1].fitness if full else -math.inf
        members = {m["key"]: m["expression"] for m in state["pool"]["members"]}
        if members:
            values = evaluate_nodes(self.panel, {k: parse(t) for k, t in members.items()})
            self.ranked = {k: self.scorer.ranked(v) for k, v in values.items()}
        self.pool = AlphaPool.from_state(self.scorer, state["pool"], self.ranked)

    # ------------------------------------------------------------ result
    def _result(self, stopped: str, elapsed: float) -> MiningResult:
        n_scored = len(self.candidates)
        n_trials = n_scored + self.config.prior_trials
        h = self.config.horizon
        members: list[MinedFactor] = []
        test_rows = _rows((self.test,), self.panel.n_times)
        parents = {k: c.parents for k, c in self.candidates.items()}
        origins = {k: c.origin for k, c in self.candidates.items() if c.origin is not None}
        for i, m in enumerate(self.pool.members):
            cand = self.candidates[m.key]
            values = evaluate_nodes(self.panel, {"f": parse(m.expression)})["f"]
            daily = self.scorer.daily_ic(values)
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
                        daily[test_rows], horizon=h, n_trials=n_trials, alpha=self.config.alpha
                    ),
                    origins=lineage_sources(m.key, parents, origins),
                )
            )
        pool_sig = None
        if members:
            combined = combine_ranked(
                [self.ranked[m.key] for m in self.pool.members],
                [m.weight for m in self.pool.members],
            )
            pool_sig = ic_significance(
                self.scorer.daily_ic(combined)[test_rows],
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
            test=self.test,
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
    executor: str = "local",
    workers: int = 1,
    address: str | None = None,
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
    executor : {"local", "ray"}, default "local"
        Where candidates are scored (:func:`alphaloop.compute.make_pool`): in
        this process or a local process pool (``workers > 1``), or on Ray
        actors. The panel and the scorer are shipped to each worker once;
        the result is the same, bit for bit, wherever the scoring ran.
    workers : int, default 1
        Worker processes or Ray actors.
    address : str, optional
        The Ray cluster (``ALPHALOOP_RAY_ADDRESS``); default a local instance.

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
    if executor == "local" and workers == 1 and address is None:
        return run.run(resume)
    run.tasks = make_pool(executor, run.scoring, workers=workers, address=address)
    try:
        return run.run(resume)
    finally:
        run.tasks.close()


# ---------------------------------------------------------------------- helpers
def search_folds(
    panel: Panel, config: MiningConfig, grammar: Grammar | None = None
) -> tuple[FoldPlan, tuple[int, int]]:
    """The folds a run on ``panel`` uses: (training and pool-choosing plan, test fold rows).

    The warm-up before the first fold is twice the grammar's longest window
    (at most a fifth of the rows); see :func:`_split_plan` for the test fold.
    """
    grammar = grammar or config.grammar or _default_grammar(panel)
    warm = min(2 * max(grammar.windows), max(0, panel.n_times // 5))
    return _split_plan(
        make_folds(
            panel.n_times,
            config.horizon,
            warmup=warm,
            n_folds=config.n_folds,
            n_valid=config.n_valid,
        )
    )


def _split_plan(plan: FoldPlan) -> tuple[FoldPlan, tuple[int, int]]:
    """Hold the last validation fold back from every selection, as the test fold.

    The other validation folds choose the pool; the label windows of their
    last ``h + 1`` rows would reach into the test fold, so those rows are
    purged. Significance is measured on the test fold only.
    """
    h = plan.horizon
    *chooses, test = plan.valid
    start, end = chooses[-1]
    if end - (h + 1) - start < 20:
        raise MiningError(
            f"the validation folds are too short to hold one back for the significance "
            f"test ({end - start} rows before purging {h + 1})",
            hint="use more data, a shorter horizon, or fewer folds",
        )
    chooses[-1] = (start, end - (h + 1))
    return FoldPlan(horizon=h, train=plan.train, valid=tuple(chooses)), test


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


def _json_default(x: Any) -> Any:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serializable: {type(x).__name__}")
