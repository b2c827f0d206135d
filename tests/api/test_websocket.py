"""The WebSocket: token first, typed versioned topics, subscribe and unsubscribe."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from alphaloop.api.hub import TOPICS
from tests.api.conftest import Service


def test_no_valid_token_no_stream(service: Service) -> None:
    with service.client.websocket_connect("/api/v1/ws") as ws:
        ws.send_json({"op": "auth", "token": "not-a-token"})
        assert ws.receive_json()["op"] == "error"
        with pytest.raises(WebSocketDisconnect) as info:
            ws.receive_json()
        assert info.value.code == 4401
    with service.client.websocket_connect("/api/v1/ws") as ws:
        ws.send_json({"op": "subscribe", "topics": ["pnl"]})  # no auth first
        assert "auth" in ws.receive_json()["message"]


def test_subscribers_get_typed_messages_of_their_topics_only(service: Service) -> None:
    with service.client.websocket_connect("/api/v1/ws") as ws:
        ws.send_json({"op": "auth", "token": service.tokens["viewer"]})
        ready = ws.receive_json()
        assert ready == {"op": "ready", "user": "viewer", "role": "viewer", "topics": TOPICS}
        ws.send_json({"op": "subscribe", "topics": ["risk", "nonsense"]})
        assert "nonsense" in ws.receive_json()["message"]
        ws.send_json({"op": "subscribe", "topics": ["risk", "approvals"]})
        assert ws.receive_json() == {"op": "subscribed", "topics": ["approvals", "risk"]}
        ws.send_json({"op": "unsubscribe", "topics": ["approvals"]})
        assert ws.receive_json() == {"op": "subscribed", "topics": ["risk"]}
        r = service.client.post(
            "/api/v1/risk/kill",
            json={"scope": "strategy", "target": "abc123", "reason": "ws test"},
            headers=service.headers("trader"),
        )
        assert r.status_code == 200
        msg = ws.receive_json()  # the kill switch's own audit entry, read by the watcher
        assert (msg["topic"], msg["version"]) == ("risk", TOPICS["risk"])
        assert msg["seq"] >= 1
        assert (msg["data"]["action"], msg["data"]["actor"]) == ("kill.set", "trader")
        assert msg["data"]["payload"]["target"] == "abc123"
        # an approval asked for by a gate (not through the service) reaches the queue's viewers
        from alphaloop.app.governance import governance

        fields = {"asset": "MSFT", "side": "sell", "quantity": 5.0}
        pending = governance(service.ws).approvals.request(fields, actor="gate")
        ws.send_json({"op": "subscribe", "topics": ["approvals"]})
        assert ws.receive_json()["op"] == "subscribed"
        news = ws.receive_json()
        assert news["topic"] == "approvals"
        assert news["data"]["action"] == "approval.requested"
        assert str(pending.id) in news["data"]["subject"]
        ws.send_json({"op": "ping"})
        assert ws.receive_json() == {"op": "pong"}
        service.client.post(
            "/api/v1/risk/kill",
            json={"scope": "strategy", "target": "abc123", "clear": True, "reason": "done"},
            headers=service.headers("trader"),
        )
        assert ws.receive_json()["data"]["action"] == "kill.cleared"
