"""The strategy agent's policy: which candidates to propose next.

A policy sees a :class:`ResearchView` (search-span results only: no type
here has a holdout field) and proposes a batch of :class:`Proposal`. Policies
are stateless: everything they know is recomputed from ``view.history`` on
each call, so a resumed session replays the same proposals.

:class:`BanditPolicy` (the offline default) runs Thompson sampling over arms
``action/family``. An arm's posterior is Beta(1 + successes, 1 + failures)
over the candidates it produced: an exploit or upgrade succeeds when its
search Sharpe beats its parent's, an explore (or seed) when it beats the
median search Sharpe of the history. Actions:

``seed``
    First batch (empty history): one random recipe per available family,
    then random recipes.
``exploit``
    Tournament among the family's top candidates by search Sharpe, then a
    mutation of the winner or a crossover with another top candidate.
``explore``
    A random recipe of the least-explored family (fewest candidates); that
    family's explore arm is the one drawn.
``upgrade``
    The best candidate using a model that has a newer version, with the
    newer version; only offered when such a candidate exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from alphaloop.errors import SpecError
from alphaloop.research.goal import Constraints
from alphaloop.research.operators import Variation, crossover, mutate, upgrade
from alphaloop.research.space import (
    available_families,
    classify,
    describe,
    random_recipe,
    strategy_hash,
)
from alphaloop.research.template_recipes import is_template_recipe

__all__ = ["BanditPolicy", "Candidate", "ModelInfo", "Policy", "Proposal", "ResearchView"]


@dataclass(frozen=True)
class Candidate:
    """An evaluated strategy as a policy sees it: SEARCH-SPAN numbers only.

    ``sharpe`` is the annualized search-span Sharpe ratio (None when the
    evaluation failed); ``arm`` is ``action/family`` of the decision that
    proposed it (None for strategies not proposed by a policy); ``parents``
    are the hashes of the strategies it was derived from.
    """

    hash: str
    recipe: dict[str, Any] | None
    kind: str
    family: str
    logic: str
    models: tuple[str, ...]
    status: str
    sharpe: float | None
    passed: bool | None
    batch: int | None
    action: str | None
    arm: str | None
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """A registered model version a recipe may use (``ref`` = ``name/vN``)."""

    ref: str
    name: str
    version: int
    kind: str = ""
    feature_family: str = ""
    valid_ic: float | None = None


@dataclass(frozen=True)
class ResearchView:
    """What a policy may know: the dataset's shape, the goal, the search-span history.

    ``templates``: the strategy templates in the search space (each a family
    of its own; empty: indicator and model families only). ``regime``: the
    market's causal regimes over the search span (see
    :func:`~alphaloop.research.regime_state.search_regimes`; None when not
    computed), never the holdout's.
    """

    dataset: str
    fields: tuple[str, ...]
    n_assets: int
    constraints: Constraints
    history: tuple[Candidate, ...]
    models: tuple[ModelInfo, ...]
    batch: int
    seen: frozenset[str]
    templates: tuple[str, ...] = ()
    regime: dict[str, Any] | None = None


@dataclass(frozen=True)
class Proposal:
    """One proposed candidate, why, and the policy's state when it chose it."""

    recipe: dict[str, Any]
    action: str
    operator: str
    parents: tuple[str, ...]
    exploration: dict[str, Any]
    rationale: str
    context: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Policy(Protocol):
    """Proposes the next batch; the same (view, n, rng state) gives the same proposals."""

    name: str

    def propose(self, view: ResearchView, n: int, rng: np.random.Generator) -> list[Proposal]: ...


Hasher = Callable[[Mapping[str, Any], ResearchView], str]


def spec_hasher(recipe: Mapping[str, Any], view: ResearchView) -> str:
    """The spec hash of ``recipe`` on the view's dataset and constraints."""
    return strategy_hash(
        recipe, dataset=view.dataset, constraints=view.constraints, fields=view.fields or None
    )


_OP_WORDS = {
    "param": "parameter",
    "indicator": "indicator",
    "logic": "portfolio logic",
    "rebalance": "rebalancing",
    "weighting": "weighting",
    "exit": "exit rule",
    "redraw": "re-drawn parameter",
    "overlay": "volatility-target overlay",
    "regime": "regime gate",
}


class BanditPolicy:
    """Thompson sampling over ``action/family`` arms (see the module docstring).

    Parameters
    ----------
    top_k : int, default=5
        Candidates per family (and overall, for crossover partners) a
        tournament draws from, best search Sharpe first.
    tournament : int, default=2
        Entrants per tournament; the best of them is the parent.
    crossover_rate : float, default=0.3
        Share of exploits that cross two parents instead of mutating one.
    max_tries : int, default=20
        Attempts per slot before giving up on it (every attempt that gives a
        seen or repeated hash is retried); the batch is then smaller.
    hasher : callable, optional
        ``(recipe, view) -> hash``; default the spec hash of the recipe.
    """

    name = "bandit"

    def __init__(
        self,
        *,
        top_k: int = 5,
        tournament: int = 2,
        crossover_rate: float = 0.3,
        max_tries: int = 20,
        hasher: Hasher | None = None,
    ) -> None:
        self.top_k = top_k
        self.tournament = tournament
        self.crossover_rate = crossover_rate
        self.max_tries = max_tries
        self.hasher = hasher or spec_hasher

    # ------------------------------------------------------------ posteriors
    def outcomes(self, view: ResearchView) -> dict[str, tuple[int, int]]:
        """Arm -> (successes, failures) over the history's policy-made candidates."""
        sharpes = [c.sharpe for c in view.history if c.sharpe is not None]
        median = float(np.median(sharpes)) if sharpes else 0.0
        by_hash = {c.hash: c for c in view.history}
        out: dict[str, tuple[int, int]] = {}
        for c in view.history:
            if not c.arm:
                continue
            reference = median
            parent = by_hash.get(c.parents[0]) if c.parents else None
            if c.arm.split("/")[0] in ("exploit", "upgrade") and parent is not None:
                reference = parent.sharpe if parent.sharpe is not None else -np.inf
            win = c.sharpe is not None and c.sharpe > reference
            s, f = out.get(c.arm, (0, 0))
            out[c.arm] = (s + win, f + (not win))
        return out

    # ------------------------------------------------------------ proposing
    def propose(self, view: ResearchView, n: int, rng: np.random.Generator) -> list[Proposal]:
        """Up to ``n`` proposals, none of them seen before or repeated in the batch."""
        state = _State(view, self.outcomes(view))
        out: list[Proposal] = []
        taken: set[str] = set(view.seen)
        seeds = list(state.families)
        rng.shuffle(seeds)
        for slot in range(n):
            for _ in range(self.max_tries):
                try:
                    if not view.history:
                        seed = seeds[slot] if slot < len(seeds) else None
                        proposal = self._seed(state, seed, rng)
                    else:
                        proposal = self._choose(state, rng)
                except (SpecError, ValueError):
                    continue  # a recipe the constraints refuse: draw again
                if proposal is None:
                    continue
                try:
                    digest = self.hasher(proposal.recipe, view)
                except (SpecError, ValueError):
                    continue
                if digest in taken:
                    continue
                taken.add(digest)
                out.append(proposal)
                family = classify(proposal.recipe)[1]
                state.counts[family] = state.counts.get(family, 0) + 1
                break
        return out

    def _seed(self, state: _State, family: str | None, rng: np.random.Generator) -> Proposal:
        recipe = state.random(rng, family)
        fam = classify(recipe)[1]
        why = "one random recipe per family" if family else "random recipe after one per family"
        return Proposal(
            recipe,
            "seed",
            "random",
            (),
            _fresh(),
            f"seed: first batch, {why}: {fam} {describe(recipe)}",
            {"arm": f"explore/{fam}", "posterior": {}},
        )

    def _choose(self, state: _State, rng: np.random.Generator) -> Proposal | None:
        draws: dict[str, float] = {}
        for arm in state.arms():
            s, f = state.outcomes.get(arm, (0, 0))
            draws[arm] = float(rng.beta(1 + s, 1 + f))
        if not draws:
            return None
        arm = max(draws, key=lambda a: (draws[a], a))
        action, family = arm.split("/", 1)
        context = {"arm": arm, "draw": round(draws[arm], 4), "posterior": state.means()}
        mean = context["posterior"].get(arm, 0.5)
        if action == "explore":
            recipe = state.random(rng, family)
            rationale = (
                f"explore: {family} is the least-explored family "
                f"({_count(state.counts.get(family, 0))}); random recipe {describe(recipe)}, "
                f"arm {arm} posterior mean {mean:.2f}"
            )
            return Proposal(recipe, "explore", "random", (), _fresh(), rationale, context)
        if action == "upgrade":
            return self._upgrade(state, family, arm, mean, context)
        return self._exploit(state, family, arm, mean, context, rng)

    def _exploit(
        self,
        state: _State,
        family: str,
        arm: str,
        mean: float,
        context: dict[str, Any],
        rng: np.random.Generator,
    ) -> Proposal:
        top = state.ranked(family)[: self.top_k]
        parent, rank = self._tournament(top, rng)
        assert parent.recipe is not None
        c = state.view.constraints
        # template recipes cross with their own template only; indicator recipes with their kind
        if is_template_recipe(parent.recipe):
            pool = state.ranked(family)
        else:
            pool = [x for x in state.ranked(None) if not is_template_recipe(x.recipe)]
        partners = [x for x in pool[: self.top_k] if x.hash != parent.hash]
        tail = f"arm {arm} posterior mean {mean:.2f}"
        who = (
            f"{_ordinal(rank)} {family} strategy {parent.hash[:8]} "
            f"(search Sharpe {_fmt(parent.sharpe)})"
        )
        if partners and rng.random() < self.crossover_rate:
            other, _ = self._tournament(partners, rng)
            assert other.recipe is not None
            v = crossover(
                parent.recipe,
                other.recipe,
                rng,
                constraints=c,
                parents=(parent.hash, other.hash),
                n_assets=state.view.n_assets,
            )
            how = (
                "a mix of their parameters"
                if is_template_recipe(parent.recipe)
                else "composite of their indicators"
                if not v.exploration["new_logic"]
                else ("the first one's signal with the second one's logic")
            )
            rationale = (
                f"exploit: cross the {who} with {other.family} strategy {other.hash[:8]} "
                f"(search Sharpe {_fmt(other.sharpe)}): {how}, {tail}"
            )
        else:
            v = mutate(
                parent.recipe,
                rng,
                constraints=c,
                fields=state.view.fields,
                parent=parent.hash,
                n_assets=state.view.n_assets,
            )
            what = _OP_WORDS[v.operator]
            if v.operator == "param" and v.exploration["changed"]:
                what += " " + v.exploration["changed"][0].rsplit(".", 1)[-1]
            rationale = f"exploit: mutate {what} of the {who}, {tail}"
        return _from_variation(v, "exploit", rationale, context)

    def _tournament(self, pool: list[Candidate], rng: np.random.Generator) -> tuple[Candidate, int]:
        size = min(self.tournament, len(pool))
        picks = sorted(int(i) for i in rng.choice(len(pool), size=size, replace=False))
        return pool[picks[0]], picks[0] + 1

    def _upgrade(
        self, state: _State, family: str, arm: str, mean: float, context: dict[str, Any]
    ) -> Proposal | None:
        for cand in state.upgradable(family):
            assert cand.recipe is not None
            v = upgrade(cand.recipe, state.newer, parent=cand.hash)
            if v is None:
                continue
            try:
                if self.hasher(v.recipe, state.view) in state.view.seen:
                    continue
            except (SpecError, ValueError):
                continue
            moves = ", ".join(f"{m} -> {state.newer[m]}" for m in cand.models if m in state.newer)
            rationale = (
                f"upgrade: model {moves} in the best {family} strategy using it "
                f"{cand.hash[:8]} (search Sharpe {_fmt(cand.sharpe)}), arm {arm} posterior "
                f"mean {mean:.2f}"
            )
            return _from_variation(v, "upgrade", rationale, context)
        return None


class _State:
    """What one ``propose`` call derives from the view (recomputed on every call)."""

    def __init__(self, view: ResearchView, outcomes: dict[str, tuple[int, int]]) -> None:
        self.view = view
        self.outcomes = outcomes
        newest: dict[str, ModelInfo] = {}
        for m in view.models:
            if m.name not in newest or m.version > newest[m.name].version:
                newest[m.name] = m
        self.latest = sorted(m.ref for m in newest.values())
        self.newer = {
            m.ref: newest[m.name].ref for m in view.models if m.version < newest[m.name].version
        }
        self.families = available_families(
            view.fields,
            view.constraints,
            self.latest,
            templates=view.templates,
            n_assets=view.n_assets or None,
        )
        self.counts: dict[str, int] = {}
        for c in view.history:
            self.counts[c.family] = self.counts.get(c.family, 0) + 1

    def random(self, rng: np.random.Generator, family: str | None) -> dict[str, Any]:
        v = self.view
        return random_recipe(
            rng,
            family=family,
            constraints=v.constraints,
            fields=v.fields,
            models=self.latest,
            n_assets=v.n_assets,
            templates=v.templates,
        )

    def ranked(self, family: str | None) -> list[Candidate]:
        """Candidates with a recipe and a search Sharpe, best first (ties by hash)."""
        pool = [
            c
            for c in self.view.history
            if c.recipe is not None
            and c.sharpe is not None
            and (family is None or c.family == family)
        ]
        return sorted(pool, key=lambda c: (-float(c.sharpe or 0.0), c.hash))

    def upgradable(self, family: str) -> list[Candidate]:
        """The family's candidates using a model with a newer version, best first."""
        return [c for c in self.ranked(family) if any(m in self.newer for m in c.models)]

    def arms(self) -> list[str]:
        """Arms open now: the least-explored family's explore arm(s), exploit, upgrade."""
        out = []
        if self.families:
            low = min(self.counts.get(f, 0) for f in self.families)
            out += [f"explore/{f}" for f in self.families if self.counts.get(f, 0) == low]
        exploit = sorted({c.family for c in self.ranked(None)})
        out += [f"exploit/{f}" for f in exploit]
        upgrade_families = sorted(
            {c.family for c in self.ranked(None) if any(m in self.newer for m in c.models)}
        )
        out += [f"upgrade/{f}" for f in upgrade_families]
        return out

    def means(self) -> dict[str, float]:
        """Posterior mean of every arm open now or seen in the history."""
        out = {}
        for arm in sorted(set(self.arms()) | set(self.outcomes)):
            s, f = self.outcomes.get(arm, (0, 0))
            out[arm] = round((1 + s) / (2 + s + f), 4)
        return out


def _fresh() -> dict[str, Any]:
    return {
        "new_indicator": True,
        "new_parameter": True,
        "upgraded_model": False,
        "crossover": False,
        "new_logic": True,
        "changed": [],
    }


def _from_variation(v: Variation, action: str, rationale: str, context: dict[str, Any]) -> Proposal:
    return Proposal(v.recipe, action, v.operator, v.parents, v.exploration, rationale, context)


def _ordinal(rank: int) -> str:
    return "best" if rank == 1 else f"#{rank}"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def _count(n: int) -> str:
    return f"{n} candidate{'' if n == 1 else 's'}"
