"""Monitoring: PSI and KL against hand-computed values, KS against scipy, alerts and their rows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from alphaloop.app import Workspace
from alphaloop.models.errors import ModelError
from alphaloop.models.monitor import (
    EPSILON,
    drift_report,
    kl_divergence,
    ks_statistic,
    list_alerts,
    population_stability_index,
    record_alerts,
)
from alphaloop.models.registry import ModelRegistry


def test_psi_of_identical_samples_is_zero() -> None:
    x = np.random.default_rng(0).normal(size=5_000)
    assert population_stability_index(x, x) == 0.0
    assert kl_divergence(x, x) == 0.0


def test_psi_and_kl_match_a_hand_computed_two_bin_case() -> None:
    # edge: median of [1, 2, 3, 4] = 2.5 -> expected shares (1/2, 1/2), actual (1/4, 3/4)
    expected, actual = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 4.0, 4.0]
    psi = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    kl = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)
    assert population_stability_index(expected, actual, bins=2) == pytest.approx(psi, abs=1e-12)
    assert kl_divergence(expected, actual, bins=2) == pytest.approx(kl, abs=1e-12)
    assert psi == pytest.approx(0.274653, abs=1e-6)


def test_psi_of_a_shifted_normal_matches_its_closed_form() -> None:
    # N(0, 1) against N(0.5, 1), two bins split at 0: actual shares Phi(-0.5), 1 - Phi(-0.5)
    rng = np.random.default_rng(1)
    expected, actual = rng.normal(size=400_000), rng.normal(0.5, 1.0, size=400_000)
    low = 0.3085375387259869  # Phi(-0.5)
    closed = (low - 0.5) * math.log(low / 0.5) + (0.5 - low) * math.log((1 - low) / 0.5)
    assert closed == pytest.approx(0.15450, abs=1e-5)
    assert population_stability_index(expected, actual, bins=2) == pytest.approx(closed, abs=3e-3)


def test_empty_bins_are_floored_and_psi_is_the_symmetrized_kl() -> None:
    rng = np.random.default_rng(2)
    expected, actual = rng.normal(size=2_000), rng.normal(3.0, 0.2, size=2_000)
    psi = population_stability_index(expected, actual)
    forward, backward = kl_divergence(expected, actual), kl_divergence(actual, expected)
    assert math.isfinite(psi)
    assert forward >= 0.0
    assert backward >= 0.0
    # with every actual value in the top bin, the nine empty bins hold EPSILON each
    a = np.array([EPSILON] * 9 + [1.0]) / (1.0 + 9 * EPSILON)
    assert forward == pytest.approx(float(np.sum(a * np.log(a / 0.1))), rel=1e-9)


def test_kl_is_never_negative_on_random_pairs() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        a = rng.standard_t(3, size=300) * rng.uniform(0.5, 2)
        b = rng.normal(rng.uniform(-1, 1), rng.uniform(0.5, 2), size=200)
        assert kl_divergence(a, b) >= 0.0


def test_ks_matches_scipy() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=700), rng.normal(0.2, 1.3, size=500)
    assert ks_statistic(a, b) == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    ties_a, ties_b = rng.integers(0, 5, 300), rng.integers(1, 6, 200)
    assert ks_statistic(ties_a, ties_b) == pytest.approx(
        stats.ks_2samp(ties_a, ties_b).statistic, abs=1e-12
    )


def _windows(shift: float = 0.0, n: int = 4_000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    reference = rng.normal(size=(n, 3))
    recent = rng.normal(size=(n, 3))
    recent[:, 1] += shift
    return reference, recent


def test_ic_alert_fires_above_a_50_percent_drop_only() -> None:
    ref, rec = _windows()
    pred = ref[:, 0]
    calm = drift_report(ref, rec, ["a", "b", "c"], pred, rec[:, 0], 0.028, 0.04)  # down 30%
    assert calm.ic_ratio == pytest.approx(0.7)
    assert calm.alerts == ()
    assert not calm.degraded
    bad = drift_report(ref, rec, ["a", "b", "c"], pred, rec[:, 0], 0.016, 0.04)  # down 60%
    assert [(a.kind, a.metric) for a in bad.alerts] == [("ic_drop", "ic")]
    assert bad.alerts[0].value == pytest.approx(0.6)
    assert bad.alerts[0].threshold == 0.5
    assert "down 60%" in bad.alerts[0].message
    stricter = drift_report(ref, rec, ["a", "b", "c"], pred, rec[:, 0], 0.028, 0.04, ic_drop=0.25)
    assert [a.kind for a in stricter.alerts] == ["ic_drop"]
    skipped = drift_report(ref, rec, ["a", "b", "c"], pred, rec[:, 0], 0.01, -0.02)
    assert skipped.alerts == ()
    assert "not positive" in skipped.notes[0]


def test_feature_and_prediction_drift_alert_above_psi_025() -> None:
    names = ["a", "b", "c"]
    ref, rec = _windows(shift=0.3)  # PSI of a 0.3-sd shift over ten bins is about 0.09
    small = drift_report(ref, rec, names, ref[:, 0], rec[:, 0])
    assert 0.05 < small.features[1].psi < 0.25
    assert small.alerts == ()
    ref, rec = _windows(shift=1.0)  # about 1.0
    report = drift_report(ref, rec, names, ref[:, 1], rec[:, 1])
    assert [(a.kind, a.metric) for a in report.alerts] == [
        ("feature_drift", "b"),
        ("prediction_drift", "prediction"),
    ]
    psi_b = report.features[1].psi
    assert psi_b == pytest.approx(population_stability_index(ref[:, 1], rec[:, 1]))
    assert report.features[1].kl == pytest.approx(kl_divergence(ref[:, 1], rec[:, 1]))
    assert report.features[0].psi < 0.01
    assert report.prediction_psi == pytest.approx(psi_b)
    assert report.prediction_ks == pytest.approx(stats.ks_2samp(ref[:, 1], rec[:, 1]).statistic)
    assert "IC check skipped" in report.notes[0]
    json.dumps(report.to_dict())


def test_missing_values_are_dropped_and_counted() -> None:
    ref, rec = _windows()
    ref[:100, 2] = np.nan
    rec[:, 0] = np.inf
    report = drift_report(ref, rec, ["a", "b", "c"], ref[:, 1], rec[:, 1])
    a, _, c = report.features
    assert (a.missing_recent, c.missing_reference) == (1.0, 100 / len(ref))
    assert math.isnan(a.psi)
    assert c.psi == pytest.approx(population_stability_index(ref[100:, 2], rec[:, 2]))
    assert report.to_dict()["features"][0]["psi"] is None


def test_bad_inputs_are_model_errors() -> None:
    ref, rec = _windows()
    with pytest.raises(ModelError, match="2 feature names"):
        drift_report(ref, rec, ["a", "b"], ref[:, 0], rec[:, 0])
    with pytest.raises(ModelError, match="bins must be an integer of at least 2"):
        population_stability_index(ref[:, 0], rec[:, 0], bins=1)
    with pytest.raises(ModelError, match="expected must be 1-D"):
        population_stability_index(ref, rec)


def test_alerts_are_recorded_for_a_registered_version(workspace: Workspace, tmp_path) -> None:
    registry = ModelRegistry(workspace.db, workspace.root)
    saved = tmp_path / "m"
    saved.mkdir()
    (saved / "weights.txt").write_text("1.0")
    version = registry.register(
        "mon",
        saved,
        family="stub",
        features=["a", "b", "c"],
        label={"target": "forward_return", "horizon": 1},
        dataset="d",
        dataset_hash="0" * 64,
        train_start="2020-01-01",
        train_end="2020-06-30",
        seed=None,
    )
    ref, rec = _windows(shift=1.0)
    report = drift_report(ref, rec, ["a", "b", "c"], ref[:, 1], rec[:, 1], 0.01, 0.05)
    assert record_alerts(workspace.db, version.ref, report) == 3
    healthy = drift_report(ref, ref, ["a", "b", "c"], ref[:, 0], ref[:, 0], 0.05, 0.05)
    assert record_alerts(workspace.db, version.ref, healthy) == 0
    stored = registry.alerts("mon")
    assert [(a.model_ref, a.kind, a.metric) for a in stored] == [
        ("mon/v1", "ic_drop", "ic"),
        ("mon/v1", "feature_drift", "b"),
        ("mon/v1", "prediction_drift", "prediction"),
    ]
    assert stored[0].value == pytest.approx(0.8)
    assert stored[0].threshold == 0.5
    assert stored[0].created_at.tzinfo is not None
    assert list_alerts(workspace.db) == stored
    with pytest.raises(ModelError, match="no registered model version 'mon'"):
        record_alerts(workspace.db, "mon", report)
