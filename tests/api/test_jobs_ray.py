"""Background jobs as Ray tasks on a local Ray instance: the same result as a local worker,
progress reported back to the job's row, and cancel (interrupt, then force; a research
job's session is then recorded interrupted)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from alphaloop.api.job_kinds import research_session_id
from alphaloop.api.jobs import FINAL_STATUSES, JobManager
from alphaloop.api.jobs_ray import resolve_backend
from alphaloop.app import Workspace
from alphaloop.errors import ConfigError

ray = pytest.importorskip("ray")

TIMEOUT_S = 240.0
FACTOR = {"expression": "Mean($close, 5) / $close", "data": "factor-etfs"}


def test_the_backend_is_ray_when_an_address_is_set() -> None:
    assert resolve_backend(None, None) == "local"
    assert resolve_backend(None, "ray://head:10001") == "ray"
    assert resolve_backend("local", "ray://head:10001") == "local"
    assert resolve_backend("ray", None) == "ray"
    with pytest.raises(ConfigError, match="unknown job backend 'dask'"):
        resolve_backend("dask", None)


def test_the_service_picks_its_job_backend(tmp_path) -> None:
    from alphaloop.api.app import create_app
    from alphaloop.api.errors import ServiceConfigError
    from alphaloop.settings import Settings
    from tests.api.conftest import make_settings

    ws = Workspace(tmp_path / "ws", settings=Settings(ray_address="ray://head:10001"))
    try:
        assert create_app(ws, make_settings(), run_jobs=False).state.ctx.jobs.backend == "ray"
        local = create_app(ws, make_settings(jobs="local"), run_jobs=False)
        assert local.state.ctx.jobs.backend == "local"
    finally:
        ws.close()
    with pytest.raises(ServiceConfigError, match="jobs"):
        make_settings(jobs="dask")


@pytest.fixture(scope="module")
def ray_jobs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JobManager, list]]:
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ws = Workspace(tmp_path_factory.mktemp("rayjobs") / "ws")
    jobs = JobManager(ws, workers=2, poll_s=0.1, backend="ray")
    seen: list[dict[str, Any]] = []
    jobs.listen(seen.append)
    jobs.start()
    yield jobs, seen
    jobs.stop()
    ws.close()
    if started:
        ray.shutdown()


def _wait(
    jobs: JobManager, job_id: int, until: set[str], *, session_noted: bool = False
) -> dict[str, Any]:
    """Until the job's status is in ``until`` (and, with ``session_noted``, its research
    session's id is noted or it has ended)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        job = jobs.get(job_id, with_result=True)
        noted = research_session_id(job) is not None or job["status"] in FINAL_STATUSES
        if job["status"] in until and (noted or not session_noted):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after {TIMEOUT_S} s")


@pytest.mark.slow
def test_a_factor_job_on_ray_gives_the_local_result_and_its_progress(ray_jobs, tmp_path) -> None:
    jobs, seen = ray_jobs
    job = jobs.submit("factor.evaluate", FACTOR, owner="res")
    done = _wait(jobs, job["id"], FINAL_STATUSES)
    assert done["status"] == "succeeded", done["error"]
    assert done["progress"] == {"step": "evaluating factor", "done": 1, "total": 1}
    deadline = time.monotonic() + 30  # the dispatcher's next look reports the final state
    while time.monotonic() < deadline and not any(
        d["id"] == job["id"] and d["status"] == "succeeded" for d in seen
    ):
        time.sleep(0.1)
    mine = [d for d in seen if d["id"] == job["id"]]
    assert mine
    assert mine[-1]["status"] == "succeeded"
    assert mine[-1]["progress"]["done"] == 1

    local_ws = Workspace(tmp_path / "ws")
    local = JobManager(local_ws, workers=1, poll_s=0.1)
    local.start()
    try:
        other = local.submit("factor.evaluate", FACTOR, owner="res")
        ref = local.wait(other["id"], timeout_s=TIMEOUT_S)
    finally:
        local.stop()
        local_ws.close()
    assert ref["status"] == "succeeded", ref["error"]
    assert done["result"] == ref["result"]
    assert 0 < done["result"]["factor"]["valid"] <= done["result"]["factor"]["cells"]


@pytest.mark.slow
def test_a_running_ray_job_is_cancelled(ray_jobs) -> None:
    jobs, _ = ray_jobs
    body = {"goal": "momentum on large caps", "data": "sp500-stocks",
            "config": {"budget": 5000}}  # fmt: skip
    job = jobs.submit("research", body, owner="res")
    deadline = time.monotonic() + TIMEOUT_S
    while job["id"] not in jobs._procs and time.monotonic() < deadline:
        time.sleep(0.05)  # the row says running a moment before the task is submitted
    task = jobs._procs[job["id"]]
    assert jobs.get(job["id"])["status"] == "running"
    noted = _wait(jobs, job["id"], {"running"} | FINAL_STATUSES, session_noted=True)
    session_id = research_session_id(noted)
    assert session_id is not None, noted
    assert jobs.cancel(job["id"])["status"] == "cancelled"
    deadline = time.monotonic() + 60
    while task.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not task.is_alive()  # the Ray task stopped
    assert task.exitcode == 1
    assert jobs.get(job["id"])["status"] == "cancelled"  # nothing overwrote it
    while job["id"] in jobs._procs and time.monotonic() < deadline:
        time.sleep(0.1)  # the dispatcher has seen the task end
    assert jobs.ws.strategies.session(session_id)["status"] == "interrupted"
