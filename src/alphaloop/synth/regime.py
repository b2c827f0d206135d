"""Regime-switching returns: a Markov chain of regimes, Gaussian returns within each.

The regimes are fitted on the equal-weight mean of the assets' log returns
by ``statsmodels``' Markov switching regression (switching mean and
variance, ``k_regimes`` states), ordered by variance: regime 0 is the
calmest, the last the most volatile (named ``calm`` .. ``crisis``). Each
regime's asset mean vector and covariance are the smoothed-probability
weighted moments of the asset returns. A draw runs the fitted transition
matrix and draws multivariate normal returns in each bar's regime, so
crashes cluster and correlations rise when the chain is in a volatile
regime.

Stress scenarios without refitting (:meth:`Generator.with_params`):
``start_regime`` starts every path in a chosen regime; ``stay_longer``
multiplies the expected stay in ``focus`` (``1 / (1 - p_ii)`` bars) by a
factor, scaling the exits from it down ("more crisis").
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from alphaloop.errors import SynthError
from alphaloop.synth.base import Generator, check_draw, in_chunks

__all__ = ["RegimeSwitching", "regime_names"]


def regime_names(k: int) -> tuple[str, ...]:
    """Names of ``k`` regimes ordered by variance (``calm`` first, ``crisis`` last)."""
    if k == 2:
        return ("calm", "crisis")
    if k == 3:
        return ("calm", "normal", "crisis")
    return tuple(f"regime{i}" for i in range(k))


class RegimeSwitching(Generator):
    """Markov-switching means and variances with Gaussian returns in each regime.

    Parameters
    ----------
    k_regimes : int, default=2
        Number of regimes (2 or 3 fit reliably on daily data).
    start_regime : str or int, optional
        Start every path in this regime (a name or number); by default the
        first regime is drawn from the chain's stationary distribution.
    stay_longer : float, default=1.0
        Multiplies the expected stay in ``focus`` (>= 1 lengthens it).
    focus : str or int, default="crisis"
        The regime ``stay_longer`` applies to (``crisis``: the most volatile).

    Attributes
    ----------
    transition_ : ndarray, shape (k, k)
        ``transition_[i, j]``: probability of moving from regime i to j in one bar.
    means_ : ndarray, shape (k, assets)
    covs_ : ndarray, shape (k, assets, assets)
        Per-regime moments of the log returns (per bar).
    names_ : tuple of str
    occupancy_ : ndarray, shape (k,)
        Share of the fitted bars in each regime (smoothed probabilities).
    """

    kind = "regime"
    sample_params = ("start_regime", "stay_longer", "focus")

    def __init__(
        self,
        k_regimes: int = 2,
        start_regime: str | int | None = None,
        stay_longer: float = 1.0,
        focus: str | int = "crisis",
    ) -> None:
        self.k_regimes = k_regimes
        self.start_regime = start_regime
        self.stay_longer = stay_longer
        self.focus = focus

    def _regime(self, value: str | int, what: str) -> int:
        names = regime_names(int(self.k_regimes))
        if isinstance(value, str) and value in names:
            return names.index(value)
        is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if is_int and 0 <= int(value) < len(names):
            return int(value)
        raise SynthError(
            f"{what} {value!r} is not a regime; regimes: {list(names)} (or 0..{len(names) - 1})"
        )

    def _check_sample_params(self) -> None:
        if self.start_regime is not None:
            self._regime(self.start_regime, "start_regime")
        self._regime(self.focus, "focus")
        try:
            factor = float(self.stay_longer)
        except (TypeError, ValueError):
            raise SynthError(f"stay_longer must be a number, got {self.stay_longer!r}") from None
        if not math.isfinite(factor) or factor <= 0:
            raise SynthError(f"stay_longer must be a positive number, got {self.stay_longer!r}")

    def _fit(self, returns: np.ndarray) -> None:
        k = self.k_regimes
        if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 4:
            raise SynthError(f"k_regimes must be 2, 3 or 4, got {k!r}")
        self._check_sample_params()
        from statsmodels.tsa.regime_switching.markov_regression import MarkovRegression

        market = 100.0 * returns.mean(axis=1)
        model = MarkovRegression(market, k_regimes=k, trend="c", switching_variance=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = model.fit(disp=False)
            except (np.linalg.LinAlgError, ValueError) as exc:
                raise SynthError(f"the Markov switching fit failed: {exc}") from exc
        probs = np.asarray(res.smoothed_marginal_probabilities).reshape(len(market), k)
        trans = np.asarray(res.regime_transition)[:, :, 0].T  # from i (row) to j
        fitted = dict(zip(model.param_names, np.asarray(res.params), strict=True))
        variances = np.array([fitted[f"sigma2[{i}]"] for i in range(k)])
        order = np.argsort(variances)
        probs = probs[:, order]
        trans = trans[np.ix_(order, order)]
        trans = trans / trans.sum(axis=1, keepdims=True)
        means, covs = [], []
        for i in range(k):
            w = probs[:, i] / max(probs[:, i].sum(), 1e-12)
            mu = w @ returns
            dev = returns - mu
            cov = (dev * w[:, None]).T @ dev
            cov = (cov + cov.T) / 2 + 1e-12 * np.eye(returns.shape[1])
            means.append(mu)
            covs.append(cov)
        self.transition_ = trans
        self.means_ = np.array(means)
        self.covs_ = np.array(covs)
        self.names_ = regime_names(k)
        self.occupancy_ = probs.mean(axis=0)

    # ----------------------------------------------------------------- draw
    def scenario_transition(self) -> np.ndarray:
        """The transition matrix with ``stay_longer`` applied to ``focus``."""
        trans = self.transition_.copy()
        factor = float(self.stay_longer)
        if factor != 1.0:
            i = self._regime(self.focus, "focus")
            leave = 1.0 - trans[i, i]
            new_leave = leave / factor
            if leave > 0:
                trans[i] *= new_leave / leave
            trans[i, i] = 1.0 - new_leave
        return trans

    def _stationary(self, trans: np.ndarray) -> np.ndarray:
        vals, vecs = np.linalg.eig(trans.T)
        v = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
        v = np.abs(v)
        return v / v.sum()

    def _regimes(self, n_paths: int, length: int, rng: np.random.Generator) -> np.ndarray:
        trans = self.scenario_transition()
        cum = np.cumsum(trans, axis=1)
        cum[:, -1] = 1.0
        states = np.empty((n_paths, length), dtype=np.int64)
        if self.start_regime is None:
            start_cum = np.cumsum(self._stationary(trans))
            start_cum[-1] = 1.0
            states[:, 0] = np.searchsorted(start_cum, rng.random(n_paths), side="right")
        else:
            states[:, 0] = self._regime(self.start_regime, "start_regime")
        u = rng.random((n_paths, length))
        for t in range(1, length):
            row = cum[states[:, t - 1]]
            states[:, t] = (u[:, t : t + 1] >= row).sum(axis=1)
        return states

    def _chunks(
        self, n_paths: int, length: int, rng: np.random.Generator, *, returns: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Regimes (and returns) of every path, drawn chunk by chunk (see :func:`in_chunks`)."""
        self._check_sample_params()
        d = self.means_.shape[1]
        states = np.empty((n_paths, length), dtype=np.int64)
        out = np.empty((n_paths, length, d)) if returns else None
        chols = [np.linalg.cholesky(c).T for c in self.covs_]

        def work(child: np.random.Generator, part: slice) -> None:
            n = part.stop - part.start
            s = self._regimes(n, length, child)
            states[part] = s
            if out is None:
                return
            z = child.standard_normal((n, length, d))
            r = np.empty_like(z)
            for i, chol in enumerate(chols):
                mask = s == i
                r[mask] = self.means_[i] + z[mask] @ chol
            out[part] = r

        in_chunks(n_paths, rng, work)
        return states, out

    def sample_regimes(self, n_paths: int, length: int, seed: int = 0) -> np.ndarray:
        """The regime of every bar ``(n_paths, length)`` of the paths :meth:`sample` draws
        with the same arguments (numbers index :attr:`names_`)."""
        n, t, s = check_draw(n_paths, length, seed)
        self._check_fitted()
        return self._chunks(n, t, np.random.default_rng(s), returns=False)[0]

    def _draw(self, n_paths: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        _, out = self._chunks(n_paths, length, rng, returns=True)
        assert out is not None
        return out, None

    # ------------------------------------------------------------- storage
    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            "transition": self.transition_,
            "means": self.means_,
            "covs": self.covs_,
            "occupancy": self.occupancy_,
        }

    def _restore(self, fitted: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.transition_ = np.asarray(arrays["transition"], dtype=float)
        self.means_ = np.asarray(arrays["means"], dtype=float)
        self.covs_ = np.asarray(arrays["covs"], dtype=float)
        self.occupancy_ = np.asarray(arrays["occupancy"], dtype=float)
        self.names_ = regime_names(int(self.k_regimes))
