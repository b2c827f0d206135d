"""Tables of paper-trading sessions: the session, its orders, fills, positions and
account history, written in one transaction per bar.

``paper_sessions.position`` is the number of feed bars whose effects are
recorded: a session resumed after a crash starts its feed there. Rows of
the other tables belong to one session (``session_id``) and are keyed by
the broker's own ids (``order_id``, ``fill_id``), so a fill cannot be
recorded twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from alphaloop.store.models import Base, utcnow

__all__ = [
    "PaperBarRow",
    "PaperDecisionRow",
    "PaperEquityRow",
    "PaperFillRow",
    "PaperOrderRow",
    "PaperPositionRow",
    "PaperSessionRow",
]


class PaperSessionRow(Base):
    """One paper-trading session: what it trades, on which feed, and how far it got."""

    __tablename__ = "paper_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_hash: Mapped[str] = mapped_column(String(64), index=True)
    dataset: Mapped[str] = mapped_column(String(200))
    data_version: Mapped[int] = mapped_column(Integer)
    data_hash: Mapped[str] = mapped_column(String(64))
    feed: Mapped[str] = mapped_column(String(200))
    #: autonomy level of the session's gate (L1..L5) and paper or live (migration 0011)
    autonomy: Mapped[str] = mapped_column(String(4), default="L3")
    mode: Mapped[str] = mapped_column(String(8), default="paper")
    limits_set_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    speed: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer, default=0)
    n_bars: Mapped[int] = mapped_column(Integer, default=0)
    first_row: Mapped[int] = mapped_column(Integer, default=0)
    cash: Mapped[float] = mapped_column(Float)
    equity: Mapped[float] = mapped_column(Float)
    last_bar: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    reconciliations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaperOrderRow(Base):
    """An order of a session, as it stands after the last recorded bar."""

    __tablename__ = "paper_orders"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("paper_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    order_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset: Mapped[str] = mapped_column(String(200))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[float] = mapped_column(Float)
    order_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    filled_quantity: Mapped[float] = mapped_column(Float)
    avg_price: Mapped[float | None] = mapped_column(Float, nullable=True)
    row: Mapped[int] = mapped_column(Integer)


class PaperFillRow(Base):
    """One fill (an execution) of a session; ``fill_id`` is the broker's."""

    __tablename__ = "paper_fills"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("paper_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    fill_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(Integer)
    row: Mapped[int] = mapped_column(Integer)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    asset: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[float] = mapped_column(Float)
    price: Mapped[float] = mapped_column(Float)
    cost: Mapped[float] = mapped_column(Float)


class PaperPositionRow(Base):
    """Signed shares of one asset held by a session after its last recorded bar."""

    __tablename__ = "paper_positions"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("paper_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    asset: Mapped[str] = mapped_column(String(200), primary_key=True)
    shares: Mapped[float] = mapped_column(Float)


class PaperEquityRow(Base):
    """The account after one bar: cash and equity (positions at the bar's close)."""

    __tablename__ = "paper_equity"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("paper_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cash: Mapped[float] = mapped_column(Float)
    equity: Mapped[float] = mapped_column(Float)


class PaperDecisionRow(Base):
    """One decision of a session's gate about one command (migration 0011).

    ``seq`` numbers the strategy's commands (orders and rebalances) through the
    gate, 1, 2, ...; ``step`` numbers the decisions about one command (``held``
    then ``sent``, ``refused`` or ``canceled``). A restarted session replays them,
    so the rebuilt venue sees exactly the orders that left before.
    """

    __tablename__ = "paper_decisions"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("paper_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    row: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(12))
    stage: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text)
    approval_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class PaperBarRow(Base):
    """One bar of one asset received from a live feed (migration 0011).

    ``row`` is the bar's position in the session's panel (warm-up history
    first); a resumed session rebuilds its panel from these rows and asks the
    feed only for bars after the last one.
    """

    __tablename__ = "paper_bars"

    session_id: Mapped[int] = mapped_column(
        ForeignKey("paper_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset: Mapped[str] = mapped_column(String(200), primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)
