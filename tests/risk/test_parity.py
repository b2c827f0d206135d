"""Risk parity: inverse volatility and equal risk contribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alphaloop.risk import (
    RiskError,
    equal_risk_contribution,
    inverse_volatility,
    rolling_risk_parity,
    variance_shares,
)
from tests.risk.helpers import assert_causal, dates


def test_inverse_volatility_by_hand() -> None:
    cov = np.diag([0.01, 0.04, 0.16])  # vols 0.1, 0.2, 0.4
    np.testing.assert_allclose(inverse_volatility(cov), np.array([4.0, 2.0, 1.0]) / 7.0)


def test_erc_equals_inverse_volatility_when_uncorrelated() -> None:
    cov = np.diag([0.01, 0.04, 0.16])
    np.testing.assert_allclose(equal_risk_contribution(cov), inverse_volatility(cov), atol=1e-10)


def test_erc_two_assets_is_inverse_volatility_whatever_the_correlation() -> None:
    cov = np.array([[0.04, 0.018], [0.018, 0.09]])
    np.testing.assert_allclose(equal_risk_contribution(cov), [0.6, 0.4], atol=1e-10)


@given(
    arrays(np.float64, (4, 6), elements=st.floats(-1.0, 1.0)),
    st.floats(0.01, 1.0),
)
def test_erc_contributions_are_equal(loadings: np.ndarray, noise: float) -> None:
    cov = loadings @ loadings.T + noise * np.eye(4)
    weights = equal_risk_contribution(cov)
    assert weights.sum() == pytest.approx(1.0)
    assert (weights > 0.0).all()
    np.testing.assert_allclose(variance_shares(weights, cov), 0.25, atol=1e-7)


def test_rolling_risk_parity_is_causal_and_sums_to_one() -> None:
    rng = np.random.default_rng(8)
    returns = pd.DataFrame(
        rng.normal(0.0, [0.01, 0.02, 0.03], size=(200, 3)), index=dates(200), columns=list("abc")
    )
    for method in ("erc", "inverse_vol"):
        weights = rolling_risk_parity(returns, window=50, method=method)
        assert weights.iloc[:50].isna().all().all()
        np.testing.assert_allclose(weights.iloc[50:].sum(axis=1), 1.0)
        cov = np.cov(returns.iloc[100:150].to_numpy(), rowvar=False)
        expected = equal_risk_contribution(cov) if method == "erc" else inverse_volatility(cov)
        np.testing.assert_allclose(weights.iloc[150].to_numpy(), expected)
        assert_causal(
            lambda r, m=method: rolling_risk_parity(r, window=50, method=m), returns, [51, 120]
        )


def test_a_flat_asset_gets_no_weight() -> None:
    rng = np.random.default_rng(9)
    returns = pd.DataFrame(
        {"a": rng.normal(0, 0.01, 80), "b": np.zeros(80), "c": rng.normal(0, 0.02, 80)},
        index=dates(80),
    )
    weights = rolling_risk_parity(returns, window=20)
    assert (weights["b"].iloc[20:] == 0.0).all()
    np.testing.assert_allclose(weights.iloc[20:].sum(axis=1), 1.0)


def test_bad_covariances() -> None:
    with pytest.raises(RiskError, match="cov: expected a square matrix"):
        equal_risk_contribution(np.ones((2, 3)))
    with pytest.raises(RiskError, match="cov: must be symmetric"):
        equal_risk_contribution(np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(RiskError, match="cov: an asset has zero variance"):
        inverse_volatility(np.diag([1.0, 0.0]))
    with pytest.raises(RiskError, match="method: unknown value 'hrp'"):
        rolling_risk_parity(np.zeros((10, 2)), window=5, method="hrp")
