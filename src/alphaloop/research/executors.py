"""Run candidate evaluations in this process, in a local process pool, or on Ray.

Every executor maps :func:`~alphaloop.research.evaluate.evaluate_candidate`
over a batch of specs with one :class:`~alphaloop.research.evaluate.EvalContext`
and returns the results in input order. The context (the search-span panel,
megabytes) is shipped to each worker once, when the executor starts; a
batch then sends only specs and receives results, in chunks of several
candidates per message to amortize the round trip. Evaluation is
deterministic, so every executor gives the same results for the same
inputs, bit for bit (timings aside).

- :class:`LocalExecutor` with ``workers=1`` evaluates in this process;
  with more, a :class:`concurrent.futures.ProcessPoolExecutor` whose workers
  start with ``spawn`` (or ``forkserver``: no fork of a process holding
  threads or a database connection) and receive the context in their
  initializer.
- :class:`RayExecutor` connects to a Ray cluster (``address``) or starts a
  local one with ``num_cpus=workers``, puts the context in the object store
  once and starts ``workers`` actors that each hold it.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Literal, Protocol

from alphaloop.backtest.spec import StrategySpec
from alphaloop.errors import ConfigError
from alphaloop.research.evaluate import CandidateResult, EvalContext, evaluate_candidate

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "evaluate_chunk", "make_executor"]

ExecutorKind = Literal["local", "ray"]

_WORKER: dict[str, EvalContext] = {}
"""The context of this worker process (key ``"ctx"``), set once by :func:`_init_worker`."""


def _init_worker(ctx: EvalContext) -> None:
    _WORKER["ctx"] = ctx


def evaluate_chunk(specs: Sequence[StrategySpec]) -> list[CandidateResult]:
    """Evaluate specs with this worker's context (the process pool's task function)."""
    ctx = _WORKER.get("ctx")
    if ctx is None:
        raise ConfigError("this worker process has no evaluation context")
    return [evaluate_candidate(ctx, spec) for spec in specs]


def _chunks(
    specs: Sequence[StrategySpec], workers: int, chunk: int | None
) -> list[list[StrategySpec]]:
    """Consecutive chunks: about 4 per worker, so a slow candidate does not idle the others."""
    size = chunk or max(1, math.ceil(len(specs) / (4 * workers)))
    return [list(specs[i : i + size]) for i in range(0, len(specs), size)]


class Executor(Protocol):
    """Evaluates batches of specs; results in input order."""

    def map(self, specs: Sequence[StrategySpec]) -> list[CandidateResult]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """In-process (``workers=1``) or a local process pool.

    Parameters
    ----------
    ctx : EvalContext
    workers : int, default 1
    start_method : {"spawn", "forkserver"}, default "spawn"
    chunk : int, optional
        Candidates per task; by default about a quarter of a worker's share of the batch.
    """

    def __init__(
        self,
        ctx: EvalContext,
        *,
        workers: int = 1,
        start_method: Literal["spawn", "forkserver"] = "spawn",
        chunk: int | None = None,
    ) -> None:
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        if start_method not in ("spawn", "forkserver"):
            raise ConfigError(f"start_method must be 'spawn' or 'forkserver', got {start_method!r}")
        self.ctx = ctx
        self.workers = workers
        self.chunk = chunk
        self._pool: ProcessPoolExecutor | None = None
        if workers > 1:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(start_method),
                initializer=_init_worker,
                initargs=(ctx,),
            )

    def map(self, specs: Sequence[StrategySpec]) -> list[CandidateResult]:
        """Evaluate ``specs``; results in the same order."""
        if self._pool is None:
            return [evaluate_candidate(self.ctx, spec) for spec in specs]
        out: list[CandidateResult] = []
        for part in self._pool.map(evaluate_chunk, _chunks(specs, self.workers, self.chunk)):
            out.extend(part)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Worker:
    """A Ray actor's body: holds the context, evaluates chunks."""

    def __init__(self, ctx: EvalContext) -> None:
        self.ctx = ctx

    def run(self, specs: Sequence[StrategySpec]) -> list[CandidateResult]:
        return [evaluate_candidate(self.ctx, spec) for spec in specs]


class RayExecutor:
    """A pool of Ray actors, each holding the context (put in the object store once).

    Parameters
    ----------
    ctx : EvalContext
    workers : int, default 2
        Actors (one CPU each); also ``num_cpus`` of a local cluster started here.
    address : str, optional
        A running cluster (``"auto"``, ``"ray://host:10001"``); by default a
        local one is started unless Ray is already initialized. A cluster
        started here is shut down by :meth:`close`.
    chunk : int, optional
        Candidates per actor call.
    """

    def __init__(
        self,
        ctx: EvalContext,
        *,
        workers: int = 2,
        address: str | None = None,
        chunk: int | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "the Ray executor needs the ray package", hint="pip install 'alphaloop[ray]'"
            ) from None
        if workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        self._ray = ray
        self._started = False
        if not ray.is_initialized():
            ray.init(
                address=address,
                num_cpus=None if address else workers,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
            self._started = True
        self.workers = workers
        self.chunk = chunk
        ref = ray.put(ctx)
        actor = ray.remote(num_cpus=1)(_Worker)
        self._actors: list[Any] = [actor.remote(ref) for _ in range(workers)]

    def map(self, specs: Sequence[StrategySpec]) -> list[CandidateResult]:
        """Evaluate ``specs`` on the actors, chunks dealt round-robin; results in input order."""
        chunks = _chunks(specs, self.workers, self.chunk)
        refs = [self._actors[i % len(self._actors)].run.remote(c) for i, c in enumerate(chunks)]
        out: list[CandidateResult] = []
        for part in self._ray.get(refs):
            out.extend(part)
        return out

    def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(
    kind: ExecutorKind,
    ctx: EvalContext,
    *,
    workers: int = 1,
    address: str | None = None,
) -> Executor:
    """An executor of ``kind`` (``"local"`` or ``"ray"``) for ``ctx``.

    Raises
    ------
    ConfigError
        Unknown kind, ``workers < 1``, an address for a local executor, or Ray
        not installed.
    """
    if kind == "local":
        if address is not None:
            raise ConfigError("an address is for the Ray executor; the local one takes none")
        return LocalExecutor(ctx, workers=workers)
    if kind == "ray":
        return RayExecutor(ctx, workers=workers, address=address)
    raise ConfigError(f"unknown executor {kind!r}; use 'local' or 'ray'")
