"""Component and marginal risk: they add up, and the marginal is the derivative."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.risk import CovarianceError, RiskInputError, estimate_var, risk_contributions


def returns(seed: int = 0, n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 0.008, (n, 1))
    data = common * np.array([1.0, 0.5, 1.5, 0.0]) + rng.standard_t(5, (n, 4)) * 0.006
    return pd.DataFrame(data, columns=["A", "B", "C", "D"])


W = {"A": 0.4, "B": 0.3, "C": 0.2, "D": 0.1}


def test_normal_components_sum_to_the_normal_var() -> None:
    rc = risk_contributions(returns(), W, confidence=0.99, horizon=5)
    total = estimate_var(returns(), weights=W, confidence=0.99, horizon=5, method="normal").var
    assert rc.total == pytest.approx(total, rel=1e-12)
    assert rc.frame["component"].sum() == pytest.approx(total, rel=1e-12)
    assert rc.frame["share"].sum() == pytest.approx(1.0)
    assert rc.measure == "normal VaR"


def test_normal_marginal_is_the_derivative() -> None:
    data = returns(1)
    rc = risk_contributions(data, W, confidence=0.975)
    w = pd.Series(W)
    eps = 1e-6
    for asset in W:
        up, down = w.copy(), w.copy()
        up[asset] += eps
        down[asset] -= eps
        numeric = (
            estimate_var(data, weights=up, confidence=0.975, method="normal").var
            - estimate_var(data, weights=down, confidence=0.975, method="normal").var
        ) / (2 * eps)
        assert rc.frame.loc[asset, "marginal"] == pytest.approx(numeric, rel=1e-5)


def test_historical_components_sum_to_the_historical_cvar() -> None:
    data = returns(2, 999)  # a fractional tail: 9.99 observations
    for c in (0.99, 0.95):
        rc = risk_contributions(data, W, confidence=c, method="historical")
        cvar = estimate_var(data, weights=W, confidence=c).cvar
        assert rc.total == pytest.approx(cvar, rel=1e-12)
        assert rc.frame["component"].sum() == pytest.approx(cvar, rel=1e-12)
    # the asset with no market exposure contributes least per unit of weight
    assert rc.frame["marginal"].idxmin() == "D"


def test_historical_component_by_hand() -> None:
    data = pd.DataFrame(
        {"X": [-0.10, 0.01, 0.02, -0.03, 0.00], "Y": [0.02, -0.01, 0.00, -0.05, 0.01]}
    )
    # portfolio 0.5/0.5: returns -0.04, 0.0, 0.01, -0.04, 0.005; 80% -> VaR 0.04 (a tie), CVaR 0.04
    rc = risk_contributions(data, {"X": 0.5, "Y": 0.5}, confidence=0.8, method="historical")
    assert rc.total == pytest.approx(0.04)
    # the tail mass is shared by the two tied scenarios:
    # X loses (0.05 + 0.015) / 2, Y (-0.01 + 0.025) / 2
    assert rc.frame.loc["X", "component"] == pytest.approx(0.0325)
    assert rc.frame.loc["Y", "component"] == pytest.approx(0.0075)


def test_bad_input() -> None:
    with pytest.raises(CovarianceError, match="positive definite"):
        risk_contributions(returns(), W, covariance=-np.eye(4))
    with pytest.raises(CovarianceError, match=r"\(4, 4\)"):
        risk_contributions(returns(), W, covariance=np.eye(3))
    with pytest.raises(RiskInputError, match="method"):
        risk_contributions(returns(), W, method="t")  # type: ignore[arg-type]
