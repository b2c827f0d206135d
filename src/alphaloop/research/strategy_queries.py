"""Read queries of the strategy database: leaders, recent work, model use, coverage,
genealogy and the specs of a dataset's trials.

Each function takes an open SQLAlchemy session; :class:`~alphaloop.research.
strategy_db.StrategyDB` opens it. Rows are plain dicts ready for JSON: the
strategy's ``hash``, ``name``, ``dataset``, ``kind``, ``family``, ``logic``,
``models``, ``origin``, ``session_id`` and the evaluation's ``protocol``,
``status``, ``reason``, ``sharpe`` (annualized), ``passed``, ``metrics`` and
``evaluated_at``.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Select, Text, and_, case, cast, func, select
from sqlalchemy.orm import Session

from alphaloop.research.strategy_records import iso
from alphaloop.store.models import EvaluationRow, StrategyParentRow, StrategyRow

__all__ = ["by_model", "genealogy", "recent", "strategy_specs", "top", "underexplored"]


def _row(strategy: StrategyRow, ev: EvaluationRow | None) -> dict[str, Any]:
    return {
        "hash": strategy.hash,
        "name": strategy.name,
        "dataset": strategy.dataset,
        "kind": strategy.kind,
        "family": strategy.family,
        "logic": strategy.logic,
        "models": list(strategy.models or []),
        "origin": strategy.origin,
        "session_id": strategy.session_id,
        "protocol": ev.protocol if ev else None,
        "status": ev.status if ev else None,
        "reason": ev.reason if ev else None,
        "sharpe": ev.sharpe if ev else None,
        "passed": ev.passed if ev else None,
        "metrics": dict(ev.metrics or {}) if ev else {},
        "evaluated_at": iso(ev.created_at) if ev else None,
    }


def _joined() -> Select[tuple[StrategyRow, EvaluationRow]]:
    return select(StrategyRow, EvaluationRow).join(
        EvaluationRow, EvaluationRow.strategy_hash == StrategyRow.hash
    )


def top(
    s: Session,
    metric: str = "sharpe",
    limit: int = 10,
    *,
    dataset: str | None = None,
    session_id: int | None = None,
    passed: bool | None = None,
) -> list[dict[str, Any]]:
    """The ``ok`` evaluations with the highest ``metric``, one row per evaluation.

    ``metric`` is ``sharpe`` (the indexed column, ordered in SQL) or a key of
    the evaluations' ``metrics`` (ordered here; evaluations without a finite
    value are left out). Filters: the strategy's ``dataset``, the
    evaluation's ``session_id``, ``passed`` (True: passed the gate; False:
    gated and failed).
    """
    q = _joined().where(EvaluationRow.status == "ok")
    if dataset is not None:
        q = q.where(StrategyRow.dataset == dataset)
    if session_id is not None:
        q = q.where(EvaluationRow.session_id == session_id)
    if passed is not None:
        q = q.where(EvaluationRow.passed.is_(passed))
    if metric == "sharpe":
        q = q.where(EvaluationRow.sharpe.is_not(None))
        q = q.order_by(EvaluationRow.sharpe.desc(), StrategyRow.hash).limit(limit)
        return [_row(st, ev) for st, ev in s.execute(q).all()]
    rows = [_row(st, ev) for st, ev in s.execute(q).all()]
    valued = [(v, r) for r in rows if (v := _number(r["metrics"].get(metric))) is not None]
    valued.sort(key=lambda vr: (-vr[0], vr[1]["hash"]))
    return [r for _, r in valued[:limit]]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def recent(s: Session, limit: int = 20, *, dataset: str | None = None) -> list[dict[str, Any]]:
    """The latest evaluations, any status, newest first."""
    q = _joined()
    if dataset is not None:
        q = q.where(StrategyRow.dataset == dataset)
    q = q.order_by(EvaluationRow.created_at.desc(), StrategyRow.hash).limit(limit)
    return [_row(st, ev) for st, ev in s.execute(q).all()]


def by_model(s: Session, ref: str) -> list[dict[str, Any]]:
    """Strategies whose signal uses model ``ref``, with each of their evaluations
    (a strategy not evaluated yet has one row without evaluation), best Sharpe first."""
    q = (
        select(StrategyRow, EvaluationRow)
        .outerjoin(EvaluationRow, EvaluationRow.strategy_hash == StrategyRow.hash)
        .where(cast(StrategyRow.models, Text).like(f'%"{_escape_like(ref)}"%', escape="\\"))
    )
    rows = [_row(st, ev) for st, ev in s.execute(q).all() if ref in (st.models or [])]
    rows.sort(key=lambda r: (r["sharpe"] is None, -(r["sharpe"] or 0.0), r["hash"]))
    return rows


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def underexplored(s: Session, dataset: str | None = None) -> list[dict[str, Any]]:
    """Evaluated strategies grouped by (kind, family, logic), fewest first.

    Each row: ``kind``, ``family``, ``logic``, ``n`` (distinct strategies
    evaluated), ``mean_sharpe`` (mean annualized Sharpe of their ``ok``
    evaluations, None without any) and ``n_passed`` (strategies with an
    evaluation that passed the gate).
    """
    ok_sharpe = case((EvaluationRow.status == "ok", EvaluationRow.sharpe), else_=None)
    passed_hash = case((EvaluationRow.passed.is_(True), StrategyRow.hash), else_=None)
    n = func.count(func.distinct(StrategyRow.hash))
    q = (
        select(
            StrategyRow.kind,
            StrategyRow.family,
            StrategyRow.logic,
            n.label("n"),
            func.avg(ok_sharpe).label("mean_sharpe"),
            func.count(func.distinct(passed_hash)).label("n_passed"),
        )
        .join(EvaluationRow, EvaluationRow.strategy_hash == StrategyRow.hash)
        .group_by(StrategyRow.kind, StrategyRow.family, StrategyRow.logic)
        .order_by(n, StrategyRow.kind, StrategyRow.family, StrategyRow.logic)
    )
    if dataset is not None:
        q = q.where(StrategyRow.dataset == dataset)
    return [
        {
            "kind": kind,
            "family": family,
            "logic": logic,
            "n": int(count),
            "mean_sharpe": float(mean) if mean is not None else None,
            "n_passed": int(n_passed),
        }
        for kind, family, logic, count, mean, n_passed in s.execute(q).all()
    ]


def _first_ok_sharpe(s: Session, strategy_hash: str) -> float | None:
    return s.scalars(
        select(EvaluationRow.sharpe)
        .where(
            and_(
                EvaluationRow.strategy_hash == strategy_hash,
                EvaluationRow.status == "ok",
                EvaluationRow.sharpe.is_not(None),
            )
        )
        .order_by(EvaluationRow.created_at, EvaluationRow.protocol)
        .limit(1)
    ).first()


def genealogy(s: Session, strategy_hash: str, depth: int = 3) -> dict[str, Any]:
    """The strategy and its ancestors up to ``depth`` generations (0: the strategy only).

    Each node: ``hash``, ``name`` (None for a parent not in the database,
    then ``missing`` is True), ``operator`` and ``exploration`` (how it was
    made; None for a strategy without parents), ``sharpe`` (its first ok
    evaluation's), ``parents`` (nodes), and ``more`` (True when it has
    parents beyond ``depth``).
    """
    return _node(s, strategy_hash, max(0, depth), frozenset())


def _node(s: Session, strategy_hash: str, depth: int, path: frozenset[str]) -> dict[str, Any]:
    strategy = s.get(StrategyRow, strategy_hash)
    link = s.get(StrategyParentRow, strategy_hash)
    node: dict[str, Any] = {
        "hash": strategy_hash,
        "name": strategy.name if strategy else None,
        "operator": link.operator if link else None,
        "exploration": dict(link.exploration or {}) if link else None,
        "sharpe": _first_ok_sharpe(s, strategy_hash) if strategy else None,
        "parents": [],
        "more": False,
    }
    if strategy is None:
        node["missing"] = True
    parents = [p for p in (link.parent_hash, link.second_parent_hash) if p] if link else []
    parents = [p for p in parents if p not in path]  # hashes cannot cycle; a guard all the same
    if depth == 0:
        node["more"] = bool(parents)
        return node
    node["parents"] = [_node(s, p, depth - 1, path | {strategy_hash}) for p in parents]
    return node


def strategy_specs(s: Session, dataset: str, limit: int = 200) -> list[dict[str, Any]]:
    """Specs of the ``limit`` strategies last recorded with an evaluation on ``dataset``,
    oldest first (the order trials were made in)."""
    evaluated = select(EvaluationRow.strategy_hash).distinct().subquery()
    q = (
        select(StrategyRow.spec)
        .where(StrategyRow.dataset == dataset, StrategyRow.hash.in_(select(evaluated)))
        .order_by(StrategyRow.created_at.desc(), StrategyRow.hash.desc())
        .limit(limit)
    )
    return [dict(spec) for spec in reversed(s.scalars(q).all())]
