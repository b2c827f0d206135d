"""Significance of a mined IC: Newey-West t-statistic and Šidák adjustment for the trials."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import norm

from alphaloop.errors import MiningError
from alphaloop.factors.analysis import mean_t_stat_hac
from alphaloop.factors.mining.significance import adjusted_p, ic_significance


def series(seed: int, mean: float, n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.normal(scale=0.1, size=n + 4)
    values = mean + (noise[4:] + noise[:-4]) / 2  # overlapping, like h-bar labels
    values[::37] = np.nan
    return values


def test_t_stat_is_the_newey_west_one_with_horizon_plus_one() -> None:
    daily = series(0, 0.02)
    result = ic_significance(daily, horizon=5, n_trials=1)
    finite = daily[np.isfinite(daily)]
    t_stat, lags = mean_t_stat_hac(finite, horizon=6)
    assert result.t_stat == t_stat
    assert result.lags == lags
    assert result.n_days == finite.size
    assert result.mean_ic == pytest.approx(finite.mean(), abs=1e-15)
    assert result.p_value == pytest.approx(2 * norm.sf(abs(t_stat)), rel=1e-12)
    assert result.adjusted_p == pytest.approx(result.p_value, rel=1e-12)  # one trial


def test_sidak_adjustment_for_many_trials() -> None:
    daily = series(1, 0.012)
    one = ic_significance(daily, horizon=1, n_trials=1)
    many = ic_significance(daily, horizon=1, n_trials=3000)
    assert many.t_stat == one.t_stat
    assert many.p_value == one.p_value
    assert many.adjusted_p == pytest.approx(1 - (1 - one.p_value) ** 3000, rel=1e-9)
    assert many.adjusted_p > one.p_value
    assert many.n_trials == 3000


def test_passed_means_adjusted_p_below_alpha() -> None:
    strong = ic_significance(series(2, 0.05), horizon=1, n_trials=3000)
    assert strong.adjusted_p < 0.05
    assert strong.passed
    weak = ic_significance(series(3, 0.004), horizon=1, n_trials=3000)
    assert weak.p_value < 0.2  # looks fine alone ...
    assert weak.adjusted_p > 0.05  # ... not after 3000 tries
    assert not weak.passed
    assert ic_significance(series(3, 0.004), horizon=1, n_trials=1, alpha=0.5).passed


def test_adjusted_p_by_hand() -> None:
    assert adjusted_p(0.01, 5) == pytest.approx(1 - 0.99**5, rel=1e-12)
    assert adjusted_p(1e-12, 1000) == pytest.approx(1e-9, rel=1e-6)  # digits kept
    assert adjusted_p(0.0, 10) == 0.0
    assert adjusted_p(1.0, 10) == 1.0
    assert math.isnan(adjusted_p(math.nan, 10))
    with pytest.raises(MiningError, match="p_value"):
        adjusted_p(1.5, 2)


@pytest.mark.parametrize("n_trials", [0, -3, 2.5])
def test_fewer_than_one_trial_is_refused(n_trials: float) -> None:
    with pytest.raises(MiningError, match="n_trials"):
        ic_significance(series(4, 0.01), horizon=1, n_trials=n_trials)  # type: ignore[arg-type]
    with pytest.raises(MiningError, match="n_trials"):
        adjusted_p(0.1, n_trials)  # type: ignore[arg-type]


def test_other_bad_arguments_say_what() -> None:
    with pytest.raises(MiningError, match="alpha"):
        ic_significance(series(5, 0.01), horizon=1, n_trials=2, alpha=1.5)
    with pytest.raises(MiningError, match="horizon"):
        ic_significance(series(5, 0.01), horizon=0, n_trials=2)


def test_too_few_days_is_not_significant() -> None:
    result = ic_significance([0.1, math.nan], horizon=1, n_trials=1)
    assert result.n_days == 1
    assert math.isnan(result.t_stat)
    assert math.isnan(result.adjusted_p)
    assert not result.passed
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["t_stat"] is None
    assert data["passed"] is False
