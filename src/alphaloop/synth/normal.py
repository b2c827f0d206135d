"""The i.i.d. multivariate normal baseline: the assets' mean and covariance, nothing else.

It keeps the first two moments and the same-day correlations and nothing of
the stylized facts: no heavy tails, no volatility clustering, no leverage
effect. The facts suite must fail it on those; a generator that scores no
better than this baseline is not worth its cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphaloop.synth.base import Generator, in_chunks

__all__ = ["NormalBaseline"]


class NormalBaseline(Generator):
    """Independent multivariate normal log returns with the fitted mean and covariance.

    Attributes
    ----------
    mean_ : ndarray, shape (assets,)
    cov_ : ndarray, shape (assets, assets)
        Per-bar moments of the log returns.
    """

    kind = "normal"

    def __init__(self) -> None:
        pass

    def _fit(self, returns: np.ndarray) -> None:
        self.mean_ = returns.mean(axis=0)
        cov = np.atleast_2d(np.cov(returns, rowvar=False))
        self.cov_ = (cov + cov.T) / 2 + 1e-12 * np.eye(cov.shape[0])

    def _draw(self, n_paths: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        d = self.mean_.size
        chol = np.linalg.cholesky(self.cov_).T
        out = np.empty((n_paths, length, d))

        def work(child: np.random.Generator, part: slice) -> None:
            n = part.stop - part.start
            z = child.standard_normal((n * length, d)) @ chol
            z += self.mean_
            out[part] = z.reshape(n, length, d)

        in_chunks(n_paths, rng, work)
        return out, None

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "cov": self.cov_}

    def _restore(self, fitted: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.mean_ = np.asarray(arrays["mean"], dtype=float)
        self.cov_ = np.asarray(arrays["cov"], dtype=float)
