"""Every mutating call lands in the audit chain (actor, action, target, reason); the chain
stays verifiable; kill switch, policy and approvals through the API."""

from __future__ import annotations

from alphaloop.app.governance import governance
from tests.api.conftest import Service


def _last(service: Service) -> dict:
    return governance(service.ws).audit.entries(limit=1)[0].to_dict()


def test_kill_switch_set_and_clear_are_audited(service: Service) -> None:
    h = service.headers("trader")
    r = service.client.post(
        "/api/v1/risk/kill", json={"scope": "all", "reason": "drawdown breach"}, headers=h
    )
    assert r.status_code == 200
    assert [k["reason"] for k in r.json()["active"]] == ["drawdown breach"]
    entry = _last(service)
    assert entry["actor"] == "trader"
    assert entry["action"] == "api.risk.kill"
    assert entry["subject"] == "kill:all:"
    assert entry["payload"]["reason"] == "drawdown breach"
    # the kill switch's own record names the API user too
    assert service.client.get("/api/v1/risk/kill", headers=h).json()["active"][0]["actor"] == (
        "trader"
    )
    r = service.client.post(
        "/api/v1/risk/kill", json={"clear": True, "reason": "limits reset"}, headers=h
    )
    assert r.json()["active"] == []
    verify = service.client.get("/api/v1/audit/verify", headers=service.headers("viewer"))
    assert verify.json()["ok"] is True


def test_a_failed_call_is_not_audited_as_done(service: Service) -> None:
    before = governance(service.ws).audit.count()
    r = service.client.put(
        "/api/v1/policy/mode",
        json={"mode": "no-such-mode", "reason": "try"},
        headers=service.headers("admin"),
    )
    assert 400 <= r.status_code < 500
    assert governance(service.ws).audit.count() == before


def test_policy_mode_change_is_audited_with_its_reason(service: Service) -> None:
    modes = service.client.get("/api/v1/policy", headers=service.headers("viewer")).json()
    other = next(m for m in modes["modes"] if m != modes["mode"])
    r = service.client.put(
        "/api/v1/policy/mode",
        json={"mode": other, "reason": "volatility regime"},
        headers=service.headers("admin"),
    )
    assert r.status_code == 200
    assert r.json()["policy"]["mode"] == other
    entry = _last(service)
    assert (entry["actor"], entry["action"]) == ("admin", "api.policy.set_mode")
    assert entry["payload"]["reason"] == "volatility regime"
    service.client.put(
        "/api/v1/policy/mode",
        json={"mode": modes["mode"], "reason": "back"},
        headers=service.headers("admin"),
    )


def test_approvals_are_decided_through_the_api(service: Service) -> None:
    queue = governance(service.ws).approvals
    fields = {"asset": "AAPL", "side": "buy", "quantity": 10.0, "session": "s1", "strategy": "x"}
    pending = queue.request(fields, actor="system")
    listed = service.client.get(
        "/api/v1/approvals", params={"status": "pending"}, headers=service.headers("viewer")
    ).json()["approvals"]
    assert pending.id in [a["id"] for a in listed]
    r = service.client.post(
        f"/api/v1/approvals/{pending.id}/reject", json={}, headers=service.headers("trader")
    )
    assert r.status_code == 422  # a rejection needs a reason
    r = service.client.post(
        f"/api/v1/approvals/{pending.id}/approve",
        json={"reason": "checked size"},
        headers=service.headers("trader"),
    )
    assert r.status_code == 200
    assert r.json()["status"] == "approved"
    assert r.json()["decided_by"] == "trader"
    entry = _last(service)
    assert entry["subject"] == f"approval:{pending.id}"
    assert entry["action"] == "api.approvals.approve"
    again = service.client.post(
        f"/api/v1/approvals/{pending.id}/approve", json={}, headers=service.headers("trader")
    )
    assert 400 <= again.status_code < 500


def test_bad_input_is_a_clear_4xx(service: Service) -> None:
    h = service.headers("admin")
    r = service.client.post("/api/v1/risk/kill", json={"scope": "moon", "reason": "x"}, headers=h)
    assert r.status_code == 422
    assert "scope" in r.json()["error"]["message"]
    r = service.client.post("/api/v1/risk/kill", content=b"{not json", headers=h)
    assert r.status_code == 422
    r = service.client.get("/api/v1/datasets/no-such-dataset", headers=h)
    assert r.status_code == 404
    assert r.json()["error"]["type"] == "DatasetNotFoundError"
    r = service.client.get("/api/v1/jobs/0", headers=h)
    assert r.status_code == 422
    r = service.client.post(
        "/api/v1/backtests", json={"spec": {"name": "x", "data": "sp500-stocks"}}, headers=h
    )
    assert r.status_code == 422  # a spec without a signal fails at once, not as a job
    assert r.json()["error"]["type"] == "SpecError"
    r = service.client.post(
        "/api/v1/factors/evaluate",
        json={"expression": "Mean($close,", "data": "sp500-stocks"},
        headers=h,
    )
    assert r.status_code == 422
    assert r.json()["error"]["type"] == "ExpressionError"
    r = service.client.post("/api/v1/risk/kill", json={"reason": "x", "extra": 1}, headers=h)
    assert r.status_code == 422
    assert "extra" in r.json()["error"]["message"]


def test_metrics_count_requests_by_route_template(service: Service) -> None:
    h = service.headers("viewer")
    service.client.get("/api/v1/jobs/424242", headers=h)
    text = service.client.get("/api/v1/metrics", headers=h).text
    assert 'route="/api/v1/jobs/{job_id}",status="404"' in text
    assert "424242" not in text  # templates, never raw paths
    assert "alphaloop_ws_clients" in text
    assert "alphaloop_http_request_seconds_bucket" in text


def test_holdouts_and_lifecycle_moves_answer_clearly(service: Service) -> None:
    h = service.headers("admin")
    holdouts = service.client.get("/api/v1/holdouts", headers=h)
    assert holdouts.status_code == 200
    assert isinstance(holdouts.json()["holdouts"], list)
    r = service.client.post(
        "/api/v1/lifecycle/abcdef12", json={"action": "promote", "reason": "ready"}, headers=h
    )
    assert r.status_code == 422  # promote needs its stage
    assert "shadow or live" in r.json()["error"]["message"]
    r = service.client.post(
        "/api/v1/lifecycle/abcdef12",
        json={"action": "promote", "to": "shadow", "reason": "ready"},
        headers=h,
    )
    assert r.status_code == 404  # no such strategy
