"""Exposures: betas and alpha recovered from known data, OLS by hand, group concentration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skfolio.datasets import load_factors_dataset

from alphaloop.risk import (
    RiskInputError,
    asset_betas,
    factor_exposures,
    group_concentration,
    market_beta,
)

INDEX = pd.bdate_range("2018-01-01", periods=2000, tz="UTC")


def factors(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        rng.normal(0.0003, 0.01, (2000, 2)), index=INDEX, columns=["market", "value"]
    )


def test_known_alpha_and_betas_are_recovered() -> None:
    f = factors()
    noise = np.random.default_rng(1).normal(0, 0.002, 2000)
    r = pd.Series(0.0002 + 1.2 * f["market"] - 0.4 * f["value"] + noise, index=INDEX)
    exp = factor_exposures(r, f)
    assert exp.betas["market"] == pytest.approx(1.2, abs=0.01)
    assert exp.betas["value"] == pytest.approx(-0.4, abs=0.01)
    assert exp.alpha == pytest.approx(0.0002, abs=0.0001)
    assert exp.alpha_annualised == pytest.approx(exp.alpha * 252)
    assert exp.alpha_t > 2.0
    assert exp.r_squared > 0.95
    assert exp.residual_vol_annualised == pytest.approx(0.002 * np.sqrt(252), rel=0.05)
    assert exp.n_obs == 2000


def test_ols_statistics_by_hand() -> None:
    f = factors(2)
    r = pd.Series(0.8 * f["market"] + np.random.default_rng(3).normal(0, 0.01, 2000), index=INDEX)
    exp = factor_exposures(r, f)
    x = np.column_stack([np.ones(2000), f.to_numpy()])
    coef, *_ = np.linalg.lstsq(x, r.to_numpy(), rcond=None)
    resid = r.to_numpy() - x @ coef
    s2 = resid @ resid / (2000 - 3)
    se = np.sqrt(np.diag(s2 * np.linalg.inv(x.T @ x)))
    assert exp.alpha == pytest.approx(coef[0], rel=1e-9)
    assert exp.betas.to_numpy() == pytest.approx(coef[1:], rel=1e-9)
    assert exp.alpha_t == pytest.approx(coef[0] / se[0], rel=1e-8)
    assert exp.beta_t.to_numpy() == pytest.approx(coef[1:] / se[1:], rel=1e-8)
    hac = factor_exposures(r, f, hac_lags=5)
    assert hac.betas.equals(exp.betas)
    assert hac.beta_t["market"] != exp.beta_t["market"]


def test_market_beta_aligns_calendars() -> None:
    f = factors(4)
    r = (1.5 * f["market"]).iloc[100:]  # starts later: only the common bars are used
    exp = market_beta(r, f["market"])
    assert exp.n_obs == 1900
    assert exp.betas["market"] == pytest.approx(1.5)


def test_asset_betas_equal_one_regression_per_asset() -> None:
    f = factors(5)
    rng = np.random.default_rng(6)
    assets = pd.DataFrame(
        {name: b * f["market"] + rng.normal(0, 0.005, 2000) for name, b in [("A", 0.5), ("B", 1.3)]}
    )
    betas = asset_betas(assets, f)
    assert betas.shape == (2, 2)
    for name in ("A", "B"):
        one = factor_exposures(assets[name], f)
        assert betas.loc[name].to_numpy() == pytest.approx(one.betas.to_numpy(), rel=1e-9)


def test_on_bundled_factor_etfs() -> None:
    prices = load_factors_dataset()
    rets = prices.pct_change().dropna()
    exp = factor_exposures(rets["MTUM"], rets["USMV"])
    # a momentum ETF moves with the minimum-volatility ETF, more than one for one
    assert 0.8 < exp.betas["USMV"] < 1.5
    assert exp.r_squared > 0.5


def test_exposure_bad_input() -> None:
    f = factors()
    with pytest.raises(RiskInputError, match="bars where returns and every factor") as info:
        factor_exposures(pd.Series([0.01, 0.02], index=INDEX[:2]), f)
    assert info.value.field == "factors"
    with pytest.raises(RiskInputError, match="Series"):
        factor_exposures(np.zeros(10), f)  # type: ignore[arg-type]


# ---------------------------------------------------------- group concentration
def test_group_concentration_by_hand() -> None:
    w = {"AAPL": 0.3, "MSFT": 0.2, "JPM": 0.25, "BAC": -0.05, "XOM": 0.3}
    groups = {"AAPL": "tech", "MSFT": "tech", "JPM": "fin", "BAC": "fin", "XOM": "energy"}
    gc = group_concentration(w, groups, max_group_weight=0.4)
    # gross 1.1: tech 0.5, fin 0.3 (net 0.2), energy 0.3
    assert gc.frame.loc["tech", "net"] == pytest.approx(0.5)
    assert gc.frame.loc["fin", "net"] == pytest.approx(0.2)
    assert gc.frame.loc["fin", "gross"] == pytest.approx(0.3)
    assert gc.frame.loc["tech", "share"] == pytest.approx(0.5 / 1.1)
    assert gc.hhi == pytest.approx((0.5**2 + 0.3**2 + 0.3**2) / 1.1**2)
    assert gc.effective_groups == pytest.approx(1 / gc.hhi)
    assert gc.largest == "tech"
    assert gc.breaches == ("tech",)
    assert gc.frame["n_assets"].to_dict() == {"tech": 2, "fin": 2, "energy": 1}


def test_group_concentration_needs_a_group_for_every_holding() -> None:
    with pytest.raises(RiskInputError, match=r"no group for assets \['B'\]") as info:
        group_concentration({"A": 0.5, "B": 0.5}, {"A": "x"})
    assert info.value.field == "groups"
