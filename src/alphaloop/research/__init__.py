"""Autonomous research: the strategy database, agents, sessions and executors.

Agents explore the strategy space from what the strategy database holds:
the strategy agent proposes candidates (exploit, explore, upgrade), the ML
quant agent finds or trains the models they use, and the model improver
proposes better model versions in the background. A session evaluates each
candidate on the search span only (lookahead scan, walk-forward backtest,
validation gate with every trial counted) and stores it. This package is a
pure core: it takes Panels, specs and repositories; :mod:`alphaloop.app.research`
wires it to a workspace.
"""

from __future__ import annotations

from typing import Any

from alphaloop.faces import load_public

#: public name -> module that defines it
_HOME: dict[str, str] = {
    # session report
    "genealogy_figure": "alphaloop.research.genealogy_graph",
    "genealogy_layout": "alphaloop.research.genealogy_graph",
    "render_session_report": "alphaloop.research.report",
    "write_session_report": "alphaloop.research.report",
    # ML quant agent and model improver
    "MLQuantAgent": "alphaloop.research.ml_agent",
    "ModelRequirements": "alphaloop.research.ml_agent",
    "ModelRequirementsError": "alphaloop.research.ml_agent",
    "ModelImprover": "alphaloop.research.improver",
    "ImprovementResult": "alphaloop.research.improver",
    "ImproverError": "alphaloop.research.improver",
    "ProposalOutcome": "alphaloop.research.improver",
    "pick_models_for_improvement": "alphaloop.research.improver",
    "PairedComparison": "alphaloop.research.paired_test",
    "compare_ic": "alphaloop.research.paired_test",
    # goals, search space, operators, strategy-agent policy
    "Constraints": "alphaloop.research.goal",
    "Goal": "alphaloop.research.goal",
    "parse_goal": "alphaloop.research.goal",
    "KINDS": "alphaloop.research.goal",
    "HORIZONS": "alphaloop.research.goal",
    "Template": "alphaloop.research.templates",
    "FAMILIES": "alphaloop.research.templates",
    "template": "alphaloop.research.templates",
    "feasible_templates": "alphaloop.research.templates",
    "recipe_spec": "alphaloop.research.space",
    "spec_dict": "alphaloop.research.space",
    "strategy_hash": "alphaloop.research.space",
    "classify": "alphaloop.research.space",
    "conform": "alphaloop.research.space",
    "canonical_recipe": "alphaloop.research.space",
    "random_recipe": "alphaloop.research.space",
    "available_families": "alphaloop.research.space",
    "recipe_key": "alphaloop.research.space",
    "Variation": "alphaloop.research.operators",
    "mutate": "alphaloop.research.operators",
    "crossover": "alphaloop.research.operators",
    "upgrade": "alphaloop.research.operators",
    "mutation_operators": "alphaloop.research.operators",
    "MUTATIONS": "alphaloop.research.operators",
    "Candidate": "alphaloop.research.policy",
    "ModelInfo": "alphaloop.research.policy",
    "ResearchView": "alphaloop.research.policy",
    "Proposal": "alphaloop.research.policy",
    "Policy": "alphaloop.research.policy",
    "BanditPolicy": "alphaloop.research.policy",
    # the strategy database
    "AmbiguousStrategyError": "alphaloop.errors",
    "DecisionRecord": "alphaloop.research.strategy_records",
    "EvaluationRecord": "alphaloop.research.strategy_records",
    "Parentage": "alphaloop.research.strategy_records",
    "ResearchSessionNotFoundError": "alphaloop.errors",
    "StrategyDB": "alphaloop.research.strategy_db",
    "StrategyNotFoundError": "alphaloop.errors",
    "StrategyRecord": "alphaloop.research.strategy_records",
    # sessions
    "BatchReport": "alphaloop.research.session",
    "SessionConfig": "alphaloop.research.session",
    "SessionLoop": "alphaloop.research.session",
    "FUNNEL_GATES": "alphaloop.research.summary",
    "funnel": "alphaloop.research.summary",
    "session_summary": "alphaloop.research.summary",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
