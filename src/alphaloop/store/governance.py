"""Tables of governance: the hash-chained audit log, kill-switch events and approvals.

``audit_entries`` is append-only: ``seq`` counts from 1 without gaps, each
row holds the previous row's hash (``prev_hash``) and its own (``hash``,
sha256 over a canonical encoding, see :mod:`alphaloop.execution.audit_chain`).
Times of audit entries are stored as ISO 8601 text in UTC (microseconds), so
the hashed text is the stored text on every database.

``kill_switch_events`` is append-only too: each row sets or clears the kill
switch for a scope (``all``, ``session`` or ``strategy`` and its id); the
largest ``id`` is the switch's version, which brokers poll cheaply.

``approvals`` holds one row per order waiting for (or given) a person's
decision, bound to the order by ``order_hash``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alphaloop.store.models import Base, utcnow

__all__ = ["ApprovalRow", "AuditEntryRow", "KillSwitchEventRow"]


class AuditEntryRow(Base):
    """One entry of the audit chain."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_action", "action"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str] = mapped_column(String(300))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class KillSwitchEventRow(Base):
    """The kill switch set (``active``) or cleared for one scope."""

    __tablename__ = "kill_switch_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApprovalRow(Base):
    """An order that waits for a person: pending, approved, rejected, expired, sent or refused."""

    __tablename__ = "approvals"
    __table_args__ = (Index("ix_approvals_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_hash: Mapped[str] = mapped_column(String(64), index=True)
    order: Mapped[str] = mapped_column(Text)
    session: Mapped[str] = mapped_column(String(200), default="")
    strategy: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
