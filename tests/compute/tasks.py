"""Task functions for the pool tests (importable by spawned workers and Ray actors)."""

from __future__ import annotations

import os

import numpy as np


def weighted_draws(shared: np.ndarray, item: tuple[int, int]) -> float:
    """A seeded task: ``item = (index, seed)``; its draws come from its own seed only."""
    index, seed = item
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    picks = rng.integers(0, len(shared), size=5)
    return float(shared[picks].sum() * rng.standard_normal())


def shifted(shared: np.ndarray, item: int, common: float) -> float:
    """A task reading a per-call value."""
    return float(shared[item % len(shared)] + common)


def worker_and_payload_id(shared: np.ndarray, item: int) -> tuple[int, int]:
    """Which process ran the task, and which copy of the payload it read."""
    return os.getpid(), id(shared)


def boom(shared: np.ndarray, item: int) -> float:
    if item == 3:
        raise ValueError(f"task {item} fails on purpose")
    return float(item)
