"""Running many small tasks on one machine or a Ray cluster, with the same results.

:func:`make_pool` gives a :class:`TaskPool` of the kind ``--executor`` names
(``local``: in this process or a process pool; ``ray``: actors on a Ray
cluster); every pool maps ``fn(shared, item)`` over batches of items and
returns the results in input order. The shared payload is shipped to each
worker once. Research sessions, factor mining and backtest sweeps run on
these pools. See :mod:`alphaloop.compute.pools`.
"""

from __future__ import annotations

from alphaloop.compute.pools import (
    POOL_KINDS,
    InlinePool,
    PoolKind,
    ProcessPool,
    RayPool,
    TaskPool,
    make_pool,
    split_batches,
)

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
