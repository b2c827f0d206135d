"""Language-model hypotheses for a mining session, and the memorisation guard on its result.

:func:`ask_for_hypotheses` builds the search-span facts of a dataset
(field names, the span's dates and size, the grammar, existing library
factors with their IC on the miner's training folds: never the holdout,
which the panel handed in does not contain, and no figure of a validation
or test fold) and asks the model for hypotheses
(:func:`alphaloop.llm.hypotheses.propose_hypotheses`). The accepted ones
enter the miner's first generation as :class:`~alphaloop.factors.mining.Hypothesis`
objects, scored on the same folds and counted as trials like any
candidate.

:func:`memorisation_guard` measures every pool factor that descends from an
LLM hypothesis on the searchable bars after the model's knowledge cut-off
(:func:`alphaloop.llm.post_cutoff_span`); the output shows that figure first.

The client comes from :func:`alphaloop.app.llm_workspace.workspace_llm_client`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace
    from alphaloop.data import Panel
    from alphaloop.factors.mining import MiningConfig, MiningResult
    from alphaloop.llm import LLMClient
    from alphaloop.llm.hypotheses import HypothesisOutcome, MiningFacts

__all__ = [
    "FACT_LIBRARY",
    "ask_for_hypotheses",
    "memorisation_guard",
    "mining_facts",
]

#: the built-in library whose factors a hypothesis prompt lists, with their training IC
FACT_LIBRARY = "alpha158-close-core"
#: most library factors a prompt lists
MAX_FACTS = 20


def mining_facts(ws: Workspace, data: str, panel: Panel, config: MiningConfig) -> MiningFacts:
    """The facts a hypothesis prompt may carry, from ``panel`` (the search span) only."""
    from alphaloop.factors import list_libraries
    from alphaloop.factors.mining import DEFAULT_FIELDS, Grammar, training_ics
    from alphaloop.llm.hypotheses import LibraryFact, MiningFacts

    grammar = config.grammar or Grammar(
        fields=tuple(f for f in DEFAULT_FIELDS if f in panel.field_names)
    )
    fields = set(panel.field_names)
    expressions: dict[str, str] = {}
    for lib in list_libraries(ws.root):
        mined_here = (lib.provenance or {}).get("dataset") == data
        if (lib.name == FACT_LIBRARY or mined_here) and set(lib.fields) <= fields:
            for name, text in lib.factors.items():
                if len(expressions) < MAX_FACTS:
                    expressions[f"{lib.name}/{name}"] = text
    ics = training_ics(panel, expressions, config) if expressions else {}
    library = tuple(
        LibraryFact(name, expressions[name], ic.mean_ic, ic.n_days) for name, ic in ics.items()
    )
    return MiningFacts(
        dataset=data,
        fields=tuple(f for f in grammar.fields if not f.startswith("text:")),
        start=panel.index[0].date().isoformat(),
        end=panel.index[-1].date().isoformat(),
        n_bars=panel.n_times,
        n_assets=panel.n_assets,
        horizon=config.horizon,
        operators=(*grammar.unary, *grammar.binary, *grammar.rolling, *grammar.pairwise),
        windows=grammar.windows,
        library=library,
    )


def ask_for_hypotheses(
    ws: Workspace,
    data: str,
    panel: Panel,
    config: MiningConfig,
    client: LLMClient,
    *,
    n: int = 5,
) -> HypothesisOutcome:
    """Ask ``client`` for ``n`` hypotheses about ``data``'s search span (``panel``).

    The request's seed is the mining seed, so a cached answer replays with
    the run.
    """
    from alphaloop.llm.hypotheses import propose_hypotheses

    facts = mining_facts(ws, data, panel, config)
    return propose_hypotheses(client, facts, n=n, seed=config.seed)


def memorisation_guard(
    panel: Panel, result: MiningResult, cutoff: dt.date | None
) -> dict[str, Any]:
    """IC after the knowledge cut-off of every pool factor that descends from an LLM hypothesis.

    Parameters
    ----------
    panel : Panel
        The search span the run read (the holdout is not in it).
    result : MiningResult
    cutoff : date or None
        The model's knowledge cut-off (``ALPHALOOP_LLM_KNOWLEDGE_CUTOFF``).

    Returns
    -------
    dict
        ``span`` (:class:`~alphaloop.llm.PostCutoffSpan` fields) and
        ``factors``: pool name -> ``{"post_cutoff_ic", "n_days", "origins"}``
        (the IC None when there is no post-cut-off span).
    """
    from alphaloop.factors.mining import span_ics
    from alphaloop.llm import post_cutoff_span

    span = post_cutoff_span(panel.index, cutoff)
    llm_members = [m for m in result.members if any(o.startswith("llm:") for o in m.origins)]
    ics: dict[str, Any] = {}
    if span.available and llm_members:
        start_row = panel.n_times - span.n_bars  # the span runs to the last searchable bar
        ics = span_ics(
            panel, {m.name: m.expression for m in llm_members}, result.config, start_row=start_row
        )
    factors = {
        m.name: {
            "post_cutoff_ic": ics[m.name].mean_ic if m.name in ics else None,
            "n_days": ics[m.name].n_days if m.name in ics else 0,
            "origins": list(m.origins),
        }
        for m in llm_members
    }
    return {"span": span.as_dict(), "factors": factors}
