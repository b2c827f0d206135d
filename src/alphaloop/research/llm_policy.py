"""The LLM research policy: a language model proposes, code checks, the bandit stands in.

For each slot of a batch, :class:`LLMPolicy` sends the prompt of
:mod:`alphaloop.research.llm_prompt` (search-span numbers only) and asks
for a :class:`~alphaloop.research.llm_decision.ResearchDecision`
(:func:`alphaloop.llm.ask_structured`: JSON validated against the model,
one repair round on an invalid answer). The draft is turned into a
canonical recipe conformed to the goal
(:func:`~alphaloop.research.llm_decision.draft_recipe`); a draft that is
refused, names an unknown parent, or gives a strategy already evaluated (or
already proposed in the batch) is sent back once with the reasons. When no
usable decision comes out of that bounded exchange, the offline policy
(:class:`~alphaloop.research.policy.BanditPolicy` by default) proposes that
slot instead, and the proposal says so: ``context["origin"]`` is ``"llm"``
or ``"fallback"`` (with the reason).

The policy keeps no state: every request is a function of the view, the
slot and the proposals already made in the batch, so with the response
cache in ``replay`` mode a session replays exactly, with no network.
Transport errors and replay misses are not answers: they pass through (the
session stops and can be resumed), so a replay never silently diverges.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from alphaloop.errors import SpecError
from alphaloop.research.llm_decision import DraftError, ResearchDecision, draft_recipe
from alphaloop.research.llm_prompt import research_messages
from alphaloop.research.policy import BanditPolicy, Candidate, Hasher, Policy, Proposal, spec_hasher

if TYPE_CHECKING:
    from alphaloop.llm import LLMClient
    from alphaloop.research.policy import ResearchView

__all__ = ["LLMPolicy"]


class LLMPolicy:
    """Proposals from a language model, checked by code, with an offline fallback.

    Parameters
    ----------
    client : LLMClient
        The model's client (its response cache makes sessions replayable).
    fallback : Policy, optional
        Proposes a slot the model could not fill; default :class:`BanditPolicy`.
    top_n : int, default=10
        Top candidates by search Sharpe listed in the prompt.
    repair_rounds : int, default=1
        Rounds of feedback after an invalid answer (schema) and after a
        refused or repeated draft, each.
    seed : int, default=0
        Sent with every request (for endpoints that honour it).
    max_tokens : int, default=1500
        Longest answer asked for.
    hasher : callable, optional
        ``(recipe, view) -> hash``; default the spec hash of the recipe.
    """

    name = "llm"

    def __init__(
        self,
        client: LLMClient,
        *,
        fallback: Policy | None = None,
        top_n: int = 10,
        repair_rounds: int = 1,
        seed: int = 0,
        max_tokens: int = 1500,
        hasher: Hasher | None = None,
    ) -> None:
        self.client = client
        self.hasher = hasher or spec_hasher
        self.fallback = fallback or BanditPolicy(hasher=self.hasher)
        self.top_n = top_n
        self.repair_rounds = repair_rounds
        self.seed = seed
        self.max_tokens = max_tokens

    def propose(self, view: ResearchView, n: int, rng: np.random.Generator) -> list[Proposal]:
        """Up to ``n`` proposals, none seen before or repeated in the batch."""
        from alphaloop.research.space import describe

        out: list[Proposal] = []
        taken: set[str] = set(view.seen)
        made: list[str] = []
        for slot in range(n):
            proposal, digest, reason = self._ask(view, slot, n, made, taken)
            if proposal is None:
                proposal, digest = self._fallback(view, taken, rng, reason)
            if proposal is None or digest is None:
                continue
            taken.add(digest)
            out.append(proposal)
            made.append(f"{proposal.action} {describe(proposal.recipe)}")
        return out

    # ------------------------------------------------------------ the model
    def _ask(
        self, view: ResearchView, slot: int, n: int, made: list[str], taken: set[str]
    ) -> tuple[Proposal | None, str | None, str]:
        """The model's proposal for ``slot`` and its hash, or None and why not."""
        from alphaloop.llm import LLMAnswerError, ask_structured

        messages = research_messages(view, slot=slot, n=n, made=made, top_n=self.top_n)
        reason = ""
        for attempt in range(self.repair_rounds + 1):
            try:
                decision = ask_structured(
                    self.client,
                    messages,
                    ResearchDecision,
                    repair_rounds=self.repair_rounds,
                    seed=self.seed,
                    max_tokens=self.max_tokens,
                )
            except LLMAnswerError as exc:
                return None, None, f"no valid answer: {exc.message}"
            try:
                proposal = self._proposal(decision, view, attempt)
                digest = self.hasher(proposal.recipe, view)
            except DraftError as exc:
                reason = f"refused draft: {exc}"
            except (SpecError, ValueError) as exc:
                reason = f"refused draft: {exc}"
            else:
                if digest not in taken:
                    return proposal, digest, ""
                reason = f"strategy {digest[:12]} was already evaluated or proposed"
            messages = [
                *messages,
                {"role": "assistant", "content": decision.model_dump_json()},
                {
                    "role": "user",
                    "content": f"That decision cannot be used: {reason}. "
                    "Answer again with a different research decision.",
                },
            ]
        return None, None, reason

    def _proposal(self, d: ResearchDecision, view: ResearchView, attempt: int) -> Proposal:
        from alphaloop.research.space import classify

        recipe = draft_recipe(
            d.recipe,
            constraints=view.constraints,
            fields=view.fields,
            models=sorted(m.ref for m in view.models),
            templates=view.templates,
            n_assets=view.n_assets or None,
        )
        parent = _parent(d.parent, view.history) if d.decision != "explore" else None
        if d.decision != "explore" and parent is None:
            raise DraftError([f"a {d.decision} decision needs the hash of a listed strategy"])
        family = classify(recipe)[1]
        parents = (parent.hash,) if parent is not None else ()
        context: dict[str, Any] = {
            "arm": f"{d.decision}/{family}",
            "origin": "llm",
            "llm": {
                "model": self.client.settings.model,
                "provider": self.client.settings.provider,
                "repairs": attempt,
            },
        }
        operator = "llm" if parent is None else f"llm_{d.decision}"
        return Proposal(
            recipe,
            d.decision,
            operator,
            parents,
            _exploration(recipe, parent),
            f"llm {d.decision}: {d.rationale.strip()}",
            context,
        )

    # ------------------------------------------------------------ the fallback
    def _fallback(
        self, view: ResearchView, taken: set[str], rng: np.random.Generator, reason: str
    ) -> tuple[Proposal | None, str | None]:
        """One proposal of the offline policy, marked as a fallback with the reason."""
        narrowed = dataclasses.replace(view, seen=frozenset(taken))
        for p in self.fallback.propose(narrowed, 1, rng):
            try:
                digest = self.hasher(p.recipe, view)
            except (SpecError, ValueError):
                continue
            context = {**p.context, "origin": "fallback", "fallback_reason": reason[:500]}
            why = f"fallback ({self.fallback.name}) after the model: {reason[:200]}; {p.rationale}"
            return dataclasses.replace(p, rationale=why, context=context), digest
        return None, None


def _parent(ref: str | None, history: tuple[Candidate, ...]) -> Candidate | None:
    """The history's candidate whose hash starts with ``ref`` (8+ characters, unique)."""
    if not ref or len(ref.strip()) < 8:
        return None
    ref = ref.strip().lower()
    found = {c.hash: c for c in history if c.hash.startswith(ref) and c.recipe}
    return next(iter(found.values())) if len(found) == 1 else None


def _exploration(recipe: dict[str, Any], parent: Candidate | None) -> dict[str, Any]:
    """What the recipe explores against its parent (all new without one)."""
    if parent is None or not parent.recipe:
        return {
            "new_indicator": True,
            "new_parameter": True,
            "upgraded_model": False,
            "crossover": False,
            "new_logic": True,
            "changed": [],
        }
    old = parent.recipe
    changed = sorted(k for k in set(recipe) | set(old) if recipe.get(k) != old.get(k))

    def names(r: dict[str, Any]) -> set[str]:
        return {f"{i['family']}/{i['template']}" for i in r.get("indicators") or ()}

    new_ind = names(recipe) != names(old) or (recipe.get("strategy") or {}).get("template") != (
        old.get("strategy") or {}
    ).get("template")
    old_models = {m.split("/")[0]: m for m in old.get("models") or ()}
    upgraded = any(
        m.split("/")[0] in old_models and m != old_models[m.split("/")[0]]
        for m in recipe.get("models") or ()
    )
    return {
        "new_indicator": bool(new_ind),
        "new_parameter": not new_ind and ("indicators" in changed or "strategy" in changed),
        "upgraded_model": upgraded,
        "crossover": False,
        "new_logic": "logic" in changed,
        "changed": changed,
    }
