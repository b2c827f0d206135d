"""Reproducible torch: a seed, deterministic algorithms, a fixed thread count (imports torch)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

__all__ = ["deterministic_torch"]


@contextlib.contextmanager
def deterministic_torch(seed: int, n_threads: int) -> Iterator[None]:
    """Seed torch, use deterministic algorithms and ``n_threads`` threads; restore after.

    Torch's global RNG (forked, CPU only), thread count and determinism flag
    are as before when the block exits; results are reproducible for a fixed
    ``seed`` and ``n_threads``.
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(n_threads)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
