"""The temporal convolutional GAN: seeded training and draws, storage, labels, typed errors.

Tiny configurations trained for a few steps keep this module fast; the full
fit on the bundled stocks is in bench/bench_gan.py.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("torch")

from alphaloop.errors import SynthError
from alphaloop.synth import GENERATORS, QuantGAN, generator_from_state, make_generator
from tests.synth.helpers import correlated_t, ohlcv_panel, panel_from_returns

TINY = {"hidden": 8, "n_layers": 3, "window": 16, "batch_size": 8, "steps": 4}


@pytest.fixture(scope="module")
def panel():
    return panel_from_returns(correlated_t(400, seed=3), ["A", "B", "C"])


@pytest.fixture(scope="module")
def fitted(panel):
    return QuantGAN(**TINY, seed=5).fit(panel)


def test_registered_and_listed() -> None:
    assert GENERATORS["gan"] is QuantGAN
    gen = make_generator("gan", {"steps": 3, "hidden": 4})
    assert gen.get_params()["steps"] == 3


def test_same_seed_same_training_and_paths_bit_for_bit(panel, fitted) -> None:
    again = QuantGAN(**TINY, seed=5).fit(panel)
    a = fitted.sample_returns(30, 50, seed=9)  # two chunks of paths
    b = again.sample_returns(30, 50, seed=9)
    assert a.shape == (30, 50, 3)
    assert np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, fitted.sample_returns(30, 50, seed=10))
    other = QuantGAN(**TINY, seed=6).fit(panel).sample_returns(30, 50, seed=9)
    assert not np.array_equal(a, other)


def test_torch_state_is_restored_after_training(panel) -> None:
    import torch

    before = torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    QuantGAN(**TINY).fit(panel)
    assert torch.equal(torch.rand(3), expected)
    assert (torch.are_deterministic_algorithms_enabled(), torch.get_num_threads()) == before


def test_stored_and_restored_draws_the_same(fitted) -> None:
    meta, arrays = fitted.state()
    assert meta["kind"] == "gan"
    assert {"critic_loss", "generator_loss", "fit_seconds"} <= set(meta["fitted"])
    assert any(k.startswith("gan.") for k in arrays)
    back = generator_from_state(meta, arrays)
    assert np.array_equal(back.sample_returns(5, 40, seed=2), fitted.sample_returns(5, 40, seed=2))


def test_sampled_panels_are_labelled_synthetic(fitted) -> None:
    paths = fitted.sample(2, 60, seed=4, name="g")
    origin = paths[1].synthetic
    assert origin is not None
    assert (origin.generator, origin.name, origin.seed, origin.path) == ("gan", "g", 4, 1)
    assert origin.params["steps"] == TINY["steps"]
    assert origin.params["seed"] == 5
    assert paths[0].shape == (60, 3)
    assert np.all(paths[0]["close"] > 0)


def test_paths_longer_than_the_training_window() -> None:
    gen = QuantGAN(**TINY).fit(ohlcv_panel(300, seed=1))
    (path,) = gen.sample(1, 500, seed=0)
    assert path.shape == (500, 2)
    assert np.all(path["low"] <= np.minimum(path["open"], path["close"]))


@pytest.mark.slow
def test_learns_the_correlation_of_the_assets() -> None:
    # two assets correlated 0.9: after a short training the paths keep much of the
    # correlation (independent noise per asset would give about 0)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((1200, 2))
    r = np.column_stack([0.01 * z[:, 0], 0.03 * (0.9 * z[:, 0] + np.sqrt(1 - 0.81) * z[:, 1])])
    gen = QuantGAN(hidden=16, n_layers=3, window=32, batch_size=16, steps=150, seed=1)
    x = gen.fit(panel_from_returns(r)).sample_returns(20, 500, seed=3)
    assert np.corrcoef(x.reshape(-1, 2).T)[0, 1] > 0.6


def test_marginals_empirical_or_standardized(panel, fitted) -> None:
    real = fitted.returns_
    x = fitted.sample_returns(10, 300, seed=1)
    # empirical marginals: every draw lies within the fitted returns' range of its asset
    assert np.all(x >= real.min(axis=0) - 1e-15)
    assert np.all(x <= real.max(axis=0) + 1e-15)
    std = QuantGAN(**TINY, marginals="standardize").fit(panel)
    y = std.sample_returns(10, 300, seed=1)
    assert np.all(np.isfinite(y))
    assert not np.array_equal(x, y)
    with pytest.raises(SynthError, match="marginals"):
        QuantGAN(**TINY, marginals="lambert").fit(panel)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"window": 8, "n_layers": 3}, "receptive field"),
        ({"steps": 0}, "steps"),
        ({"hidden": 2.5}, "hidden must be an integer"),
        ({"lr": -1.0}, "lr must be > 0"),
        ({"window": 500}, "not shorter"),
    ],
)
def test_bad_parameters_are_typed_errors(panel, params, match) -> None:
    with pytest.raises(SynthError, match=match):
        QuantGAN(**{**TINY, **params}).fit(panel)


def test_without_torch_it_names_the_extra(panel, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "alphaloop.synth._gan_network", raising=False)
    import alphaloop.synth

    monkeypatch.delattr(alphaloop.synth, "_gan_network", raising=False)
    with pytest.raises(SynthError, match=r"needs torch") as info:
        QuantGAN(**TINY).fit(panel)
    assert info.value.hint == "pip install 'alphaloop[ml]'"
