"""Is a Sharpe ratio skill or luck? PSR, DSR, MinTRL and MinBTL.

Conventions, shared by every function here:

- **Per-period Sharpe ratio.** ``SR = mean / std`` of the per-period returns
  (simple or log, whichever the caller has; excess of the risk-free rate if
  the caller subtracted it), *not annualized*: a daily SR of 0.1 is an annual
  SR of ``0.1 * sqrt(252)``. The sample standard deviation uses ``ddof=1``.
  Every Sharpe argument (``sr``, ``sr_benchmark``, ``var_trials``) is in the
  same per-period units; only :func:`min_backtest_length` speaks annual.
- **Higher moments.** ``skew`` is the population (biased) third standardized
  moment; ``kurtosis`` is the population fourth standardized moment, **not
  excess** (Pearson; 3 for a normal distribution), as in Bailey & López de
  Prado (2012, 2014). Any distribution has ``kurtosis >= 1 + skew**2``;
  inputs that break this inequality raise :class:`StatisticsError`.
- ``n_obs`` is the number of returns the Sharpe ratio was estimated from;
  the standard error uses ``n_obs - 1`` (Bailey & López de Prado 2012, Eq. 7).

These are the conventions of ``skfolio.measures``; ``purgedcv`` instead uses
``ddof=0`` for the Sharpe ratio and bias-corrected skew and kurtosis, so its
PSR of the same returns differs in the 3rd-4th digit (equal when it is given
the same moments).

References
----------
Bailey, D. H. & López de Prado, M. (2012). The Sharpe ratio efficient
frontier. Journal of Risk 15(2).
Bailey, D. H. & López de Prado, M. (2014). The deflated Sharpe ratio:
correcting for selection bias, backtest overfitting and non-normality.
Journal of Portfolio Management 40(5).
Bailey, D. H., Borwein, J. M., López de Prado, M. & Zhu, Q. J. (2014).
Pseudo-mathematics and financial charlatanism: the effects of backtest
overfitting on out-of-sample performance. Notices of the AMS 61(5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from alphaloop.errors import AlphaloopError

__all__ = [
    "NO_DEFLATION_BELOW",
    "DSRResult",
    "StatisticsError",
    "deflated_sharpe_ratio",
    "dsr",
    "effective_number_of_trials",
    "expected_max_sharpe",
    "min_backtest_length",
    "min_track_record_length",
    "probabilistic_sharpe_ratio",
    "psr",
    "sharpe_ratio",
]

FloatArray = npt.NDArray[np.float64]
FloatOrArray = float | FloatArray

EULER_MASCHERONI = float(np.euler_gamma)
"""0.5772...: weight of the second quantile in the expected-maximum formula."""

NO_DEFLATION_BELOW = 1.2835654897275894
"""Trial count where the expected-maximum formula crosses 0: fewer trials do not deflate."""

_PEARSON_TOL = 1e-9
"""Slack allowed on ``kurtosis >= 1 + skew**2`` for moments that were rounded."""


class StatisticsError(AlphaloopError):
    """A statistic cannot be computed from these inputs (shape, length, impossible moments)."""


# ----------------------------------------------------------------- helpers
def _returns(returns: npt.ArrayLike, name: str = "returns") -> FloatArray:
    """``returns`` as a finite float64 array of shape (T,) or (T, N) with T >= 2."""
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim not in (1, 2):
        raise StatisticsError(
            f"{name} must be 1-D (T,) or 2-D (T, N) with time along rows, got shape {x.shape}"
        )
    if x.shape[0] < 2:
        raise StatisticsError(f"{name} needs at least 2 observations, got {x.shape[0]}")
    if not np.isfinite(x).all():
        raise StatisticsError(
            f"{name} contains NaN or infinite values",
            hint="drop or fill missing periods before computing Sharpe statistics",
        )
    return x


def _scalar_or_array(value: FloatArray) -> FloatOrArray:
    """A 0-d result as a Python float, anything else unchanged."""
    return float(value) if np.ndim(value) == 0 else value


def _finite(name: str, value: npt.ArrayLike) -> FloatArray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise StatisticsError(f"{name} must be finite, got {value!r}")
    return arr


def _check_moments(skew: FloatArray, kurtosis: FloatArray) -> None:
    """Raise unless ``kurtosis >= 1 + skew**2`` (Pearson's inequality) everywhere."""
    bound = 1.0 + skew**2
    if np.any(kurtosis < bound - _PEARSON_TOL * bound):
        raise StatisticsError(
            f"kurtosis {kurtosis!r} is impossible with skew {skew!r}: every distribution "
            "has kurtosis >= 1 + skew**2",
            hint="pass the non-excess (Pearson) kurtosis, e.g. 3.0 for normal returns, "
            "not the excess kurtosis",
        )


def _moments(x: FloatArray, ddof: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per-column Sharpe ratio, skew and non-excess kurtosis of a (T,) or (T, N) array."""
    mean = x.mean(axis=0)
    dev = x - mean
    m2 = np.mean(dev**2, axis=0)
    flat = np.atleast_1d(m2 <= (np.finfo(np.float64).eps * mean) ** 2)
    if flat.any():
        cols = np.flatnonzero(flat)
        raise StatisticsError(
            f"returns have zero variance (column(s) {cols.tolist()}); the Sharpe ratio is undefined"
        )
    std = np.sqrt(m2 * x.shape[0] / (x.shape[0] - ddof))
    skew = np.mean(dev**3, axis=0) / m2**1.5
    kurt = np.mean(dev**4, axis=0) / m2**2
    return mean / std, skew, kurt


def _expected_max_z(n_trials: FloatArray) -> FloatArray:
    """Expected maximum of ``n_trials`` independent standard normals, floored at 0.

    ``(1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e))`` with ``g`` the
    Euler-Mascheroni constant (Bailey & López de Prado 2014, Eq. 5). The
    approximation is made for many trials; below ``N ~ 1.2836`` (see
    :data:`NO_DEFLATION_BELOW`) it turns negative, and at ``N = 1`` it is
    ``-inf``. The expected maximum of ``N >= 1`` draws is never below the
    expected value of one draw (0), so the result is ``max(formula, 0)``:
    0 for one trial, continuous and non-decreasing in ``N``.
    """
    n = np.maximum(n_trials, 1.0)
    with np.errstate(divide="ignore"):
        z = (1.0 - EULER_MASCHERONI) * stats.norm.ppf(1.0 - 1.0 / n) + EULER_MASCHERONI * (
            stats.norm.ppf(1.0 - 1.0 / (n * np.e))
        )
    return np.maximum(z, 0.0)


def _n_trials(n_trials: npt.ArrayLike) -> FloatArray:
    n = _finite("n_trials", n_trials)
    if np.any(n < 1):
        raise StatisticsError(f"n_trials must be >= 1, got {n_trials!r}")
    return n


# ---------------------------------------------------------------- Sharpe, PSR
def sharpe_ratio(
    returns: npt.ArrayLike, *, ddof: int = 1, periods_per_year: float | None = None
) -> FloatOrArray:
    """Sharpe ratio ``mean / std`` of per-period returns.

    Parameters
    ----------
    returns : array-like of shape (T,) or (T, N)
        Per-period returns (excess of the risk-free rate if that matters);
        rows are time, columns are strategies. At least 2 finite rows.
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation.
    periods_per_year : float, optional
        If given, annualize: multiply by ``sqrt(periods_per_year)`` (e.g. 252
        for daily returns). By default the per-period ratio is returned, which
        is what every other function of this module expects.

    Returns
    -------
    float or ndarray of shape (N,)
        Per-period (or annualized) Sharpe ratio; a float for 1-D input.

    Raises
    ------
    StatisticsError
        Fewer than 2 rows, non-finite values or a column with zero variance.
    """
    x = _returns(returns)
    sr = _moments(x, ddof)[0]
    if periods_per_year is not None:
        if not periods_per_year > 0:
            raise StatisticsError(f"periods_per_year must be > 0, got {periods_per_year!r}")
        sr = sr * np.sqrt(periods_per_year)
    return _scalar_or_array(sr)


def probabilistic_sharpe_ratio(
    sr: npt.ArrayLike,
    sr_benchmark: npt.ArrayLike,
    n_obs: npt.ArrayLike,
    skew: npt.ArrayLike,
    kurtosis: npt.ArrayLike,
) -> FloatOrArray:
    r"""Probability that the true Sharpe ratio exceeds ``sr_benchmark`` (PSR).

    .. math::

        PSR = \Phi\left[\frac{(\widehat{SR} - SR^*)\sqrt{T - 1}}
        {\sqrt{1 - \gamma_3 \widehat{SR} + \frac{\gamma_4 - 1}{4}\widehat{SR}^2}}\right]

    (Bailey & López de Prado 2012, Eq. 7). Broadcasts over array arguments.

    Parameters
    ----------
    sr : float or array-like
        Observed per-period Sharpe ratio (not annualized).
    sr_benchmark : float or array-like
        Per-period benchmark Sharpe ratio :math:`SR^*` (0 for "better than cash").
    n_obs : int or array-like
        Number of returns ``T`` behind ``sr``; at least 2.
    skew : float or array-like
        Skewness :math:`\gamma_3` of the returns.
    kurtosis : float or array-like
        Kurtosis :math:`\gamma_4` of the returns, **not excess** (3 for normal).

    Returns
    -------
    float or ndarray
        Probability in [0, 1]; a float when every argument is a scalar.

    Raises
    ------
    StatisticsError
        Non-finite arguments, ``n_obs < 2``, or ``kurtosis < 1 + skew**2``
        (impossible moments; the usual cause is passing excess kurtosis).

    Notes
    -----
    Pearson's inequality makes the variance term non-negative; it is zero only
    for a two-point distribution at one specific Sharpe ratio, where PSR is 0
    or 1.
    """
    sr_a, bench, n, g3, g4 = (
        _finite(name, v)
        for name, v in (
            ("sr", sr),
            ("sr_benchmark", sr_benchmark),
            ("n_obs", n_obs),
            ("skew", skew),
            ("kurtosis", kurtosis),
        )
    )
    if np.any(n < 2):
        raise StatisticsError(f"n_obs must be >= 2, got {n_obs!r}")
    _check_moments(g3, g4)
    var_term = np.maximum(1.0 - g3 * sr_a + (g4 - 1.0) / 4.0 * sr_a**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (sr_a - bench) * np.sqrt(n - 1.0) / np.sqrt(var_term)
    return _scalar_or_array(stats.norm.cdf(z))


def psr(returns: npt.ArrayLike, sr_benchmark: float = 0.0, *, ddof: int = 1) -> FloatOrArray:
    """PSR of a return series: its moments plugged into :func:`probabilistic_sharpe_ratio`.

    Parameters
    ----------
    returns : array-like of shape (T,) or (T, N)
        Per-period returns; rows are time, columns are strategies.
    sr_benchmark : float, default=0.0
        Per-period benchmark Sharpe ratio.
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation in the Sharpe ratio.
        Skew and kurtosis are population moments (module conventions).

    Returns
    -------
    float or ndarray of shape (N,)
        Probability that each series' true Sharpe ratio exceeds ``sr_benchmark``.
        Equals ``skfolio.measures.probabilistic_sharpe_ratio`` for ``ddof=1``.
    """
    x = _returns(returns)
    sr, skew, kurt = _moments(x, ddof)
    return probabilistic_sharpe_ratio(sr, sr_benchmark, x.shape[0], skew, kurt)


# ------------------------------------------------------------------------ DSR
def expected_max_sharpe(
    n_trials: npt.ArrayLike, var_trials: npt.ArrayLike, mean_trials: npt.ArrayLike = 0.0
) -> FloatOrArray:
    r"""Expected maximum Sharpe ratio of ``n_trials`` skill-less trials, :math:`SR_0`.

    The False Strategy theorem (Bailey & López de Prado 2014, Eq. 5; López de
    Prado 2018, §8):

    .. math::

        SR_0 = \mu + \sqrt{V}\left[(1 - \gamma)\Phi^{-1}\left(1 - \frac1N\right)
        + \gamma\,\Phi^{-1}\left(1 - \frac{1}{N e}\right)\right]

    with :math:`\gamma` the Euler-Mascheroni constant. The bracket is floored
    at 0: the approximation turns negative for ``N`` below
    :data:`NO_DEFLATION_BELOW` (about 1.28), where the expected maximum of
    ``N >= 1`` trials cannot be below the expected value of one. So
    :math:`SR_0 \ge \mu`, with equality for ``N <= NO_DEFLATION_BELOW``, and
    :math:`SR_0` is continuous and non-decreasing in ``N``.

    Parameters
    ----------
    n_trials : float or array-like
        Number of independent trials ``N`` (>= 1; fractional effective counts
        are fine). One trial gives ``mean_trials``.
    var_trials : float or array-like
        Variance ``V`` of the trials' per-period Sharpe ratios (>= 0). An
        annualized variance divided by the periods per year is per-period.
    mean_trials : float or array-like, default=0.0
        Mean :math:`\mu` of the trial Sharpe ratios under the null; the DSR uses 0.

    Returns
    -------
    float or ndarray
        Per-period Sharpe ratio :math:`SR_0`.

    Raises
    ------
    StatisticsError
        ``n_trials < 1``, ``var_trials < 0`` or non-finite arguments.
    """
    n = _n_trials(n_trials)
    var = _finite("var_trials", var_trials)
    if np.any(var < 0):
        raise StatisticsError(f"var_trials must be >= 0, got {var_trials!r}")
    mu = _finite("mean_trials", mean_trials)
    return _scalar_or_array(mu + np.sqrt(var) * _expected_max_z(n))


@dataclass(frozen=True)
class DSRResult:
    """The deflated Sharpe ratio and the quantities it was computed from.

    Attributes
    ----------
    dsr : float
        Probability that the selected strategy's true Sharpe ratio exceeds
        ``sr0``: PSR at the benchmark ``sr0``. At least 0.95 is the usual bar.
    sr : float
        Per-period Sharpe ratio of the selected strategy.
    sr0 : float
        Expected maximum per-period Sharpe ratio of ``n_trials_used`` skill-less trials.
    n_obs : int
        Number of returns behind ``sr``.
    skew, kurtosis : float
        Moments of the selected returns (kurtosis not excess).
    n_trials : float
        Number of trials run.
    var_trials : float
        Variance of the trials' per-period Sharpe ratios.
    effective_trials : float or None
        Effective number of independent trials, if estimated
        (:func:`effective_number_of_trials`); then it, not ``n_trials``, sets ``sr0``.
    """

    dsr: float
    sr: float
    sr0: float
    n_obs: int
    skew: float
    kurtosis: float
    n_trials: float
    var_trials: float
    effective_trials: float | None = None

    @property
    def n_trials_used(self) -> float:
        """The trial count that set ``sr0``: the effective one when estimated."""
        return self.n_trials if self.effective_trials is None else self.effective_trials


def deflated_sharpe_ratio(
    sr: float,
    n_trials: float,
    var_trials: float,
    n_obs: int,
    skew: float,
    kurtosis: float,
    *,
    effective_trials: float | None = None,
) -> DSRResult:
    """Deflated Sharpe ratio: PSR against the expected maximum of ``n_trials`` trials.

    Bailey & López de Prado (2014): ``DSR = PSR(SR0)`` with ``SR0`` from
    :func:`expected_max_sharpe` (mean 0). It corrects the selected strategy's
    Sharpe ratio for the number of strategies tried, their dispersion, the
    track-record length and non-normal returns.

    Deflation only ever lowers the probability: ``SR0 >= 0``, so the DSR is
    at most the PSR against a benchmark of 0, equal to it for one trial (or
    fewer than :data:`NO_DEFLATION_BELOW` effective trials) and non-increasing
    in the trial count.

    Parameters
    ----------
    sr : float
        Per-period Sharpe ratio of the selected strategy.
    n_trials : float
        Number of trials run (>= 1).
    var_trials : float
        Variance of the trials' per-period Sharpe ratios (>= 0).
    n_obs : int
        Number of returns behind ``sr`` (>= 2).
    skew : float
        Skewness of the selected returns.
    kurtosis : float
        Kurtosis of the selected returns, not excess (3 for normal).
    effective_trials : float, optional
        Effective number of independent trials (``1 <= effective_trials``,
        fractional allowed); when given it replaces ``n_trials`` in ``SR0``
        and is recorded.

    Returns
    -------
    DSRResult

    Raises
    ------
    StatisticsError
        Invalid arguments (see :func:`probabilistic_sharpe_ratio` and
        :func:`expected_max_sharpe`).

    Examples
    --------
    The numerical example of Bailey & López de Prado (2014): 100 trials with
    annualized Sharpe variance 0.5, 5 years of daily returns, skew -3,
    kurtosis 10 and an annualized Sharpe ratio of 2.5:

    >>> res = deflated_sharpe_ratio(2.5 / 250**0.5, 100, 0.5 / 250, 1250, -3.0, 10.0)
    >>> round(res.sr0, 6), round(res.dsr, 6)
    (0.113172, 0.900397)
    """
    _n_trials(n_trials)
    used = n_trials if effective_trials is None else effective_trials
    sr0 = float(expected_max_sharpe(used, var_trials))
    prob = float(probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurtosis))
    return DSRResult(
        dsr=prob,
        sr=float(sr),
        sr0=sr0,
        n_obs=int(n_obs),
        skew=float(skew),
        kurtosis=float(kurtosis),
        n_trials=float(n_trials),
        var_trials=float(var_trials),
        effective_trials=None if effective_trials is None else float(effective_trials),
    )


def effective_number_of_trials(trial_returns: npt.ArrayLike) -> float:
    r"""Effective number of independent trials from the correlation of their returns.

    The average-correlation approximation that Bailey & López de Prado (2014)
    give for correlated trials:

    .. math::

        \hat N = \bar\rho + (1 - \bar\rho) N

    where :math:`\bar\rho` is the mean off-diagonal Pearson correlation of the
    ``N`` trials' returns. It gives ``N`` for uncorrelated trials and 1 for
    perfectly correlated ones, and interpolates linearly in between; it is a
    heuristic (one number summarizes the whole correlation structure, so a few
    tight clusters of near-duplicates count as many trials). Negative average
    correlations would give up to ``N + 1``; the result is clipped to ``[1, N]``.

    Parameters
    ----------
    trial_returns : array-like of shape (T, N)
        Per-period returns of every trial; rows are time, columns are trials.

    Returns
    -------
    float
        Effective number of trials, in ``[1, N]``, not rounded.

    Raises
    ------
    StatisticsError
        Not 2-D, fewer than 2 rows, non-finite values or a constant column.

    Notes
    -----
    ``purgedcv.effective_n_trials`` answers a different question: it takes the
    *sequence* of trial Sharpe ratios in the order a sampler ran them and
    divides ``N`` by their integrated autocorrelation time. It sees dependence
    between consecutive trials of a search, not co-movement of their returns;
    for trials run in random order it returns about ``N`` even when every trial
    holds the same asset.
    """
    x = _returns(trial_returns, "trial_returns")
    if x.ndim != 2:
        raise StatisticsError(
            f"trial_returns must be 2-D (T, N), got shape {x.shape}",
            hint="reshape a single trial with x.reshape(-1, 1)",
        )
    n = x.shape[1]
    if n == 1:
        return 1.0
    std = x.std(axis=0)
    if np.any(std == 0):
        raise StatisticsError(
            f"trial_returns column(s) {np.flatnonzero(std == 0).tolist()} are constant; "
            "their correlation with the other trials is undefined"
        )
    corr = np.corrcoef(x, rowvar=False)
    rho = (corr.sum() - np.trace(corr)) / (n * (n - 1))
    return float(np.clip(rho + (1.0 - rho) * n, 1.0, n))


def dsr(
    trial_returns: npt.ArrayLike,
    selected_returns: npt.ArrayLike | None = None,
    *,
    effective_trials: bool = True,
    ddof: int = 1,
) -> DSRResult:
    """Deflated Sharpe ratio from the returns of every trial.

    Parameters
    ----------
    trial_returns : array-like of shape (T, N)
        Per-period returns of all ``N`` trials (including the selected one);
        rows are time. ``var_trials`` is the variance (``ddof=1``) of their
        per-period Sharpe ratios.
    selected_returns : array-like of shape (T',), optional
        Returns of the selected strategy. By default the trial with the
        highest Sharpe ratio.
    effective_trials : bool, default=True
        Deflate with :func:`effective_number_of_trials` instead of ``N``.
        ``False`` reproduces ``skfolio.measures.deflated_sharpe_ratio``.
    ddof : int, default=1
        Delta degrees of freedom of every Sharpe ratio's standard deviation.

    Returns
    -------
    DSRResult
    """
    x = _returns(trial_returns, "trial_returns")
    if x.ndim != 2 or x.shape[1] < 2:
        raise StatisticsError(
            f"trial_returns must be 2-D (T, N) with N >= 2 trials, got shape {x.shape}"
        )
    trial_sr = _moments(x, ddof)[0]
    if selected_returns is None:
        selected = x[:, int(np.argmax(trial_sr))]
    else:
        selected = _returns(selected_returns, "selected_returns")
        if selected.ndim != 1:
            raise StatisticsError(f"selected_returns must be 1-D, got shape {selected.shape}")
    sr, skew, kurt = (float(v) for v in _moments(selected, ddof))
    return deflated_sharpe_ratio(
        sr,
        x.shape[1],
        float(np.var(trial_sr, ddof=1)),
        selected.shape[0],
        skew,
        kurt,
        effective_trials=effective_number_of_trials(x) if effective_trials else None,
    )


# ------------------------------------------------------------ MinTRL, MinBTL
def min_track_record_length(
    sr: npt.ArrayLike,
    sr_benchmark: npt.ArrayLike,
    skew: npt.ArrayLike,
    kurtosis: npt.ArrayLike,
    alpha: float = 0.05,
) -> FloatOrArray:
    r"""Minimum track record length (MinTRL), in observations.

    The number of returns ``T`` at which PSR against ``sr_benchmark`` reaches
    ``1 - alpha`` (Bailey & López de Prado 2012, Eq. 11):

    .. math::

        MinTRL = \max\left(2,\ 1 + \left(1 - \gamma_3 \widehat{SR}
        + \frac{\gamma_4 - 1}{4}\widehat{SR}^2\right)
        \left(\frac{z_{1-\alpha}}{\widehat{SR} - SR^*}\right)^2\right)

    The floor at 2: a Sharpe ratio needs at least two returns (PSR refuses
    fewer), and when the formula falls below 2 (a large gap to the benchmark,
    a large ``alpha``) PSR at ``T = 2`` already exceeds ``1 - alpha``, so two
    returns is the shortest track record that shows it. For ``alpha >= 1/2``
    the quantile :math:`z_{1-\alpha}` is not positive and PSR (at least 1/2
    when ``sr > sr_benchmark``) passes at any length: the result is 2 (the
    formula, with :math:`z` squared, would answer as for ``1 - alpha``).
    Hence PSR at the returned length is exactly ``1 - alpha`` when the result
    is above 2, and at least ``1 - alpha`` when it is 2.

    Parameters
    ----------
    sr : float or array-like
        Observed per-period Sharpe ratio.
    sr_benchmark : float or array-like
        Per-period benchmark Sharpe ratio.
    skew : float or array-like
        Skewness of the returns.
    kurtosis : float or array-like
        Kurtosis, not excess (3 for normal).
    alpha : float, default=0.05
        Significance level, in (0, 1).

    Returns
    -------
    float or ndarray
        Observations (same periodicity as ``sr``), at least 2, not rounded:
        take ``ceil`` for a count. ``inf`` where ``sr <= sr_benchmark``: no
        track record is long enough.

    Raises
    ------
    StatisticsError
        ``alpha`` outside (0, 1), non-finite arguments or impossible moments.
    """
    if not 0.0 < alpha < 1.0:
        raise StatisticsError(f"alpha must be in (0, 1), got {alpha!r}")
    sr_a = _finite("sr", sr)
    bench = _finite("sr_benchmark", sr_benchmark)
    g3, g4 = _finite("skew", skew), _finite("kurtosis", kurtosis)
    _check_moments(g3, g4)
    var_term = np.maximum(1.0 - g3 * sr_a + (g4 - 1.0) / 4.0 * sr_a**2, 0.0)
    gap = sr_a - bench
    # alpha >= 1/2: z <= 0, and PSR (at least 1/2 above the benchmark) passes at any length
    z = max(float(stats.norm.ppf(1.0 - alpha)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        trl = 1.0 + var_term * (z / gap) ** 2
    return _scalar_or_array(np.where(gap > 0, np.maximum(trl, 2.0), np.inf))


def min_backtest_length(n_trials: npt.ArrayLike, target_sharpe_annual: float = 1.0) -> FloatOrArray:
    r"""Minimum backtest length (MinBTL), in years.

    Bailey, Borwein, López de Prado & Zhu (2014), Theorem 2: after trying
    ``N`` independent skill-less configurations, the best in-sample annualized
    Sharpe ratio is expected to reach ``target_sharpe_annual`` on any backtest
    shorter than

    .. math::

        MinBTL \approx \left(\frac{(1-\gamma)\Phi^{-1}(1 - \frac1N)
        + \gamma\Phi^{-1}(1 - \frac{1}{Ne})}{E[\max_N]}\right)^2

    years, with :math:`E[\max_N]` = ``target_sharpe_annual``. Below that length
    an annualized Sharpe ratio of ``target_sharpe_annual`` is no evidence of
    skill. The result does not depend on the return frequency (the annualized
    Sharpe ratio of a skill-less strategy has variance ~1/years); multiply by
    the periods per year for a length in observations.

    Parameters
    ----------
    n_trials : float or array-like
        Number of independent configurations tried (>= 1). One trial (and any
        count below :data:`NO_DEFLATION_BELOW`) gives 0; non-decreasing in ``N``.
    target_sharpe_annual : float, default=1.0
        Annualized Sharpe ratio to be distinguished from luck (> 0).

    Returns
    -------
    float or ndarray
        Years.

    Raises
    ------
    StatisticsError
        ``n_trials < 1`` or a non-positive or non-finite target.
    """
    n = _n_trials(n_trials)
    if not (np.isfinite(target_sharpe_annual) and target_sharpe_annual > 0):
        raise StatisticsError(
            f"target_sharpe_annual must be a positive finite number, got {target_sharpe_annual!r}"
        )
    return _scalar_or_array((_expected_max_z(n) / target_sharpe_annual) ** 2)
