"""The approval queue: orders that wait for a person, bound to their exact fields.

At autonomy level L2 every order waits here. An approval is bound to the
order by :func:`order_fingerprint`, a sha256 over the order's canonical
fields (id, asset, side, quantity, type, time in force, prices, session and
strategy): an order whose fields changed after the request no longer
matches and is refused when it would be sent. A request expires after its
time to live; a person approves or rejects it with their name and a reason.

Statuses: ``pending`` -> ``approved`` | ``rejected`` | ``expired``; an
approved request becomes ``sent`` when its order leaves, or ``refused``
when the order no longer matches (or the kill switch stopped it). Every
change is audited (``approval.*``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from alphaloop.errors import AlphaloopError
from alphaloop.execution.audit_chain import canonical_json
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.orders import Order
from alphaloop.store import ApprovalRow, Database

__all__ = ["Approval", "ApprovalError", "ApprovalQueue", "order_fields", "order_fingerprint"]

STATUSES = ("pending", "approved", "rejected", "expired", "sent", "refused")


class ApprovalError(AlphaloopError):
    """An approval that cannot be given or used (unknown, expired, already decided)."""


def order_fields(order: Order, session: str = "", strategy: str = "") -> dict[str, Any]:
    """The fields an approval is bound to (quantities and prices as floats)."""
    return {
        "order_id": order.order_id,
        "asset": order.asset,
        "side": order.side.name.lower(),
        "quantity": float(order.quantity),
        "type": order.order_type.value,
        "time_in_force": order.time_in_force.value,
        "limit_price": order.limit_price,
        "stop_price": order.stop_price,
        "trail_fraction": order.trail_fraction,
        "session": session,
        "strategy": strategy,
    }


def order_fingerprint(fields: dict[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of :func:`order_fields`."""
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def _aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Approval:
    """One request as stored."""

    id: int
    order_hash: str
    order: dict[str, Any]
    status: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "order_hash": self.order_hash,
            "order": self.order,
            "status": self.status,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "decided_by": self.decided_by,
            "decided_at": None if self.decided_at is None else self.decided_at.isoformat(),
            "reason": self.reason,
        }


def _approval(r: ApprovalRow) -> Approval:
    return Approval(
        r.id, r.order_hash, json.loads(r.order), r.status, r.requested_by,
        _aware(r.requested_at), _aware(r.expires_at), r.decided_by,  # type: ignore[arg-type]
        _aware(r.decided_at), r.reason,
    )  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ApprovalQueue:
    """Approval requests in the database.

    Parameters
    ----------
    db : Database
    audit : AuditLog
    clock : callable, optional
        Now, timezone-aware (default: the audit log's clock); tests inject one.
    ttl_s : float, default 900
        Seconds a request stays open before it expires.
    """

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        *,
        clock: Callable[[], datetime] | None = None,
        ttl_s: float = 900.0,
    ) -> None:
        if not ttl_s > 0:
            raise ApprovalError(f"an approval's time to live must be > 0 seconds, got {ttl_s}")
        self.db = db
        self.audit = audit
        self.clock = clock or audit.clock
        self.ttl = timedelta(seconds=ttl_s)

    def request(self, fields: dict[str, Any], *, actor: str) -> Approval:
        """Queue an order (its :func:`order_fields`) for a person's decision."""
        now = self.clock()
        digest = order_fingerprint(fields)
        with self.db.session() as s:
            row = ApprovalRow(
                order_hash=digest, order=canonical_json(fields),
                session=str(fields.get("session", "")), strategy=str(fields.get("strategy", "")),
                status="pending", requested_by=actor, requested_at=now,
                expires_at=now + self.ttl, reason="",
            )  # fmt: skip
            s.add(row)
            s.flush()
            approval = _approval(row)
        self.audit.append(actor, "approval.requested", f"approval {approval.id}",
                          {"order": fields, "order_hash": digest,
                           "expires_at": approval.expires_at.isoformat()})  # fmt: skip
        return approval

    def get(self, approval_id: int) -> Approval:
        with self.db.session() as s:
            row = s.get(ApprovalRow, approval_id)
            if row is None:
                raise ApprovalError(
                    f"no approval request {approval_id}", hint="see `alphaloop approvals list`"
                )
            return _approval(row)

    def list(self, status: str | None = None, *, expire: bool = True) -> list[Approval]:
        """Requests (of one status), oldest first.

        ``expire=True`` marks due pending requests ``expired`` first (a write, audited);
        ``expire=False`` (a read-only reader) writes nothing and shows a due pending request as
        ``expired`` with reason "expired before a decision (not yet recorded)".
        """
        if status is not None and status not in STATUSES:
            raise ApprovalError(f"unknown approval status {status!r}",
                                hint=f"allowed: {', '.join(STATUSES)}")  # fmt: skip
        if expire:
            self.expire_due()
        now = self.clock()
        with self.db.session() as s:
            rows = [_approval(r) for r in s.scalars(select(ApprovalRow).order_by(ApprovalRow.id))]
        if not expire:
            rows = [
                replace(a, status="expired", reason="expired before a decision (not yet recorded)")
                if a.status == "pending" and a.expires_at <= now
                else a
                for a in rows
            ]
        return [a for a in rows if status is None or a.status == status]

    def expire_due(self) -> list[Approval]:
        """Mark pending requests past their expiry ``expired`` (audited)."""
        now = self.clock()
        done: list[Approval] = []
        with self.db.write_session() as s:
            for row in s.scalars(select(ApprovalRow).where(ApprovalRow.status == "pending")):
                if _aware(row.expires_at) <= now:  # type: ignore[operator]
                    row.status, row.decided_at, row.decided_by = "expired", now, "system"
                    row.reason = "expired before a decision"
                    done.append(_approval(row))
        for a in done:
            self.audit.append("system", "approval.expired", f"approval {a.id}",
                              {"order_hash": a.order_hash})  # fmt: skip
        return done

    def _decide(self, approval_id: int, status: str, actor: str, reason: str) -> Approval:
        if not actor.strip():
            raise ApprovalError("a decision needs the name of the person who takes it")
        self.expire_due()
        now = self.clock()
        with self.db.write_session() as s:
            row = s.get(ApprovalRow, approval_id)
            if row is None:
                raise ApprovalError(
                    f"no approval request {approval_id}", hint="see `alphaloop approvals list`"
                )
            if row.status != "pending":
                raise ApprovalError(
                    f"approval request {approval_id} is {row.status}, not pending: "
                    "it cannot be decided again"
                )
            if status == "approved" and actor.strip() == row.requested_by.strip():
                raise ApprovalError(
                    f"approval request {approval_id} was asked for by {actor!r}: the person who "
                    "asks cannot approve (four eyes)",
                    hint="another person approves it, or it is rejected",
                )
            row.status, row.decided_by, row.decided_at, row.reason = status, actor, now, reason
            approval = _approval(row)
        self.audit.append(actor, f"approval.{status}", f"approval {approval_id}",
                          {"order_hash": approval.order_hash, "reason": reason})  # fmt: skip
        return approval

    def approve(self, approval_id: int, *, actor: str, reason: str = "") -> Approval:
        """A person approves the request (pending, not expired, and not their own request)."""
        return self._decide(approval_id, "approved", actor, reason)

    def reject(self, approval_id: int, *, actor: str, reason: str) -> Approval:
        """A person rejects the request; a reason is required."""
        if not reason.strip():
            raise ApprovalError("a rejection needs a reason (--reason TEXT)")
        return self._decide(approval_id, "rejected", actor, reason)

    def consume(self, approval_id: int, fields: dict[str, Any], *, actor: str) -> Approval:
        """Use an approved request for the order now described by ``fields``.

        The request becomes ``sent`` when the order's fingerprint is the
        approved one, else ``refused`` (and :class:`ApprovalError` says
        which fields changed).
        """
        digest = order_fingerprint(fields)
        with self.db.write_session() as s:
            row = s.get(ApprovalRow, approval_id)
            if row is None or row.status != "approved":
                state = "missing" if row is None else row.status
                raise ApprovalError(f"approval request {approval_id} is {state}, not approved")
            approved = json.loads(row.order)
            ok = row.order_hash == digest
            row.status = "sent" if ok else "refused"
            if not ok:
                changed = sorted(k for k in set(approved) | set(fields)
                                 if approved.get(k) != fields.get(k))  # fmt: skip
                row.reason = f"order changed after approval: {', '.join(changed)}"
            approval = _approval(row)
        if not ok:
            self.audit.append(actor, "approval.refused", f"approval {approval_id}",
                              {"approved_hash": approval.order_hash, "order_hash": digest,
                               "reason": approval.reason})  # fmt: skip
            raise ApprovalError(f"approval request {approval_id}: {approval.reason}; "
                                f"approved hash {approval.order_hash[:16]}, order hash "
                                f"{digest[:16]}")  # fmt: skip
        return approval

    def close(self, approval_id: int, status: str, reason: str, *, actor: str) -> None:
        """End a request that will not be used (``refused``: its order was canceled or killed)."""
        with self.db.write_session() as s:
            row = s.get(ApprovalRow, approval_id)
            if row is None or row.status not in ("pending", "approved"):
                return
            row.status, row.reason = status, reason
            row.decided_at = row.decided_at or self.clock()
        self.audit.append(actor, f"approval.{status}", f"approval {approval_id}",
                          {"reason": reason})  # fmt: skip
