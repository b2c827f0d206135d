"""GARCH-family marginals joined by a copula of their standardized residuals.

Each asset's returns (in percent) get a constant mean and a GARCH(1,1),
GJR-GARCH(1,1,1) or EGARCH(1,1,1) variance with Student-t (or normal)
innovations, fitted by ``arch``. The standardized residuals' ranks give the
dependence: a Gaussian copula (correlation of their normal scores) or a
Student-t copula (correlation from Kendall's tau, ``sin(pi * tau / 2)``, and
degrees of freedom by profile likelihood on a grid). A draw takes copula
samples, maps each margin to its asset's unit-variance innovation
(a tabulated quantile function, linear between 8,001 grid points and clamped
beyond probabilities of about 1e-12), and runs the variance recursions in a
numba kernel from the sample variance, dropping ``burn`` leading bars.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np

from alphaloop.errors import SynthError
from alphaloop.synth._kernels import garch_paths
from alphaloop.synth.base import Generator, in_chunks

__all__ = ["GarchCopula"]

_VOLS = ("garch", "gjr", "egarch")
_GRID = 8_001
_TAIL = 1e-12
_NU_GRID = (2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)
#: A fitted persistence from _CAP up to _MAX_PERSISTENCE_FIT (integrated variance, common
#: on stocks with long runs of unchanged prices) is scaled down to _CAP, with a note.
_CAP = 0.999
_MAX_PERSISTENCE_FIT = 1.01
_PARAMS = ("mu", "omega", "alpha", "gamma", "beta", "nu")


def _nearest_correlation(r: np.ndarray) -> np.ndarray:
    """``r`` with eigenvalues floored at 1e-6 and unit diagonal (a valid correlation)."""
    vals, vecs = np.linalg.eigh((r + r.T) / 2)
    fixed = (vecs * np.maximum(vals, 1e-6)) @ vecs.T
    d = np.sqrt(np.diag(fixed))
    return fixed / np.outer(d, d)


def _std_ppf(u: np.ndarray, nu: float) -> np.ndarray:
    """Quantiles of the unit-variance Student-t (normal when ``nu`` is infinite)."""
    from scipy import special

    if not math.isfinite(nu):
        return special.ndtri(u)
    return special.stdtrit(nu, u) * math.sqrt((nu - 2.0) / nu)


def _t_copula_loglik(x: np.ndarray, corr: np.ndarray, nu: float) -> float:
    """Log-likelihood of the Student-t copula at ``x = t_nu^{-1}(u)`` (rows x assets)."""
    from scipy import special, stats

    d = corr.shape[0]
    inv = np.linalg.inv(corr)
    _, logdet = np.linalg.slogdet(corr)
    q = np.einsum("ij,jk,ik->i", x, inv, x)
    joint = (
        special.gammaln((nu + d) / 2)
        - special.gammaln(nu / 2)
        - d / 2 * math.log(nu * math.pi)
        - logdet / 2
        - (nu + d) / 2 * np.log1p(q / nu)
    )
    margins = stats.t.logpdf(x, nu).sum(axis=1)
    return float(np.sum(joint - margins))


def _fit_problem(vol: str, flag: int, p: Any) -> str:
    """Why a fit is unusable ('' when it is fine): no convergence, a non-stationary variance."""
    # SLSQP's code 8 (a line search that cannot improve) usually stops at the optimum:
    # the parameter checks below decide; any other non-zero code is a failure
    if flag not in (0, 8):
        return f"the optimizer did not converge (SLSQP code {flag})"
    nu = float(p.get("nu", math.inf))
    if not nu > 2.1:
        return f"Student-t degrees of freedom {nu:.3f} at the bound (no finite variance)"
    beta = float(p["beta[1]"])
    if vol == "egarch":
        if not abs(beta) < 1.0:
            return f"log-variance persistence beta = {beta:.4f} is not below 1"
        return ""
    persistence = float(p["alpha[1]"]) + beta + float(p.get("gamma[1]", 0.0)) / 2
    if not persistence < _MAX_PERSISTENCE_FIT:
        return (
            f"variance persistence alpha + beta + gamma / 2 = {persistence:.4f} is not below "
            f"{_MAX_PERSISTENCE_FIT}"
        )
    return ""


class GarchCopula(Generator):
    """Per-asset GARCH-family returns with a Gaussian or Student-t copula.

    Parameters
    ----------
    vol : {"garch", "gjr", "egarch"}, default="garch"
        The variance equation (all of order one).
    dist : {"t", "normal"}, default="t"
        Innovation distribution of each asset (Student-t: unit variance,
        degrees of freedom fitted).
    copula : {"gaussian", "t"}, default="gaussian"
    burn : int, default=250
        Bars simulated and dropped before each path, so paths do not all
        start at the sample variance.

    Attributes
    ----------
    params_ : dict of str to ndarray
        ``mu``, ``omega``, ``alpha``, ``gamma``, ``beta``, ``nu`` per asset,
        in ``arch``'s parameterisation for returns in percent (``gamma`` is
        0 for GARCH; ``nu`` is inf for normal innovations).
    corr_ : ndarray, shape (assets, assets)
        The copula's correlation.
    copula_nu_ : float
        The Student-t copula's degrees of freedom (inf for Gaussian).
    notes_ : list of str
        Adjustments made to the fit (persistence scaled down below 1).
    """

    kind = "garch"

    def __init__(
        self,
        vol: Literal["garch", "gjr", "egarch"] = "garch",
        dist: Literal["t", "normal"] = "t",
        copula: Literal["gaussian", "t"] = "gaussian",
        burn: int = 250,
    ) -> None:
        self.vol = vol
        self.dist = dist
        self.copula = copula
        self.burn = burn

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        if self.vol not in _VOLS:
            raise SynthError(f"vol must be one of {list(_VOLS)}, got {self.vol!r}")
        if self.dist not in ("t", "normal"):
            raise SynthError(f"dist must be 't' or 'normal', got {self.dist!r}")
        if self.copula not in ("gaussian", "t"):
            raise SynthError(f"copula must be 'gaussian' or 't', got {self.copula!r}")
        if isinstance(self.burn, bool) or not isinstance(self.burn, int) or self.burn < 0:
            raise SynthError(f"burn must be a non-negative integer, got {self.burn!r}")

    def _fit(self, returns: np.ndarray) -> None:
        self._check_params()
        from arch import arch_model

        n, d = returns.shape
        params = {k: np.zeros(d) for k in _PARAMS}
        resid = np.empty((n, d))
        notes: list[str] = []
        for j in range(d):
            y = 100.0 * returns[:, j]
            if not np.std(y) > 0:
                raise SynthError(f"asset {self.assets_[j]!r} has constant returns: no GARCH fit")
            model = arch_model(
                y,
                mean="Constant",
                vol="EGARCH" if self.vol == "egarch" else "GARCH",
                p=1,
                o=0 if self.vol == "garch" else 1,
                q=1,
                dist="t" if self.dist == "t" else "normal",
                rescale=False,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = model.fit(disp="off", show_warning=False)
            p = res.params
            problem = _fit_problem(self.vol, res.convergence_flag, p)
            if problem:
                raise SynthError(
                    f"the {self.vol} fit of asset {self.assets_[j]!r} failed: {problem}",
                    hint="leave the asset out (--assets), or try vol=garch or dist=normal",
                )
            params["mu"][j] = p["mu"]
            params["omega"][j] = p["omega"]
            params["alpha"][j] = p["alpha[1]"]
            params["gamma"][j] = p.get("gamma[1]", 0.0)
            params["beta"][j] = p["beta[1]"]
            params["nu"][j] = p["nu"] if self.dist == "t" else math.inf
            if self.vol != "egarch":
                persistence = params["alpha"][j] + params["beta"][j] + params["gamma"][j] / 2
                if persistence > _CAP:
                    for key in ("alpha", "beta", "gamma"):
                        params[key][j] *= _CAP / persistence
                    notes.append(
                        f"{self.assets_[j]}: variance persistence {persistence:.4f} "
                        f"scaled down to {_CAP}"
                    )
            resid[:, j] = np.nan_to_num(np.asarray(res.std_resid, dtype=float))
        self.params_ = params
        self.notes_ = notes
        self.variance_ = np.var(100.0 * returns, axis=0)
        self._fit_copula(resid)

    def _fit_copula(self, resid: np.ndarray) -> None:
        from scipy import special, stats

        n, d = resid.shape
        u = (stats.rankdata(resid, axis=0) / (n + 1)).clip(1e-6, 1 - 1e-6)
        if self.copula == "gaussian" or d == 1:
            scores = special.ndtri(u)
            corr = np.corrcoef(scores, rowvar=False) if d > 1 else np.ones((1, 1))
            self.corr_ = _nearest_correlation(np.atleast_2d(corr))
            # one asset: every copula is the independence copula
            self.copula_nu_ = math.inf
            return
        tau = np.eye(d)
        for a in range(d):
            for b in range(a + 1, d):
                tau[a, b] = tau[b, a] = stats.kendalltau(resid[:, a], resid[:, b]).statistic
        corr = _nearest_correlation(np.sin(np.pi * tau / 2))
        lik = [_t_copula_loglik(special.stdtrit(nu, u), corr, nu) for nu in _NU_GRID]
        self.corr_ = corr
        self.copula_nu_ = float(_NU_GRID[int(np.argmax(lik))])

    # ----------------------------------------------------------------- draw
    def _tables(self) -> tuple[float, float, np.ndarray]:
        """The uniform copula-margin grid and each asset's innovation on it (computed once)."""
        key = (self.copula_nu_, tuple(self.params_["nu"]))
        cached = getattr(self, "_table_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        tables = self._make_tables()
        self._table_cache = (key, tables)
        return tables

    def _make_tables(self) -> tuple[float, float, np.ndarray]:
        from scipy import special

        nu_c = self.copula_nu_
        if math.isfinite(nu_c):
            x_max = float(special.stdtrit(nu_c, 1 - _TAIL))
            x = np.linspace(-x_max, x_max, _GRID)
            u = special.stdtr(nu_c, x)
        else:
            x_max = float(-special.ndtri(_TAIL))
            x = np.linspace(-x_max, x_max, _GRID)
            u = special.ndtr(x)
        u = u.clip(_TAIL, 1 - _TAIL)
        table = np.stack([_std_ppf(u, float(nu)) for nu in self.params_["nu"]])
        return float(x[0]), float(x[1] - x[0]), np.ascontiguousarray(table)

    def _draw(self, n_paths: int, length: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        d = len(self.assets_)
        total = length + self.burn
        chol = np.ascontiguousarray(np.linalg.cholesky(self.corr_).T)
        x0, dx, table = self._tables()
        p = self.params_
        kind = np.full(d, 1 if self.vol == "egarch" else 0, dtype=np.int64)
        nu_c = self.copula_nu_
        out = np.empty((n_paths, length, d))

        def work(child: np.random.Generator, part: slice) -> None:
            n = part.stop - part.start
            z = child.standard_normal((n, total, d))
            if math.isfinite(nu_c):
                scale = np.sqrt(child.chisquare(nu_c, (n, total)) / nu_c)
            else:
                scale = np.ones((n, total))
            out[part] = garch_paths(
                z, chol, scale, x0, dx, table, kind, p["mu"], p["omega"], p["alpha"],
                p["gamma"], p["beta"], self.variance_, self.burn,
            )  # fmt: skip
            out[part] /= 100.0

        in_chunks(n_paths, rng, work)
        return out, None

    # ------------------------------------------------------------- storage
    def _state_meta(self) -> dict[str, Any]:
        return {
            "copula_nu": self.copula_nu_ if math.isfinite(self.copula_nu_) else None,
            "notes": list(self.notes_),
        }

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return {
            **{f"param_{k}": v for k, v in self.params_.items()},
            "variance": self.variance_,
            "corr": self.corr_,
        }

    def _restore(self, fitted: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.params_ = {k: np.asarray(arrays[f"param_{k}"], dtype=float) for k in _PARAMS}
        self.variance_ = np.asarray(arrays["variance"], dtype=float)
        self.corr_ = np.asarray(arrays["corr"], dtype=float)
        self.notes_ = list(fitted.get("notes", []))
        nu = fitted.get("copula_nu")
        self.copula_nu_ = math.inf if nu is None else float(nu)
