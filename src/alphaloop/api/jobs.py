"""Background jobs: a local pool of worker processes, cancellable, with persisted status.

A job is a row of ``service_jobs`` (kind, parameters, owner, status,
progress, result). Statuses: ``queued`` -> ``running`` -> ``succeeded`` |
``failed`` | ``cancelled`` | ``interrupted``. Each running job is its own
process (``spawn``: CPU work runs beside the server, never in it), at most
``workers`` at once, started in submission order. The worker writes its
progress and its result to the row; the server's dispatcher thread reads
them every ``poll_s`` seconds and tells listeners (the WebSocket topic
``job``).

Nothing is lost on a restart: when a :class:`JobManager` starts, a job left
``running`` by a previous server is marked ``interrupted`` (never silently
dropped, never re-run behind the user's back: its work may have recorded
trials), and ``queued`` jobs run. Cancelling a running job terminates its
process (an interrupt first, as Ctrl-C, so the work records itself as
interrupted; killed after :data:`CANCEL_GRACE_S`) and marks it ``cancelled``.

However a job ends without finishing (cancelled, its worker killed or
crashed, interrupted by a restart or a stop of the server), the kind's
``after_stop`` hook (:data:`~alphaloop.api.job_kinds.AFTER_STOP`) runs in the
server: a research job's session still recorded ``running`` becomes
``interrupted``, even when the worker was killed before it could say so.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from alphaloop.api.errors import ConflictError, JobNotFoundError
from alphaloop.errors import AlphaloopError, UsageError
from alphaloop.jsonsafe import json_safe
from alphaloop.store import JobRow

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from alphaloop.app import Workspace

__all__ = ["FINAL_STATUSES", "JobManager", "job_dict"]

logger = logging.getLogger("alphaloop.api")

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
_PROGRESS_EVERY_S = 0.25


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def job_dict(row: JobRow, *, with_result: bool = False) -> dict[str, Any]:
    """A job as the API shows it (the result only when asked)."""
    doc: dict[str, Any] = {
        "id": row.id,
        "kind": row.kind,
        "status": row.status,
        "owner": row.owner,
        "params": row.params,
        "progress": row.progress or {},
        "error": row.error,
        "created_at": _iso(row.created_at),
        "started_at": _iso(row.started_at),
        "finished_at": _iso(row.finished_at),
    }
    if with_result:
        doc["result"] = row.result
    return doc


def _child_main(
    root: str, settings: dict[str, Any], job_id: int, kind: str, server_pid: int
) -> None:
    """The worker process: run job ``job_id`` and write its outcome to its row."""
    _own_group()
    _watch_parent(server_pid)  # before the heavy imports: the server may die meanwhile
    run_job(root, settings, job_id, kind)


def run_job(root: str, settings: dict[str, Any], job_id: int, kind: str) -> None:
    """Run job ``job_id`` of ``kind`` in the workspace at ``root`` and write its progress
    and outcome to its row (in a local worker process or a Ray task)."""
    import json
    import warnings

    from alphaloop.api.job_kinds import JOB_KINDS
    from alphaloop.app import Workspace
    from alphaloop.settings import Settings

    ws = Workspace(root, settings=Settings(**settings), create=False)
    progress = _RowProgress(ws, job_id)

    with ws.db.session() as s:
        params = dict(s.get(JobRow, job_id).params)  # type: ignore[union-attr]
    params["_job_dir"] = str(ws.root / "service" / "jobs" / str(job_id))
    status, result, error = "succeeded", None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = JOB_KINDS[kind](ws, params, progress)
        result = json.loads(json.dumps(json_safe(out), default=str, allow_nan=False))
    except AlphaloopError as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # a bug: the traceback goes to the worker's log
        traceback.print_exc()
        status, error = "failed", f"internal error ({type(exc).__name__}): {exc}"
    with ws.db.session() as s:
        s.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status == "running")
            .values(status=status, result=result, error=error, finished_at=_now())
        )
    ws.close()


CANCEL_GRACE_S = 10.0
"""Seconds a cancelled job's process has to stop after an interrupt, before it is killed."""


def _signal_group(proc: BaseProcess, sig: int) -> None:
    """Send ``sig`` to the worker's process group (it and the processes it started)."""

    if proc.pid is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError, OSError):
        with contextlib.suppress(ProcessLookupError, OSError):
            os.kill(proc.pid, sig)


def _stop_process(proc: BaseProcess, grace_s: float = CANCEL_GRACE_S) -> None:
    """Interrupt a worker and its own processes (SIGINT, as Ctrl-C: the work records what
    it was doing as interrupted); after ``grace_s`` terminate them, then kill what is left."""
    import signal

    stop = getattr(proc, "stop", None)
    if stop is not None:  # a Ray task (see alphaloop.api.jobs_ray)
        stop(grace_s)
        return
    if grace_s > 0:
        _signal_group(proc, signal.SIGINT)
        proc.join(grace_s)
    if proc.is_alive():
        proc.terminate()
        proc.join(5)
    _signal_group(proc, signal.SIGKILL)  # whatever the worker started and left behind
    proc.join(1)


def _own_group() -> None:
    """In a worker: lead a process group of its own, so that stopping the job stops the
    processes it started too (the server signals the group)."""

    if hasattr(os, "setpgrp"):
        os.setpgrp()


def _watch_parent(parent: int, every_s: float = 1.0) -> None:
    """In a worker: when the server that started it dies (even killed outright), the worker
    ends too (on Linux the kernel sends it SIGTERM at once; elsewhere a thread notices,
    interrupts the work as Ctrl-C and exits after the grace time); the next server marks
    the job interrupted. No orphan keeps computing for nobody."""

    import signal
    import sys

    if sys.platform.startswith("linux"):  # the kernel's own guard: needs no Python thread
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # died before the guard was set
            os._exit(1)

    def watch() -> None:  # elsewhere: look every `every_s` (needs the GIL now and then)
        while True:
            time.sleep(every_s)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(CANCEL_GRACE_S)
                os._exit(1)

    threading.Thread(target=watch, name="alphaloop-job-watchdog", daemon=True).start()


class _RowProgress:
    """A worker's progress, written to its job's row (at most every 0.25 s, and at the end
    of each stage); ``note`` adds a summary (``progress.detail``), written at once."""

    def __init__(self, ws: Workspace, job_id: int) -> None:
        self.ws, self.job_id = ws, job_id
        self.last = 0.0
        self.state: dict[str, Any] = {}

    def _write(self) -> None:
        with self.ws.db.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == self.job_id, JobRow.status == "running")
                .values(progress=json_safe(dict(self.state)))
            )

    def __call__(self, step: str, done: int, total: int | None = None) -> None:
        self.state.update(step=step, done=done, total=total)
        now = time.monotonic()
        if now - self.last < _PROGRESS_EVERY_S and (total is None or done < total):
            return
        self.last = now
        self._write()

    def note(self, detail: dict[str, Any]) -> None:
        self.state["detail"] = detail
        self._write()


Listener = Callable[[dict[str, Any]], None]


class JobManager:
    """Runs queued jobs in worker processes and keeps their rows up to date.

    Parameters
    ----------
    ws : Workspace
        The service's workspace (its database holds the jobs).
    workers : int
        Jobs run at once.
    poll_s : float
        Seconds between looks at the running jobs.
    kinds : collection of str
        Job kinds accepted (default: every kind of :data:`~alphaloop.api.job_kinds.JOB_KINDS`).
    backend : {"local", "ray"}, default "local"
        Where jobs run: local worker processes, or Ray tasks (see :mod:`alphaloop.api.jobs_ray`).
    ray_address : str, optional
        The Ray cluster for ``backend="ray"``; by default a local instance of ``workers``
        CPUs is started (unless Ray is already initialised) and shut down by :meth:`stop`.
    """

    def __init__(
        self,
        ws: Workspace,
        *,
        workers: int = 2,
        poll_s: float = 0.5,
        kinds: frozenset[str] | None = None,
        backend: str = "local",
        ray_address: str | None = None,
    ) -> None:
        from alphaloop.api.job_kinds import JOB_KINDS
        from alphaloop.api.jobs_ray import resolve_backend

        self.backend = resolve_backend(backend, None)
        self.ray_address = ray_address
        self._ray: Any = None
        self._ray_started = False

        self.ws = ws
        self.workers = workers
        self.poll_s = poll_s
        self.kinds = kinds if kinds is not None else frozenset(JOB_KINDS)
        self._procs: dict[int, Any] = {}  # a BaseProcess, or a RayJob
        self._seen: dict[int, tuple[str, str]] = {}
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._ctx = mp.get_context("spawn")
        self.interrupted_at_start = self._recover()

    # ----------------------------------------------------------- records
    def _recover(self) -> list[int]:
        """Mark jobs a previous server left running as interrupted; their ids."""
        with self.ws.db.session() as s:
            ids = list(s.scalars(select(JobRow.id).where(JobRow.status == "running")))
            if ids:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(ids))
                    .values(
                        status="interrupted",
                        error="the server stopped while the job ran; submit it again",
                        finished_at=_now(),
                    )
                )
        self._after_stop(ids)
        return ids

    def _after_stop(self, job_ids: list[int]) -> None:
        """Run the ``after_stop`` hook of each of these jobs that ended without finishing
        (a failing hook is logged; it never stops the caller)."""
        from alphaloop.api.job_kinds import AFTER_STOP

        if not job_ids:
            return
        with self.ws.db.session() as s:
            rows = list(s.scalars(select(JobRow).where(JobRow.id.in_(job_ids))))
            docs = [job_dict(r) for r in rows]
        for doc in docs:
            hook = AFTER_STOP.get(doc["kind"])
            if hook is None or doc["status"] not in FINAL_STATUSES - {"succeeded"}:
                continue
            try:
                hook(self.ws, doc)
            except Exception:
                logger.exception("after-stop hook of job %s (%s) failed", doc["id"], doc["kind"])

    def listen(self, fn: Listener) -> None:
        """Call ``fn(job)`` whenever a job's status or progress changes."""
        self._listeners.append(fn)

    def submit(self, kind: str, params: dict[str, Any], owner: str) -> dict[str, Any]:
        """Queue a job; the job as stored."""
        if kind not in self.kinds:
            raise UsageError(f"unknown job kind {kind!r}", hint=f"known: {sorted(self.kinds)}")
        with self.ws.db.session() as s:
            row = JobRow(
                kind=kind,
                params=json_safe(params),
                status="queued",
                owner=owner,
                progress={},
                created_at=_now(),
            )
            s.add(row)
            s.flush()
            doc = job_dict(row)
        self._seen[doc["id"]] = ("", "")
        self._wake.set()
        return doc

    def get(self, job_id: int, *, with_result: bool = False) -> dict[str, Any]:
        with self.ws.db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise JobNotFoundError(f"no job with id {job_id}", hint="see GET /api/v1/jobs")
            return job_dict(row, with_result=with_result)

    def list(
        self, *, status: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        q = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if status:
            q = q.where(JobRow.status == status)
        if kind:
            q = q.where(JobRow.kind == kind)
        with self.ws.db.session() as s:
            return [job_dict(r) for r in s.scalars(q)]

    def cancel(self, job_id: int) -> dict[str, Any]:
        """Cancel a queued or running job (a finished one is left as it is: 409)."""
        job = self.get(job_id)
        if job["status"] in FINAL_STATUSES:
            raise ConflictError(f"job {job_id} has already ended ({job['status']})")
        with self._lock:
            self._seen[job_id] = ("", "")
            proc = self._procs.get(job_id)  # reaped by `step` once it has ended
            with self.ws.db.session() as s:
                s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status.in_(["queued", "running"]))
                    .values(status="cancelled", finished_at=_now(), error="cancelled")
                )
        self._after_stop([job_id])  # once more when its worker has ended (see `step`)
        if proc is not None and proc.is_alive():
            threading.Thread(target=_stop_process, args=(proc,), name=f"stop-job-{job_id}").start()
        self._wake.set()
        return self.get(job_id)

    # ---------------------------------------------------------- running
    def start(self) -> None:
        """Start the dispatcher thread (idempotent)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="alphaloop-jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop dispatching; running jobs are terminated and marked interrupted."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        with self._lock:
            procs, self._procs = self._procs, {}
        for job_id, proc in procs.items():
            _stop_process(proc, grace_s=0)
            self._mark_interrupted(job_id)
        self._after_stop(list(procs))
        if self._ray_started:
            self._ray.shutdown()
            self._ray, self._ray_started = None, False

    def _mark_interrupted(self, job_id: int) -> None:
        with self.ws.db.session() as s:
            s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running")
                .values(
                    status="interrupted",
                    error="the server stopped while the job ran; submit it again",
                    finished_at=_now(),
                )
            )

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:
                logger.exception("job dispatcher step failed")
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def step(self) -> None:
        """One look: reap ended workers, start queued jobs, report changes."""
        reaped: list[int] = []
        with self._lock:
            for job_id, proc in list(self._procs.items()):
                if not proc.is_alive():
                    proc.join()
                    del self._procs[job_id]
                    reaped.append(job_id)
                    with self.ws.db.session() as s:
                        s.execute(
                            update(JobRow)
                            .where(JobRow.id == job_id, JobRow.status == "running")
                            .values(
                                status="failed",
                                error=f"the worker process ended with code {proc.exitcode}",
                                finished_at=_now(),
                            )
                        )
            free = self.workers - len(self._procs)
            if free > 0 and not self._stop.is_set():
                with self.ws.db.session() as s:
                    queued = list(
                        s.scalars(
                            select(JobRow)
                            .where(JobRow.status == "queued")
                            .order_by(JobRow.id)
                            .limit(free)
                        )
                    )
                    for row in queued:
                        row.status, row.started_at = "running", _now()
                    starts = [(r.id, r.kind) for r in queued]
                for job_id, kind in starts:
                    if self.backend == "ray":
                        self._procs[job_id] = self._ray_job(job_id, kind)
                        continue
                    proc = self._ctx.Process(
                        target=_child_main,
                        args=(
                            str(self.ws.root),
                            self.ws.settings.model_dump(),
                            job_id,
                            kind,
                            os.getpid(),
                        ),
                        name=f"alphaloop-job-{job_id}",
                        daemon=False,  # a job may start processes of its own (research)
                    )
                    proc.start()
                    self._procs[job_id] = proc
        self._after_stop(reaped)  # the worker is gone: nothing it writes can follow
        self._report()

    def _ray_job(self, job_id: int, kind: str) -> Any:
        from alphaloop.api.jobs_ray import RayJob, ray_runtime

        if self._ray is None:
            self._ray, self._ray_started = ray_runtime(self.ray_address, self.workers)
        return RayJob(self._ray, str(self.ws.root), self.ws.settings.model_dump(), job_id, kind)

    def _report(self) -> None:
        if not self._listeners:
            return
        with self.ws.db.session() as s:
            ids = set(self._procs) | set(self._seen)
            rows = list(s.scalars(select(JobRow).where(JobRow.id.in_(ids)))) if ids else []
            docs = [job_dict(r) for r in rows]
        for doc in docs:
            mark = (doc["status"], repr(doc["progress"]))
            if self._seen.get(doc["id"]) != mark:
                self._seen[doc["id"]] = mark
                for fn in self._listeners:
                    fn(doc)
            if doc["status"] in FINAL_STATUSES:
                self._seen.pop(doc["id"], None)

    def wait(self, job_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
        """Block until the job ends (for scripts and tests); the job with its result."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job = self.get(job_id)
            if job["status"] in FINAL_STATUSES:
                return self.get(job_id, with_result=True)
            time.sleep(0.1)
        return self.get(job_id, with_result=True)
