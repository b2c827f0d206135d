"""The governance gate of a paper (or live) session: built from what the session recorded.

Every order and rebalance of a session passes a
:class:`~alphaloop.execution.GatedBroker` at the session's autonomy level
(L1 signals only ... L5), with the kill switch, the approval queue and the
audit log of the workspace, the spec's hard risk limits
(``limits.risk``) and the name of whoever set them. In front of the
simulated venue (paper) the levels L3..L5 run without hard limits when the
spec sets none (the gate's ``gate.started`` audit entry says so); in front
of a venue they are required.

The default level of ``paper start`` is ``ALPHALOOP_AUTONOMY`` when set,
else ``L3``.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from alphaloop.errors import UsageError
from alphaloop.execution import (
    AutonomyLevel,
    Broker,
    GatedBroker,
    Governance,
    RiskEngine,
    autonomy_level,
)

if TYPE_CHECKING:
    from alphaloop.app.paper import Gate
    from alphaloop.app.workspace import Workspace
    from alphaloop.backtest import EventInputs, StrategySpec
    from alphaloop.execution import Feed, SimulatedBroker
    from alphaloop.live import PaperSession, PaperSessionInfo

__all__ = [
    "AUTONOMY_ENV",
    "VenueMarket",
    "audit_start",
    "default_autonomy",
    "session_gate",
    "session_on",
]

#: the environment variable that sets the default autonomy level of new sessions
AUTONOMY_ENV = "ALPHALOOP_AUTONOMY"


def default_autonomy(level: str | None = None) -> AutonomyLevel:
    """``level`` (L1..L5), else ``ALPHALOOP_AUTONOMY``, else L3.

    Raises
    ------
    UsageError
        Not a level; the message lists L1..L5.
    """
    text = level if level is not None else os.environ.get(AUTONOMY_ENV) or "L3"
    try:
        return autonomy_level(text)
    except Exception as exc:
        where = "--autonomy" if level is not None else AUTONOMY_ENV
        raise UsageError(f"{where}: {exc}", hint="allowed: L1, L2, L3, L4, L5") from None


class VenueMarket:
    """The gate's view of the simulated market: last closes and volumes at the venue's bar.

    Every other attribute is the venue's :class:`~alphaloop.execution.market.MarketData`
    (``asset_pos``, ``lag``, ...), which a strategy's context reads through the gate.
    """

    def __init__(self, venue: SimulatedBroker) -> None:
        self.venue = venue

    def __getattr__(self, name: str) -> Any:
        if name == "venue":
            raise AttributeError(name)
        return getattr(self.venue.market, name)

    def price(self, asset: str) -> float:
        m = self.venue.market
        j = m.asset_pos.get(asset)
        if j is None or self.venue.row < 0:
            return math.nan
        return float(m.last_close[self.venue.row, j])

    def recent_volume(self, asset: str) -> float | None:
        m = self.venue.market
        j = m.asset_pos.get(asset)
        if j is None or m.volume is None or self.venue.row < 0:
            return None
        v = float(m.volume[self.venue.row, j])
        return v if math.isfinite(v) else None


def session_gate(
    info: PaperSessionInfo,
    spec: StrategySpec,
    inner: Broker,
    gov: Governance,
    *,
    market: VenueMarket | None = None,
    simulated: bool = True,
    announce: bool = True,
) -> GatedBroker:
    """The gate of session ``info`` in front of ``inner`` (the venue or a venue broker).

    Raises
    ------
    AutonomyError
        The level needs hard limits (or a loss breaker, or the name of who set
        them) that the session lacks; never for L1 and L2.
    """
    limits = spec.limits.risk_limits()
    risk = None
    if limits is not None and limits.active:
        market_assets = getattr(getattr(inner, "market", None), "assets", None)
        assets = list(market_assets or getattr(inner, "assets", ()) or [])
        risk = RiskEngine(limits, assets, spec.capital)
    return GatedBroker(
        inner,
        gov,
        level=info.autonomy,
        session=str(info.id),
        strategy=info.spec_hash,
        risk=risk,
        limits_set_by=info.limits_set_by,
        market=market,
        actor=f"paper-session-{info.id}" if simulated else f"live-session-{info.id}",
        simulated=simulated,
        announce=announce,
    )


def session_on(
    ws: Workspace,
    info: PaperSessionInfo,
    spec: StrategySpec,
    inputs: EventInputs,
    feed: Feed,
    *,
    gate: Gate | None = None,
    record: bool = True,
    governance: Governance | None = None,
    announce: bool = True,
) -> PaperSession:
    """A session of ``info`` on ``inputs`` (the strategy and its venue's settings) and ``feed``."""
    from alphaloop.app.paper import paper_store
    from alphaloop.execution import SimulatedBroker
    from alphaloop.live.records import StoreRecorder
    from alphaloop.live.session import PaperSession

    venue = SimulatedBroker(inputs.panel, inputs.config)
    recorder = StoreRecorder(paper_store(ws), info.id) if record else None
    if gate is not None:
        broker = gate(venue)
    else:
        gov = governance if governance is not None else Governance.open(ws.db)
        broker = session_gate(info, spec, venue, gov, market=VenueMarket(venue),
                              announce=announce)  # fmt: skip
    return PaperSession(inputs.strategy(), feed, venue, broker=broker, recorder=recorder)


def audit_start(ws: Workspace, info: PaperSessionInfo, spec: StrategySpec) -> None:
    """``limits.set``: the hard limits (and level) a new session starts under, and who set them."""
    from alphaloop.app.governance import current_user, governance

    limits = spec.limits.risk_limits()
    governance(ws).audit.append(
        info.limits_set_by or current_user(), "limits.set", f"paper session {info.id}",
        {"limits": None if limits is None else limits.model_dump(mode="json"),
         "limits_set_by": info.limits_set_by, "autonomy": info.autonomy, "mode": info.mode,
         "feed": info.feed, "strategy": info.spec_hash},
    )  # fmt: skip
