"""The records of the strategy database: strategies, parentage, evaluations, decisions.

Frozen dataclasses that the :class:`~alphaloop.research.strategy_db.StrategyDB`
takes and gives; the database rows never leave it. Times are ISO 8601 strings
in UTC. An evaluation's returns are stored as zlib-compressed little-endian
float32 bytes and read back as a float32 array.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from alphaloop.backtest import StrategySpec
from alphaloop.jsonsafe import json_safe
from alphaloop.store.models import AgentDecisionRow, EvaluationRow, StrategyRow

__all__ = [
    "KINDS",
    "ORIGINS",
    "STATUSES",
    "DecisionRecord",
    "EvaluationRecord",
    "Parentage",
    "StrategyRecord",
    "decode_returns",
    "encode_returns",
    "per_period_sharpe",
    "spec_kind",
    "spec_logic",
    "spec_models",
]

KINDS = ("pure_technical", "hybrid_ml", "pure_ml")
ORIGINS = ("manual", "research", "validate", "import", "generate")
STATUSES = ("ok", "rejected", "failed", "refused")

#: the logic label of each portfolio method
_LOGIC = {"top_k": "top_k", "quantile_long_short": "long_short", "threshold": "threshold"}
_RETURNS_DTYPE = np.dtype("<f4")


@dataclass(frozen=True)
class StrategyRecord:
    """A distinct strategy: its spec (``model_dump`` JSON), hash and classification.

    ``kind`` is ``pure_technical``, ``hybrid_ml`` or ``pure_ml``; ``family``
    the indicator family (``"composite"`` for several); ``logic`` how signals
    become positions (``top_k``, ``long_short``, ``threshold``); ``models`` the
    model refs (``name/vN``) its signal uses; ``recipe`` the research
    generator's description, when it came from one.
    """

    hash: str
    dataset: str
    name: str
    spec: dict[str, Any]
    kind: str
    family: str
    logic: str
    models: list[str]
    recipe: dict[str, Any] | None
    origin: str
    session_id: int | None
    created_at: str


@dataclass(frozen=True)
class Parentage:
    """How a strategy was derived: parent(s), the operator, and what it explored.

    ``exploration`` e.g. ``{"new_indicator": True, "new_parameter": False,
    "upgraded_model": False, "crossover": False, "changed": ["signal.expr"]}``.
    """

    parent: str | None
    second_parent: str | None
    operator: str
    exploration: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation of a strategy under one protocol.

    ``protocol`` names the evaluation protocol (a 16-hex key, or
    ``"backtest"`` for a plain backtest); ``status`` is ``ok``, ``rejected``
    or ``failed`` (crashed; ``reason`` says why); ``sharpe`` is annualized;
    ``metrics`` may carry ``sharpe_per_period`` (else ``periods_per_year``
    gives it); ``returns`` are the per-bar simple returns (float32);
    ``validation``/``passed`` are the gate's, None until gated.
    """

    strategy_hash: str
    protocol: str
    status: str
    reason: str | None
    sharpe: float | None
    metrics: dict[str, Any]
    folds: list[Any]
    lookahead: dict[str, Any]
    validation: dict[str, Any] | None
    passed: bool | None
    returns: np.ndarray | None
    provenance: dict[str, Any]
    session_id: int | None
    created_at: str | None = None


@dataclass(frozen=True)
class DecisionRecord:
    """One decision of a research agent, ``seq`` its place in the session's proposal order.

    ``agent``: ``strategy``, ``ml_quant`` or ``improver``; ``action``:
    ``seed``, ``exploit``, ``explore``, ``upgrade`` or ``model``;
    ``trials_before``: the dataset's trial count when the decision was made.
    """

    seq: int
    batch: int
    agent: str
    action: str
    operator: str
    strategy_hash: str | None
    parents: list[str]
    rationale: str
    context: dict[str, Any]
    trials_before: int


# ------------------------------------------------------------------ spec facts
def spec_models(spec: StrategySpec) -> list[str]:
    """Every model ref (``name/vN``) the spec's signal uses, in order, once each."""
    from alphaloop.backtest.composite import signal_models

    return signal_models(spec)


def spec_kind(spec: StrategySpec) -> str:
    """``pure_ml`` when every signal source is a model, ``hybrid_ml`` when some are,
    else ``pure_technical``. A strategy template is technical: with a model in the signal
    it reads, the spec is ``hybrid_ml``."""
    if spec.signal is None:
        return "pure_technical"
    if spec.template is not None:
        return "hybrid_ml" if spec_models(spec) else "pure_technical"
    components = getattr(spec.signal, "components", None)
    if components:
        n_models = sum(1 for c in components if c.model)
        if n_models == len(components):
            return "pure_ml"
        return (
            "hybrid_ml"
            if n_models or getattr(spec.signal, "combiner", None)
            else ("pure_technical")
        )
    return "pure_ml" if spec.signal is not None and spec.signal.model else "pure_technical"


def spec_logic(spec: StrategySpec) -> str:
    """The logic label of the spec's portfolio method (``quantile_long_short``: ``long_short``).

    A template that builds its own book (or quotes) is its own logic: its name.
    """
    if not spec.uses_portfolio_rule:
        assert spec.template is not None
        return spec.template.template
    method = spec.portfolio.method
    return _LOGIC.get(method, method)


# --------------------------------------------------------------------- returns
def encode_returns(returns: np.ndarray | None) -> bytes | None:
    """zlib-compressed little-endian float32 bytes of a 1-D return series (None stays None)."""
    if returns is None:
        return None
    arr = np.ascontiguousarray(np.asarray(returns, dtype=np.float64).ravel(), _RETURNS_DTYPE)
    return zlib.compress(arr.tobytes(), 6)


def decode_returns(blob: bytes | None) -> np.ndarray | None:
    """The float32 array :func:`encode_returns` stored (a writable copy)."""
    if blob is None:
        return None
    return np.frombuffer(zlib.decompress(blob), dtype=_RETURNS_DTYPE).astype(np.float32)


def per_period_sharpe(sharpe: float | None, metrics: dict[str, Any]) -> float | None:
    """The per-period (not annualized) Sharpe ratio of an evaluation, or None.

    ``metrics["sharpe_per_period"]`` when present, else ``sharpe /
    sqrt(metrics["periods_per_year"])``.
    """
    direct = _finite(metrics.get("sharpe_per_period"))
    if direct is not None:
        return direct
    ppy = _finite(metrics.get("periods_per_year"))
    if sharpe is None or not math.isfinite(sharpe) or ppy is None or ppy <= 0:
        return None
    return sharpe / math.sqrt(ppy)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------ row <-> record
def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a stored time in UTC (SQLite gives them back naive; None stays None)."""
    if value is None:
        return None
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.isoformat()


def strategy_record(row: StrategyRow) -> StrategyRecord:
    return StrategyRecord(
        hash=row.hash,
        dataset=row.dataset,
        name=row.name,
        spec=dict(row.spec or {}),
        kind=row.kind,
        family=row.family,
        logic=row.logic,
        models=list(row.models or []),
        recipe=row.recipe,
        origin=row.origin,
        session_id=row.session_id,
        created_at=iso(row.created_at) or "",
    )


def evaluation_record(row: EvaluationRow, *, with_returns: bool = True) -> EvaluationRecord:
    """The record of a stored evaluation; ``with_returns=False`` never reads the returns."""
    return EvaluationRecord(
        strategy_hash=row.strategy_hash,
        protocol=row.protocol,
        status=row.status,
        reason=row.reason,
        sharpe=row.sharpe,
        metrics=dict(row.metrics or {}),
        folds=list(row.folds or []),
        lookahead=dict(row.lookahead or {}),
        validation=row.validation,
        passed=row.passed,
        returns=decode_returns(row.returns) if with_returns else None,
        provenance=dict(row.provenance or {}),
        session_id=row.session_id,
        created_at=iso(row.created_at),
    )


def evaluation_row(
    ev: EvaluationRecord, sharpe: float | None, metrics: dict[str, Any]
) -> EvaluationRow:
    """The database row of an evaluation, with its checked Sharpe and JSON-safe metrics."""
    return EvaluationRow(
        strategy_hash=ev.strategy_hash,
        protocol=ev.protocol,
        status=ev.status,
        reason=ev.reason,
        sharpe=sharpe,
        metrics=metrics,
        folds=json_safe(list(ev.folds)),
        lookahead=json_safe(dict(ev.lookahead)),
        validation=json_safe(dict(ev.validation)) if ev.validation is not None else None,
        passed=ev.passed,
        returns=encode_returns(ev.returns),
        provenance=json_safe(dict(ev.provenance)),
        session_id=ev.session_id,
        created_at=datetime.now(UTC),
    )


def decision_record(row: AgentDecisionRow) -> DecisionRecord:
    return DecisionRecord(
        seq=row.seq,
        batch=row.batch,
        agent=row.agent,
        action=row.action,
        operator=row.operator,
        strategy_hash=row.strategy_hash,
        parents=list(row.parents or []),
        rationale=row.rationale,
        context=dict(row.context or {}),
        trials_before=row.trials_before,
    )
