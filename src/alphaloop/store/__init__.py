"""The project's database: SQLAlchemy 2 models, alembic migrations, repositories.

SQLite in the workspace by default; any SQLAlchemy URL (PostgreSQL included)
by setting ``ALPHALOOP_DATABASE_URL``. The schema is created and migrated on
first use.
"""

from alphaloop.store.assets import CorporateActionRow, InstrumentRow, UniverseMemberRow
from alphaloop.store.db import Database, sqlite_path
from alphaloop.store.governance import ApprovalRow, AuditEntryRow, KillSwitchEventRow
from alphaloop.store.lifecycle import LifecycleTransitionRow, PolicyChangeRow, StrategyStateRow
from alphaloop.store.loop import LoopCheckpointRow
from alphaloop.store.models import (
    AgentDecisionRow,
    Base,
    DatasetFactorTrialsRow,
    DatasetRecord,
    DatasetTrialsRow,
    DocumentRow,
    EvaluationRow,
    FactorExpressionRow,
    HoldoutRecord,
    ImportRecord,
    MiningSessionRow,
    ModelAlertRecord,
    ModelExplanationRecord,
    ModelStageChangeRecord,
    ModelUsageRecord,
    ModelVersionRecord,
    ResearchSessionRow,
    RunRecord,
    StrategyParentRow,
    StrategyRow,
)
from alphaloop.store.paper import (
    PaperBarRow,
    PaperDecisionRow,
    PaperEquityRow,
    PaperFillRow,
    PaperOrderRow,
    PaperPositionRow,
    PaperSessionRow,
)
from alphaloop.store.runs import Run, RunLog

__all__ = [
    "AgentDecisionRow",
    "ApprovalRow",
    "AuditEntryRow",
    "Base",
    "CorporateActionRow",
    "Database",
    "DatasetFactorTrialsRow",
    "DatasetRecord",
    "DatasetTrialsRow",
    "DocumentRow",
    "EvaluationRow",
    "FactorExpressionRow",
    "HoldoutRecord",
    "ImportRecord",
    "InstrumentRow",
    "KillSwitchEventRow",
    "LifecycleTransitionRow",
    "LoopCheckpointRow",
    "MiningSessionRow",
    "ModelAlertRecord",
    "ModelExplanationRecord",
    "ModelStageChangeRecord",
    "ModelUsageRecord",
    "ModelVersionRecord",
    "PaperBarRow",
    "PaperDecisionRow",
    "PaperEquityRow",
    "PaperFillRow",
    "PaperOrderRow",
    "PaperPositionRow",
    "PaperSessionRow",
    "PolicyChangeRow",
    "ResearchSessionRow",
    "Run",
    "RunLog",
    "RunRecord",
    "StrategyParentRow",
    "StrategyRow",
    "StrategyStateRow",
    "UniverseMemberRow",
    "sqlite_path",
]
