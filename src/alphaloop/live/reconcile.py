"""Reconciling a resumed session's record with its broker.

After a restart the broker's state is the truth: for the simulated venue it
is rebuilt by replaying the feed up to the recorded position (the venue is
a function of the bars and the strategy's commands); a live broker reports
its own. :func:`reconcile` compares the record with it:

- fills the broker made that the record lacks (a crash between the fill
  and its commit, or a record edited by hand) are **added**;
- a recorded fill the broker never made cannot be explained: it raises
  :class:`~alphaloop.errors.ReconciliationError` and the session does not
  carry on;
- orders (open ones and their fill state), positions and cash are
  rewritten from the broker where they differ.

The outcome (what was found and repaired, at which bar) is appended to
the session's ``reconciliations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from alphaloop.errors import ReconciliationError
from alphaloop.execution import OrderFilled, OrderPartiallyFilled
from alphaloop.live.records import PaperStore, fill_row, order_row
from alphaloop.live.session import PaperSession
from alphaloop.store import PaperSessionRow

__all__ = ["Reconciliation", "reconcile"]

_FILLS = (OrderFilled, OrderPartiallyFilled)
_TOL = 1e-9


@dataclass(frozen=True)
class Reconciliation:
    """What a restart found and repaired.

    Attributes
    ----------
    position : int
        The feed bar the session resumed at.
    missed_fills : tuple of int
        Fill ids the broker had made and the record lacked (now recorded).
    orders_repaired : tuple of int
        Orders whose recorded state differed from the broker's (now rewritten).
    open_orders : int
        Orders still working at the broker.
    positions_repaired : bool
        The recorded positions differed from the broker's (now rewritten).
    cash_difference : float
        Broker cash minus recorded cash before the repair (currency).
    """

    position: int
    missed_fills: tuple[int, ...]
    orders_repaired: tuple[int, ...]
    open_orders: int
    positions_repaired: bool
    cash_difference: float

    @property
    def clean(self) -> bool:
        """Nothing had to be repaired."""
        return not (
            self.missed_fills
            or self.orders_repaired
            or self.positions_repaired
            or abs(self.cash_difference) > _TOL
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": datetime.now(UTC).isoformat(),
            "position": self.position,
            "missed_fills": list(self.missed_fills),
            "orders_repaired": list(self.orders_repaired),
            "open_orders": self.open_orders,
            "positions_repaired": self.positions_repaired,
            "cash_difference": self.cash_difference,
            "clean": self.clean,
        }


def _same_order(recorded: dict[str, Any], now: dict[str, Any]) -> bool:
    return recorded["status"] == now["status"] and abs(
        recorded["filled_quantity"] - now["filled_quantity"]
    ) <= _TOL * max(1.0, now["quantity"])


def reconcile(store: PaperStore, session_id: int, session: PaperSession) -> Reconciliation:
    """Compare the record of ``session_id`` with ``session``'s broker and repair it.

    ``session`` must stand at the recorded position (see
    :meth:`~alphaloop.live.session.PaperSession.catch_up`).

    Raises
    ------
    ReconciliationError
        The record holds a fill the broker never made (fill id, asset, bar).
    """
    info = store.get(session_id)
    venue = session.venue
    index = session.feed.panel.index
    broker_fills = {
        e.fill_id: e for o in venue.orders.values() for e in o.events if isinstance(e, _FILLS)
    }
    recorded = store.fills(session_id)
    recorded_ids = set(recorded["fill_id"].tolist()) if len(recorded) else set()
    unknown = sorted(recorded_ids - set(broker_fills))
    if unknown:
        row = recorded[recorded["fill_id"] == unknown[0]].iloc[0]
        raise ReconciliationError(
            f"paper session {session_id}: the record holds {len(unknown)} fill(s) the broker "
            f"never made, e.g. fill {unknown[0]} of {row['asset']} at {row['time']:%Y-%m-%d}",
            hint="the record and the broker disagree; start a new session",
        )
    missed = sorted(set(broker_fills) - recorded_ids)
    recorded_orders = store.orders(session_id)
    repaired = []
    for oid, order in venue.orders.items():
        now = order_row(session_id, order)
        was = recorded_orders.get(oid)
        if was is None or not _same_order(was, now):
            repaired.append(oid)
    broker_positions = session.positions()
    recorded_positions = store.positions(session_id)
    positions_differ = set(broker_positions) != set(recorded_positions) or any(
        abs(broker_positions[a] - recorded_positions[a]) > _TOL * max(1.0, abs(broker_positions[a]))
        for a in broker_positions
    )
    cash, equity = session.account()
    result = Reconciliation(
        position=session.position,
        missed_fills=tuple(int(k) for k in missed),
        orders_repaired=tuple(repaired),
        open_orders=len(venue.open_orders()),
        positions_repaired=positions_differ,
        cash_difference=float(cash - info.cash) if info.position else 0.0,
    )
    with store.db.engine.begin() as conn:
        if missed:
            store.write_fills(
                conn, session_id, [fill_row(session_id, broker_fills[k], index) for k in missed]
            )
        if repaired:
            store.write_orders(conn, session_id, [venue.orders[k] for k in repaired])
        if positions_differ:
            store.write_positions(conn, session_id, broker_positions)
        table = PaperSessionRow.__table__
        conn.execute(
            update(table)
            .where(table.c.id == session_id)
            .values(
                position=session.position,
                cash=cash,
                equity=equity,
                reconciliations=[*info.reconciliations, result.to_dict()],
                updated_at=datetime.now(UTC),
            )
        )
    return result
