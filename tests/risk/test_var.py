"""VaR and CVaR: hand-computed values, skfolio parity, horizons, properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import skfolio.measures as skm
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import integrate, stats

from alphaloop.risk import (
    VAR_METHODS,
    CovarianceError,
    RiskError,
    RiskInputError,
    estimate_var,
    historical_var,
    var_table,
)
from alphaloop.risk.var import cornish_fisher_quantile


def fat_tails(seed: int, n: int = 2000, k: int = 4) -> np.ndarray:
    return np.random.default_rng(seed).standard_t(4, (n, k)) * 0.01


# ------------------------------------------------------------ hand-computed
def test_historical_on_a_ladder_of_losses() -> None:
    returns = -np.arange(1, 101) / 1000.0  # losses 0.001 .. 0.100, shuffled below
    np.random.default_rng(0).shuffle(returns)
    est = estimate_var(returns, confidence=0.95)
    # k = (1 - 0.95) * 100 = 5: VaR is the 6th largest loss, CVaR the mean of the 5 largest
    assert est.var == pytest.approx(0.095)
    assert est.cvar == pytest.approx((0.100 + 0.099 + 0.098 + 0.097 + 0.096) / 5)
    assert est.n_obs == 100
    assert est.horizon == 1


def test_historical_cvar_with_a_fractional_tail() -> None:
    losses = np.arange(1, 11, dtype=float)  # 1..10, confidence 0.85: tail mass 1.5 observations
    var, cvar = historical_var(losses, 0.85)
    assert var == 9.0  # smallest l with F(l) >= 0.85 (F(9) = 0.9)
    # the worst 15%: all of 10 (10%) and half of the 9 (5%)
    assert cvar == pytest.approx((10 * 0.10 + 9 * 0.05) / 0.15)


def test_normal_closed_form() -> None:
    r = np.random.default_rng(3).normal(0.0005, 0.012, 1500)
    mu, sd = r.mean(), r.std(ddof=1)
    z = 2.3263478740408408  # 99% standard normal quantile
    pdf_z = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    est = estimate_var(r, confidence=0.99, method="normal")
    assert est.var == pytest.approx(-mu + z * sd, rel=1e-12)
    assert est.cvar == pytest.approx(-mu + sd * pdf_z / 0.01, rel=1e-12)
    ten = estimate_var(r, confidence=0.99, method="normal", horizon=10)
    assert ten.var == pytest.approx(-10 * mu + z * sd * math.sqrt(10), rel=1e-12)
    assert "sqrt-time" in ten.scaling


def test_student_t_cvar_matches_the_integral_of_its_quantile() -> None:
    r = fat_tails(5)[:, 0]
    est = estimate_var(r, confidence=0.975, method="student_t", dof=5.0)
    mu, sd = r.mean(), r.std(ddof=1)
    scale = sd * math.sqrt(3 / 5)
    assert est.var == pytest.approx(-mu + scale * stats.t.ppf(0.975, 5), rel=1e-10)
    tail, _ = integrate.quad(lambda u: -mu + scale * stats.t.ppf(u, 5), 0.975, 1.0, limit=200)
    assert est.cvar == pytest.approx(tail / 0.025, rel=1e-6)
    assert "approximation" in estimate_var(r, method="student_t", horizon=5, dof=5).scaling


def test_student_t_fits_its_dof_when_not_given() -> None:
    r = np.random.default_rng(8).standard_t(3.5, 5000) * 0.01
    est = estimate_var(r, method="student_t")
    dof = float(est.scaling.split("dof ")[1])
    assert 2.5 < dof < 5.0


def test_cornish_fisher_reduces_to_normal_without_skew_or_kurtosis() -> None:
    assert cornish_fisher_quantile(1.5, 0.0, 0.0) == pytest.approx(1.5)
    # a hand-expanded value: z = 2.326, S = -0.5, K = 3
    z, s, k = 2.326, -0.5, 3.0
    hand = z + (z * z - 1) * s / 6 + (z**3 - 3 * z) * k / 24 - (2 * z**3 - 5 * z) * s * s / 36
    assert cornish_fisher_quantile(z, s, k) == pytest.approx(hand)


def test_cornish_fisher_uses_sample_skew_and_kurtosis() -> None:
    r = fat_tails(9)[:, 1]
    mu, sd = r.mean(), r.std(ddof=1)
    s, k = stats.skew(r, bias=False), stats.kurtosis(r, bias=False)
    z = stats.norm.ppf(0.99)
    expected = -mu + sd * cornish_fisher_quantile(z, -s, k)
    est = estimate_var(r, confidence=0.99, method="cornish_fisher")
    assert est.var == pytest.approx(float(expected), rel=1e-12)
    tail, _ = integrate.quad(
        lambda u: -mu + sd * float(cornish_fisher_quantile(stats.norm.ppf(u), -s, k)), 0.99, 1.0
    )
    assert est.cvar == pytest.approx(tail / 0.01, rel=1e-3)


# ------------------------------------------------------------- skfolio parity
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.975, 0.99, 0.995, 0.9137])
@pytest.mark.parametrize("n_obs", [100, 250, 1001])
def test_historical_matches_skfolio(confidence: float, n_obs: int) -> None:
    rets = fat_tails(n_obs, n=n_obs)
    w = np.array([0.4, 0.3, -0.1, 0.4])
    est = estimate_var(rets, weights=w, confidence=confidence)
    port = rets @ w
    assert est.var == pytest.approx(skm.value_at_risk(port, beta=confidence), abs=1e-15)
    assert est.cvar == pytest.approx(skm.cvar(port, beta=confidence), rel=1e-12)


def test_weights_by_name_equal_weights_by_position() -> None:
    rets = pd.DataFrame(fat_tails(1, 300), columns=list("ABCD"))
    by_name = estimate_var(rets, weights={"D": 0.5, "A": 0.5})
    by_pos = estimate_var(rets, weights=[0.5, 0, 0, 0.5])
    assert by_name == by_pos


# ------------------------------------------------------------------ horizons
def test_historical_horizon_compounds_overlapping_windows() -> None:
    r = np.random.default_rng(2).normal(0, 0.01, 400)
    h = 5
    windows = np.array([np.prod(1 + r[i : i + h]) - 1 for i in range(r.size - h + 1)])
    est = estimate_var(r, confidence=0.95, horizon=h)
    assert est.var == pytest.approx(skm.value_at_risk(windows, beta=0.95), rel=1e-12)
    assert est.n_obs == 400
    assert "no scaling" in est.scaling


def test_historical_horizon_holds_the_positions() -> None:
    rets = fat_tails(4, 300, 2)
    w = np.array([0.7, 0.3])
    h = 3
    held = np.array(
        [w @ (np.prod(1 + rets[i : i + h], axis=0) - 1) for i in range(rets.shape[0] - h + 1)]
    )
    est = estimate_var(rets, weights=w, confidence=0.9, horizon=h)
    assert est.var == pytest.approx(skm.value_at_risk(held, beta=0.9), rel=1e-12)


def test_monte_carlo_converges_to_normal_and_is_seeded() -> None:
    rets = np.random.default_rng(6).normal(0.0003, 0.01, (1500, 3))
    w = [0.5, 0.3, 0.2]
    mc = estimate_var(rets, weights=w, method="monte_carlo", n_paths=200_000, seed=1)
    normal = estimate_var(rets, weights=w, method="normal")
    assert mc.var == pytest.approx(normal.var, rel=0.02)
    assert mc.cvar == pytest.approx(normal.cvar, rel=0.02)
    again = estimate_var(rets, weights=w, method="monte_carlo", n_paths=200_000, seed=1)
    assert again == mc
    other = estimate_var(rets, weights=w, method="monte_carlo", n_paths=200_000, seed=2)
    assert other.var != mc.var


def test_filtered_historical_is_close_to_historical_on_iid_data() -> None:
    r = np.random.default_rng(12).normal(0, 0.01, 2000)
    fhs = estimate_var(r, confidence=0.99, method="filtered_historical")
    hist = estimate_var(r, confidence=0.99)
    assert fhs.var == pytest.approx(hist.var, rel=0.15)
    ten = estimate_var(r, confidence=0.99, method="filtered_historical", horizon=10, n_paths=2000)
    assert ten.var == pytest.approx(hist.var * math.sqrt(10), rel=0.2)
    assert "GARCH" in ten.scaling


def test_filtered_historical_sees_a_volatile_end() -> None:
    rng = np.random.default_rng(13)
    r = np.concatenate([rng.normal(0, 0.005, 1500), rng.normal(0, 0.03, 60)])
    fhs = estimate_var(r, method="filtered_historical")
    hist = estimate_var(r, method="historical")
    assert fhs.var > 1.5 * hist.var  # GARCH forecasts the high volatility of the last bars


def test_var_table_has_every_method() -> None:
    rows = var_table(fat_tails(2, 600), weights=[0.25] * 4, confidence=0.99)
    assert [r.method for r in rows] == list(VAR_METHODS)
    assert all(r.cvar >= r.var > 0 for r in rows)


# ------------------------------------------------------------------ properties
returns_1d = hnp.arrays(
    np.float64,
    st.integers(30, 300),
    elements=st.floats(-0.2, 0.2, allow_nan=False, allow_subnormal=False),
).filter(lambda a: np.ptp(a) > 1e-6)


@given(r=returns_1d, c=st.floats(0.5, 0.995), method=st.sampled_from(["historical", "normal"]))
def test_cvar_is_at_least_var(r: np.ndarray, c: float, method: str) -> None:
    est = estimate_var(r, confidence=c, method=method)  # type: ignore[arg-type]
    assert est.cvar >= est.var - 1e-12


@given(
    r=returns_1d,
    c1=st.floats(0.5, 0.99),
    step=st.floats(0.001, 0.009),
    method=st.sampled_from(["historical", "normal", "student_t"]),
)
def test_var_and_cvar_are_monotone_in_confidence(
    r: np.ndarray, c1: float, step: float, method: str
) -> None:
    opts = {"dof": 4.0} if method == "student_t" else {}
    low = estimate_var(r, confidence=c1, method=method, **opts)  # type: ignore[arg-type]
    high = estimate_var(r, confidence=c1 + step, method=method, **opts)  # type: ignore[arg-type]
    assert high.var >= low.var - 1e-12
    assert high.cvar >= low.cvar - 1e-12


@given(r=returns_1d, c=st.floats(0.8, 0.99))
def test_historical_agrees_with_skfolio_on_any_sample(r: np.ndarray, c: float) -> None:
    est = estimate_var(r, confidence=c)
    assert est.var == pytest.approx(skm.value_at_risk(r, beta=c), abs=1e-12)
    assert est.cvar == pytest.approx(skm.cvar(r, beta=c), abs=1e-12)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad", [0.0, 1.0, 1.5, -0.1, 99, "high"])
def test_confidence_outside_the_unit_interval_is_refused(bad: object) -> None:
    with pytest.raises(RiskInputError, match="confidence") as info:
        estimate_var(np.zeros(50) + 0.01, confidence=bad)  # type: ignore[arg-type]
    assert info.value.field == "confidence"


def test_nans_are_refused_with_where() -> None:
    frame = pd.DataFrame(
        fat_tails(1, 50, 2),
        columns=["AAA", "BBB"],
        index=pd.bdate_range("2020-01-01", periods=50, tz="UTC"),
    )
    frame.iloc[7, 1] = np.nan
    with pytest.raises(
        RiskInputError, match=r"returns has 1 missing.*2020-01-10, asset BBB"
    ) as info:
        estimate_var(frame, weights=[0.5, 0.5])
    assert info.value.field == "returns"
    assert info.value.to_dict()["field"] == "returns"


def test_non_positive_definite_covariance_is_refused() -> None:
    rets = fat_tails(1, 200, 2)
    bad = np.array([[1e-4, 2e-4], [2e-4, 1e-4]])  # correlation 2
    with pytest.raises(CovarianceError, match="not positive definite") as info:
        estimate_var(rets, weights=[0.5, 0.5], method="monte_carlo", covariance=bad)
    assert info.value.field == "covariance"
    few = fat_tails(1, 3, 5)  # 3 observations of 5 assets: a singular sample covariance
    with pytest.raises(CovarianceError, match="covariance"):
        estimate_var(few, weights=[0.2] * 5, method="monte_carlo")


def test_unknown_method_names_the_choices() -> None:
    with pytest.raises(RiskInputError, match="historical, normal") as info:
        estimate_var(np.ones(20) * 0.01, method="garch")  # type: ignore[arg-type]
    assert info.value.field == "method"
    assert isinstance(info.value, RiskError)


def test_other_bad_inputs() -> None:
    r = fat_tails(0, 100, 2)
    with pytest.raises(RiskInputError, match="horizon"):
        estimate_var(r[:, 0], horizon=0)
    with pytest.raises(RiskInputError, match="weights has 3 entries"):
        estimate_var(r, weights=[1, 0, 0])
    with pytest.raises(RiskInputError, match="do not have"):
        estimate_var(pd.DataFrame(r, columns=["A", "B"]), weights={"C": 1.0})
    with pytest.raises(RiskInputError, match="1-D"):
        estimate_var(r)
    with pytest.raises(RiskInputError, match="dof"):
        estimate_var(r[:, 0], method="student_t", dof=2.0)


def test_monte_carlo_one_bar_equals_drawing_every_asset() -> None:
    rets = fat_tails(14, 400, 5)
    w = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
    chol = np.linalg.cholesky(np.cov(rets, rowvar=False))
    z = np.random.default_rng(7).standard_normal((5000, 5))
    assets = z @ chol.T + rets.mean(axis=0)  # every asset's simulated return
    expected = historical_var(-(assets @ w), 0.99)
    est = estimate_var(rets, weights=w, method="monte_carlo", n_paths=5000, seed=7)
    assert est.var == pytest.approx(expected[0], rel=1e-12)
    assert est.cvar == pytest.approx(expected[1], rel=1e-12)
