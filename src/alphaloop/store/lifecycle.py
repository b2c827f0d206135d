"""Tables of the policy store and the strategy lifecycle.

``policy_changes`` is append-only: each row is one change (who, when, why,
what) and the whole policy after it (canonical JSON); the largest ``id`` is
the policy's version and its row the current policy.

``strategy_states`` holds the current lifecycle state of each strategy that
left ``backtest`` (one row per strategy hash; a strategy without a row is in
``backtest``); ``lifecycle_transitions`` is the append-only history of every
transition with its inputs (JSON text).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alphaloop.store.models import Base, utcnow

__all__ = ["LifecycleTransitionRow", "PolicyChangeRow", "StrategyStateRow"]


class PolicyChangeRow(Base):
    """One change of the policy and the policy after it."""

    __tablename__ = "policy_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    change: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    policy: Mapped[str] = mapped_column(Text)


class StrategyStateRow(Base):
    """The lifecycle state of one strategy (shadow, live or retired)."""

    __tablename__ = "strategy_states"

    strategy_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), index=True)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    transition_id: Mapped[int] = mapped_column(Integer)
    paper_session_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class LifecycleTransitionRow(Base):
    """One transition of a strategy's lifecycle, with the inputs its gates saw."""

    __tablename__ = "lifecycle_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    strategy_hash: Mapped[str] = mapped_column(String(64), index=True)
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    event: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    inputs: Mapped[str] = mapped_column(Text)
