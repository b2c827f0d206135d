"""Tables of instrument metadata, corporate actions and point-in-time universes.

``instruments`` holds one row per symbol (the latest import wins);
``corporate_actions`` one row per (dataset, symbol, date, kind), stored
with the dataset they adjust; ``universe_members`` one row per membership
span of a symbol in a named universe (``end`` NULL = still a member).
Dates are calendar dates (UTC day).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from alphaloop.store.models import Base, utcnow

__all__ = ["CorporateActionRow", "InstrumentRow", "UniverseMemberRow"]


class InstrumentRow(Base):
    """Contract metadata of one tradable symbol (migration 0012)."""

    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(200), primary_key=True)
    asset_class: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(12))
    multiplier: Mapped[float] = mapped_column(Float, default=1.0)
    tick_size: Mapped[float | None] = mapped_column(Float, nullable=True)
    lot_size: Mapped[float | None] = mapped_column(Float, nullable=True)
    min_notional: Mapped[float | None] = mapped_column(Float, nullable=True)
    expiry: Mapped[date | None] = mapped_column(Date, nullable=True)
    base_currency: Mapped[str | None] = mapped_column(String(12), nullable=True)
    root: Mapped[str | None] = mapped_column(String(100), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CorporateActionRow(Base):
    """A split (``value`` = new shares per old share) or a cash dividend per share."""

    __tablename__ = "corporate_actions"

    dataset: Mapped[str] = mapped_column(String(200), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(200), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class UniverseMemberRow(Base):
    """One span during which ``symbol`` belonged to the universe ``universe``."""

    __tablename__ = "universe_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    universe: Mapped[str] = mapped_column(String(200), index=True)
    symbol: Mapped[str] = mapped_column(String(200))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date, nullable=True)
