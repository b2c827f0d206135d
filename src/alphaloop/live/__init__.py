"""The running system: paper trading, the strategy lifecycle and the live loop's agents.

:class:`PaperSession` drives an event-backtest strategy on a
:class:`~alphaloop.execution.Feed` through a broker, bar by bar, with the
backtest's cost and fill model; :class:`PaperStore` and
:class:`StoreRecorder` keep each bar in the database (one transaction per
bar); :func:`reconcile` repairs the record against the broker after a
restart.

Modules: :mod:`.session`, :mod:`.records`, :mod:`.reconcile` (paper trading);
:mod:`.lifecycle`, :mod:`.lifecycle_store` (backtest -> shadow -> live ->
retired); :mod:`.ranker`, :mod:`.controller`, :mod:`.specialists`,
:mod:`.ensemble`, :mod:`.competition`, :mod:`.debate`, :mod:`.learning` (the
live loop's agents); :mod:`.evolution` (populations of specialists);
:mod:`.analytics` (P&L, exposures, attribution, daily reports); :mod:`.loop`,
:mod:`.loop_config`, :mod:`.loop_events`, :mod:`.loop_lifecycle`, :mod:`.sleeve`
(the loop itself); :mod:`.bus` (the event bus). Public names
load on first use, so reading the session tables does not import the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.live.analytics import (
        AnalyticsError,
        DailyReport,
        asset_attribution,
        daily_report,
        exposures,
        strategy_attribution,
    )
    from alphaloop.live.competition import (
        CompetitionError,
        leaderboard,
    )
    from alphaloop.live.controller import (
        RISK_MODES,
        ControllerConfig,
        ControllerDecision,
        ControllerError,
        MetaController,
        audit_sink,
        fan_out,
        policy_sink,
    )
    from alphaloop.live.debate import (
        Argument,
        DebateError,
        DebateFacts,
        DebateResult,
        debate,
        debate_facts,
    )
    from alphaloop.live.ensemble import (
        ENSEMBLE_METHODS,
        EnsembleError,
        EnsembleResult,
        combine_books,
        run_ensemble,
        sharpe_allocation,
    )
    from alphaloop.live.evolution import (
        EVOLVABLE_STYLES,
        Evaluation,
        Evolution,
        EvolutionConfig,
        EvolutionError,
        Generation,
        Genome,
        evolve,
    )
    from alphaloop.live.evolution_report import (
        Survivor,
        assess_survivors,
        verdict,
    )
    from alphaloop.live.learning import (
        LearningError,
        LearningPolicy,
        PromotionCheck,
        RetrainCheck,
        promotion_check,
        retrain_check,
    )
    from alphaloop.live.lifecycle import (
        TRANSITIONS,
        GateCheck,
        HealthDecision,
        LifecycleError,
        LifecycleEvent,
        LifecycleState,
        PromotionRefusedError,
        next_state,
        review_health,
    )
    from alphaloop.live.lifecycle_store import (
        LifecycleStore,
        StrategyLifecycle,
        TransitionRecord,
    )
    from alphaloop.live.loop import (
        LiveLoop,
        LoopResult,
    )
    from alphaloop.live.loop_config import (
        LoopConfig,
    )
    from alphaloop.live.ranker import (
        OpportunityError,
        OpportunityRanker,
        RankerConfig,
        Ranking,
    )
    from alphaloop.live.reconcile import Reconciliation, reconcile
    from alphaloop.live.records import ACTIVE, PaperSessionInfo, PaperStore, StoreRecorder
    from alphaloop.live.session import BarRecorder, PaperSession
    from alphaloop.live.sleeve import Sleeve
    from alphaloop.live.specialists import (
        STYLES,
        Specialist,
        SpecialistBook,
        SpecialistError,
        run_specialists,
        standard_specialists,
    )

__all__ = [
    "ACTIVE",
    "ENSEMBLE_METHODS",
    "EVOLVABLE_STYLES",
    "RISK_MODES",
    "STYLES",
    "TRANSITIONS",
    "AnalyticsError",
    "Argument",
    "BarRecorder",
    "CompetitionError",
    "ControllerConfig",
    "ControllerDecision",
    "ControllerError",
    "DailyReport",
    "DebateError",
    "DebateFacts",
    "DebateResult",
    "EnsembleError",
    "EnsembleResult",
    "Evaluation",
    "Evolution",
    "EvolutionConfig",
    "EvolutionError",
    "GateCheck",
    "Generation",
    "Genome",
    "HealthDecision",
    "LearningError",
    "LearningPolicy",
    "LifecycleError",
    "LifecycleEvent",
    "LifecycleState",
    "LifecycleStore",
    "LiveLoop",
    "LoopConfig",
    "LoopResult",
    "MetaController",
    "OpportunityError",
    "OpportunityRanker",
    "PaperSession",
    "PaperSessionInfo",
    "PaperStore",
    "PromotionCheck",
    "PromotionRefusedError",
    "RankerConfig",
    "Ranking",
    "Reconciliation",
    "RetrainCheck",
    "Sleeve",
    "Specialist",
    "SpecialistBook",
    "SpecialistError",
    "StoreRecorder",
    "StrategyLifecycle",
    "Survivor",
    "TransitionRecord",
    "assess_survivors",
    "asset_attribution",
    "audit_sink",
    "combine_books",
    "daily_report",
    "debate",
    "debate_facts",
    "evolve",
    "exposures",
    "fan_out",
    "leaderboard",
    "next_state",
    "policy_sink",
    "promotion_check",
    "reconcile",
    "retrain_check",
    "review_health",
    "run_ensemble",
    "run_specialists",
    "sharpe_allocation",
    "standard_specialists",
    "strategy_attribution",
    "verdict",
]

_HOME: dict[str, str] = {
    "ACTIVE": "alphaloop.live.records",
    "BarRecorder": "alphaloop.live.session",
    "PaperSession": "alphaloop.live.session",
    "PaperSessionInfo": "alphaloop.live.records",
    "PaperStore": "alphaloop.live.records",
    "Reconciliation": "alphaloop.live.reconcile",
    "StoreRecorder": "alphaloop.live.records",
    "reconcile": "alphaloop.live.reconcile",
    "LifecycleState": "alphaloop.live.lifecycle",
    "LifecycleEvent": "alphaloop.live.lifecycle",
    "LifecycleError": "alphaloop.live.lifecycle",
    "PromotionRefusedError": "alphaloop.live.lifecycle",
    "GateCheck": "alphaloop.live.lifecycle",
    "HealthDecision": "alphaloop.live.lifecycle",
    "TRANSITIONS": "alphaloop.live.lifecycle",
    "next_state": "alphaloop.live.lifecycle",
    "review_health": "alphaloop.live.lifecycle",
    "LifecycleStore": "alphaloop.live.lifecycle_store",
    "StrategyLifecycle": "alphaloop.live.lifecycle_store",
    "TransitionRecord": "alphaloop.live.lifecycle_store",
    "OpportunityRanker": "alphaloop.live.ranker",
    "RankerConfig": "alphaloop.live.ranker",
    "Ranking": "alphaloop.live.ranker",
    "OpportunityError": "alphaloop.live.ranker",
    "MetaController": "alphaloop.live.controller",
    "ControllerConfig": "alphaloop.live.controller",
    "ControllerDecision": "alphaloop.live.controller",
    "ControllerError": "alphaloop.live.controller",
    "RISK_MODES": "alphaloop.live.controller",
    "audit_sink": "alphaloop.live.controller",
    "policy_sink": "alphaloop.live.controller",
    "fan_out": "alphaloop.live.controller",
    "Specialist": "alphaloop.live.specialists",
    "SpecialistBook": "alphaloop.live.specialists",
    "SpecialistError": "alphaloop.live.specialists",
    "standard_specialists": "alphaloop.live.specialists",
    "run_specialists": "alphaloop.live.specialists",
    "STYLES": "alphaloop.live.specialists",
    "combine_books": "alphaloop.live.ensemble",
    "run_ensemble": "alphaloop.live.ensemble",
    "sharpe_allocation": "alphaloop.live.ensemble",
    "EnsembleResult": "alphaloop.live.ensemble",
    "EnsembleError": "alphaloop.live.ensemble",
    "ENSEMBLE_METHODS": "alphaloop.live.ensemble",
    "leaderboard": "alphaloop.live.competition",
    "CompetitionError": "alphaloop.live.competition",
    "debate": "alphaloop.live.debate",
    "debate_facts": "alphaloop.live.debate",
    "DebateFacts": "alphaloop.live.debate",
    "DebateResult": "alphaloop.live.debate",
    "DebateError": "alphaloop.live.debate",
    "Argument": "alphaloop.live.debate",
    "LearningPolicy": "alphaloop.live.learning",
    "RetrainCheck": "alphaloop.live.learning",
    "PromotionCheck": "alphaloop.live.learning",
    "retrain_check": "alphaloop.live.learning",
    "promotion_check": "alphaloop.live.learning",
    "LearningError": "alphaloop.live.learning",
    "AnalyticsError": "alphaloop.live.analytics",
    "DailyReport": "alphaloop.live.analytics",
    "asset_attribution": "alphaloop.live.analytics",
    "daily_report": "alphaloop.live.analytics",
    "exposures": "alphaloop.live.analytics",
    "strategy_attribution": "alphaloop.live.analytics",
    "Evolution": "alphaloop.live.evolution",
    "EvolutionConfig": "alphaloop.live.evolution",
    "EvolutionError": "alphaloop.live.evolution",
    "Evaluation": "alphaloop.live.evolution",
    "Generation": "alphaloop.live.evolution",
    "Genome": "alphaloop.live.evolution",
    "EVOLVABLE_STYLES": "alphaloop.live.evolution",
    "evolve": "alphaloop.live.evolution",
    "Survivor": "alphaloop.live.evolution_report",
    "assess_survivors": "alphaloop.live.evolution_report",
    "verdict": "alphaloop.live.evolution_report",
    "LiveLoop": "alphaloop.live.loop",
    "LoopResult": "alphaloop.live.loop",
    "Sleeve": "alphaloop.live.sleeve",
    "LoopConfig": "alphaloop.live.loop_config",
}


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
