"""Kupiec and Christoffersen tests against worked examples; rolling forecasts use the past only."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaloop.risk import (
    RiskInputError,
    backtest_var,
    christoffersen_conditional_coverage,
    christoffersen_independence,
    estimate_var,
    kupiec_pof,
    rolling_var_forecasts,
    transition_counts,
)


def hand_lr_pof(t: int, x: int, p: float) -> float:
    """Kupiec's closed form, written out with math.log (0 ln 0 = 0)."""

    def ll(count: int, prob: float) -> float:
        return 0.0 if count == 0 else count * math.log(prob)

    phat = x / t
    null = ll(t - x, 1 - p) + ll(x, p)
    alt = ll(t - x, 1 - phat) + ll(x, phat)
    return -2 * (null - alt)


# ---------------------------------------------------------------- Kupiec POF
def test_kupiec_250_days_7_exceptions_at_99() -> None:
    # by hand: 243 ln .99 + 7 ln .01 = -34.67855; 243 ln .972 + 7 ln .028 = -31.92985
    # LR = -2 (-34.67855 + 31.92985) = 5.4974
    test = kupiec_pof(250, 7, 0.99)
    assert test.statistic == pytest.approx(hand_lr_pof(250, 7, 0.01), rel=1e-12)
    assert test.statistic == pytest.approx(5.4970, abs=1e-3)
    assert test.p_value == pytest.approx(0.01905, abs=1e-4)  # chi2(1) tail at 5.497
    assert test.dof == 1
    assert test.rejects(0.05)
    assert not test.rejects(0.01)


@pytest.mark.parametrize(
    ("t", "x", "p"),
    [(250, 0, 0.01), (250, 2, 0.01), (500, 25, 0.05), (1000, 70, 0.05), (30, 30, 0.05)],
)
def test_kupiec_matches_the_closed_form(t: int, x: int, p: float) -> None:
    assert kupiec_pof(t, x, 1 - p).statistic == pytest.approx(
        hand_lr_pof(t, x, p), rel=1e-12, abs=1e-12
    )


def test_kupiec_is_zero_when_the_rate_is_exact() -> None:
    test = kupiec_pof(1000, 10, 0.99)
    assert test.statistic == pytest.approx(0.0, abs=1e-12)
    assert test.p_value == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("t", "confidence", "low", "high"),
    [
        # Jorion, "Value at Risk" (Kupiec 1995): 95% non-rejection regions low < N < high
        (1000, 0.99, 4, 17),
        (500, 0.95, 16, 36),
        (1000, 0.95, 37, 65),
    ],
)
def test_kupiec_non_rejection_regions_from_jorion(
    t: int, confidence: float, low: int, high: int
) -> None:
    kept = [x for x in range(t + 1) if not kupiec_pof(t, x, confidence).rejects(0.05)]
    assert (min(kept), max(kept)) == (low + 1, high - 1)


def test_kupiec_refuses_impossible_counts() -> None:
    with pytest.raises(RiskInputError, match="n_exceptions"):
        kupiec_pof(10, 11, 0.99)
    with pytest.raises(RiskInputError, match="confidence"):
        kupiec_pof(10, 1, 1.0)


# ------------------------------------------------------------- Christoffersen
HITS = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)


def test_transition_counts_by_hand() -> None:
    # pairs (t-1, t) over 19 transitions: 00 x10, 01 x3, 10 x3, 11 x3
    assert transition_counts(HITS) == (10, 3, 3, 3)


def test_christoffersen_independence_worked_example() -> None:
    n00, n01, n10, n11 = 10, 3, 3, 3
    pi01, pi11, pi = n01 / (n00 + n01), n11 / (n10 + n11), (n01 + n11) / 19
    null = (n00 + n10) * math.log(1 - pi) + (n01 + n11) * math.log(pi)
    alt = (
        n00 * math.log(1 - pi01)
        + n01 * math.log(pi01)
        + n10 * math.log(1 - pi11)
        + n11 * math.log(pi11)
    )
    expected = -2 * (null - alt)
    # by hand: pi = 6/19, pi01 = 3/13, pi11 = 1/2
    # null = 13 ln(13/19) + 6 ln(6/19) = -4.93337 - 6.91608 = -11.84945
    # alt = 10 ln(10/13) + 3 ln(3/13) + 6 ln(1/2) = -2.62364 - 4.39901 - 4.15888 = -11.18153
    # LR = -2 (-11.84945 + 11.18153) = 1.3358
    test = christoffersen_independence(HITS)
    assert test.statistic == pytest.approx(expected, rel=1e-12)
    assert test.statistic == pytest.approx(1.3358, abs=1e-3)
    cc = christoffersen_conditional_coverage(HITS, 0.95)
    assert cc.dof == 2
    pof = hand_lr_pof(20, 6, 0.05)  # 6 exceptions in 20 bars
    assert cc.statistic == pytest.approx(expected + pof, rel=1e-12)


def test_christoffersen_with_no_consecutive_exceptions_or_none() -> None:
    spread = np.zeros(250, dtype=bool)
    spread[[10, 80, 150]] = True
    assert transition_counts(spread)[3] == 0
    assert christoffersen_independence(spread).statistic >= 0.0
    none = christoffersen_independence(np.zeros(100, dtype=bool))
    assert none.statistic == 0.0
    assert none.p_value == 1.0


def test_clustered_exceptions_are_rejected() -> None:
    hits = np.zeros(500, dtype=bool)
    hits[100:105] = True  # five in a row, the right count for 99%
    assert not kupiec_pof(500, 5, 0.99).rejects()
    assert christoffersen_independence(hits).rejects(0.01)


# ---------------------------------------------------------- rolling forecasts
def series(seed: int, n: int = 700) -> pd.Series:
    r = np.random.default_rng(seed).standard_t(5, n) * 0.01
    return pd.Series(r, index=pd.bdate_range("2015-01-01", periods=n, tz="UTC"))


def test_each_forecast_is_the_estimate_on_the_previous_window() -> None:
    r = series(1)
    f = rolling_var_forecasts(r, window=250, confidence=0.99)
    assert f["var"].iloc[:250].isna().all()
    for t in (250, 400, 699):
        direct = estimate_var(r.iloc[t - 250 : t], confidence=0.99)
        assert f["var"].iloc[t] == direct.var
        assert f["cvar"].iloc[t] == direct.cvar
    assert (f["realised"] == r).all()


@pytest.mark.parametrize(
    "method", ["historical", "normal", "cornish_fisher", "filtered_historical"]
)
def test_forecasts_do_not_change_when_the_future_is_removed(method: str) -> None:
    r = series(2, 420)
    window = 250 if method != "filtered_historical" else 300
    full = rolling_var_forecasts(r, window=window, method=method, refit_every=15)
    for cut in (window + 37, window + 80):
        short = rolling_var_forecasts(
            r.iloc[: cut + 1], window=window, method=method, refit_every=15
        )
        pd.testing.assert_frame_equal(short, full.iloc[: cut + 1])


def test_forecasts_react_to_a_change_only_after_it() -> None:
    r = series(3, 400)
    shocked = r.copy()
    shocked.iloc[300] = -0.5
    a = rolling_var_forecasts(r, window=100)
    b = rolling_var_forecasts(shocked, window=100)
    pd.testing.assert_series_equal(a["var"].iloc[:301], b["var"].iloc[:301])
    assert b["var"].iloc[301] > a["var"].iloc[301]


def test_backtest_of_forecasts() -> None:
    r = series(4, 1500)
    f = rolling_var_forecasts(r, window=250, confidence=0.99, method="normal")
    bt = backtest_var(r, f["var"], 0.99)
    assert bt.n_obs == 1250
    hits = (-r.iloc[250:] > f["var"].iloc[250:]).to_numpy()
    assert bt.n_exceptions == int(hits.sum())
    assert bt.kupiec.statistic == pytest.approx(hand_lr_pof(1250, bt.n_exceptions, 0.01))
    assert bt.to_dict()["tests"]["kupiec_pof"]["p_value"] == bt.kupiec.p_value
    # t(5) tails are fatter than the normal model's: more exceptions than 1%
    assert bt.exception_rate > 0.01


def test_backtest_needs_realised_returns_for_every_forecast() -> None:
    r = series(5, 300)
    f = rolling_var_forecasts(r, window=100)
    with pytest.raises(RiskInputError, match="realised_returns") as info:
        backtest_var(r.iloc[:-5], f["var"], 0.99)
    assert info.value.field == "realised_returns"


def test_rolling_bad_input() -> None:
    r = series(6, 100)
    with pytest.raises(RiskInputError, match="window"):
        rolling_var_forecasts(r, window=100)
    with pytest.raises(RiskInputError, match="method"):
        rolling_var_forecasts(r, window=50, method="magic")  # type: ignore[arg-type]
