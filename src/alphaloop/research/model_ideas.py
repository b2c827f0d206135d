"""Where the model improver's proposals may come from besides :func:`propose`: idea sources.

An :data:`IdeaSource` is called once per :meth:`ModelImprover.improve
<alphaloop.research.improver.ModelImprover.improve>` with an
:class:`IdeaRequest` (the incumbent's reference and spec, its mean
validation IC, the libraries and families allowed, how many proposals are
wanted) and returns an :class:`IdeaBatch`: proposals, and a record of what
happened (accepted, refused with reasons, the reason for falling back).
The improver scores the proposals exactly as its own (same paired test,
counted in the same Bonferroni ``k``); when a batch holds none, the
deterministic :func:`~alphaloop.research.model_proposals.propose` list is
used instead, and the batch's record says why.

:func:`llm_ideas` is the source that asks a language model
(:mod:`alphaloop.llm.ideas`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.models.spec import ModelSpec
from alphaloop.research.model_proposals import Proposal

if TYPE_CHECKING:
    from alphaloop.llm import LLMClient

__all__ = ["IdeaBatch", "IdeaRequest", "IdeaSource", "ask_source", "llm_ideas"]


@dataclass(frozen=True)
class IdeaRequest:
    """What an idea source may know: the incumbent and its validation score, the choices.

    ``valid_ic`` is the incumbent's mean per-date IC on validation folds
    inside its own data span (the improver's evaluator); no holdout figure
    ever reaches a source.
    """

    ref: str
    spec: ModelSpec
    valid_ic: float | None
    feature_families: tuple[str, ...]
    families: tuple[str, ...]
    limit: int
    library_root: Path | None = None


@dataclass(frozen=True)
class IdeaBatch:
    """Proposals from a source and a JSON-safe record of how they came about."""

    proposals: tuple[Proposal, ...]
    record: dict[str, Any] = field(default_factory=dict)


IdeaSource = Callable[[IdeaRequest], IdeaBatch]
"""``source(request) -> IdeaBatch``."""


def ask_source(source: IdeaSource, request: IdeaRequest) -> tuple[list[Proposal], dict[str, Any]]:
    """Ask ``source``; keep at most ``request.limit`` proposals that change the incumbent.

    Returns the proposals and the batch's record with ``used`` (``ideas``,
    or ``offline`` when none is left) and ``fallback`` (why, or None).
    """
    spec = request.spec
    batch = source(request)
    proposals = [
        p
        for p in batch.proposals
        if not (p.spec.features == spec.features and p.spec.model == spec.model)
    ][: request.limit]
    record = dict(batch.record)
    if proposals:
        record["used"] = "ideas"
        record.setdefault("fallback", None)
    else:
        record["used"] = "offline"
        record["fallback"] = record.get("fallback") or "the idea source proposed nothing"
    return proposals, record


def llm_ideas(client: LLMClient, *, seed: int = 0, max_tokens: int = 2048) -> IdeaSource:
    """An idea source that asks ``client`` for improvement ideas.

    Each answer must validate against :class:`~alphaloop.llm.ideas.ImprovementIdeas`
    (one repair round); each idea is then turned into a spec by
    :func:`~alphaloop.llm.ideas.idea_spec` and refused with its reason when
    it is not a valid one-change spec, or repeats another idea. Transport
    errors, replay misses and answers still invalid after the repair round
    give an empty batch whose record says why (the improver then uses its
    offline proposals); a settings error (:class:`~alphaloop.llm.LLMConfigError`)
    is raised.
    """
    from alphaloop.llm import LLMConfigError, LLMError, ask_structured
    from alphaloop.llm.ideas import (
        IdeaFacts,
        ImprovementIdeas,
        idea_description,
        idea_messages,
        idea_spec,
    )

    source = f"llm:{client.settings.model}"

    def ask(request: IdeaRequest) -> IdeaBatch:
        facts = IdeaFacts(
            request.ref,
            request.spec,
            request.valid_ic,
            request.feature_families,
            request.families,
        )
        record: dict[str, Any] = {"source": source, "accepted": [], "rejected": []}
        try:
            answer = ask_structured(
                client,
                idea_messages(facts, request.limit),
                ImprovementIdeas,
                seed=seed,
                max_tokens=max_tokens,
            )
        except LLMConfigError:
            raise
        except LLMError as exc:
            record["fallback"] = f"{type(exc).__name__}: {exc.message}"
            return IdeaBatch((), record)
        proposals: list[Proposal] = []
        seen = [request.spec]
        for idea in answer.ideas:
            described = idea_description(idea, request.spec)
            try:
                spec = idea_spec(
                    request.spec,
                    idea,
                    feature_families=request.feature_families,
                    families=request.families,
                    library_root=request.library_root,
                )
            except ValueError as exc:
                record["rejected"].append({"idea": described, "reason": str(exc)})
                continue
            if any(spec.features == s.features and spec.model == s.model for s in seen[1:]):
                record["rejected"].append({"idea": described, "reason": "repeats another idea"})
                continue
            if len(proposals) >= request.limit:
                record["rejected"].append({"idea": described, "reason": "over the limit"})
                continue
            seen.append(spec)
            proposals.append(
                Proposal(idea.kind, described, spec, source=source, rationale=idea.rationale)
            )
            record["accepted"].append({"idea": described, "rationale": idea.rationale})
        record["fallback"] = None if proposals else "no idea was a valid one-change spec"
        return IdeaBatch(tuple(proposals), record)

    return ask
