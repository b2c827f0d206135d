"""Run candidate evaluations in this process, in a local process pool, or on Ray.

Every executor maps :func:`~alphaloop.research.evaluate.evaluate_candidate`
over a batch of specs with one :class:`~alphaloop.research.evaluate.EvalContext`
and returns the results in input order. They are the research session's
face of the task pools of :mod:`alphaloop.compute` (the same pools run
factor mining and backtest sweeps): the context (the search-span panel,
megabytes) is shipped to each worker once, when the executor starts; a
batch then sends only specs and receives results, in chunks of several
candidates per message to amortize the round trip. Evaluation is
deterministic, so every executor gives the same results for the same
inputs, bit for bit (timings aside).

- :class:`LocalExecutor` with ``workers=1`` evaluates in this process;
  with more, a process pool whose workers start with ``spawn`` (or
  ``forkserver``: no fork of a process holding threads or a database
  connection) and receive the context in their initializer.
- :class:`RayExecutor` connects to a Ray cluster (``address``) or starts a
  local one with ``num_cpus=workers``, puts the context in the object store
  once and starts ``workers`` actors that each hold it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from alphaloop.backtest.spec import StrategySpec
from alphaloop.compute.pools import InlinePool, ProcessPool, RayPool, TaskPool
from alphaloop.errors import ConfigError
from alphaloop.research.evaluate import CandidateResult, EvalContext, evaluate_candidate

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "make_executor"]

ExecutorKind = Literal["local", "ray"]


class Executor(Protocol):
    """Evaluates batches of specs; results in input order."""

    def map(self, specs: Sequence[StrategySpec]) -> list[CandidateResult]: ...

    def close(self) -> None: ...


class _PoolExecutor:
    """Evaluates specs on a task pool holding the context."""

    _pool: TaskPool[EvalContext] | None
    chunk: int | None

    def map(self, specs: Sequence[StrategySpec]) -> list[CandidateResult]:
        """Evaluate ``specs``; results in the same order."""
        if self._pool is None:
            raise ConfigError("this executor is closed")
        return self._pool.map(evaluate_candidate, specs, batch_size=self.chunk)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> _PoolExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_workers(workers: int) -> None:
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")


class LocalExecutor(_PoolExecutor):
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
        _check_workers(workers)
        self.ctx = ctx
        self.workers = workers
        self.chunk = chunk
        self._pool = (
            InlinePool(ctx)
            if workers == 1
            else ProcessPool(ctx, workers=workers, start_method=start_method)
        )


class RayExecutor(_PoolExecutor):
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
        _check_workers(workers)
        self.workers = workers
        self.chunk = chunk
        self._pool = RayPool(ctx, workers=workers, address=address)


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
