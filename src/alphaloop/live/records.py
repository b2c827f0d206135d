"""Paper sessions in the database: create, claim, record each bar, reconcile, read.

:class:`PaperStore` is the repository of the ``paper_*`` tables;
:class:`StoreRecorder` is the :class:`~alphaloop.live.session.BarRecorder`
that writes one bar (orders it touched, its fills, positions after it,
the account, the feed position) in a single transaction, so a process
killed at any instant leaves the record at a whole bar.
"""

from __future__ import annotations

import math
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import delete, func, insert, select, update

from alphaloop.errors import PaperError, PaperSessionNotFoundError
from alphaloop.execution import BarEvent, Order, OrderEvent, OrderFilled, OrderPartiallyFilled
from alphaloop.live.decisions import write_decisions
from alphaloop.store import (
    Database,
    PaperEquityRow,
    PaperFillRow,
    PaperOrderRow,
    PaperPositionRow,
    PaperSessionRow,
)

if TYPE_CHECKING:
    from alphaloop.live.paper_bus import SessionPublisher
    from alphaloop.live.session import PaperSession

__all__ = ["ACTIVE", "PaperSessionInfo", "PaperStore", "StoreRecorder"]

_FILLS = (OrderFilled, OrderPartiallyFilled)
_SESSIONS = PaperSessionRow.__table__
_ORDERS = PaperOrderRow.__table__
_FILL_T = PaperFillRow.__table__
_POSITIONS = PaperPositionRow.__table__
_EQUITY = PaperEquityRow.__table__

#: a session of another machine that recorded nothing for this long is taken as gone, seconds
_STALE_SECONDS = 60.0

#: statuses of a session that has not ended: it may run, or be resumed
ACTIVE = ("created", "running")


@dataclass(frozen=True)
class PaperSessionInfo:
    """A paper session as recorded.

    ``status``: created, running, stopped, finished or failed; a ``running``
    session whose process is gone shows as ``interrupted`` in :attr:`state`.
    ``position`` counts feed bars recorded; ``n_bars`` is the feed's length.
    """

    id: int
    name: str
    spec: dict[str, Any]
    spec_hash: str
    dataset: str
    data_version: int
    data_hash: str
    feed: str
    autonomy: str
    mode: str
    limits_set_by: str | None
    speed: float | None
    status: str
    position: int
    n_bars: int
    first_row: int
    cash: float
    equity: float
    last_bar: datetime | None
    pid: int | None
    host: str | None
    stop_requested: bool
    restarts: int
    reconciliations: list[Any] = field(default_factory=list)
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def alive(self) -> bool:
        """The recorded process exists: on this machine, a process with the pid; on
        another (a shared PostgreSQL), a bar recorded in the last minute."""
        if self.pid is None:
            return False
        if self.host != socket.gethostname():
            seen = self.updated_at
            return seen is not None and (datetime.now(UTC) - seen).total_seconds() < _STALE_SECONDS
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    @property
    def state(self) -> str:
        """The status, with ``interrupted`` for a running session whose process died."""
        if self.status == "running" and not self.alive:
            return "interrupted"
        return self.status

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "spec_hash": self.spec_hash,
            "dataset": self.dataset,
            "data_version": self.data_version,
            "feed": self.feed,
            "autonomy": self.autonomy,
            "mode": self.mode,
            "limits_set_by": self.limits_set_by,
            "speed": self.speed,
            "status": self.state,
            "position": self.position,
            "n_bars": self.n_bars,
            "cash": self.cash,
            "equity": self.equity,
            "last_bar": self.last_bar.isoformat() if self.last_bar else None,
            "pid": self.pid,
            "restarts": self.restarts,
            "reconciliations": self.reconciliations,
            "error": self.error,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def _utc(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _info(row: Any) -> PaperSessionInfo:
    m = row._mapping
    return PaperSessionInfo(
        **{
            k: (_utc(m[k]) if k in ("last_bar", "created_at", "updated_at") else m[k])
            for k in PaperSessionInfo.__dataclass_fields__
        }
    )


def order_row(session_id: int, order: Order) -> dict[str, Any]:
    """The ``paper_orders`` row of an order as it stands."""
    avg = order.avg_price
    return {
        "session_id": session_id,
        "order_id": order.order_id,
        "asset": order.asset,
        "side": order.side.name.lower(),
        "quantity": float(order.quantity),
        "order_type": order.order_type.value,
        "status": order.status.value,
        "filled_quantity": float(order.filled_quantity),
        "avg_price": float(avg) if order.filled_quantity and math.isfinite(avg) else None,
        "row": int(order.events[-1].row) if order.events else -1,
    }


def fill_row(session_id: int, event: Any, index: pd.DatetimeIndex) -> dict[str, Any]:
    """The ``paper_fills`` row of a fill event (signed quantity)."""
    return {
        "session_id": session_id,
        "fill_id": int(event.fill_id),
        "order_id": int(event.order_id),
        "row": int(event.row),
        "time": index[event.row].to_pydatetime(),
        "asset": event.asset,
        "quantity": float(event.signed_quantity),
        "price": float(event.price),
        "cost": float(event.cost),
    }


def _same_pid(pid: int | None) -> Any:
    column = _SESSIONS.c.pid
    return column.is_(None) if pid is None else column == pid


class PaperStore:
    """The paper-trading tables of one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, **fields: Any) -> int:
        """A new session (``status`` created); returns its id."""
        now = datetime.now(UTC)
        values = {
            "status": "created",
            "position": 0,
            "stop_requested": False,
            "restarts": 0,
            "reconciliations": [],
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        with self.db.session() as s:
            return int(s.execute(insert(_SESSIONS).values(**values)).inserted_primary_key[0])

    def get(self, session_id: int) -> PaperSessionInfo:
        with self.db.session() as s:
            row = s.execute(select(_SESSIONS).where(_SESSIONS.c.id == session_id)).first()
        if row is None:
            raise PaperSessionNotFoundError(
                f"no paper session {session_id}", hint="list them with `alphaloop paper status`"
            )
        return _info(row)

    def list(self, limit: int = 50) -> list[PaperSessionInfo]:
        with self.db.session() as s:
            rows = s.execute(select(_SESSIONS).order_by(_SESSIONS.c.id.desc()).limit(limit))
            return [_info(r) for r in rows]

    def find_active(
        self, spec_hash: str, dataset: str, feed: str, mode: str = "paper"
    ) -> PaperSessionInfo | None:
        """The latest session of this spec on this feed (paper or live) that has not ended."""
        with self.db.session() as s:
            row = s.execute(
                select(_SESSIONS)
                .where(
                    _SESSIONS.c.spec_hash == spec_hash,
                    _SESSIONS.c.dataset == dataset,
                    _SESSIONS.c.feed == feed,
                    _SESSIONS.c.mode == mode,
                    _SESSIONS.c.status.in_(ACTIVE),
                )
                .order_by(_SESSIONS.c.id.desc())
            ).first()
        return _info(row) if row is not None else None

    def update(self, session_id: int, **values: Any) -> None:
        values.setdefault("updated_at", datetime.now(UTC))
        with self.db.session() as s:
            s.execute(update(_SESSIONS).where(_SESSIONS.c.id == session_id).values(**values))

    def claim(self, session_id: int) -> PaperSessionInfo:
        """Mark the session running in this process (a restart when it ran before)."""
        info = self.get(session_id)
        restarted = info.status == "running" or info.position > 0
        with self.db.session() as s:
            # only if nobody claimed it since it was read: two starts cannot both run it
            claimed = s.execute(
                update(_SESSIONS)
                .where(
                    _SESSIONS.c.id == session_id,
                    _SESSIONS.c.status == info.status,
                    _SESSIONS.c.restarts == info.restarts,
                    _SESSIONS.c.position == info.position,
                    _same_pid(info.pid),
                )
                .values(
                    status="running",
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    stop_requested=False,
                    error=None,
                    restarts=info.restarts + int(restarted),
                    updated_at=datetime.now(UTC),
                )
            ).rowcount
        if claimed != 1:
            raise PaperError(
                f"paper session {session_id} was claimed by another process just now",
                hint=f"see `alphaloop paper status {session_id}`",
            )
        return self.get(session_id)

    def stop_requested(self, session_id: int) -> bool:
        with self.db.session() as s:
            flag = s.execute(
                select(_SESSIONS.c.stop_requested).where(_SESSIONS.c.id == session_id)
            ).scalar()
        return bool(flag)

    # --------------------------------------------------------------- reading
    def fills(self, session_id: int) -> pd.DataFrame:
        """Every recorded fill, in fill order (``quantity`` signed)."""
        with self.db.session() as s:
            rows = s.execute(
                select(_FILL_T)
                .where(_FILL_T.c.session_id == session_id)
                .order_by(_FILL_T.c.fill_id)
            ).all()
        cols = ["fill_id", "order_id", "row", "time", "asset", "quantity", "price", "cost"]
        frame = pd.DataFrame([{c: r._mapping[c] for c in cols} for r in rows], columns=cols)
        if len(frame):
            frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame

    def orders(self, session_id: int) -> dict[int, dict[str, Any]]:
        with self.db.session() as s:
            rows = s.execute(select(_ORDERS).where(_ORDERS.c.session_id == session_id)).all()
        return {r.order_id: dict(r._mapping) for r in rows}

    def positions(self, session_id: int) -> dict[str, float]:
        with self.db.session() as s:
            rows = s.execute(
                select(_POSITIONS.c.asset, _POSITIONS.c.shares).where(
                    _POSITIONS.c.session_id == session_id
                )
            ).all()
        return {a: float(q) for a, q in rows}

    def equity(self, session_id: int) -> pd.DataFrame:
        """Cash and equity after every recorded bar (index: the bar's time)."""
        with self.db.session() as s:
            rows = s.execute(
                select(_EQUITY.c.row, _EQUITY.c.time, _EQUITY.c.cash, _EQUITY.c.equity)
                .where(_EQUITY.c.session_id == session_id)
                .order_by(_EQUITY.c.row)
            ).all()
        frame = pd.DataFrame(rows, columns=["row", "time", "cash", "equity"])
        frame["time"] = pd.to_datetime(frame["time"], utc=True)
        return frame.set_index("time")

    def n_fills(self, session_id: int) -> int:
        with self.db.session() as s:
            return int(
                s.execute(
                    select(func.count())
                    .select_from(_FILL_T)
                    .where(_FILL_T.c.session_id == session_id)
                ).scalar()
                or 0
            )

    # --------------------------------------------------------------- writing
    def write_positions(self, conn: Any, session_id: int, positions: dict[str, float]) -> None:
        conn.execute(delete(_POSITIONS).where(_POSITIONS.c.session_id == session_id))
        if positions:
            conn.execute(
                insert(_POSITIONS),
                [
                    {"session_id": session_id, "asset": a, "shares": float(q)}
                    for a, q in positions.items()
                ],
            )

    def write_orders(self, conn: Any, session_id: int, orders: list[Order]) -> None:
        ids = [o.order_id for o in orders]
        conn.execute(
            delete(_ORDERS).where(_ORDERS.c.session_id == session_id, _ORDERS.c.order_id.in_(ids))
        )
        conn.execute(insert(_ORDERS), [order_row(session_id, o) for o in orders])

    def write_fills(self, conn: Any, session_id: int, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(insert(_FILL_T), rows)


class StoreRecorder:
    """Write each processed bar of a session in one transaction.

    Parameters
    ----------
    store : PaperStore
    session_id : int
    poll_seconds : float, default 0.5
        How often (wall clock) :meth:`should_stop` reads the stop flag.
    publisher : SessionPublisher, optional
        Publishes each bar's fills and P&L tick to the event bus, inside the bar's
        transaction (see :mod:`alphaloop.live.paper_bus`).
    """

    def __init__(
        self,
        store: PaperStore,
        session_id: int,
        *,
        poll_seconds: float = 0.5,
        publisher: SessionPublisher | None = None,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.poll_seconds = poll_seconds
        self.publisher = publisher
        self._next_poll = 0.0
        self.engine = store.db.engine

    def record_bar(self, bar: BarEvent, events: list[OrderEvent], session: PaperSession) -> None:
        sid = self.session_id
        cash, equity = session.account()
        when = bar.time.to_pydatetime()
        fills: list[dict[str, Any]] = []
        with self.engine.begin() as conn:
            if events:
                touched = sorted({e.order_id for e in events})
                self.store.write_orders(conn, sid, [session.order(k) for k in touched])
                index = session.feed.panel.index
                fills = [fill_row(sid, e, index) for e in events if isinstance(e, _FILLS)]
                if fills:
                    self.store.write_fills(conn, sid, fills)
                    self.store.write_positions(conn, sid, session.positions())
            if session.gate is not None:
                write_decisions(conn, sid, session.gate.take_decisions())
            conn.execute(
                insert(_EQUITY).values(
                    session_id=sid, row=bar.row, time=when, cash=cash, equity=equity
                )
            )
            conn.execute(
                update(_SESSIONS)
                .where(_SESSIONS.c.id == sid)
                .values(
                    position=session.position,
                    cash=cash,
                    equity=equity,
                    last_bar=when,
                    updated_at=datetime.now(UTC),
                )
            )
            if self.publisher is not None:  # before the commit: a redone bar re-sends its ids
                self.publisher.bar(bar.time, fills, equity)

    def should_stop(self) -> bool:
        """The session's stop flag, read at most every ``poll_seconds``."""
        now = time.monotonic()
        if now < self._next_poll:
            return False
        self._next_poll = now + self.poll_seconds
        return self.store.stop_requested(self.session_id)
