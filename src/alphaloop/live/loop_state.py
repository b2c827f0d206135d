"""The live loop's checkpoint: its whole state after a bar, stored with that bar's records.

A run of the loop is known by its configuration's ``name``. After every bar the
loop writes a :class:`Checkpoint` (bars done, the last bar, the state of the
loop, its sleeves and its meta controller) in the **same database transaction**
as the bar's audit entries, lifecycle transitions, policy changes and model
versions (:meth:`~alphaloop.store.Database.atomic`): a process killed at any
instant leaves either the bar's records and its checkpoint, or neither. Events
the bar publishes carry ids derived from ``(run, epoch, bar, kind, key)``
(:func:`event_id`); a bar redone after a kill publishes the same ids and the
bus drops them as duplicates.

The state is JSON; floats are written with Python's shortest round-trip form,
so a restored run carries on bit for bit where the stopped one was.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from alphaloop.store.loop import LoopCheckpointRow

if TYPE_CHECKING:
    from alphaloop.store import Database

__all__ = ["Checkpoint", "LoopCheckpoints", "config_hash", "event_id"]

Status = Literal["running", "halted", "finished"]


def config_hash(config: Any) -> str:
    """SHA-256 of a pydantic configuration's canonical JSON (a resumed run must match it)."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def event_id(run: str, epoch: int, bar_ns: int, kind: str, key: str) -> str:
    """The id of an event the loop publishes: 32 hex characters of SHA-256 of
    ``run|epoch|bar_ns|kind|key``, the same every time the bar is run."""
    text = f"{run}|{epoch}|{bar_ns}|{kind}|{key}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Checkpoint:
    """Where one run stands.

    ``bars_done`` counts the bars finished (the next bar to run is that many bars
    after the start); ``status`` is ``running``, ``halted`` (the kill switch
    stopped it; only the closing record is left) or ``finished``; ``state`` is the
    loop's own JSON (see :meth:`alphaloop.live.loop.LiveLoop.snapshot`).
    """

    name: str
    config_hash: str
    epoch: int
    bars_done: int
    last_bar: str | None
    status: Status
    state: dict[str, Any] = field(default_factory=dict)


def _checkpoint(row: LoopCheckpointRow) -> Checkpoint:
    return Checkpoint(
        name=row.name,
        config_hash=row.config_hash,
        epoch=int(row.epoch),
        bars_done=int(row.bars_done),
        last_bar=row.last_bar,
        status=row.status,  # type: ignore[arg-type]
        state=json.loads(row.state),
    )


class LoopCheckpoints:
    """The checkpoints of every run of the loop in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, name: str) -> Checkpoint | None:
        """The checkpoint of run ``name``, or None before its first bar."""
        with self.db.session() as s:
            row = s.get(LoopCheckpointRow, name)
            return None if row is None else _checkpoint(row)

    def list(self) -> list[Checkpoint]:
        """Every run's checkpoint, by name."""
        with self.db.session() as s:
            rows = s.scalars(select(LoopCheckpointRow).order_by(LoopCheckpointRow.name)).all()
            return [_checkpoint(r) for r in rows]

    def save(self, cp: Checkpoint) -> None:
        """Write ``cp`` over the run's previous checkpoint (inside the caller's
        :meth:`~alphaloop.store.Database.atomic` block, with the bar's records)."""
        text = json.dumps(cp.state, sort_keys=True, separators=(",", ":"), allow_nan=False)
        with self.db.write_session() as s:
            row = s.get(LoopCheckpointRow, cp.name)
            if row is None:
                row = LoopCheckpointRow(name=cp.name)
                s.add(row)
            row.config_hash, row.epoch, row.bars_done = cp.config_hash, cp.epoch, cp.bars_done
            row.last_bar, row.status, row.state = cp.last_bar, cp.status, text
            row.updated = datetime.now(UTC)
