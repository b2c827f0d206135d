"""The run log: every unit of work with its parameters, data hashes and outcome.

A run is ``running`` while it works, then ``succeeded``, ``failed`` (an
exception, its text kept in ``error``) or ``interrupted`` (Ctrl-C).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from alphaloop import __version__
from alphaloop.errors import RunNotFoundError, note_recorded_interruption
from alphaloop.store.db import Database
from alphaloop.store.models import RunRecord

__all__ = ["Run", "RunLog"]


@dataclass
class Run:
    """A run in progress: fill ``result`` and ``data_hashes`` (and complete ``params``)
    before it ends; they are stored when it ends, whatever the outcome."""

    id: int
    kind: str
    params: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    data_hashes: dict[str, str] = field(default_factory=dict)


class RunLog:
    """Records runs in the database: started, then succeeded, failed or interrupted."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def start(self, kind: str, params: dict[str, Any] | None = None) -> Iterator[Run]:
        """Record a run; it ends as ``succeeded``, ``failed`` with the error text, or
        ``interrupted`` on :class:`KeyboardInterrupt`.

        An interruption is re-raised with a note saying which run was
        recorded as interrupted (:func:`~alphaloop.errors.recorded_interruptions`
        reads it), so the interface can tell the user what was kept.
        """
        with self.db.session() as s:
            rec = RunRecord(
                kind=kind,
                status="running",
                params=params or {},
                result={},
                data_hashes={},
                code_version=__version__,
                started_at=datetime.now(UTC),
            )
            s.add(rec)
            s.flush()
            run = Run(rec.id, kind, dict(params or {}))
        try:
            yield run
        except KeyboardInterrupt as exc:
            self._finish(run, "interrupted", "interrupted by the user")
            note_recorded_interruption(exc, f"{kind} run {run.id}")
            raise
        except BaseException as exc:
            self._finish(run, "failed", f"{type(exc).__name__}: {exc}")
            raise
        self._finish(run, "succeeded", None)

    def _finish(self, run: Run, status: str, error: str | None) -> None:
        with self.db.session() as s:
            rec = s.get(RunRecord, run.id)
            assert rec is not None
            rec.status = status
            rec.params = run.params
            rec.result = run.result
            rec.data_hashes = run.data_hashes
            rec.error = error
            rec.finished_at = datetime.now(UTC)

    def list(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Recent runs, newest first."""
        with self.db.session() as s:
            q = select(RunRecord).order_by(RunRecord.id.desc()).limit(limit)
            if kind:
                q = q.where(RunRecord.kind == kind)
            return [_as_dict(r) for r in s.scalars(q).all()]

    def get(self, run_id: int) -> dict[str, Any]:
        """One run by id, in the form :meth:`list` gives.

        Raises
        ------
        RunNotFoundError
            No run with that id in this workspace.
        """
        with self.db.session() as s:
            rec = s.get(RunRecord, run_id)
            if rec is None:
                raise RunNotFoundError(
                    f"no run {run_id} in this workspace", hint="see `alphaloop runs list`"
                )
            return _as_dict(rec)


def _as_dict(r: RunRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "status": r.status,
        "params": r.params,
        "result": r.result,
        "data_hashes": r.data_hashes,
        "code_version": r.code_version,
        "error": r.error,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
    }
