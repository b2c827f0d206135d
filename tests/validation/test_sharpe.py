"""PSR, DSR, MinTRL, MinBTL and the effective number of trials.

Hand values, the numerical example of Bailey & López de Prado (2014), and
parity with skfolio (same conventions: ddof=1 Sharpe ratio, population skew
and kurtosis) and purgedcv (given the moments it uses).
"""

from __future__ import annotations

import math

import numpy as np
import purgedcv
import pytest
import skfolio.measures as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from alphaloop.validation.sharpe import (
    NO_DEFLATION_BELOW,
    DSRResult,
    StatisticsError,
    deflated_sharpe_ratio,
    dsr,
    effective_number_of_trials,
    expected_max_sharpe,
    min_backtest_length,
    min_track_record_length,
    probabilistic_sharpe_ratio,
    psr,
    sharpe_ratio,
)

Z95 = 1.6448536269514722  # Phi^-1(0.95)


def phi(z: float) -> float:
    """Standard normal CDF by hand."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def skewed_returns(rng: np.random.Generator, shape: tuple[int, ...], drift: float = 0.0005):
    """Fat-tailed, left-skewed daily-like returns."""
    return drift + 0.01 * (rng.standard_t(5, shape) - 0.3 * rng.exponential(1.0, shape))


# ------------------------------------------------------------------ DSR vector
def test_dsr_test_vector_from_the_paper() -> None:
    # 100 trials, Var[SR] = 0.5 / 250, T = 1250, skew -3, kurtosis 10, SR = 2.5 / sqrt(250)
    res = deflated_sharpe_ratio(2.5 / math.sqrt(250), 100, 0.5 / 250, 1250, -3.0, 10.0)
    assert isinstance(res, DSRResult)
    assert round(res.sr0, 6) == 0.113172
    assert round(res.dsr, 6) == 0.900397
    assert res.n_trials_used == 100
    assert res.effective_trials is None


def test_expected_max_sharpe_by_hand_and_against_skfolio() -> None:
    g = 0.5772156649015329
    bracket = (1 - g) * stats.norm.ppf(1 - 1 / 100) + g * stats.norm.ppf(1 - 1 / (100 * math.e))
    assert expected_max_sharpe(100, 0.002) == pytest.approx(math.sqrt(0.002) * bracket, 1e-15)
    for n, var in [(2, 0.01), (10, 1e-4), (37.5, 0.3), (1000, 2e-3)]:
        theirs = skm.expected_max_sharpe_ratio(n, math.sqrt(var))
        assert expected_max_sharpe(n, var) == pytest.approx(theirs, rel=1e-14)
    assert expected_max_sharpe(1, 0.5) == 0.0
    assert expected_max_sharpe(1, 0.5, mean_trials=0.1) == pytest.approx(0.1)
    assert expected_max_sharpe(50, 0.0) == 0.0
    vec = expected_max_sharpe(np.array([1.0, 10.0, 100.0]), 0.002)
    assert vec.shape == (3,)
    assert vec[0] == 0.0
    assert np.all(np.diff(vec) > 0)


def test_expected_max_formula_crosses_zero_at_no_deflation_below() -> None:
    g = 0.5772156649015329

    def formula(n: float) -> float:
        return (1 - g) * stats.norm.ppf(1 - 1 / n) + g * stats.norm.ppf(1 - 1 / (n * math.e))

    assert formula(NO_DEFLATION_BELOW) == pytest.approx(0.0, abs=1e-12)
    assert formula(1.1) < 0 < formula(1.3)
    # below the crossing the raw formula is negative: the expected maximum is floored at 0
    for n in (1.0, 1.01, 1.1, 1.2, NO_DEFLATION_BELOW):
        assert expected_max_sharpe(n, 0.01) == 0.0
        assert expected_max_sharpe(n, 0.01, mean_trials=0.05) == pytest.approx(0.05)
    assert expected_max_sharpe(1.3, 0.01) == pytest.approx(0.1 * formula(1.3), rel=1e-14)
    grid = np.concatenate([np.linspace(1.0, 3.0, 401), np.geomspace(3.0, 1e4, 200)])
    sr0 = expected_max_sharpe(grid, 0.002)
    assert np.all(sr0 >= 0)
    assert np.all(np.diff(sr0) >= 0)


# ------------------------------------------------------------------------ PSR
def test_psr_by_hand() -> None:
    sr, bench, n, skew, kurt = 0.1, 0.02, 500, -0.5, 5.0
    z = (sr - bench) * math.sqrt(n - 1) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert probabilistic_sharpe_ratio(sr, bench, n, skew, kurt) == pytest.approx(phi(z), 1e-14)
    # normal returns, SR equal to the benchmark: a coin flip
    assert probabilistic_sharpe_ratio(0.05, 0.05, 100, 0.0, 3.0) == 0.5


def test_psr_broadcasts() -> None:
    sr = np.array([0.0, 0.05, 0.1])
    out = probabilistic_sharpe_ratio(sr, 0.0, np.array([[250], [1000]]), -1.0, 6.0)
    assert out.shape == (2, 3)
    for i, n in enumerate([250, 1000]):
        for j, s in enumerate(sr):
            assert out[i, j] == probabilistic_sharpe_ratio(s, 0.0, n, -1.0, 6.0)


def test_psr_of_returns_matches_skfolio() -> None:
    rng = np.random.default_rng(3)
    x = skewed_returns(rng, (750, 4))
    for bench in (0.0, 0.03):
        ours = psr(x, bench)
        theirs = skm.probabilistic_sharpe_ratio(x, benchmark_sharpe_ratio=bench)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        assert psr(x[:, 0], bench) == pytest.approx(
            skm.probabilistic_sharpe_ratio(x[:, 0], bench), rel=1e-12
        )


def test_sharpe_ratio_conventions() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(0.001, 0.01, (300, 3))
    np.testing.assert_allclose(sharpe_ratio(x), x.mean(0) / x.std(0, ddof=1), rtol=1e-13)
    np.testing.assert_allclose(sharpe_ratio(x, ddof=0), x.mean(0) / x.std(0), rtol=1e-13)
    annual = sharpe_ratio(x[:, 0], periods_per_year=252)
    assert annual == pytest.approx(sharpe_ratio(x[:, 0]) * math.sqrt(252))


def test_psr_and_dsr_match_purgedcv_given_its_moments() -> None:
    """purgedcv uses ddof=0 and bias-corrected skew/kurtosis; with those moments we agree."""
    rng = np.random.default_rng(5)
    r = skewed_returns(rng, (1000,))
    sr = r.mean() / r.std()
    skew = stats.skew(r, bias=False)
    kurt = stats.kurtosis(r, bias=False, fisher=False)
    for bench in (0.0, 0.02):
        theirs = purgedcv.probabilistic_sharpe_ratio(r, benchmark_skill=bench)
        ours = probabilistic_sharpe_ratio(sr, bench, r.size, skew, kurt)
        assert ours == pytest.approx(theirs, rel=1e-12)
    theirs = purgedcv.deflated_sharpe_ratio(r, n_trials=40, var_sharpe=0.5 / 252)
    ours = deflated_sharpe_ratio(sr, 40, 0.5 / 252, r.size, skew, kurt)
    assert ours.dsr == pytest.approx(theirs, rel=1e-12)
    # with our own (skfolio) moment conventions the difference is small but not zero
    assert psr(r) == pytest.approx(purgedcv.probabilistic_sharpe_ratio(r, 0.0), abs=5e-3)


# ----------------------------------------------------------------------- DSR
def test_dsr_of_trial_returns_matches_skfolio() -> None:
    rng = np.random.default_rng(6)
    trials = skewed_returns(rng, (1000, 30), drift=0.0)
    trials[:, 7] += 0.0015  # one trial with an edge
    trial_sr = trials.mean(0) / trials.std(0, ddof=1)
    res = dsr(trials, effective_trials=False)
    theirs = skm.deflated_sharpe_ratio(trials[:, 7], trial_sr)
    assert res.dsr == pytest.approx(theirs, rel=1e-12)
    assert res.sr == pytest.approx(trial_sr[7], rel=1e-13)
    assert res.n_trials == 30
    assert res.var_trials == pytest.approx(np.var(trial_sr, ddof=1), rel=1e-13)
    # an explicit selection gives the same
    assert dsr(trials, trials[:, 7], effective_trials=False).dsr == res.dsr


def test_dsr_with_effective_trials() -> None:
    rng = np.random.default_rng(7)
    common = rng.normal(0, 0.01, (1000, 1))
    trials = 0.0002 + common + rng.normal(0, 0.01, (1000, 50))  # correlation ~0.5
    raw = dsr(trials, effective_trials=False)
    eff = dsr(trials)
    assert eff.effective_trials == pytest.approx(effective_number_of_trials(trials))
    assert eff.n_trials_used == eff.effective_trials < 50
    assert eff.sr0 == pytest.approx(expected_max_sharpe(eff.effective_trials, eff.var_trials))
    assert eff.sr0 < raw.sr0
    assert eff.dsr > raw.dsr


def test_dsr_with_fewer_than_two_effective_trials_is_the_psr() -> None:
    """1 < effective N < 1.28 used to give a negative SR0 and a DSR above the PSR."""
    sr, n_obs, skew, kurt, var = 0.03, 750, -0.4, 5.0, 0.5 / 252
    psr0 = probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt)
    for eff in (1.0, 1.05, 1.2, NO_DEFLATION_BELOW):
        res = deflated_sharpe_ratio(sr, 40, var, n_obs, skew, kurt, effective_trials=eff)
        assert res.sr0 == 0.0
        assert res.dsr == psr0
    assert deflated_sharpe_ratio(sr, 1, var, n_obs, skew, kurt).dsr == psr0
    deflated = deflated_sharpe_ratio(sr, 40, var, n_obs, skew, kurt, effective_trials=1.5)
    assert deflated.sr0 > 0
    assert deflated.dsr < psr0


trial_counts = st.one_of(
    st.integers(1, 10_000).map(float),
    st.floats(1.0, 10_000.0, allow_nan=False, allow_infinity=False),
    st.floats(1.0, 2.0),
)


@settings(max_examples=300, deadline=None)
@given(
    n_a=trial_counts,
    n_b=trial_counts,
    sr=st.floats(-0.5, 0.5),
    n_obs=st.integers(2, 10_000),
    skew=st.floats(-3, 3),
    extra_kurt=st.floats(1e-6, 20),
    var_trials=st.floats(0.0, 0.05),
)
def test_dsr_is_at_most_psr_and_non_increasing_in_trials(
    n_a: float,
    n_b: float,
    sr: float,
    n_obs: int,
    skew: float,
    extra_kurt: float,
    var_trials: float,
) -> None:
    kurt = 1 + skew**2 + extra_kurt
    psr0 = probabilistic_sharpe_ratio(sr, 0.0, n_obs, skew, kurt)
    few, many = sorted((n_a, n_b))
    dsr_few = deflated_sharpe_ratio(sr, few, var_trials, n_obs, skew, kurt).dsr
    dsr_many = deflated_sharpe_ratio(sr, many, var_trials, n_obs, skew, kurt).dsr
    assert dsr_many <= dsr_few <= psr0
    # an effective count in place of the raw one obeys the same order
    eff = deflated_sharpe_ratio(sr, many, var_trials, n_obs, skew, kurt, effective_trials=few)
    assert eff.dsr == dsr_few
    assert deflated_sharpe_ratio(sr, 1, var_trials, n_obs, skew, kurt).dsr == psr0
    one = deflated_sharpe_ratio(sr, many, var_trials, n_obs, skew, kurt, effective_trials=1)
    assert one.dsr == psr0


# ---------------------------------------------------------- effective trials
def test_effective_trials_limits() -> None:
    rng = np.random.default_rng(8)
    indep = rng.standard_normal((5000, 20))
    assert effective_number_of_trials(indep) == pytest.approx(20, abs=0.5)
    same = np.repeat(rng.standard_normal((500, 1)), 10, axis=1)
    assert effective_number_of_trials(same) == pytest.approx(1.0)
    anti = np.column_stack([indep[:, 0], -indep[:, 0]])  # rho = -1 would give 3: clipped
    assert effective_number_of_trials(anti) == 2.0
    assert effective_number_of_trials(indep[:, :1]) == 1.0


def test_effective_trials_equicorrelated() -> None:
    rng = np.random.default_rng(9)
    n, rho = 40, 0.3
    x = math.sqrt(rho) * rng.standard_normal((20_000, 1)) + math.sqrt(
        1 - rho
    ) * rng.standard_normal((20_000, n))
    corr = np.corrcoef(x, rowvar=False)
    rho_hat = corr[~np.eye(n, dtype=bool)].mean()
    assert effective_number_of_trials(x) == pytest.approx(rho_hat + (1 - rho_hat) * n, 1e-12)
    assert effective_number_of_trials(x) == pytest.approx(rho + (1 - rho) * n, rel=0.02)


def test_effective_trials_differs_from_purgedcv_by_design() -> None:
    """purgedcv deflates by the autocorrelation of the trial-Sharpe sequence, not by
    the correlation of returns: trials sharing a common factor but evaluated in random
    order look independent to it."""
    rng = np.random.default_rng(10)
    n = 200
    x = 0.8 * rng.standard_normal((2000, 1)) + 0.6 * rng.standard_normal((2000, n))  # rho .64
    ours = effective_number_of_trials(x)
    theirs = purgedcv.effective_n_trials(x.mean(0) / x.std(0, ddof=1))
    assert ours == pytest.approx(0.64 + 0.36 * n, rel=0.05)
    assert theirs > 0.8 * n
    # a sampler walking through parameter space: autocorrelated Sharpe sequence
    walk = np.cumsum(rng.standard_normal(n)) * 0.01
    assert purgedcv.effective_n_trials(walk) < 0.2 * n


# -------------------------------------------------------------------- MinTRL
def test_min_track_record_length_by_hand() -> None:
    # normal returns, SR 0.1 per period against 0: 1 + (1 + 2/4 * 0.01) * (z / 0.1)^2
    expected = 1 + (1 + 0.5 * 0.01) * (Z95 / 0.1) ** 2
    assert min_track_record_length(0.1, 0.0, 0.0, 3.0) == pytest.approx(expected, 1e-13)
    assert expected == pytest.approx(272.9071171, 1e-9)
    sr, bench, skew, kurt = 0.08, 0.03, -2.0, 9.0
    by_hand = 1 + (1 - skew * sr + (kurt - 1) / 4 * sr**2) * (Z95 / (sr - bench)) ** 2
    assert min_track_record_length(sr, bench, skew, kurt) == pytest.approx(by_hand, 1e-13)
    assert min_track_record_length(0.02, 0.03, 0.0, 3.0) == math.inf
    assert min_track_record_length(0.03, 0.03, 0.0, 3.0) == math.inf
    # purgedcv rounds up: its answer is 1 + ceil(ours - 1)
    ours = min_track_record_length(sr, bench, skew, kurt, alpha=0.01)
    theirs = purgedcv.min_track_record_length(sr, bench, 0.01, skew, kurt)
    assert theirs == 1 + math.ceil(ours - 1)


def test_min_track_record_length_is_at_least_two_returns() -> None:
    # the formula gives 1 + 1.125 * (Phi^-1(0.6) / 0.5)^2 = 1.29 returns; a Sharpe ratio needs 2
    raw = 1 + (1 + 2 / 4 * 0.25) * (stats.norm.ppf(0.6) / 0.5) ** 2
    assert raw == pytest.approx(1.28883, abs=1e-5)
    assert min_track_record_length(0.5, 0.0, 0.0, 3.0, alpha=0.4) == 2.0
    assert probabilistic_sharpe_ratio(0.5, 0.0, 2, 0.0, 3.0) > 0.6
    # alpha above one half: PSR passes 1 - alpha at any length with SR above the benchmark
    assert min_track_record_length(0.01, 0.0, 0.0, 3.0, alpha=0.7) == 2.0
    # a two-point distribution at SR = 2 / skew has no variance term: formula 1, result 2
    assert min_track_record_length(1.0, 0.5, 2.0, 5.0) == 2.0
    vec = min_track_record_length(np.array([0.5, 0.1, 0.0]), 0.0, 0.0, 3.0, alpha=0.4)
    assert vec[0] == 2.0
    assert vec[1] > 2.0
    assert vec[2] == math.inf


@settings(max_examples=100, deadline=None)
@given(
    sr=st.floats(0.01, 0.5),
    gap=st.floats(0.005, 0.3),
    skew=st.floats(-3, 3),
    extra_kurt=st.floats(0, 20),
    alpha=st.floats(0.001, 0.999),
)
def test_min_track_record_length_inverts_psr(
    sr: float, gap: float, skew: float, extra_kurt: float, alpha: float
) -> None:
    kurt = 1 + skew**2 + extra_kurt
    trl = min_track_record_length(sr, sr - gap, skew, kurt, alpha)
    # PSR accepts every length MinTRL returns; it reaches 1 - alpha exactly there, unless
    # the length is the floor of two returns, where it has already passed it
    assert trl >= 2
    prob = probabilistic_sharpe_ratio(sr, sr - gap, trl, skew, kurt)
    if trl > 2:
        assert prob == pytest.approx(1 - alpha, abs=1e-9)
    else:
        assert prob >= 1 - alpha


# -------------------------------------------------------------------- MinBTL
def test_min_backtest_length() -> None:
    # Bailey et al. (2014): with 5 years of data, no more than 45 configurations
    assert min_backtest_length(45, 1.0) < 5.0 < min_backtest_length(46, 1.0)
    assert min_backtest_length(45) == pytest.approx(purgedcv.minimum_backtest_length(45), 1e-14)
    assert min_backtest_length(1) == 0.0
    # fewer than about 1.28 trials: no selection to correct for (the formula would rise again)
    assert min_backtest_length(np.array([1.0, 1.1, 1.2, NO_DEFLATION_BELOW])).tolist() == [0.0] * 4
    lengths = min_backtest_length(np.linspace(1.0, 50.0, 500))
    assert np.all(np.diff(lengths) >= 0)
    # after y years of daily data a skill-less Sharpe has per-day variance 1 / (250 y);
    # at y = MinBTL the expected best of 100 annualizes to the target
    y = min_backtest_length(100, 1.5)
    sr0 = expected_max_sharpe(100, 1 / (250 * y))
    assert sr0 * math.sqrt(250) == pytest.approx(1.5, rel=1e-12)


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 1, 0.0, 3.0), "n_obs must be >= 2"),
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, 0.0, 0.0), "not the excess"),
        (lambda: probabilistic_sharpe_ratio(0.1, 0.0, 100, 2.0, 4.0), "impossible"),
        (lambda: probabilistic_sharpe_ratio(np.nan, 0.0, 100, 0.0, 3.0), "sr must be finite"),
        (lambda: expected_max_sharpe(0.5, 0.1), "n_trials must be >= 1"),
        (lambda: expected_max_sharpe(10, -0.1), "var_trials must be >= 0"),
        (lambda: deflated_sharpe_ratio(0.1, 0, 0.1, 100, 0.0, 3.0), "n_trials must be >= 1"),
        (lambda: min_track_record_length(0.1, 0.0, 0.0, 3.0, alpha=1.0), "alpha"),
        (lambda: min_backtest_length(10, 0.0), "target_sharpe_annual"),
        (lambda: psr(np.array([0.01])), "at least 2"),
        (lambda: psr(np.array([0.01, np.nan, 0.02])), "NaN"),
        (lambda: psr(np.full(10, 0.01)), "zero variance"),
        (lambda: sharpe_ratio(np.zeros((3, 3, 3))), "1-D"),
        (lambda: effective_number_of_trials(np.ones(10)), "2-D"),
        (lambda: dsr(np.ones((10, 1))), "N >= 2"),
    ],
)
def test_invalid_inputs_raise(call, message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        call()
