"""The strategy database: every strategy tried, how it was evaluated, and the trial counts.

A strategy is stored once per spec hash, with its classification (kind,
family, logic, models) and, when it came from a search, its parentage. Each
evaluation is stored once per (strategy, protocol). The first evaluation of a
strategy, whatever its status, makes it a trial: the dataset's counter row in
``dataset_trials`` is incremented in the same transaction, so the number of
trials and the moments of their Sharpe ratios are read in O(1), never by
scanning. Concurrent writers are safe: the strategy's row is locked while its
evaluation is written (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite takes the
database's write lock at the start of the transaction), the counter is bumped
by one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE SET n = n + 1``), and
a second evaluation of the same (strategy, protocol) is refused by the primary
key, whoever gets there first.

>>> db = StrategyDB(ws.db)                                     # doctest: +SKIP
>>> db.record_strategy(spec)                                   # doctest: +SKIP
>>> db.record_evaluation(EvaluationRecord(spec.hash, "backtest", "ok", ...))  # doctest: +SKIP
True
>>> db.n_trials("sp500-stocks")                                # doctest: +SKIP
1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from alphaloop.backtest import StrategySpec
from alphaloop.errors import ConfigError, StrategyNotFoundError
from alphaloop.jsonsafe import json_safe
from alphaloop.research import session_records, strategy_queries
from alphaloop.research.strategy_records import (
    KINDS,
    ORIGINS,
    STATUSES,
    DecisionRecord,
    EvaluationRecord,
    Parentage,
    StrategyRecord,
    evaluation_record,
    evaluation_row,
    per_period_sharpe,
    spec_logic,
    strategy_record,
)
from alphaloop.research.trial_counter import bump_trials
from alphaloop.store.db import Database
from alphaloop.store.models import DatasetTrialsRow, EvaluationRow, StrategyParentRow, StrategyRow

__all__ = [
    "DecisionRecord",
    "EvaluationRecord",
    "Parentage",
    "StrategyDB",
    "StrategyRecord",
]


class StrategyDB:
    """Strategies, evaluations, trial counters, research sessions and agent decisions.

    Parameters
    ----------
    db : Database
        The workspace's database (SQLite or PostgreSQL), migrated to 0005 or later.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---------------------------------------------------------------- strategies
    def record_strategy(
        self,
        spec: StrategySpec,
        *,
        kind: str = "pure_technical",
        family: str = "custom",
        logic: str | None = None,
        models: Sequence[str] = (),
        recipe: dict[str, Any] | None = None,
        origin: str = "manual",
        session_id: int | None = None,
        parentage: Parentage | None = None,
    ) -> StrategyRecord:
        """Store ``spec`` under its hash (idempotent: a stored strategy is returned as it is).

        ``logic`` defaults to the spec's portfolio method (``top_k``,
        ``long_short``, ``threshold``). ``parentage`` is stored with a new
        strategy only.

        Raises
        ------
        ConfigError
            ``kind`` or ``origin`` is not one of the allowed values.
        """
        if kind not in KINDS:
            raise ConfigError(f"strategy kind {kind!r} is not one of {', '.join(KINDS)}")
        if origin not in ORIGINS:
            raise ConfigError(f"strategy origin {origin!r} is not one of {', '.join(ORIGINS)}")
        spec_hash = spec.hash
        existing = self._find(spec_hash)
        if existing is not None:
            return existing
        row = StrategyRow(
            hash=spec_hash,
            dataset=spec.data,
            name=spec.name,
            spec=json_safe(spec.model_dump(mode="json")),
            kind=kind,
            family=family,
            logic=logic or spec_logic(spec),
            models=list(dict.fromkeys(models)),
            recipe=json_safe(recipe) if recipe is not None else None,
            origin=origin,
            session_id=session_id,
            created_at=datetime.now(UTC),
        )
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()  # the strategy before its parentage (foreign key)
                if parentage is not None:
                    s.add(
                        StrategyParentRow(
                            child_hash=spec_hash,
                            parent_hash=parentage.parent,
                            second_parent_hash=parentage.second_parent,
                            operator=parentage.operator,
                            exploration=json_safe(dict(parentage.exploration)),
                            session_id=session_id,
                        )
                    )
                s.flush()
                return strategy_record(row)
        except IntegrityError:  # another writer stored it first
            found = self._find(spec_hash)
            if found is None:
                raise
            return found

    def _find(self, spec_hash: str) -> StrategyRecord | None:
        with self.db.session() as s:
            row = s.get(StrategyRow, spec_hash)
            return strategy_record(row) if row is not None else None

    def get(self, ref: str) -> StrategyRecord:
        """A strategy by hash, or by a unique hash prefix of at least 6 hex digits.

        Raises
        ------
        StrategyNotFoundError
            No strategy has that hash or prefix (or the prefix is too short).
        AmbiguousStrategyError
            The prefix matches several strategies.
        """
        with self.db.session() as s:
            return strategy_queries.resolve(s, ref)

    def parentage(self, strategy_hash: str) -> Parentage | None:
        """How the strategy was derived, or None (a manual or seed strategy)."""
        with self.db.session() as s:
            row = s.get(StrategyParentRow, strategy_hash)
            if row is None:
                return None
            return Parentage(
                row.parent_hash, row.second_parent_hash, row.operator, dict(row.exploration)
            )

    # --------------------------------------------------------------- evaluations
    def evaluation(self, strategy_hash: str, protocol: str) -> EvaluationRecord | None:
        """The stored evaluation of a strategy under ``protocol``, or None."""
        with self.db.session() as s:
            row = s.get(EvaluationRow, (strategy_hash, protocol))
            return evaluation_record(row) if row is not None else None

    def strategy_evaluations(self, strategy_hash: str) -> list[EvaluationRecord]:
        """Every evaluation of a strategy (any protocol), oldest first."""
        with self.db.session() as s:
            return strategy_queries.strategy_evaluations(s, strategy_hash)

    def strategies(self, hashes: Sequence[str]) -> dict[str, StrategyRecord]:
        """The stored strategies among ``hashes`` (full hashes), by hash."""
        with self.db.session() as s:
            return strategy_queries.strategies(s, hashes)

    def evaluations(
        self, hashes: Sequence[str], protocol: str, *, returns: bool = True
    ) -> dict[str, EvaluationRecord]:
        """The stored evaluations of ``hashes`` under ``protocol``, by strategy hash.

        ``returns=False`` leaves the return series unread (``returns`` is None).
        """
        with self.db.session() as s:
            return strategy_queries.evaluations(s, hashes, protocol, returns=returns)

    def protocol_history(
        self, dataset: str, protocol: str, *, exclude_session: int | None = None
    ) -> list[tuple[StrategyRecord, EvaluationRecord]]:
        """Every strategy on ``dataset`` evaluated under ``protocol`` with that evaluation
        (returns unread), oldest first; ``exclude_session`` leaves out that session's."""
        with self.db.session() as s:
            return strategy_queries.protocol_history(
                s, dataset, protocol, exclude_session=exclude_session
            )

    def record_evaluation(self, ev: EvaluationRecord) -> bool:
        """Store an evaluation; False (and nothing changed) when (hash, protocol) is stored.

        When it is the strategy's first evaluation (any protocol, any status
        but ``refused``: a spec refused before it ran is not a trial) the
        dataset's trial counter is incremented in the same transaction;
        when it is the strategy's first ``ok`` evaluation with a Sharpe ratio,
        its per-period Sharpe enters the counter's sums.

        Raises
        ------
        StrategyNotFoundError
            The strategy was not recorded (:meth:`record_strategy` first).
        ConfigError
            ``status`` is not ``ok``, ``rejected``, ``failed`` or ``refused``.
        """
        if ev.status not in STATUSES:
            raise ConfigError(f"evaluation status {ev.status!r} is not one of {STATUSES}")
        if self.evaluation(ev.strategy_hash, ev.protocol) is not None:
            return False
        sharpe = ev.sharpe if ev.sharpe is not None and math.isfinite(ev.sharpe) else None
        metrics = json_safe(dict(ev.metrics))
        try:
            with self.db.write_session() as s:
                locked = select(StrategyRow).where(StrategyRow.hash == ev.strategy_hash)
                strategy = s.scalars(locked.with_for_update()).one_or_none()
                if strategy is None:
                    raise StrategyNotFoundError(
                        f"no strategy {ev.strategy_hash} to record an evaluation for",
                        hint="record the strategy first",
                    )
                previous = s.execute(
                    select(EvaluationRow.status, EvaluationRow.sharpe).where(
                        EvaluationRow.strategy_hash == ev.strategy_hash
                    )
                ).all()
                s.add(evaluation_row(ev, sharpe, metrics))
                s.flush()  # a concurrent twin fails here, on the primary key
                # a refused spec never ran: it is stored, and it is not a trial
                counted = [(st, sr) for st, sr in previous if st != "refused"]
                if ev.status != "refused":
                    first_ok = ev.status == "ok" and sharpe is not None
                    first_ok = first_ok and not any(
                        st == "ok" and sr is not None for st, sr in counted
                    )
                    sr = per_period_sharpe(sharpe, metrics) if first_ok else None
                    if not counted or sr is not None:
                        bump_trials(s, strategy.dataset, trial=not counted, sr=sr)
        except IntegrityError:
            return False
        return True

    def set_verdict(
        self, strategy_hash: str, protocol: str, validation: dict[str, Any], passed: bool
    ) -> None:
        """Store the gate's statistics and verdict on an evaluation.

        Raises
        ------
        StrategyNotFoundError
            No such evaluation.
        """
        with self.db.session() as s:
            row = s.get(EvaluationRow, (strategy_hash, protocol))
            if row is None:
                raise StrategyNotFoundError(
                    f"no evaluation of strategy {strategy_hash} under protocol {protocol}"
                )
            row.validation = json_safe(dict(validation))
            row.passed = bool(passed)

    # ------------------------------------------------------------------- trials
    def n_trials(self, dataset: str) -> int:
        """How many strategies were evaluated on ``dataset`` (any outcome), in O(1)."""
        with self.db.session() as s:
            row = s.get(DatasetTrialsRow, dataset)
            return int(row.n_trials) if row is not None else 0

    def trial_sharpe_stats(self, dataset: str) -> tuple[int, float, float]:
        """(n, mean, variance) of the trials' per-period Sharpe ratios, in O(1).

        ``n`` counts the trials whose first ``ok`` evaluation has a Sharpe
        ratio (at most :meth:`n_trials`); the variance is the sample one
        (``ddof=1``), 0.0 below two; the mean is 0.0 with none.
        """
        with self.db.session() as s:
            row = s.get(DatasetTrialsRow, dataset)
            if row is None or row.n_sr == 0:
                return 0, 0.0, 0.0
            n, total, total2 = int(row.n_sr), float(row.sum_sr), float(row.sum_sr2)
        mean = total / n
        var = max(0.0, (total2 - n * mean * mean) / (n - 1)) if n > 1 else 0.0
        return n, mean, var

    # ------------------------------------------------------------------ queries
    def top(
        self,
        metric: str = "sharpe",
        limit: int = 10,
        *,
        dataset: str | None = None,
        session_id: int | None = None,
        passed: bool | None = None,
    ) -> list[dict[str, Any]]:
        """The best ``ok`` evaluations by ``metric`` (``sharpe`` or a metrics key), highest
        first; see :func:`~alphaloop.research.strategy_queries.top`."""
        with self.db.session() as s:
            return strategy_queries.top(
                s, metric, limit, dataset=dataset, session_id=session_id, passed=passed
            )

    def recent(self, limit: int = 20, *, dataset: str | None = None) -> list[dict[str, Any]]:
        """The latest evaluations, any status, newest first."""
        with self.db.session() as s:
            return strategy_queries.recent(s, limit, dataset=dataset)

    def by_model(self, ref: str) -> list[dict[str, Any]]:
        """Evaluations of strategies whose signal uses the model ``ref`` (``name/vN``)."""
        with self.db.session() as s:
            return strategy_queries.by_model(s, ref)

    def underexplored(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Evaluated strategies per (kind, family, logic): ``n``, ``mean_sharpe`` (of ok
        evaluations), ``n_passed``; fewest first."""
        with self.db.session() as s:
            return strategy_queries.underexplored(s, dataset)

    def genealogy(self, ref: str, depth: int = 3) -> dict[str, Any]:
        """The strategy and its ancestors ``depth`` generations up (parent and second
        parent): ``{hash, name, operator, exploration, sharpe, parents: [...]}``."""
        record = self.get(ref)
        with self.db.session() as s:
            return strategy_queries.genealogy(s, record.hash, depth)

    def strategy_specs(self, dataset: str, limit: int = 200) -> list[dict[str, Any]]:
        """Specs (``model_dump`` JSON) of the ``limit`` strategies last recorded with an
        evaluation on ``dataset``, oldest first."""
        with self.db.session() as s:
            return strategy_queries.strategy_specs(s, dataset, limit)

    # ----------------------------------------------------- sessions and decisions
    def create_session(
        self,
        dataset: str,
        goal: str,
        constraints: dict[str, Any],
        config: dict[str, Any],
        models_start: list[Any],
    ) -> int:
        """Open a research session (status ``running``); its id."""
        with self.db.session() as s:
            return session_records.create_session(
                s, dataset, goal, constraints, config, models_start
            )

    def session(self, session_id: int) -> dict[str, Any]:
        """One research session as a dict (ResearchSessionNotFoundError when missing)."""
        with self.db.session() as s:
            return session_records.session(s, session_id)

    def sessions(self, limit: int = 20) -> list[dict[str, Any]]:
        """Research sessions, newest first, each with its number of evaluations."""
        with self.db.session() as s:
            return session_records.sessions(s, limit)

    def update_session(self, session_id: int, **fields: Any) -> None:
        """Set a session's fields (``status``, ``n_batches``, ``models_end``, ``summary``,
        ``holdout``, ``finished_at``, ``config``, ``constraints``)."""
        with self.db.session() as s:
            session_records.update_session(s, session_id, fields)

    def interrupt_session(self, session_id: int) -> bool:
        """Mark a session that is still ``running`` as ``interrupted`` (its process ended
        without finishing it); a finished, failed or interrupted one is never changed.
        Whether it was changed."""
        with self.db.session() as s:
            return session_records.interrupt_session(s, session_id)

    def record_decisions(self, session_id: int, decisions: list[DecisionRecord]) -> None:
        """Store a batch of agent decisions in one transaction."""
        with self.db.session() as s:
            session_records.record_decisions(s, session_id, decisions)

    def decisions(self, session_id: int) -> list[DecisionRecord]:
        """A session's decisions in ``seq`` order."""
        with self.db.session() as s:
            return session_records.decisions(s, session_id)

    def session_evaluations(self, session_id: int, protocol: str) -> list[EvaluationRecord]:
        """The evaluations a session made under ``protocol``, in the order they were stored."""
        with self.db.session() as s:
            return session_records.session_evaluations(s, session_id, protocol)
