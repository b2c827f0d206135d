"""The stylized-facts suite: it can fail, it passes what the truth has, its rules are applied."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alphaloop.errors import SynthError
from alphaloop.synth import FACTS, GarchCopula, NormalBaseline, stylized_facts
from alphaloop.synth.facts_stats import acf, drawdown_correlation_rise, hill_alpha
from tests.synth.helpers import correlated_t, garch_returns, panel_from_returns


@pytest.fixture(scope="module")
def garch_data() -> np.ndarray:
    """Three GARCH(1,1)-t series with a common shock (correlated, clustered, heavy-tailed)."""
    common = garch_returns(4_000, seed=1)
    own = np.stack([garch_returns(4_000, seed=s) for s in (2, 3, 4)], axis=1)
    return 0.6 * common[:, None] + 0.8 * own


def test_normal_baseline_fails_heavy_tails_and_clustering(garch_data: np.ndarray) -> None:
    gen = NormalBaseline().fit(panel_from_returns(garch_data))
    report = stylized_facts(gen.sample_returns(10, 4_000, seed=1), reference=garch_data)
    assert report["heavy_tails"].passed is False
    assert report["volatility_clustering"].passed is False
    assert report["aggregational_gaussianity"].passed is False
    assert abs(report["heavy_tails"].value) < 0.3
    # what it can produce it passes: no autocorrelation, same-day correlation
    assert report["no_autocorrelation"].passed is True
    assert report["cross_correlation"].passed is True


def test_garch_generator_passes_what_normal_fails(garch_data: np.ndarray) -> None:
    gen = GarchCopula().fit(panel_from_returns(garch_data))
    report = stylized_facts(gen.sample_returns(10, 4_000, seed=1), reference=garch_data)
    assert report["heavy_tails"].passed is True
    assert report["volatility_clustering"].passed is True
    assert report["distance_ks"].passed is True
    normal = NormalBaseline().fit(panel_from_returns(garch_data))
    baseline = stylized_facts(normal.sample_returns(10, 4_000, seed=1), reference=garch_data)
    assert report.passed > baseline.passed
    assert report["distance_ks"].value < baseline["distance_ks"].value


def test_real_series_facts_and_report_shape(garch_data: np.ndarray) -> None:
    report = stylized_facts(garch_data, label="truth")
    assert [f.name for f in report.facts] == list(FACTS)
    assert report["volatility_clustering"].passed is True
    assert len(report["volatility_clustering"].details["acf_abs"]) == 20
    # no reference: distances have no verdict
    assert report["distance_ks"].passed is None
    assert report.applicable == len(FACTS) - 2
    doc = report.to_dict()
    assert doc["label"] == "truth"
    assert doc["facts"][0]["name"] == "heavy_tails"


def test_single_asset_has_no_correlation_verdict() -> None:
    report = stylized_facts(correlated_t(1_000, seed=1)[:, :1])
    assert report["cross_correlation"].passed is None
    assert math.isnan(report["correlation_in_drawdowns"].value)


def test_statistics_on_known_series() -> None:
    rng = np.random.default_rng(0)
    pareto = (rng.pareto(3.0, (1, 20_000, 1)) + 1.0) * rng.choice([-1, 1], (1, 20_000, 1))
    assert abs(hill_alpha(pareto, tail=0.02)[0, 0] - 3.0) < 0.4
    ar = np.zeros((1, 5_000, 1))
    e = rng.standard_normal(5_000)
    for t in range(1, 5_000):
        ar[0, t, 0] = 0.5 * ar[0, t - 1, 0] + e[t]
    assert abs(acf(ar, 2)[0, 0, 0] - 0.5) < 0.05
    assert abs(acf(ar, 2)[1, 0, 0] - 0.25) < 0.06
    iid = rng.standard_normal((50, 1_260, 4))
    assert abs(np.median(drawdown_correlation_rise(iid))) < 0.03


def test_bad_returns_are_refused() -> None:
    with pytest.raises(SynthError, match="at least 252"):
        stylized_facts(np.zeros((100, 2)))
    bad = correlated_t(400, seed=1)
    bad[5, 0] = np.nan
    with pytest.raises(SynthError, match="NaN"):
        stylized_facts(bad)
    with pytest.raises(SynthError, match="reference has 2 assets"):
        stylized_facts(correlated_t(400, seed=1), reference=correlated_t(400, seed=2)[:, :2])
