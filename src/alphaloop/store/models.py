"""Tables: datasets (one row per dataset version), imports, runs, holdouts, the
model registry (model_versions, model_usage, model_stage_changes, model_alerts,
model_explanations),
and the strategy database (research_sessions, strategies, strategy_parents,
evaluations, dataset_trials, agent_decisions).

Times are stored as timezone-aware UTC. JSON columns hold lists and
dictionaries that are read whole (fields, caveats, quality reports, params).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of every alphaloop table."""

    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class DatasetRecord(Base):
    """One immutable version of a dataset; the highest version is the current one."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_datasets_name_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    frequency: Mapped[str] = mapped_column(String(40))
    start: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    n_assets: Mapped[int] = mapped_column(Integer)
    n_times: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(BigInteger)
    fields: Mapped[list[Any]] = mapped_column(JSON)
    assets_preview: Mapped[list[Any]] = mapped_column(JSON)
    caveats: Mapped[list[Any]] = mapped_column(JSON, default=list)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    path: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportRecord(Base):
    """Every import attempt, accepted or refused, with its quality report."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(200), index=True)
    source_path: Mapped[str] = mapped_column(String(1000))
    layout: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # accepted | repaired | refused | interrupted
    rows_in: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_out: Mapped[int] = mapped_column(BigInteger, default=0)
    report: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    repairs: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RunRecord(Base):
    """A unit of work (demo, backtest, training, ...) with its inputs and outcome."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    status: Mapped[str] = mapped_column(String(20))  # running | succeeded | failed | interrupted
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_hashes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    code_version: Mapped[str] = mapped_column(String(50))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class HoldoutRecord(Base):
    """The sealed final segment of a dataset: fixed at first use, unsealed at most once.

    ``inherited_from`` is set when the dataset was imported with copies of
    another dataset's sealed rows: which dataset, its boundary, the first
    copied timestamp and how many rows were copied (the seal follows the data).
    """

    __tablename__ = "holdouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200), unique=True)
    fraction: Mapped[float] = mapped_column(Float)
    boundary: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    unsealed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    trials_before: Mapped[int | None] = mapped_column(Integer, nullable=True)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    inherited_from: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ModelVersionRecord(Base):
    """One immutable registered model version ``name/vN`` with its artifact and provenance."""

    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        UniqueConstraint("ref", name="uq_model_versions_ref"),
        # At most one production version per name, enforced by the database.
        Index(
            "uq_model_versions_one_production",
            "name",
            unique=True,
            sqlite_where=text("stage = 'production'"),
            postgresql_where=text("stage = 'production'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int] = mapped_column(Integer)
    ref: Mapped[str] = mapped_column(String(220))
    family: Mapped[str] = mapped_column(String(100), index=True)
    task: Mapped[str] = mapped_column(String(40))
    features: Mapped[list[Any]] = mapped_column(JSON)
    feature_family: Mapped[str] = mapped_column(String(200), index=True)
    target: Mapped[str] = mapped_column(String(200), index=True)
    label: Mapped[dict[str, Any]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    train_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    train_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    label_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    dataset: Mapped[str] = mapped_column(String(200))
    dataset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dataset_hash: Mapped[str] = mapped_column(String(64))
    code_version: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stage: Mapped[str] = mapped_column(String(20))  # candidate | production | archived
    supersedes: Mapped[str | None] = mapped_column(ForeignKey("model_versions.ref"), nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    artifact_path: Mapped[str] = mapped_column(String(1000))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelUsageRecord(Base):
    """A strategy that uses a model version, with the Sharpe ratio it reached."""

    __tablename__ = "model_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_ref: Mapped[str] = mapped_column(ForeignKey("model_versions.ref"), index=True)
    strategy_hash: Mapped[str] = mapped_column(String(64), index=True)
    strategy_name: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), nullable=True
    )
    sharpe: Mapped[float | None] = mapped_column(Float, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelStageChangeRecord(Base):
    """Audit of a model version's stage transitions (registration included)."""

    __tablename__ = "model_stage_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_ref: Mapped[str] = mapped_column(ForeignKey("model_versions.ref"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_stage: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelAlertRecord(Base):
    """A monitoring alert: a model's live behaviour passed a degradation threshold."""

    __tablename__ = "model_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_ref: Mapped[str] = mapped_column(ForeignKey("model_versions.ref"), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # ic_drop | feature_drift | prediction_drift
    metric: Mapped[str] = mapped_column(String(200))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelExplanationRecord(Base):
    """An explanation of a model version: ``kind`` permutation | shap | tft, a JSON payload.

    Explanations are derived from a version, not part of it: computing one
    again adds a row, and readers take the newest row of each kind.
    """

    __tablename__ = "model_explanations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ------------------------------------------------------------ strategy database
class ResearchSessionRow(Base):
    """A research session: its goal, configuration, progress and outcome."""

    __tablename__ = "research_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset: Mapped[str] = mapped_column(String(200), index=True)
    goal: Mapped[str] = mapped_column(Text, default="")
    constraints: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))  # running | finished | interrupted | failed
    n_batches: Mapped[int] = mapped_column(Integer, default=0)
    models_start: Mapped[list[Any]] = mapped_column(JSON, default=list)
    models_end: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    holdout: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StrategyRow(Base):
    """A distinct strategy (by spec hash) on its dataset, with how it was classified."""

    __tablename__ = "strategies"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataset: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(20))  # pure_technical | hybrid_ml | pure_ml
    family: Mapped[str] = mapped_column(String(100))
    logic: Mapped[str] = mapped_column(String(50))
    models: Mapped[list[Any]] = mapped_column(JSON, default=list)
    recipe: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # manual | research | validate | import | generate
    origin: Mapped[str] = mapped_column(String(20))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("research_sessions.id"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StrategyParentRow(Base):
    """Where a strategy came from: its parent(s) and the operator that made it."""

    __tablename__ = "strategy_parents"

    child_hash: Mapped[str] = mapped_column(ForeignKey("strategies.hash"), primary_key=True)
    parent_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    second_parent_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    operator: Mapped[str] = mapped_column(String(50))
    exploration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class EvaluationRow(Base):
    """One evaluation of a strategy under one protocol (at most one per pair)."""

    __tablename__ = "evaluations"

    strategy_hash: Mapped[str] = mapped_column(ForeignKey("strategies.hash"), primary_key=True)
    protocol: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # ok | rejected | failed
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    sharpe: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    folds: Mapped[list[Any]] = mapped_column(JSON, default=list)
    lookahead: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    returns: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetTrialsRow(Base):
    """The trial counter of a dataset: strategies evaluated and their per-period Sharpe sums.

    ``n_trials`` counts every strategy with at least one evaluation (any
    status); ``n_sr``, ``sum_sr`` and ``sum_sr2`` cover the per-period Sharpe
    ratio of each trial's first ok evaluation that has one.
    """

    __tablename__ = "dataset_trials"

    dataset: Mapped[str] = mapped_column(String(200), primary_key=True)
    n_trials: Mapped[int] = mapped_column(Integer, default=0)
    n_sr: Mapped[int] = mapped_column(Integer, default=0)
    sum_sr: Mapped[float] = mapped_column(Float, default=0.0)
    sum_sr2: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AgentDecisionRow(Base):
    """One decision of a research agent in a session, in proposal order (``seq``)."""

    __tablename__ = "agent_decisions"

    session_id: Mapped[int] = mapped_column(ForeignKey("research_sessions.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch: Mapped[int] = mapped_column(Integer)
    agent: Mapped[str] = mapped_column(String(20))  # strategy | ml_quant | improver
    action: Mapped[str] = mapped_column(String(20))  # seed | exploit | explore | upgrade | model
    operator: Mapped[str] = mapped_column(String(50))
    strategy_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    parents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    rationale: Mapped[str] = mapped_column(Text, default="")
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    trials_before: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# ---------------------------------------------------------------- factor mining
class MiningSessionRow(Base):
    """A factor-mining run: its configuration, progress, outcome and holdout result.

    ``key`` is a hash of what determines the run (dataset content, settings,
    seed): the same run asked for twice is the same session, and a killed one
    resumes under it.
    """

    __tablename__ = "mining_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    dataset: Mapped[str] = mapped_column(String(200), index=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))  # running | finished | interrupted | failed
    n_scored: Mapped[int] = mapped_column(Integer, default=0)
    n_generations: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    library: Mapped[str | None] = mapped_column(String(500), nullable=True)
    holdout: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class FactorExpressionRow(Base):
    """A distinct (canonical) expression scored by a miner on a dataset."""

    __tablename__ = "factor_expressions"

    dataset: Mapped[str] = mapped_column(String(200), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expression: Mapped[str] = mapped_column(Text)
    session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DatasetFactorTrialsRow(Base):
    """How many distinct expressions miners have scored on a dataset, across sessions."""

    __tablename__ = "dataset_factor_trials"

    dataset: Mapped[str] = mapped_column(String(200), primary_key=True)
    n_expressions: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


# -------------------------------------------------------------------- documents
class DocumentRow(Base):
    """One document (news, filing, transcript...) about an asset, with its publication time.

    ``doc_id`` is a hash of asset, publication time, source, kind and text:
    importing the same document twice keeps one row.
    """

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_asset_published", "asset", "published_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(64), unique=True)
    asset: Mapped[str] = mapped_column(String(200))
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    source: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    import_file: Mapped[str] = mapped_column(String(1000))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
