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
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Text, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session, defer

from alphaloop.errors import AmbiguousStrategyError, StrategyNotFoundError
from alphaloop.research.strategy_records import (
    EvaluationRecord,
    StrategyRecord,
    evaluation_record,
    iso,
    strategy_record,
)
from alphaloop.store.models import EvaluationRow, StrategyParentRow, StrategyRow

__all__ = [
    "MIN_PREFIX",
    "by_model",
    "evaluations",
    "genealogy",
    "protocol_history",
    "recent",
    "resolve",
    "strategies",
    "strategy_evaluations",
    "strategy_specs",
    "top",
    "underexplored",
]

MIN_PREFIX = 6  # hex digits of a hash prefix that may name a strategy
_HEX = frozenset("0123456789abcdef")


def resolve(s: Session, ref: str) -> StrategyRecord:
    """The strategy named by a full hash or a unique prefix of at least 6 hex digits."""
    key = ref.strip().lower()
    row = s.get(StrategyRow, key) if len(key) == 64 else None
    if row is not None:
        return strategy_record(row)
    hint = "see `alphaloop strategies recent` or `alphaloop strategies top`"
    if len(key) < MIN_PREFIX or not set(key) <= _HEX:
        raise StrategyNotFoundError(
            f"no strategy {ref!r}: name one by its hash or a prefix of at least "
            f"{MIN_PREFIX} hex digits",
            hint=hint,
        )
    rows = s.scalars(select(StrategyRow).where(StrategyRow.hash.startswith(key)).limit(5)).all()
    if not rows:
        raise StrategyNotFoundError(f"no strategy with hash {key}...", hint=hint)
    if len(rows) > 1:
        shown = ", ".join(r.hash[:12] for r in rows[:4])
        raise AmbiguousStrategyError(
            f"hash prefix {key} names more than one strategy ({shown}, ...)",
            hint="give more hex digits",
        )
    return strategy_record(rows[0])


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


# ----------------------------------------------------------- records by hash
_CHUNK = 500  # hashes per IN (...) list


def _chunks(hashes: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(hashes))
    return [unique[i : i + _CHUNK] for i in range(0, len(unique), _CHUNK)]


def strategies(s: Session, hashes: Sequence[str]) -> dict[str, StrategyRecord]:
    """The stored strategies among ``hashes``, by hash."""
    found: dict[str, StrategyRecord] = {}
    for part in _chunks(hashes):
        for row in s.scalars(select(StrategyRow).where(StrategyRow.hash.in_(part))):
            found[row.hash] = strategy_record(row)
    return found


def _evaluation_query(returns: bool) -> Select[tuple[EvaluationRow]]:
    q = select(EvaluationRow)
    return q if returns else q.options(defer(EvaluationRow.returns, raiseload=True))


def evaluations(
    s: Session, hashes: Sequence[str], protocol: str, *, returns: bool = True
) -> dict[str, EvaluationRecord]:
    """The evaluations of ``hashes`` under ``protocol``, by strategy hash."""
    found: dict[str, EvaluationRecord] = {}
    for part in _chunks(hashes):
        q = _evaluation_query(returns).where(
            EvaluationRow.protocol == protocol, EvaluationRow.strategy_hash.in_(part)
        )
        for row in s.scalars(q):
            found[row.strategy_hash] = evaluation_record(row, with_returns=returns)
    return found


def strategy_evaluations(s: Session, strategy_hash: str) -> list[EvaluationRecord]:
    """Every evaluation of one strategy, oldest first."""
    q = (
        select(EvaluationRow)
        .where(EvaluationRow.strategy_hash == strategy_hash)
        .order_by(EvaluationRow.created_at, EvaluationRow.protocol)
    )
    return [evaluation_record(r) for r in s.scalars(q)]


def protocol_history(
    s: Session, dataset: str, protocol: str, *, exclude_session: int | None = None
) -> list[tuple[StrategyRecord, EvaluationRecord]]:
    """Strategies on ``dataset`` evaluated under ``protocol``, with the evaluation (returns
    unread), oldest first; ``exclude_session``: not that session's evaluations."""
    q = (
        select(StrategyRow, EvaluationRow)
        .join(EvaluationRow, EvaluationRow.strategy_hash == StrategyRow.hash)
        .options(defer(EvaluationRow.returns, raiseload=True))
        .where(StrategyRow.dataset == dataset, EvaluationRow.protocol == protocol)
        .order_by(EvaluationRow.created_at, StrategyRow.hash)
    )
    if exclude_session is not None:
        q = q.where(
            or_(EvaluationRow.session_id.is_(None), EvaluationRow.session_id != exclude_session)
        )
    return [
        (strategy_record(st), evaluation_record(ev, with_returns=False))
        for st, ev in s.execute(q).all()
    ]
