"""Block bootstrap of multi-asset returns: stationary and circular, automatic block length.

Whole rows of the fitted returns are resampled, so every asset takes the same
blocks and the cross-section of each day (its correlations) is kept; within a
block the order of days is kept, so short-range dependence (volatility
clustering) survives up to the block length. The block length, when not
given, is the mean over assets of the Politis-White (2004, with Patton,
Politis and White's 2009 correction) optimal length from ``arch``.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from alphaloop.errors import SynthError
from alphaloop.synth._kernels import gather_rows, stationary_indices
from alphaloop.synth.base import Generator, run_chunks

__all__ = ["BlockBootstrap"]


class BlockBootstrap(Generator):
    """Stationary (random block lengths) or circular (fixed blocks) bootstrap of rows.

    Parameters
    ----------
    method : {"stationary", "circular"}, default="stationary"
        Stationary: each bar opens a new block with probability ``1 / block``
        (geometric lengths, Politis and Romano 1994). Circular: blocks of
        exactly ``block`` bars, wrapping at the end (Politis and Romano 1992).
    block_length : float, optional
        Mean (stationary) or exact (circular, rounded) block length in bars;
        chosen by ``arch.bootstrap.optimal_block_length`` when None.

    Attributes
    ----------
    block_length_ : float
        The block length used, in bars.
    """

    kind = "bootstrap"

    def __init__(
        self,
        method: Literal["stationary", "circular"] = "stationary",
        block_length: float | None = None,
    ) -> None:
        self.method = method
        self.block_length = block_length

    def _fit(self, returns: np.ndarray) -> None:
        if self.method not in ("stationary", "circular"):
            raise SynthError(
                f"bootstrap method must be 'stationary' or 'circular', got {self.method!r}"
            )
        n = returns.shape[0]
        if self.block_length is None:
            from arch.bootstrap import optimal_block_length

            table = optimal_block_length(returns)
            length = float(np.nanmean(table[self.method].to_numpy()))
        else:
            length = float(self.block_length)
            if not math.isfinite(length) or length < 1.0:
                raise SynthError(f"block_length must be >= 1 bar, got {self.block_length!r}")
        self.block_length_ = float(min(max(length, 1.0), n / 2))

    def _draw(
        self, n_paths: int, length: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        n_obs = self.returns_.shape[0]
        if self.method == "stationary":
            first = rng.integers(0, n_obs, n_paths)
            starts = rng.integers(0, n_obs, (n_paths, length))
            fresh = rng.random((n_paths, length)) < 1.0 / self.block_length_
            idx = stationary_indices(first, starts, fresh, n_obs)
        else:
            b = max(1, round(self.block_length_))
            n_blocks = -(-length // b)
            starts = rng.integers(0, n_obs, (n_paths, n_blocks))
            k = np.arange(length)
            idx = (starts[:, k // b] + k % b) % n_obs
        out = np.empty((n_paths, length, self.returns_.shape[1]))
        run_chunks(n_paths, lambda part: gather_rows(self.returns_, idx[part], out[part]))
        return out, idx

    def _state_meta(self) -> dict[str, Any]:
        return {"block_length": self.block_length_}

    def _restore(self, fitted: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.block_length_ = float(fitted["block_length"])
