"""Background jobs as Ray tasks: the same rows, progress, results and cancel as local workers.

When the service is configured for Ray (``alphaloop serve --jobs ray``, or a
Ray address in the workspace settings: ``ALPHALOOP_RAY_ADDRESS``), each job
runs as one Ray task instead of a local process. The task opens the
workspace itself and writes its progress and its outcome to its
``service_jobs`` row exactly as a local worker does, so the database must be
reachable from the Ray workers (a local instance; on a cluster, PostgreSQL
and a workspace directory every node sees).

Cancelling a running task interrupts it first (``ray.cancel``: a
``KeyboardInterrupt`` in the task, as Ctrl-C) and forces it to stop
(``ray.cancel(force=True)``: its worker process is killed) after the grace
period; the row is marked ``cancelled`` at once either way.
"""

from __future__ import annotations

import contextlib
from typing import Any

from alphaloop.compute.ray_runtime import ray_runtime as start_ray
from alphaloop.errors import ConfigError

__all__ = ["JOB_BACKENDS", "RayJob", "ray_runtime", "resolve_backend"]

JOB_BACKENDS = ("local", "ray")
"""Where background jobs run."""


def resolve_backend(jobs: str | None, ray_address: str | None) -> str:
    """``jobs`` when given, else ``"ray"`` when a Ray address is configured, else ``"local"``.

    Raises
    ------
    ConfigError
        ``jobs`` is neither ``local`` nor ``ray``.
    """
    if jobs is None:
        return "ray" if ray_address else "local"
    if jobs not in JOB_BACKENDS:
        raise ConfigError(f"unknown job backend {jobs!r}; use one of {', '.join(JOB_BACKENDS)}")
    return jobs


def ray_runtime(address: str | None, workers: int) -> tuple[Any, bool]:
    """The ``ray`` module, initialised (a local instance of ``workers`` CPUs unless
    ``address`` names a cluster or Ray is already initialised), and whether it was
    started here (then the caller shuts it down).

    Raises
    ------
    ConfigError
        Ray is not installed or the cluster at ``address`` does not answer.
    """
    return start_ray(address, workers, missing="jobs on Ray need the ray package")


def _task(root: str, settings: dict[str, Any], job_id: int, kind: str) -> int:
    """The Ray task: run job ``job_id`` (its row holds the parameters) to its row."""
    from alphaloop.api.jobs import run_job

    run_job(root, settings, job_id, kind)
    return 0


class RayJob:
    """A running job's Ray task, seen as a worker process is (``is_alive``, ``join``,
    ``exitcode``, ``stop``)."""

    def __init__(self, ray: Any, root: str, settings: dict[str, Any], job_id: int, kind: str):
        self._ray = ray
        remote = ray.remote(num_cpus=1, max_retries=0)(_task)
        self.ref = remote.options(name=f"alphaloop-job-{job_id}").remote(
            root, settings, job_id, kind
        )
        self.pid: int | None = None

    def is_alive(self) -> bool:
        ready, _ = self._ray.wait([self.ref], timeout=0)
        return not ready

    def join(self, timeout: float | None = None) -> None:
        self._ray.wait([self.ref], timeout=timeout)

    @property
    def exitcode(self) -> int | None:
        """0 when the task returned, 1 when it raised or was cancelled, None while it runs."""
        if self.is_alive():
            return None
        try:
            self._ray.get(self.ref, timeout=0)
        except Exception:
            return 1
        return 0

    def start(self) -> None:
        """Submitted on creation; here for the process interface."""

    def stop(self, grace_s: float) -> None:
        """Interrupt the task; force it to stop after ``grace_s`` seconds."""
        if grace_s > 0:
            with contextlib.suppress(Exception):
                self._ray.cancel(self.ref, force=False)
            self.join(grace_s)
        if self.is_alive():
            with contextlib.suppress(Exception):
                self._ray.cancel(self.ref, force=True)
            self.join(5)
