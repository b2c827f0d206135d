"""Monte Carlo stress with paths from a synthetic-data generator."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.risk import RiskInputError, StressLimits, generator_stress
from alphaloop.synth import GarchCopula, NormalBaseline, RegimeSwitching
from tests.synth.helpers import correlated_t, panel_from_returns


@pytest.fixture(scope="module")
def panel():
    return panel_from_returns(correlated_t(1_500, seed=4), ["A", "B", "C"])


def test_draws_from_any_generator_seeded(panel) -> None:
    gen = GarchCopula().fit(panel)
    a = generator_stress(gen, {"A": 0.5, "B": 0.5}, n_paths=500, horizon=21, seed=3,
                         limits=StressLimits(max_drawdown=0.1))  # fmt: skip
    b = generator_stress(gen, [0.5, 0.5, 0.0], n_paths=500, horizon=21, seed=3,
                         limits=StressLimits(max_drawdown=0.1))  # fmt: skip
    assert a.var == b.var
    assert a.cvar == b.cvar
    assert a.pnl_quantiles.equals(b.pnl_quantiles)
    assert a.breach_probability == b.breach_probability
    assert a.horizon == 21
    assert a.n_paths == 500
    assert np.isnan(a.mean_block)
    assert a.source.startswith("generator GarchCopula(")
    assert 0.0 <= a.breach_probability["max_drawdown"] <= 1.0
    assert a.var > 0


def test_more_crisis_means_a_worse_tail() -> None:
    rng = np.random.default_rng(1)
    calm = 0.005 * rng.standard_normal((1_500, 2))
    wild = 0.03 * rng.standard_normal((300, 2)) - 0.002
    r = np.vstack([calm[:700], wild[:150], calm[700:], wild[150:]])
    gen = RegimeSwitching().fit(panel_from_returns(r))
    base = generator_stress(gen, [0.5, 0.5], n_paths=2_000, horizon=21, seed=1)
    crisis = generator_stress(
        gen.with_params(start_regime="crisis", stay_longer=3.0), [0.5, 0.5],
        n_paths=2_000, horizon=21, seed=1,
    )  # fmt: skip
    assert crisis.var > 1.2 * base.var
    assert crisis.drawdown_quantiles[0.95] > base.drawdown_quantiles[0.95]


def test_bad_weights_are_typed_errors(panel) -> None:
    gen = NormalBaseline().fit(panel)
    with pytest.raises(RiskInputError, match="not fitted on: \\['Z'\\]"):
        generator_stress(gen, {"Z": 1.0})
    with pytest.raises(RiskInputError, match="2 weights for 3 generator assets"):
        generator_stress(gen, [0.5, 0.5])
    with pytest.raises(RiskInputError, match="must be fitted"):
        generator_stress(NormalBaseline(), [1.0])
