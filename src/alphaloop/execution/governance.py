"""What a gated broker needs around it: the governance stores and a view of the market.

:class:`Governance` bundles the audit log, the kill switch and the approval
queue of one database (``Governance.open(db)``). :class:`MarketView` is what
the gate asks the market: the last price (for the risk engine) and the
recent volume (for the participation cap); :class:`MarketSnapshot` is a
plain one that the feed updates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from alphaloop.execution.approvals import ApprovalQueue
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.kill_switch import KillSwitch
from alphaloop.store import Database

__all__ = ["Governance", "MarketSnapshot", "MarketView"]


@runtime_checkable
class MarketView(Protocol):
    """The market as the gate sees it."""

    def price(self, asset: str) -> float:
        """The last price of ``asset`` (NaN when none is known)."""
        ...

    def recent_volume(self, asset: str) -> float | None:
        """Shares of ``asset`` traded recently (the window is the feed's), or None."""
        ...


class MarketSnapshot:
    """A :class:`MarketView` over dictionaries the caller keeps up to date."""

    def __init__(
        self,
        prices: Mapping[str, float] | None = None,
        volumes: Mapping[str, float] | None = None,
    ) -> None:
        self.prices: dict[str, float] = dict(prices or {})
        self.volumes: dict[str, float] = dict(volumes or {})

    def update(
        self, prices: Mapping[str, float], volumes: Mapping[str, float] | None = None
    ) -> None:
        """Take new prices (and volumes); NaN prices leave the old ones."""
        for asset, px in prices.items():
            if not math.isnan(px):
                self.prices[asset] = float(px)
        if volumes:
            self.volumes.update({a: float(v) for a, v in volumes.items()})

    def price(self, asset: str) -> float:
        return self.prices.get(asset, math.nan)

    def recent_volume(self, asset: str) -> float | None:
        return self.volumes.get(asset)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Governance:
    """The audit log, kill switch and approval queue of one database."""

    audit: AuditLog
    kill_switch: KillSwitch
    approvals: ApprovalQueue

    @classmethod
    def open(
        cls,
        db: Database,
        *,
        clock: Callable[[], datetime] = _utcnow,
        approval_ttl_s: float = 900.0,
        kill_poll_interval_s: float = 0.0,
    ) -> Governance:
        """The stores of ``db``; ``clock`` stamps audit entries and times approvals."""
        audit = AuditLog(db, clock)
        return cls(
            audit,
            KillSwitch(db, audit, poll_interval_s=kill_poll_interval_s),
            ApprovalQueue(db, audit, clock=clock, ttl_s=approval_ttl_s),
        )

    def close(self) -> None:
        """Release what the stores hold open (the kill switch's listening connection)."""
        self.kill_switch.close()
