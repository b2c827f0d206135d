"""The WebSocket endpoint ``/api/v1/ws``: authenticate, subscribe, receive topic messages.

Protocol (JSON text frames):

1. The client sends ``{"op": "auth", "token": "<access token or API key>"}``
   first (within 10 s); the server answers ``{"op": "ready", "user", "role",
   "topics": {topic: version}}``, or closes with code 4401.
2. ``{"op": "subscribe", "topics": [...]}`` / ``{"op": "unsubscribe", ...}``
   answer ``{"op": "subscribed", "topics": [...]}`` with the current set;
   an unknown topic answers ``{"op": "error", "message"}`` and changes nothing.
3. ``{"op": "ping"}`` answers ``{"op": "pong"}``.
4. The server pushes topic messages (see :mod:`alphaloop.api.hub`).

Every topic needs the ``read`` permission (any role).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from alphaloop.api.deps import credentials
from alphaloop.api.hub import TOPICS, Subscriber
from alphaloop.errors import AlphaloopError

__all__ = ["router"]

router = APIRouter()
AUTH_TIMEOUT_S = 10.0
CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_MESSAGE = 4400


async def _sender(ws: WebSocket, sub: Subscriber) -> None:
    while True:
        message = await sub.queue.get()
        await ws.send_text(json.dumps(message, default=str))


async def _handle(ws: WebSocket, sub: Subscriber, msg: dict[str, Any]) -> None:
    op = msg.get("op")
    if op == "ping":
        await ws.send_json({"op": "pong"})
        return
    if op in ("subscribe", "unsubscribe"):
        topics = msg.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            await ws.send_json({"op": "error", "message": "'topics' must be a list of names"})
            return
        unknown = sorted(set(topics) - set(TOPICS))
        if unknown:
            await ws.send_json(
                {"op": "error", "message": f"unknown topics {unknown}; known: {sorted(TOPICS)}"}
            )
            return
        if op == "subscribe":
            sub.topics |= set(topics)
        else:
            sub.topics -= set(topics)
        await ws.send_json({"op": "subscribed", "topics": sorted(sub.topics)})
        return
    await ws.send_json(
        {"op": "error", "message": f"unknown op {op!r}; known: subscribe, unsubscribe, ping"}
    )


@router.websocket("/ws")
async def websocket(ws: WebSocket) -> None:
    """Typed, versioned topics pushed to subscribed clients."""
    ctx = ws.app.state.ctx
    await ws.accept()
    try:
        first = json.loads(await asyncio.wait_for(ws.receive_text(), AUTH_TIMEOUT_S))
        if not isinstance(first, dict) or first.get("op") != "auth":
            raise ValueError("the first message must be {'op': 'auth', 'token': ...}")
        token = str(first.get("token") or "")
        principal = await asyncio.to_thread(credentials, ctx, f"Bearer {token}", None)
    except (AlphaloopError, ValueError, TypeError, TimeoutError, json.JSONDecodeError) as exc:
        reason = exc.message if isinstance(exc, AlphaloopError) else str(exc) or "timeout"
        with contextlib.suppress(Exception):
            await ws.send_json({"op": "error", "message": reason[:200]})
            await ws.close(CLOSE_UNAUTHORIZED, reason[:120])
        return
    except WebSocketDisconnect:
        return
    sub = Subscriber(principal.name)
    ctx.hub.add(sub)
    sender = asyncio.create_task(_sender(ws, sub))
    try:
        await ws.send_json(
            {"op": "ready", "user": principal.name, "role": principal.role.name, "topics": TOPICS}
        )
        while True:
            text = await ws.receive_text()
            try:
                msg = json.loads(text)
                if not isinstance(msg, dict):
                    raise ValueError
            except ValueError:
                await ws.send_json({"op": "error", "message": "messages must be JSON objects"})
                continue
            await _handle(ws, sub, msg)
    except WebSocketDisconnect:
        pass
    finally:
        ctx.hub.remove(sub)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender
