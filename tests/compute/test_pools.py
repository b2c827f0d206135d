"""Task pools in process and in a local process pool: same results in input order, the
shared payload shipped to each worker once, batches, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.compute import InlinePool, ProcessPool, make_pool, split_batches
from alphaloop.errors import ConfigError

from .tasks import boom, shifted, weighted_draws, worker_and_payload_id

SHARED = np.random.default_rng(7).standard_normal(1000)
ITEMS = [(i, 42) for i in range(200)]


@pytest.fixture(scope="module")
def process_pool() -> ProcessPool:
    with ProcessPool(SHARED, workers=2) as pool:
        yield pool


def test_split_batches_keeps_order_and_covers_every_item() -> None:
    items = list(range(23))
    batches = split_batches(items, workers=2, batch_size=None)
    assert [x for b in batches for x in b] == items
    assert len(batches) == 8  # about four per worker
    assert [len(b) for b in split_batches(items, 2, 10)] == [10, 10, 3]
    with pytest.raises(ConfigError, match="batch_size"):
        split_batches(items, 2, 0)


def test_a_process_pool_gives_the_in_process_results_in_order(process_pool: ProcessPool) -> None:
    serial = InlinePool(SHARED).map(weighted_draws, ITEMS)
    for batch_size in (None, 1, 7, 1000):
        assert process_pool.map(weighted_draws, ITEMS, batch_size=batch_size) == serial
    assert process_pool.map(weighted_draws, ITEMS[::-1]) == serial[::-1]
    # another seed, other draws: the results depend on the items, not on the worker
    assert process_pool.map(weighted_draws, [(i, 43) for i in range(200)]) != serial


def test_a_common_value_reaches_every_task(process_pool: ProcessPool) -> None:
    got = process_pool.map(shifted, list(range(10)), common=100.0)
    assert got == [float(SHARED[i] + 100.0) for i in range(10)]


def test_each_worker_deserializes_the_payload_once(process_pool: ProcessPool) -> None:
    seen = process_pool.map(worker_and_payload_id, list(range(64)), batch_size=1)
    seen += process_pool.map(worker_and_payload_id, list(range(64)), batch_size=1)
    per_worker: dict[int, set[int]] = {}
    for pid, payload in seen:
        per_worker.setdefault(pid, set()).add(payload)
    assert 1 <= len(per_worker) <= 2
    assert all(len(ids) == 1 for ids in per_worker.values())  # one copy per worker


def test_a_failing_task_raises_its_error(process_pool: ProcessPool) -> None:
    with pytest.raises(ValueError, match="task 3 fails on purpose"):
        process_pool.map(boom, list(range(6)))


def test_bad_pool_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown executor 'dask'"):
        make_pool("dask", SHARED)
    with pytest.raises(ConfigError, match="at least 1"):
        make_pool("local", SHARED, workers=0)
    with pytest.raises(ConfigError, match="address"):
        make_pool("local", SHARED, address="auto")
    pool = make_pool("local", SHARED)
    assert isinstance(pool, InlinePool)
    closed = ProcessPool(SHARED, workers=1)
    closed.close()
    with pytest.raises(ConfigError, match="closed"):
        closed.map(weighted_draws, ITEMS)
