"""Background jobs: run in worker processes, report progress, cancel, survive a restart."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alphaloop.api.app import create_app
from alphaloop.api.jobs import FINAL_STATUSES, JobManager
from alphaloop.api.users import UserStore
from alphaloop.app import Workspace
from tests.api.conftest import PASSWORD, login, make_settings

SPEC = {
    "name": "api-momentum",
    "data": "sp500-stocks",
    "signal": {"expr": "$close / Ref($close, 20) - 1"},
    "portfolio": {"method": "top_k", "k": 3},
    "fills": "next_close",
    "start": "2010-01-01",
    "end": "2011-12-31",
}
TIMEOUT_S = 240.0


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, dict, Workspace]]:
    ws = Workspace(tmp_path_factory.mktemp("jobs") / "ws")
    UserStore(ws.db).add("res", PASSWORD, "researcher")
    app = create_app(ws, make_settings(workers=2, job_poll_s=0.1))
    with TestClient(app) as client:
        token = login(client, "res")["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}, ws
    ws.close()


def _wait(client: TestClient, headers: dict, job_id: int, until: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in until:
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {TIMEOUT_S} s")


@pytest.mark.slow
def test_a_backtest_job_runs_records_a_trial_and_has_a_tearsheet(running: Any) -> None:
    client, headers, _ = running
    r = client.post("/api/v1/backtests", json={"spec": SPEC, "reason": "check"}, headers=headers)
    assert r.status_code == 202
    job = r.json()
    assert (job["status"], job["kind"], job["owner"]) == ("queued", "backtest", "res")
    done = _wait(client, headers, job["id"], FINAL_STATUSES)
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"]["step"] == "backtest"
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=headers).json()["result"]
    assert result["assumptions"]["fills"]["timing"] == "next_close"
    assert result["assumptions"]["costs"]["source"] == "preset"  # costs on
    assert result["n_trials"] >= 1
    page = client.get(f"/api/v1/jobs/{job['id']}/tearsheet", headers=headers)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "api-momentum" in page.text
    runs = client.get("/api/v1/runs", params={"kind": "backtest"}, headers=headers).json()
    assert runs["runs"]
    top = client.get("/api/v1/strategies/top", headers=headers).json()["strategies"]
    assert top
    assert all(row["n_trials"] >= 1 for row in top)  # every Sharpe with its trial count
    cancel = client.post(f"/api/v1/jobs/{job['id']}/cancel", json={}, headers=headers)
    assert cancel.status_code == 409  # it has ended


def test_a_running_job_can_be_cancelled(running: Any) -> None:
    client, headers, _ = running
    body = {"goal": "momentum on large caps", "data": "sp500-stocks", "budget": 5000}
    job = client.post("/api/v1/research/sessions", json=body, headers=headers).json()
    _wait(client, headers, job["id"], {"running"} | FINAL_STATUSES)
    r = client.post(f"/api/v1/jobs/{job['id']}/cancel", json={"reason": "enough"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"
    time.sleep(0.5)  # the worker is gone: nothing overwrites the status
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=headers).json()["status"] == "cancelled"
    assert client.get(f"/api/v1/jobs/{job['id']}/tearsheet", headers=headers).status_code == 404


def test_a_factor_job_reports_progress_and_its_result(running: Any) -> None:
    client, headers, _ = running
    body = {"expression": "Mean($close, 5) / $close", "data": "factor-etfs", "reason": "look"}
    job = client.post("/api/v1/factors/evaluate", json=body, headers=headers).json()
    done = _wait(client, headers, job["id"], FINAL_STATUSES)
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == {"step": "evaluating factor", "done": 1, "total": 1}
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=headers).json()["result"]
    assert 0 < result["factor"]["valid"] <= result["factor"]["cells"]
    assert result["dataset"] == "factor-etfs"
    listed = client.get("/api/v1/jobs", params={"kind": "factor.evaluate"}, headers=headers)
    assert job["id"] in [j["id"] for j in listed.json()["jobs"]]


def test_a_failing_job_says_why(running: Any) -> None:
    client, headers, _ = running
    body = {"expression": "$close", "data": "no-such-dataset"}
    job = client.post("/api/v1/factors/evaluate", json=body, headers=headers).json()
    done = _wait(client, headers, job["id"], FINAL_STATUSES)
    assert done["status"] == "failed"
    assert "DatasetNotFoundError" in done["error"]


def test_a_restart_marks_running_jobs_interrupted_and_keeps_queued_ones(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    first = JobManager(ws, workers=1)
    a = first.submit("backtest", {"spec": SPEC}, "res")
    b = first.submit("backtest", {"spec": SPEC}, "res")
    from alphaloop.store import JobRow

    with ws.db.session() as s:  # the server died while job a ran
        s.get(JobRow, a["id"]).status = "running"  # type: ignore[union-attr]
    second = JobManager(ws, workers=1)
    assert second.interrupted_at_start == [a["id"]]
    after = second.get(a["id"])
    assert after["status"] == "interrupted"
    assert "submit it again" in after["error"]
    assert second.get(b["id"])["status"] == "queued"  # still to run, not lost
    ws.close()


@pytest.mark.slow
def test_a_research_session_streams_its_batches(running: Any) -> None:
    client, headers, _ = running
    token = headers["Authorization"].split()[1]
    with client.websocket_connect("/api/v1/ws") as sock:
        sock.send_json({"op": "auth", "token": token})
        sock.receive_json()
        sock.send_json({"op": "subscribe", "topics": ["research"]})
        sock.receive_json()
        body = {
            "goal": "momentum on large caps",
            "data": "sp500-stocks",
            "budget": 4,
            "batch_size": 2,
            "seed": 7,
        }
        job = client.post("/api/v1/research/sessions", json=body, headers=headers).json()
        news = []
        while not news or news[-1]["data"]["status"] not in FINAL_STATUSES:
            msg = sock.receive_json()
            if msg["data"]["job"] == job["id"]:
                news.append(msg)
    assert news[-1]["data"]["status"] == "succeeded", news[-1]
    details = [m["data"]["progress"].get("detail") for m in news]
    batches = [d for d in details if d]
    assert batches, "no batch summary was streamed"
    assert batches[-1]["evaluated"] <= 4
    assert set(batches[-1]) >= {"passed", "rejections", "best"}
    result = client.get(f"/api/v1/jobs/{job['id']}/result", headers=headers).json()["result"]
    assert {d["session_id"] for d in batches} == {result["session_id"]}  # named in every note
    session = client.get(
        f"/api/v1/research/sessions/{result['session_id']}", headers=headers
    ).json()
    assert session["id"] == result["session_id"]
    report = client.get(
        f"/api/v1/research/sessions/{result['session_id']}/report", headers=headers
    ).json()
    assert report["n_trials"] >= batches[-1]["evaluated"]


def test_risk_and_monitor_jobs_check_their_input_first(running: Any) -> None:
    client, headers, _ = running
    r = client.post("/api/v1/models/monitor", json={"ref": "no-such-model"}, headers=headers)
    assert r.status_code == 404
    bad = {"spec": {"name": "x", "data": "sp500-stocks"}, "confidence": 0.99}
    r = client.post("/api/v1/risk/reports", json=bad, headers=headers)
    assert r.status_code == 422
    r = client.post("/api/v1/risk/reports", json={"spec": SPEC, "confidence": 1.5}, headers=headers)
    assert r.status_code == 422
    assert "confidence" in r.json()["error"]["message"]
