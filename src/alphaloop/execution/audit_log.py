"""The audit log in the database: appends serialized across processes, listing, verification.

:class:`AuditLog` appends :class:`~alphaloop.execution.audit_chain.AuditEntry`
rows to the ``audit_entries`` table. An append reads the last entry and
writes the next one inside one transaction that holds the database's write
lock: ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL. Appenders in several processes therefore queue up and keep one
chain; the primary key on ``seq`` and the unique ``hash`` are a second
guard (a racing insert fails rather than forks the chain).

The log is append-only by convention of the code: nothing here updates or
deletes a row. Whoever edits the table by hand is found by :meth:`verify`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, text

from alphaloop.errors import AlphaloopError
from alphaloop.execution.audit_chain import (
    GENESIS,
    AuditEntry,
    ChainBreak,
    format_time,
    verify_chain,
)
from alphaloop.store import AuditEntryRow, Database

__all__ = ["AuditLog", "AuditVerification"]

#: key of the PostgreSQL advisory lock held while an entry is appended
_APPEND_LOCK = 0x61756474  # "audt"
_PAGE = 5000


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The outcome of :meth:`AuditLog.verify`: entries checked and the first break, if any."""

    n_entries: int
    head_seq: int
    head_hash: str
    problem: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "n_entries": self.n_entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problem": None if self.problem is None else self.problem.to_dict(),
        }


def _entry(row: AuditEntryRow) -> AuditEntry:
    return AuditEntry(
        row.seq, row.at, row.actor, row.action, row.subject, row.payload, row.prev_hash, row.hash
    )


class AuditLog:
    """The hash-chained audit log of one database.

    Parameters
    ----------
    db : Database
    clock : callable, optional
        Returns the time of an entry (timezone-aware; default: now, UTC).
    """

    def __init__(self, db: Database, clock: Callable[[], datetime] = _utcnow) -> None:
        self.db = db
        self.clock = clock

    def append(
        self,
        actor: str,
        action: str,
        subject: str = "",
        payload: Mapping[str, Any] | None = None,
        *,
        when: datetime | None = None,
    ) -> AuditEntry:
        """Append one entry after the current last one and return it.

        ``actor``: who did it (a person's name, ``system``, a strategy);
        ``action``: what (dotted, e.g. ``order.submitted``, ``kill.set``);
        ``subject``: what it is about (an order, a session); ``payload``:
        the details, as JSON-ready values.
        """
        return self.append_many([(actor, action, subject, payload)], when=when)[0]

    def append_many(
        self,
        items: Sequence[tuple[str, str, str, Mapping[str, Any] | None]],
        *,
        when: datetime | None = None,
    ) -> list[AuditEntry]:
        """Append ``(actor, action, subject, payload)`` items in one transaction, in order.

        Several entries for one event (the fills and cancels a broker
        reports together) cost one write instead of one each.
        """
        for actor, action, _, _ in items:
            if not actor or not action:
                raise AlphaloopError("an audit entry needs an actor and an action")
        if not items:
            return []
        when = when or self.clock()
        out: list[AuditEntry] = []
        with self.db.write_session() as s:
            conn = s.connection()
            if conn.dialect.name == "postgresql":
                # one lock per schema: workspaces sharing a server do not wait on each other
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"),
                    {"k": _APPEND_LOCK},
                )
            last = s.execute(
                select(AuditEntryRow.seq, AuditEntryRow.hash)
                .order_by(AuditEntryRow.seq.desc())
                .limit(1)
            ).first()
            seq, prev = (1, GENESIS) if last is None else (last[0] + 1, last[1])
            for actor, action, subject, payload in items:
                entry = AuditEntry.make(seq, when, actor, action, subject, payload, prev)
                out.append(entry)
                seq, prev = seq + 1, entry.hash
            s.execute(
                insert(AuditEntryRow),
                [
                    {
                        "seq": e.seq,
                        "at": e.at,
                        "actor": e.actor,
                        "action": e.action,
                        "subject": e.subject,
                        "payload": e.payload,
                        "prev_hash": e.prev_hash,
                        "hash": e.hash,
                    }
                    for e in out
                ],
            )
        return out

    def entries(
        self,
        *,
        since: datetime | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Entries in ``seq`` order: from ``since`` on, of one ``action`` (or a prefix
        ending in ``.``, e.g. ``order.``), at most the last ``limit``."""
        q = select(AuditEntryRow)
        if since is not None:
            q = q.where(AuditEntryRow.at >= format_time(since))
        if action:
            if action.endswith("."):
                q = q.where(AuditEntryRow.action.startswith(action))
            else:
                q = q.where(AuditEntryRow.action == action)
        if limit is not None:
            q = q.order_by(AuditEntryRow.seq.desc()).limit(limit)
        else:
            q = q.order_by(AuditEntryRow.seq)
        with self.db.session() as s:
            rows = [_entry(r) for r in s.scalars(q).all()]
        return sorted(rows, key=lambda e: e.seq)

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last entry; ``(0, GENESIS)`` when empty."""
        with self.db.session() as s:
            last = s.execute(
                select(AuditEntryRow.seq, AuditEntryRow.hash)
                .order_by(AuditEntryRow.seq.desc())
                .limit(1)
            ).first()
        return (0, GENESIS) if last is None else (int(last[0]), str(last[1]))

    def count(self) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(AuditEntryRow)) or 0)

    def _all(self) -> Iterator[AuditEntry]:
        after = -1
        while True:
            with self.db.session() as s:
                rows = s.scalars(
                    select(AuditEntryRow)
                    .where(AuditEntryRow.seq > after)
                    .order_by(AuditEntryRow.seq)
                    .limit(_PAGE)
                ).all()
                page = [_entry(r) for r in rows]
            yield from page
            if len(page) < _PAGE:
                return
            after = page[-1].seq

    def verify(self, anchor: tuple[int, str] | None = None) -> AuditVerification:
        """Walk the whole chain; the first break, if any, says where and what.

        ``anchor``: a ``(seq, hash)`` pair kept elsewhere (a report, a
        ticket): the entry ``seq`` must still exist with that hash. Without
        one, a chain rewritten from some point to its end with fresh hashes,
        or cut at its end, cannot be told from an intact one.
        """
        n = 0
        head = (0, GENESIS)
        anchored: str | None = None

        def walk() -> Iterator[AuditEntry]:
            nonlocal n, head, anchored
            for e in self._all():
                n += 1
                head = (e.seq, e.hash)
                if anchor is not None and e.seq == anchor[0]:
                    anchored = e.hash
                yield e

        problem = verify_chain(walk())
        if problem is None and anchor is not None:
            seq, digest = anchor
            if anchored is None:
                problem = ChainBreak(seq, "gap", f"an entry {seq} with hash {digest}",
                                     f"the chain ends at entry {head[0]}")  # fmt: skip
            elif anchored != digest:
                problem = ChainBreak(seq, "edited", f"hash {digest} (anchor)", f"hash {anchored}")
        return AuditVerification(n, head[0], head[1], problem)
