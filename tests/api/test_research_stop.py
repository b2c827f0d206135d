"""Stopping a research session: the stop route cancels its job, and however a research job
ends without finishing (stop, cancel, a killed worker, a restart) its session is recorded
``interrupted``, never left ``running``; a finished session is never changed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alphaloop.api.app import create_app
from alphaloop.api.job_kinds import research_after_stop, research_session_id
from alphaloop.api.jobs import FINAL_STATUSES, JobManager
from alphaloop.api.users import UserStore
from alphaloop.app import Workspace
from alphaloop.app.governance import governance
from alphaloop.store import JobRow
from tests.api.conftest import PASSWORD, login, make_settings

TIMEOUT_S = 240.0
# a budget no test waits for: the session is still running when it is stopped
LONG = {"goal": "momentum on large caps", "data": "sp500-stocks", "budget": 5000, "seed": 3}


@dataclass
class Running:
    """A service that runs jobs, with a researcher's and a viewer's credentials."""

    client: TestClient
    ws: Workspace
    headers: dict[str, dict[str, str]]

    def job(self, job_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/jobs/{job_id}", headers=self.headers["res"])
        return r.json()  # type: ignore[no-any-return]

    def session(self, session_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/research/sessions/{session_id}", headers=self.headers["res"])
        return r.json()  # type: ignore[no-any-return]

    def stop(self, session_id: int, body: dict[str, Any], user: str = "res") -> Any:
        url = f"/api/v1/research/sessions/{session_id}/stop"
        return self.client.post(url, json=body, headers=self.headers[user])


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    ws = Workspace(tmp_path_factory.mktemp("rstop") / "ws")
    users = UserStore(ws.db)
    users.add("res", PASSWORD, "researcher")
    users.add("viewer", PASSWORD, "viewer")
    app = create_app(ws, make_settings(workers=2, job_poll_s=0.1))
    with TestClient(app) as client:
        headers = {
            name: {"Authorization": f"Bearer {login(client, name)['access_token']}"}
            for name in ("res", "viewer")
        }
        yield Running(client, ws, headers)
    ws.close()


def _wait_job(get: Any, job_id: int, ok: Any, what: str) -> dict[str, Any]:
    """Poll ``get(job_id)`` until ``ok(job)``."""
    deadline = time.monotonic() + TIMEOUT_S
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = get(job_id)
        if ok(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id}: {what} not seen after {TIMEOUT_S} s: {job}")


def _wait_reaped(jobs: JobManager, job_id: int) -> None:
    """Until the manager has seen the job's worker end (and run its after-stop hook)."""
    deadline = time.monotonic() + TIMEOUT_S
    while job_id in jobs._procs and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job_id not in jobs._procs, f"the worker of job {job_id} did not end"


def _session_noted(job: dict[str, Any]) -> bool:
    return research_session_id(job) is not None or job["status"] in FINAL_STATUSES


@pytest.mark.slow
def test_a_running_session_is_stopped_through_its_job(running: Running) -> None:
    svc = running
    r = svc.client.post(
        "/api/v1/research/sessions", json={**LONG, "reason": "look"}, headers=svc.headers["res"]
    )
    job = r.json()
    noted = _wait_job(svc.job, job["id"], _session_noted, "the session id")
    assert noted["status"] == "running", noted
    session_id = research_session_id(noted)
    assert session_id is not None
    assert svc.session(session_id)["status"] == "running"

    assert svc.stop(session_id, {"reason": "x"}, user="viewer").status_code == 403
    no_reason = svc.stop(session_id, {})
    assert no_reason.status_code == 422
    assert "reason" in no_reason.json()["error"]["message"]
    assert svc.job(job["id"])["status"] == "running"  # neither refusal stopped anything

    r = svc.stop(session_id, {"reason": "the budget is too large"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["job"]["id"] == job["id"]
    assert body["job"]["status"] == "cancelled"
    assert body["session"]["id"] == session_id
    assert body["session"]["status"] == "interrupted"

    entry = governance(svc.ws).audit.entries(action="api.research.stop")[-1].to_dict()
    assert entry["actor"] == "res"
    assert entry["subject"] == f"research:{session_id}"
    assert entry["payload"]["reason"] == "the budget is too large"
    assert entry["payload"]["job"] == job["id"]

    _wait_reaped(svc.client.app.state.ctx.jobs, job["id"])  # type: ignore[attr-defined]
    assert svc.job(job["id"])["status"] == "cancelled"
    assert svc.session(session_id)["status"] == "interrupted"  # nothing wrote over it

    again = svc.stop(session_id, {"reason": "again"})
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["type"] == "ConflictError"
    assert "interrupted, not running" in error["message"]
    assert f"research resume {session_id}" in error["hint"]


def test_an_unknown_session_is_404(running: Running) -> None:
    r = running.stop(999999, {"reason": "x"})
    assert r.status_code == 404
    assert "999999" in r.json()["error"]["message"]


def _stored_session(ws: Workspace, status: str = "running") -> int:
    session_id = ws.strategies.create_session("sp500-stocks", "momentum", {}, {}, [])
    if status != "running":
        ws.strategies.update_session(session_id, status=status)
    return session_id


def test_a_session_running_elsewhere_says_where_to_stop_it(running: Running) -> None:
    ws = running.ws
    session_id = _stored_session(ws)  # as `alphaloop research` in a shell records it
    r = running.stop(session_id, {"reason": "x"})
    assert r.status_code == 409
    error = r.json()["error"]
    assert "not in a job of this service" in error["message"]
    assert "Ctrl-C" in error["hint"]
    assert "SIGINT" in error["hint"]
    assert ws.strategies.session(session_id)["status"] == "running"  # left alone


def _research_row(ws: Workspace, jobs: JobManager, session_id: int | None) -> int:
    """A research job recorded as running (its worker gone with the previous server)."""
    job = jobs.submit("research", {"goal": "momentum", "data": "sp500-stocks"}, "res")
    with ws.db.session() as s:
        row = s.get(JobRow, job["id"])
        assert row is not None
        row.status = "running"
        if session_id is not None:
            row.progress = {"step": "research", "detail": {"session_id": session_id}}
    return int(job["id"])


def test_a_restart_leaves_the_sessions_of_interrupted_jobs_interrupted(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    UserStore(ws.db).add("viewer", PASSWORD, "viewer")
    first = JobManager(ws, workers=1)
    alive = _stored_session(ws)
    finished = _stored_session(ws, "finished")
    failed = _stored_session(ws, "failed")
    elsewhere = _stored_session(ws)  # running, but in no job of the service
    jobs = [_research_row(ws, first, sid) for sid in (alive, finished, failed)]
    early = _research_row(ws, first, None)  # stopped before its session was stored

    app = create_app(ws, make_settings(), run_jobs=False)  # the next server starts
    assert sorted(app.state.ctx.jobs.interrupted_at_start) == sorted([*jobs, early])
    status = {sid: ws.strategies.session(sid)["status"] for sid in (alive, finished, failed)}
    assert status == {alive: "interrupted", finished: "finished", failed: "failed"}
    assert ws.strategies.session(elsewhere)["status"] == "running"
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {login(client, 'viewer')['access_token']}"}
        shown = client.get(f"/api/v1/research/sessions/{alive}", headers=headers).json()
        assert shown["status"] == "interrupted"  # its job ended: not shown as running
        job = client.get(f"/api/v1/jobs/{jobs[0]}", headers=headers).json()
        assert job["status"] == "interrupted"
    ws.close()


def test_the_hook_never_changes_a_session_that_ended(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    try:
        ids = {s: _stored_session(ws, s) for s in ("running", "finished", "failed", "interrupted")}
        for sid in ids.values():
            research_after_stop(
                ws, {"kind": "research", "progress": {"detail": {"session_id": sid}}}
            )
        after = {s: ws.strategies.session(sid)["status"] for s, sid in ids.items()}
        assert after == {
            "running": "interrupted",
            "finished": "finished",
            "failed": "failed",
            "interrupted": "interrupted",
        }
        assert ws.strategies.interrupt_session(ids["finished"]) is False
        other = _stored_session(ws)
        research_after_stop(ws, {"kind": "research", "progress": {}})  # no session noted yet
        research_after_stop(ws, {"kind": "backtest", "progress": {"detail": {"session_id": other}}})
        assert ws.strategies.session(other)["status"] == "running"
    finally:
        ws.close()


def test_the_session_id_of_a_job_is_read_from_its_note_only() -> None:
    def job(kind: str, detail: Any) -> dict[str, Any]:
        return {"kind": kind, "progress": {"detail": detail}}

    assert research_session_id(job("research", {"session_id": 7, "batch": 2})) == 7
    assert research_session_id(job("research", {"session_id": "7"})) is None
    assert research_session_id(job("research", {"session_id": True})) is None
    assert research_session_id(job("research", None)) is None
    assert research_session_id(job("validate", {"session_id": 7})) is None
    assert research_session_id({"kind": "research", "progress": None}) is None


@pytest.mark.slow
def test_a_killed_worker_leaves_its_session_interrupted(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    jobs = JobManager(ws, workers=1, poll_s=0.1)
    jobs.start()
    try:
        config = {"budget": 5000, "batch_size": 8, "seed": 3, "workers": 1}
        job = jobs.submit("research", {"goal": LONG["goal"], "data": "sp500-stocks",
                                       "config": config}, "res")  # fmt: skip
        noted = _wait_job(jobs.get, job["id"], _session_noted, "the session id")
        assert noted["status"] == "running", noted
        session_id = research_session_id(noted)
        assert session_id is not None
        assert ws.strategies.session(session_id)["status"] == "running"
        pid = jobs._procs[job["id"]].pid
        os.kill(pid, signal.SIGKILL)  # no chance to record anything itself
        done = _wait_job(jobs.get, job["id"], lambda j: j["status"] in FINAL_STATUSES, "the end")
        _wait_reaped(jobs, job["id"])
        assert done["status"] == "failed"
        assert "code -9" in done["error"]
        assert ws.strategies.session(session_id)["status"] == "interrupted"
    finally:
        jobs.stop()
        ws.close()
