"""The live loop's checkpoints: where each run of ``alphaloop run --config`` stands.

``loop_checkpoints`` holds one row per run name: the number of bars done, the
timestamp of the last one, the hash of the configuration the run started with,
the run's epoch (how many times it was started over from scratch) and the whole
state of the loop after its last bar (canonical JSON). The loop rewrites the row
in the same transaction as the bar's other records, so the row and the records
always agree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from alphaloop.store.models import Base, utcnow

__all__ = ["LoopCheckpointRow"]


class LoopCheckpointRow(Base):
    """The state of one run of the live loop after its last finished bar."""

    __tablename__ = "loop_checkpoints"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    bars_done: Mapped[int] = mapped_column(Integer)
    last_bar: Mapped[str | None] = mapped_column(String(40), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
