"""Data-snooping tests by bootstrap: White's Reality Check, Hansen's SPA, StepM and the MCS.

Thin, typed wrappers over :mod:`arch.bootstrap` (``RealityCheck``, ``SPA``,
``StepM``, ``MCS``) that take strategy *returns*, record every setting used,
and are deterministic with a seed.

Conventions
-----------
- arch works with **losses** (lower is better). With ``inputs="returns"`` (the
  default) every series is converted with ``loss = -return``, so the loss
  differential arch tests, ``benchmark_loss - model_loss``, equals
  ``model_return - benchmark_return``: positive when the model beats the
  benchmark. We report its per-bar mean as ``mean_advantage`` (in the units
  of the inputs: a per-bar return for returns). With ``inputs="losses"`` the
  series are passed through unchanged.
- ``benchmark=None`` is a benchmark whose return (loss) is zero on every
  bar: cash, or "is any of these excess-return series positive on average?".
- The null of the Reality Check and the SPA is "no model beats the
  benchmark"; small p-values are evidence that at least one does, after
  accounting for how many were tried. White's Reality Check p-value is arch's
  ``upper`` p-value (every model recentred: the least favourable null); the
  SPA p-value is arch's ``consistent`` one (Hansen's recentring, which drops
  models far worse than the benchmark from the null distribution), with the
  ``lower`` and ``upper`` bounds reported too.
- arch 8.0.0 uses the *non-studentized* statistic ``max_k mean(d_k)`` in
  both classes (its ``studentize`` switch does not change the statistic; the
  variances only set the consistent recentring threshold). Our SPA is
  therefore Hansen's recentring applied to White's statistic, not the fully
  studentized test of Hansen (2005); a model with a larger variance weighs
  more in the maximum.
- Hansen truncates the statistic at zero (``max(max_k mean(d_k), 0)``);
  arch does not. When no model beats the benchmark in the sample
  (``statistic <= 0``) there is no evidence of superiority and every p-value
  here is 1.0; arch would report about 0.5 for its lower and consistent
  p-values in that case (the bootstrap maximum of a model that is not
  recentred scatters around its own negative mean). Otherwise the p-values
  are arch's unchanged.
- P-values are arch's: the share of the ``reps`` bootstrap statistics
  strictly above the observed one, with no ``+1`` correction, so 0.0 means
  "below ``1 / reps``"; raise ``reps`` to resolve small p-values.
- ``block_size`` is in bars; the default ``int(sqrt(T))`` is arch's. The
  resolved value is recorded in :class:`BootstrapSettings`.
- Inputs must be finite: drop or fill missing bars (the same bars for every
  series) before testing.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from alphaloop.jsonsafe import json_safe
from alphaloop.validation.sharpe import StatisticsError

__all__ = [
    "BootstrapKind",
    "BootstrapSettings",
    "MCSResult",
    "RealityCheckResult",
    "SPAResult",
    "StepMResult",
    "model_confidence_set",
    "reality_check",
    "spa_test",
    "stepm",
]

BootstrapKind = Literal["stationary", "circular", "moving_block"]
InputKind = Literal["returns", "losses"]
ArrayOrFrame = np.ndarray | pd.DataFrame | pd.Series

#: Our bootstrap names mapped explicitly to arch's.
_ARCH_BOOTSTRAP: dict[str, str] = {
    "stationary": "stationary",
    "circular": "circular",
    "moving_block": "moving block",
}
_LOSS_SIGN: dict[str, float] = {"returns": -1.0, "losses": 1.0}


@dataclass(frozen=True)
class BootstrapSettings:
    """Everything needed to reproduce a bootstrap test.

    Attributes
    ----------
    bootstrap : {"stationary", "circular", "moving_block"}
        Block bootstrap scheme (stationary: Politis-Romano, random block lengths
        with mean ``block_size``).
    block_size : int
        (Mean) block length in bars.
    reps : int
        Bootstrap replications.
    seed : int or None
        Seed of NumPy's ``default_rng`` used by arch; None means fresh entropy
        (not reproducible).
    inputs : {"returns", "losses"}
        How the series were read; returns were negated into losses.
    n_periods : int
        Bars per series.
    n_models : int
        Models tested (the benchmark is not counted).
    """

    bootstrap: BootstrapKind
    block_size: int
    reps: int
    seed: int | None
    inputs: InputKind
    n_periods: int
    n_models: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy."""
        return asdict(self)


class _Summary:
    """Gives a result dataclass its ``to_dict``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary."""
        return _to_dict(self)


@dataclass(frozen=True)
class RealityCheckResult(_Summary):
    """White's Reality Check: does the best of the models beat the benchmark?

    Attributes
    ----------
    p_value : float
        Bootstrap p-value of the null "no model beats the benchmark", every
        model recentred (least favourable configuration).
    statistic : float
        ``max_k mean_advantage[k]``, per bar.
    best_model : str
        Model with the largest mean advantage.
    mean_advantage : dict of str to float
        Per-bar mean of ``benchmark_loss - model_loss`` (model return minus
        benchmark return for returns); positive is better.
    settings : BootstrapSettings
    """

    p_value: float
    statistic: float
    best_model: str
    mean_advantage: dict[str, float]
    settings: BootstrapSettings


@dataclass(frozen=True)
class SPAResult(_Summary):
    """Hansen's test of superior predictive ability.

    Attributes
    ----------
    p_value : float
        The consistent p-value (Hansen's recentring); use this one.
    p_value_lower, p_value_upper : float
        Bounds: ``lower`` never recentres worse-than-benchmark models (liberal),
        ``upper`` recentres all of them (White's Reality Check, conservative).
    statistic : float
        ``max_k mean_advantage[k]``, per bar.
    best_model : str
    mean_advantage : dict of str to float
        Per-bar mean of ``benchmark_loss - model_loss``; positive is better.
    settings : BootstrapSettings
    """

    p_value: float
    p_value_lower: float
    p_value_upper: float
    statistic: float
    best_model: str
    mean_advantage: dict[str, float]
    settings: BootstrapSettings


@dataclass(frozen=True)
class StepMResult(_Summary):
    """Romano and Wolf's StepM: which models beat the benchmark, family-wise error controlled.

    Attributes
    ----------
    superior_models : tuple of str
        Models judged better than the benchmark, in input order.
    size : float
        Family-wise error rate of the step-down procedure.
    mean_advantage : dict of str to float
        Per-bar mean of ``benchmark_loss - model_loss``; positive is better.
    settings : BootstrapSettings
    """

    superior_models: tuple[str, ...]
    size: float
    mean_advantage: dict[str, float]
    settings: BootstrapSettings


@dataclass(frozen=True)
class MCSResult(_Summary):
    """Hansen, Lunde and Nason's model confidence set.

    Attributes
    ----------
    included : tuple of str
        Models in the set: the best model is among them with probability at
        least ``1 - size``.
    excluded : tuple of str
        Models eliminated.
    pvalues : dict of str to float
        MCS p-value per model: the model is in the set at every size below it.
    size : float
    method : {"R", "max"}
        Elimination statistic (range or max of standardized loss differences).
    mean_loss : dict of str to float
        Per-bar mean loss (minus the mean return for returns); lower is better.
    settings : BootstrapSettings
    """

    included: tuple[str, ...]
    excluded: tuple[str, ...]
    pvalues: dict[str, float]
    size: float
    method: Literal["R", "max"]
    mean_loss: dict[str, float]
    settings: BootstrapSettings


def reality_check(
    benchmark: np.ndarray | pd.Series | None,
    models: ArrayOrFrame,
    *,
    inputs: InputKind = "returns",
    block_size: int | None = None,
    reps: int = 1000,
    bootstrap: BootstrapKind = "stationary",
    seed: int | None = 0,
) -> RealityCheckResult:
    """White's (2000) Reality Check for data snooping.

    Parameters
    ----------
    benchmark : ndarray or Series of shape (T,), or None
        Benchmark per-bar returns (or losses); None for a zero benchmark.
    models : ndarray of shape (T,) or (T, N), DataFrame or Series
        Per-bar returns (or losses) of the N candidate models, on the same bars
        as the benchmark. DataFrame columns name the models; array columns are
        named ``model_0``, ``model_1``, ...
    inputs : {"returns", "losses"}, default="returns"
        Returns (higher is better) are negated into losses for arch.
    block_size : int, optional
        (Mean) block length in bars; default ``int(sqrt(T))``.
    reps : int, default=1000
        Bootstrap replications.
    bootstrap : {"stationary", "circular", "moving_block"}, default="stationary"
    seed : int or None, default=0
        Seed of the bootstrap; the same seed gives the same p-value.

    Returns
    -------
    RealityCheckResult

    Raises
    ------
    StatisticsError
        On misaligned shapes, non-finite values or invalid settings.
    """
    from arch.bootstrap import RealityCheck

    advantage, best, pvalues, settings = _best_against_benchmark(
        RealityCheck, benchmark, models, inputs, block_size, reps, bootstrap, seed
    )
    return RealityCheckResult(
        p_value=pvalues["upper"],
        statistic=advantage[best],
        best_model=best,
        mean_advantage=advantage,
        settings=settings,
    )


def spa_test(
    benchmark: np.ndarray | pd.Series | None,
    models: ArrayOrFrame,
    *,
    inputs: InputKind = "returns",
    block_size: int | None = None,
    reps: int = 1000,
    bootstrap: BootstrapKind = "stationary",
    seed: int | None = 0,
) -> SPAResult:
    """Hansen's (2005) test of superior predictive ability (consistent p-value).

    Parameters are those of :func:`reality_check`.

    Returns
    -------
    SPAResult
        ``p_value`` is the consistent p-value; the lower and upper bounds are
        reported alongside.

    Raises
    ------
    StatisticsError
        On misaligned shapes, non-finite values or invalid settings.
    """
    from arch.bootstrap import SPA

    advantage, best, pvalues, settings = _best_against_benchmark(
        SPA, benchmark, models, inputs, block_size, reps, bootstrap, seed
    )
    return SPAResult(
        p_value=pvalues["consistent"],
        p_value_lower=pvalues["lower"],
        p_value_upper=pvalues["upper"],
        statistic=advantage[best],
        best_model=best,
        mean_advantage=advantage,
        settings=settings,
    )


def stepm(
    benchmark: np.ndarray | pd.Series | None,
    models: ArrayOrFrame,
    *,
    size: float = 0.05,
    inputs: InputKind = "returns",
    block_size: int | None = None,
    reps: int = 1000,
    bootstrap: BootstrapKind = "stationary",
    seed: int | None = 0,
) -> StepMResult:
    """Romano and Wolf's (2005) StepM: the set of models that beat the benchmark.

    Parameters
    ----------
    size : float, default=0.05
        Family-wise error rate, in (0, 1).
    **others
        As in :func:`reality_check`.

    Returns
    -------
    StepMResult

    Raises
    ------
    StatisticsError
        On misaligned shapes, non-finite values or invalid settings.
    """
    from arch.bootstrap import StepM

    _check_size(size)
    bench, losses, settings = _prepare(benchmark, models, inputs, block_size, reps, bootstrap, seed)
    test = StepM(bench, losses, size=float(size), **_arch_kwargs(settings))
    test.compute()
    superior = {str(name) for name in test.superior_models}
    return StepMResult(
        superior_models=tuple(c for c in losses.columns if c in superior),
        size=float(size),
        mean_advantage=_mean_advantage(bench, losses),
        settings=settings,
    )


def model_confidence_set(
    models: ArrayOrFrame,
    *,
    size: float = 0.10,
    method: Literal["R", "max"] = "R",
    inputs: InputKind = "returns",
    block_size: int | None = None,
    reps: int = 1000,
    bootstrap: BootstrapKind = "stationary",
    seed: int | None = 0,
) -> MCSResult:
    """Hansen, Lunde and Nason's (2011) model confidence set.

    Parameters
    ----------
    models : ndarray of shape (T, N), DataFrame
        Per-bar returns (or losses) of N >= 2 models on the same bars.
    size : float, default=0.10
        Test size in (0, 1): the set holds the best model with probability
        at least ``1 - size``.
    method : {"R", "max"}, default="R"
        Elimination statistic: ``"R"`` the range of pairwise standardized loss
        differences, ``"max"`` each model against the average.
    **others
        As in :func:`reality_check`.

    Returns
    -------
    MCSResult

    Raises
    ------
    StatisticsError
        On fewer than two models, non-finite values or invalid settings.
    """
    from arch.bootstrap import MCS

    _check_size(size)
    if method not in ("R", "max"):
        raise StatisticsError(f"unknown MCS method {method!r}", hint="use 'R' or 'max'")
    _, losses, settings = _prepare(None, models, inputs, block_size, reps, bootstrap, seed)
    if losses.shape[1] < 2:
        raise StatisticsError(
            f"the model confidence set needs at least 2 models; got {losses.shape[1]}"
        )
    test = MCS(losses, float(size), method=method, **_arch_kwargs(settings))
    test.compute()
    pvalues = test.pvalues["Pvalue"]
    included = {str(name) for name in test.included}
    return MCSResult(
        included=tuple(c for c in losses.columns if c in included),
        excluded=tuple(c for c in losses.columns if c not in included),
        pvalues={str(name): float(pvalues[name]) for name in losses.columns},
        size=float(size),
        method=method,
        mean_loss={str(c): float(v) for c, v in losses.mean().items()},
        settings=settings,
    )


# -- helpers --------------------------------------------------------------------


def _best_against_benchmark(
    test_class: Any,
    benchmark: np.ndarray | pd.Series | None,
    models: ArrayOrFrame,
    inputs: str,
    block_size: int | None,
    reps: int,
    bootstrap: str,
    seed: int | None,
) -> tuple[dict[str, float], str, dict[str, float], BootstrapSettings]:
    """Run arch's ``RealityCheck`` or ``SPA`` (``test_class``) on the models' losses.

    Returns the per-bar mean advantage of each model, the best model, the
    p-values (``lower``, ``consistent``, ``upper``; all 1.0 when no model beats
    the benchmark) and the settings.
    """
    bench, losses, settings = _prepare(benchmark, models, inputs, block_size, reps, bootstrap, seed)
    test = test_class(bench, losses, **_arch_kwargs(settings))
    test.compute()
    advantage = _mean_advantage(bench, losses)
    best = max(advantage, key=advantage.__getitem__)
    return advantage, best, _truncated(test.pvalues, advantage[best]), settings


def _prepare(
    benchmark: np.ndarray | pd.Series | None,
    models: ArrayOrFrame,
    inputs: str,
    block_size: int | None,
    reps: int,
    bootstrap: str,
    seed: int | None,
) -> tuple[pd.Series, pd.DataFrame, BootstrapSettings]:
    """Benchmark and model losses (negated returns) with string names, and the settings."""
    if inputs not in _LOSS_SIGN:
        raise StatisticsError(f"inputs must be 'returns' or 'losses'; got {inputs!r}")
    if bootstrap not in _ARCH_BOOTSTRAP:
        raise StatisticsError(
            f"unknown bootstrap {bootstrap!r}", hint=f"use one of {sorted(_ARCH_BOOTSTRAP)}"
        )
    if not isinstance(reps, int | np.integer) or reps < 1:
        raise StatisticsError(f"reps must be a positive integer; got {reps!r}")
    if seed is not None and not isinstance(seed, int | np.integer):
        raise StatisticsError(f"seed must be an integer or None; got {seed!r}")
    sign = _LOSS_SIGN[inputs]
    losses = sign * _model_frame(models)
    n_periods = losses.shape[0]
    if benchmark is None:
        bench = pd.Series(np.zeros(n_periods), index=losses.index, name="benchmark")
    else:
        values = np.asarray(benchmark, dtype=np.float64)
        if values.shape != (n_periods,):
            raise StatisticsError(
                f"benchmark has shape {values.shape}; expected ({n_periods},), one value per bar "
                "of the models"
            )
        _check_finite(values, "benchmark")
        bench = pd.Series(sign * values, index=losses.index, name="benchmark")
    resolved_block = int(math.sqrt(n_periods)) if block_size is None else block_size
    if not isinstance(resolved_block, int | np.integer) or not 1 <= resolved_block <= n_periods:
        raise StatisticsError(
            f"block_size must be an integer in [1, {n_periods}] bars; got {block_size!r}"
        )
    settings = BootstrapSettings(
        bootstrap=bootstrap,  # type: ignore[arg-type]
        block_size=int(resolved_block),
        reps=int(reps),
        seed=None if seed is None else int(seed),
        inputs=inputs,  # type: ignore[arg-type]
        n_periods=n_periods,
        n_models=losses.shape[1],
    )
    return bench, losses, settings


def _model_frame(models: ArrayOrFrame) -> pd.DataFrame:
    if isinstance(models, pd.DataFrame):
        frame = models.astype(np.float64)
        frame.columns = pd.Index([str(c) for c in models.columns])
    elif isinstance(models, pd.Series):
        frame = models.astype(np.float64).to_frame(str(models.name or "model_0"))
    else:
        values = np.asarray(models, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise StatisticsError(f"models must be (T,) or (T, N); got shape {values.shape}")
        frame = pd.DataFrame(values, columns=[f"model_{i}" for i in range(values.shape[1])])
    if frame.columns.has_duplicates:
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise StatisticsError(f"model names must be unique; repeated: {dupes}")
    if frame.shape[1] < 1 or frame.shape[0] < 2:
        raise StatisticsError(f"models need at least 2 bars and 1 column; got {frame.shape}")
    _check_finite(frame.to_numpy(), "models")
    return frame.reset_index(drop=True)


def _check_finite(values: np.ndarray, name: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise StatisticsError(
            f"{name} has {int(bad.sum())} NaN or infinite value(s), first at bar {row}",
            hint="drop or fill the same bars in every series before testing",
        )


def _check_size(size: float) -> None:
    if not (isinstance(size, int | float) and 0.0 < float(size) < 1.0):
        raise StatisticsError(f"size must be in (0, 1); got {size!r}")


def _arch_kwargs(settings: BootstrapSettings) -> dict[str, Any]:
    return {
        "block_size": settings.block_size,
        "reps": settings.reps,
        "bootstrap": _ARCH_BOOTSTRAP[settings.bootstrap],
        "seed": settings.seed,
    }


def _truncated(pvalues: pd.Series, statistic: float) -> dict[str, float]:
    """arch's p-values, or 1.0 for all when no model beats the benchmark (Hansen's max(., 0))."""
    if statistic <= 0.0:
        return {key: 1.0 for key in ("lower", "consistent", "upper")}
    return {key: float(pvalues[key]) for key in ("lower", "consistent", "upper")}


def _mean_advantage(bench: pd.Series, losses: pd.DataFrame) -> dict[str, float]:
    diff = bench.to_numpy()[:, None] - losses.to_numpy()
    return {str(c): float(v) for c, v in zip(losses.columns, diff.mean(axis=0), strict=True)}


def _to_dict(result: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(result).items():
        out[key] = json_safe(value)
    return out
