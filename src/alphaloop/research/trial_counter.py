"""The per-dataset trial counter: one atomic upsert, safe under concurrent writers.

``dataset_trials`` holds, per dataset, the number of strategies evaluated
(``n_trials``) and the count, sum and sum of squares of their per-period
Sharpe ratios (``n_sr``, ``sum_sr``, ``sum_sr2``). :func:`bump_trials` adds to
them with ``INSERT ... ON CONFLICT (dataset) DO UPDATE SET n = n + k`` (SQLite
and PostgreSQL), inside the caller's transaction, so the counter moves with
the evaluation that caused it or not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from alphaloop.errors import ConfigError
from alphaloop.store.models import DatasetTrialsRow

__all__ = ["bump_trials"]


def bump_trials(s: Session, dataset: str, *, trial: bool, sr: float | None) -> None:
    """Add a trial (and/or a Sharpe to the sums) to the dataset's counter, atomically."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - the two supported databases are above
        raise ConfigError(f"the strategy database needs SQLite or PostgreSQL, not {dialect}")
    n, k = int(trial), int(sr is not None)
    x = sr if sr is not None else 0.0
    now = datetime.now(UTC)
    stmt = insert(DatasetTrialsRow).values(
        dataset=dataset, n_trials=n, n_sr=k, sum_sr=x, sum_sr2=x * x, updated_at=now
    )
    table = DatasetTrialsRow.__table__.c
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=[table.dataset],
            set_={
                "n_trials": table.n_trials + n,
                "n_sr": table.n_sr + k,
                "sum_sr": table.sum_sr + x,
                "sum_sr2": table.sum_sr2 + x * x,
                "updated_at": now,
            },
        )
    )
