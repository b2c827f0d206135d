"""Task pools: map a function over many small tasks here, in a process pool, or on Ray.

Every pool runs ``fn(shared, item)`` for each item of a batch and returns
the results in input order. ``shared`` is the payload every task reads (a
dataset, an evaluation context: megabytes): it is given once, when the pool
starts, and shipped to each worker once --

- :class:`InlinePool` keeps it in this process;
- :class:`ProcessPool` (:class:`concurrent.futures.ProcessPoolExecutor`,
  ``spawn`` or ``forkserver`` workers: no fork of a process holding threads
  or a database connection) hands it to each worker's initializer;
- :class:`RayPool` puts it in the Ray object store once (``ray.put``) and
  starts ``workers`` actors that each deserialize it once and keep it.

A call then sends only items, in batches of several per message to
amortise the round trip (``batch_size``; by default about four batches per
worker, so a slow batch does not idle the others), and an optional small
``common`` value that every task of that call reads (e.g. a threshold that
changes between calls).

Reproducibility: tasks must not draw from a worker's own random state. A
task that needs randomness carries its seed in its item (derive it from the
run's seed and the task's index, e.g. with :class:`numpy.random.SeedSequence`);
then every pool, any number of workers, gives the same results for the same
inputs, bit for bit.

``fn`` must be importable by the workers (a module-level function of an
installed package), not a lambda or a closure.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Generic, Literal, Protocol, TypeVar

from alphaloop.errors import ConfigError

__all__ = [
    "POOL_KINDS",
    "InlinePool",
    "PoolKind",
    "ProcessPool",
    "RayPool",
    "TaskPool",
    "make_pool",
    "split_batches",
]

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

PoolKind = Literal["local", "ray"]
#: the pool kinds :func:`make_pool` accepts (``--executor``)
POOL_KINDS: tuple[str, ...] = ("local", "ray")

#: batches per worker a call is cut into when no ``batch_size`` is given
BATCHES_PER_WORKER = 4

_WORKER_SHARED: dict[str, Any] = {}
"""The shared payload of this process pool worker (key ``"shared"``), set once."""


def _init_worker(shared: Any) -> None:
    _WORKER_SHARED["shared"] = shared


def _run_batch(fn: Callable[..., Any], common: Any, items: Sequence[Any]) -> list[Any]:
    """The process pool's task: ``fn`` over a batch, with this worker's shared payload."""
    if "shared" not in _WORKER_SHARED:
        raise ConfigError("this worker process has no shared payload")
    return _apply(fn, _WORKER_SHARED["shared"], common, items)


def _apply(fn: Callable[..., Any], shared: Any, common: Any, items: Sequence[Any]) -> list[Any]:
    if common is None:
        return [fn(shared, item) for item in items]
    return [fn(shared, item, common) for item in items]


def split_batches(items: Sequence[T], workers: int, batch_size: int | None) -> list[list[T]]:
    """Consecutive batches of ``batch_size`` items (default: about 4 per worker)."""
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    size = batch_size or max(1, math.ceil(len(items) / (BATCHES_PER_WORKER * workers)))
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class TaskPool(Protocol[S]):
    """Maps ``fn(shared, item[, common])`` over items; results in input order."""

    workers: int

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        *,
        common: Any = None,
        batch_size: int | None = None,
    ) -> list[R]: ...

    def close(self) -> None: ...


class _Base(Generic[S]):
    workers: int

    def __enter__(self) -> _Base[S]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


def _check_workers(workers: int) -> None:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be an integer of at least 1, got {workers!r}")


class InlinePool(_Base[S]):
    """Runs every task in this process (the reference the other pools must match)."""

    def __init__(self, shared: S) -> None:
        self.shared = shared
        self.workers = 1

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        *,
        common: Any = None,
        batch_size: int | None = None,
    ) -> list[R]:
        """``fn`` over ``items`` here, in order (``batch_size`` is checked, then unused)."""
        split_batches(items, 1, batch_size)
        return _apply(fn, self.shared, common, items)

    def close(self) -> None:
        return None


class ProcessPool(_Base[S]):
    """A local process pool whose workers receive ``shared`` once, at start.

    Parameters
    ----------
    shared : object
        Picklable; sent to each worker once.
    workers : int, default 2
    start_method : {"spawn", "forkserver"}, default "spawn"
    """

    def __init__(
        self,
        shared: S,
        *,
        workers: int = 2,
        start_method: Literal["spawn", "forkserver"] = "spawn",
    ) -> None:
        _check_workers(workers)
        if start_method not in ("spawn", "forkserver"):
            raise ConfigError(f"start_method must be 'spawn' or 'forkserver', got {start_method!r}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context(start_method),
            initializer=_init_worker,
            initargs=(shared,),
        )

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        *,
        common: Any = None,
        batch_size: int | None = None,
    ) -> list[R]:
        """``fn`` over ``items`` in batches on the workers; results in input order."""
        if self._pool is None:
            raise ConfigError("this process pool is closed")
        batches = split_batches(items, self.workers, batch_size)
        out: list[R] = []
        n = len(batches)
        for part in self._pool.map(_run_batch, [fn] * n, [common] * n, batches):
            out.extend(part)
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class _Holder:
    """A Ray actor's body: keeps the shared payload, runs batches against it."""

    def __init__(self, shared: Any) -> None:
        self.shared = shared

    def run(self, fn: Callable[..., Any], common: Any, items: Sequence[Any]) -> list[Any]:
        return _apply(fn, self.shared, common, items)


class RayPool(_Base[S]):
    """Ray actors that each hold ``shared`` (put in the object store once).

    Parameters
    ----------
    shared : object
        Put in the object store once; each actor deserializes it once.
    workers : int, default 2
        Actors, one CPU each; also ``num_cpus`` of a local instance started here.
    address : str, optional
        A running cluster (``"auto"``, ``"ray://head:10001"``); by default a
        local instance is started unless Ray is already initialized. An
        instance started here is shut down by :meth:`close`.
    """

    def __init__(self, shared: S, *, workers: int = 2, address: str | None = None) -> None:
        _check_workers(workers)
        from alphaloop.compute.ray_runtime import ray_runtime

        ray, self._started = ray_runtime(address, workers)
        self._ray = ray
        self.workers = workers
        self.shared_ref = ray.put(shared)
        actor = ray.remote(num_cpus=1)(_Holder)
        self._actors: list[Any] = [actor.remote(self.shared_ref) for _ in range(workers)]

    def map(
        self,
        fn: Callable[..., R],
        items: Sequence[Any],
        *,
        common: Any = None,
        batch_size: int | None = None,
    ) -> list[R]:
        """``fn`` over ``items`` in batches on the actors; results in input order.

        Each actor has at most two batches queued at a time; the next batch
        goes to whichever actor finishes first, so a slow batch does not
        hold the others back.
        """
        if not self._actors:
            raise ConfigError("this Ray pool is closed")
        ray = self._ray
        batches = split_batches(items, self.workers, batch_size)
        fn_ref = ray.put(fn)
        common_ref = ray.put(common)
        results: list[list[R] | None] = [None] * len(batches)
        pending: dict[Any, tuple[int, Any]] = {}
        todo = iter(enumerate(batches))

        def submit(actor: Any) -> bool:
            nxt = next(todo, None)
            if nxt is None:
                return False
            i, batch = nxt
            pending[actor.run.remote(fn_ref, common_ref, batch)] = (i, actor)
            return True

        for actor in self._actors * 2:
            if not submit(actor):
                break
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i, actor = pending.pop(ref)
                results[i] = ray.get(ref)
                submit(actor)
        out: list[R] = []
        for part in results:
            assert part is not None
            out.extend(part)
        return out

    def close(self) -> None:
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False


def make_pool(
    kind: str,
    shared: Any,
    *,
    workers: int = 1,
    address: str | None = None,
) -> TaskPool[Any]:
    """A pool of ``kind`` for ``shared``: ``"local"`` (inline with one worker, else a
    process pool) or ``"ray"`` (``address`` from the settings: ``ALPHALOOP_RAY_ADDRESS``).

    Raises
    ------
    ConfigError
        Unknown kind, ``workers < 1``, an address for the local kind, or Ray
        not installed or not reachable.
    """
    if kind == "local":
        if address is not None:
            raise ConfigError("an address is for the Ray executor; the local one takes none")
        _check_workers(workers)
        return InlinePool(shared) if workers == 1 else ProcessPool(shared, workers=workers)
    if kind == "ray":
        return RayPool(shared, workers=workers, address=address)
    raise ConfigError(f"unknown executor {kind!r}; use one of {', '.join(POOL_KINDS)}")
