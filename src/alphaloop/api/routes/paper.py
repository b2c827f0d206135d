"""Paper and live sessions: list, show, positions, orders, fills, P&L (equity curve)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from alphaloop.api.deps import context, require
from alphaloop.api.routes._common import to_json

router = APIRouter(tags=["paper"], dependencies=[require("read")])

SessionId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Paper or live session id.")]


def _store(request: Request, session_id: int | None = None) -> Any:
    from alphaloop.app import paper_store

    store = paper_store(context(request).ws)
    if session_id is not None:
        store.get(session_id)  # PaperSessionNotFoundError (404)
    return store


def _frame(frame: Any, limit: int) -> list[dict[str, Any]]:
    tail = frame.tail(limit).reset_index()
    return json.loads(tail.to_json(orient="records", date_format="iso"))  # type: ignore[no-any-return]


@router.get("/paper/sessions", name="paper.list")
def paper_list(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
    """Paper and live sessions, newest first."""
    from alphaloop.app import paper_sessions

    docs = [s.to_dict() for s in paper_sessions(context(request).ws, limit)]
    return to_json({"sessions": docs})  # type: ignore[no-any-return]


@router.get("/paper/sessions/{session_id}", name="paper.show")
def paper_show(session_id: SessionId, request: Request) -> dict[str, Any]:
    """One session: status, autonomy, mode, last bar, number of fills."""
    store = _store(request)
    doc = store.get(session_id).to_dict()
    doc["n_fills"] = store.n_fills(session_id)
    return to_json(doc)  # type: ignore[no-any-return]


@router.get("/paper/sessions/{session_id}/positions", name="paper.positions")
def paper_positions(session_id: SessionId, request: Request) -> dict[str, Any]:
    """Positions (shares, signed) by asset."""
    return to_json({"positions": _store(request, session_id).positions(session_id)})  # type: ignore[no-any-return]


@router.get("/paper/sessions/{session_id}/orders", name="paper.orders")
def paper_orders(session_id: SessionId, request: Request) -> dict[str, Any]:
    """Every order of the session with its state."""
    orders = _store(request, session_id).orders(session_id)
    return to_json({"orders": list(orders.values())})  # type: ignore[no-any-return]


@router.get("/paper/sessions/{session_id}/fills", name="paper.fills")
def paper_fills(
    session_id: SessionId, request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 500
) -> dict[str, Any]:
    """The last fills, in fill order (quantity signed; price and costs in the asset's currency)."""
    frame = _store(request, session_id).fills(session_id)
    return to_json({"fills": _frame(frame, limit), "total": len(frame)})  # type: ignore[no-any-return]


@router.get("/paper/sessions/{session_id}/pnl", name="paper.pnl")
def paper_pnl(
    session_id: SessionId, request: Request, limit: Annotated[int, Query(ge=1, le=100_000)] = 1000
) -> dict[str, Any]:
    """Cash and equity after each recorded bar (the last ``limit``), and P&L since the start."""
    frame = _store(request, session_id).equity(session_id)
    doc: dict[str, Any] = {"equity": _frame(frame, limit), "bars": len(frame)}
    if len(frame) and "equity" in frame:
        doc["pnl"] = float(frame["equity"].iloc[-1] - frame["equity"].iloc[0])
    return to_json(doc)  # type: ignore[no-any-return]
