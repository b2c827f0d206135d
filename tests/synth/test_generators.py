"""Each generator reproduces what it promises where the truth is known; draws are seeded."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.errors import SynthError
from alphaloop.synth import (
    GENERATORS,
    BlockBootstrap,
    GarchCopula,
    NormalBaseline,
    RegimeSwitching,
    generator_from_state,
    log_returns,
    make_generator,
)
from tests.synth.helpers import correlated_t, garch_returns, ohlcv_panel, panel_from_returns

# a GAN trained for a few steps: these tests check the contract, tests/synth/test_gan.py the GAN
FAST = {"gan": {"steps": 3, "hidden": 4, "n_layers": 2, "window": 8, "batch_size": 4}}

# GARCH(1,1)-t truth: omega 0.05, alpha 0.08, beta 0.90, nu 6 (returns in percent).
# Tolerances for 6,000 bars: about three standard errors of the MLE at this size.
TOL = {"alpha": 0.03, "beta": 0.04, "omega": 0.04, "nu": 2.0}


@pytest.fixture(scope="module")
def garch_panel():
    return panel_from_returns(garch_returns(6_000, seed=11)[:, None], ["G"])


def test_garch_recovers_simulated_parameters(garch_panel) -> None:
    gen = GarchCopula().fit(garch_panel)
    p = {k: float(v[0]) for k, v in gen.params_.items()}
    assert abs(p["alpha"] - 0.08) < TOL["alpha"]
    assert abs(p["beta"] - 0.90) < TOL["beta"]
    assert abs(p["omega"] - 0.05) < TOL["omega"]
    assert abs(p["nu"] - 6.0) < TOL["nu"]


def test_garch_paths_follow_the_fitted_process(garch_panel) -> None:
    """A long path drawn by the numba kernel, refitted by arch, gives the fitted parameters."""
    gen = GarchCopula().fit(garch_panel)
    path = gen.sample_returns(1, 6_000, seed=3)[0]
    refit = GarchCopula().fit(panel_from_returns(path, ["G"]))
    for key in ("alpha", "beta", "omega", "nu"):
        assert abs(refit.params_[key][0] - gen.params_[key][0]) < TOL[key], key


@pytest.mark.parametrize("vol", ["gjr", "egarch"])
def test_asymmetric_variances_fit_and_draw(garch_panel, vol: str) -> None:
    gen = GarchCopula(vol=vol).fit(garch_panel)
    x = gen.sample_returns(4, 500, seed=1)
    assert x.shape == (4, 500, 1)
    assert np.all(np.isfinite(x))
    # the truth is symmetric: the fitted asymmetry is small
    assert abs(gen.params_["gamma"][0]) < 0.1


def test_copula_keeps_the_correlation() -> None:
    r = correlated_t(4_000, seed=5)
    for copula in ("gaussian", "t"):
        gen = GarchCopula(copula=copula).fit(panel_from_returns(r))
        x = gen.sample_returns(20, 1_000, seed=2).reshape(-1, 3)
        corr = np.corrcoef(x, rowvar=False)
        real = np.corrcoef(r, rowvar=False)
        assert np.max(np.abs(corr - real)) < 0.06, copula
    assert 2.5 <= gen.copula_nu_ <= 20  # a heavy-tailed joint draw has a finite copula nu


@pytest.mark.parametrize("method", ["stationary", "circular"])
def test_bootstrap_preserves_means_and_covariance(method: str) -> None:
    r = correlated_t(3_000, seed=8)
    gen = BlockBootstrap(method=method).fit(panel_from_returns(r))
    assert 1.0 <= gen.block_length_ <= 1_500
    x = gen.sample_returns(400, 750, seed=4).reshape(-1, 3)
    se = r.std(axis=0) / np.sqrt(3_000)
    assert np.all(np.abs(x.mean(axis=0) - r.mean(axis=0)) < 2 * se)
    cov_x, cov_r = np.cov(x, rowvar=False), np.cov(r, rowvar=False)
    assert np.max(np.abs(cov_x / cov_r - 1.0)) < 0.08


def test_bootstrap_uses_the_same_rows_for_every_asset() -> None:
    r = correlated_t(500, seed=1)
    gen = BlockBootstrap(block_length=5).fit(panel_from_returns(r))
    x = gen.sample_returns(3, 200, seed=0)
    rows = {tuple(v) for v in gen.returns_}
    assert np.allclose(gen.returns_, r, atol=1e-12)
    assert all(tuple(v) in rows for v in x.reshape(-1, 3))


def test_normal_baseline_moments() -> None:
    r = correlated_t(3_000, seed=2)
    gen = NormalBaseline().fit(panel_from_returns(r))
    x = gen.sample_returns(50, 1_000, seed=1).reshape(-1, 3)
    assert np.allclose(np.cov(x, rowvar=False), np.cov(r, rowvar=False), rtol=0.05, atol=1e-6)


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_same_seed_same_paths_bit_for_bit(kind: str) -> None:
    panel = ohlcv_panel(1_200, seed=3)
    gen = make_generator(kind, FAST.get(kind)).fit(panel)
    a = gen.sample(3, 300, seed=9)
    b = gen.sample(3, 300, seed=9)
    c = gen.sample(3, 300, seed=10)
    for pa, pb in zip(a, b, strict=True):
        assert pa.equals(pb)
        assert pa.content_hash() == pb.content_hash()
    assert not np.array_equal(a[0]["close"], c[0]["close"])
    # a stored and restored generator draws the same paths
    meta, arrays = gen.state()
    again = generator_from_state(meta, arrays)
    assert np.array_equal(again.sample_returns(3, 300, 9), gen.sample_returns(3, 300, 9))


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_ohlcv_paths_are_consistent(kind: str) -> None:
    gen = make_generator(kind, FAST.get(kind)).fit(ohlcv_panel(1_000, seed=4))
    for p in gen.sample(5, 400, seed=1):
        assert set(p.field_names) == {"open", "high", "low", "close", "volume"}
        o, h, lo, c = p["open"], p["high"], p["low"], p["close"]
        assert np.all(lo <= np.minimum(o, c))
        assert np.all(np.maximum(o, c) <= h)
        assert np.all(lo > 0)
        assert np.all(p["volume"] > 0)


def test_closes_only_give_closes() -> None:
    gen = NormalBaseline().fit(panel_from_returns(correlated_t(400, seed=1)))
    assert gen.sample(1, 50, seed=0)[0].field_names == ("close",)


def test_regime_scenarios_make_more_crisis() -> None:
    calm = 0.005 * np.random.default_rng(1).standard_normal((1_500, 2))
    wild = 0.03 * np.random.default_rng(2).standard_normal((300, 2))
    r = np.vstack([calm[:700], wild[:150], calm[700:], wild[150:]])
    gen = RegimeSwitching().fit(panel_from_returns(r))
    assert gen.names_ == ("calm", "crisis")
    assert gen.covs_[1][0, 0] > 10 * gen.covs_[0][0, 0]
    base = gen.sample_regimes(200, 250, seed=1)
    crisis = gen.with_params(start_regime="crisis", stay_longer=4.0)
    more = crisis.sample_regimes(200, 250, seed=1)
    assert np.all(more[:, 0] == 1)
    assert (more == 1).mean() > 1.5 * (base == 1).mean()
    vol_base = gen.sample_returns(200, 250, seed=1).std()
    vol_more = crisis.sample_returns(200, 250, seed=1).std()
    assert vol_more > vol_base


def test_bad_parameters_are_typed_errors() -> None:
    panel = panel_from_returns(correlated_t(400, seed=1))
    with pytest.raises(SynthError, match="unknown generator 'vae'"):
        make_generator("vae")
    with pytest.raises(SynthError, match="no parameter 'volatility'"):
        make_generator("garch", {"volatility": "gjr"})
    with pytest.raises(SynthError, match="vol must be one of"):
        GarchCopula(vol="figarch").fit(panel)
    with pytest.raises(SynthError, match="'stationary' or 'circular'"):
        BlockBootstrap(method="moving").fit(panel)
    with pytest.raises(SynthError, match="at least 250 needed"):
        NormalBaseline().fit(panel.iloc(slice(0, 100)))
    gen = RegimeSwitching().fit(panel)
    with pytest.raises(SynthError, match="cannot change \\['k_regimes'\\]"):
        gen.with_params(k_regimes=3)
    with pytest.raises(SynthError, match="start_regime 'panic' is not a regime"):
        gen.with_params(start_regime="panic")
    with pytest.raises(SynthError, match="n_paths must be between"):
        gen.sample(0, 10)
    with pytest.raises(SynthError, match="not fitted"):
        NormalBaseline().sample(1, 10)


def test_log_returns_keep_complete_rows_only() -> None:
    r = correlated_t(300, seed=1)
    panel = panel_from_returns(r)
    close = np.array(panel["close"])
    close[10, 1] = np.nan
    from alphaloop.data import Panel

    holed = Panel(panel.index, panel.assets, {"close": close})
    rows, where = log_returns(holed)
    assert rows.shape == (298, 3)
    assert 10 not in where
    assert 11 not in where


@pytest.mark.parametrize("kind", ["garch", "regime", "normal", "bootstrap"])
def test_draws_do_not_depend_on_the_number_of_threads(kind: str, monkeypatch) -> None:
    gen = make_generator(kind).fit(ohlcv_panel(1_000, seed=6))
    many = gen.sample_returns(60, 120, seed=3)  # three chunks of paths
    monkeypatch.setattr("alphaloop.synth.base.os.cpu_count", lambda: 1)
    one = gen.sample_returns(60, 120, seed=3)
    assert np.array_equal(many, one)
