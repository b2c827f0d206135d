"""Permutation importance and SHAP on synthetic cross-sections with a planted signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.models import (
    ModelError,
    feature_family,
    group_features,
    make_estimator,
    permutation_importance,
    shap_explanation,
)
from alphaloop.models.explain import _within_date_permutation, per_date_ic
from alphaloop.models.explain_shap import SEQUENCE_MAX_INPUTS

NAMES = ["ROC5", "ROC10", "MA5", "MA10", "STD5", "KMID", "KLOW2"]


def panel(n_dates: int = 100, n_assets: int = 25, seed: int = 0, informative: int = 2):
    """Rows (date-major) of independent normal features; only ``informative`` drives y."""
    rng = np.random.default_rng(seed)
    dates = np.repeat(np.arange(n_dates), n_assets)
    x = rng.standard_normal((len(dates), len(NAMES))).astype(np.float32)
    y = 0.6 * x[:, informative] + rng.standard_normal(len(dates))
    return x, y, dates


@pytest.mark.parametrize(
    ("name", "family"),
    [("ROC5", "ROC"), ("ROC60", "ROC"), ("VSUMP10", "VSUMP"), ("KMID", "KBAR"),
     ("KLOW2", "KBAR"), ("OPEN0", "OPEN"), ("CLOSE59", "CLOSE"), ("mom20", "mom"),
     ("rsi", "rsi"), ("ret_5d", "ret_5d"), ("123", "123")],
)  # fmt: skip
def test_feature_family_strips_the_window(name: str, family: str) -> None:
    assert feature_family(name) == family


def test_group_features_keeps_order_and_takes_a_mapping() -> None:
    assert group_features(NAMES) == {
        "ROC": (0, 1), "MA": (2, 3), "STD": (4,), "KBAR": (5, 6)
    }  # fmt: skip
    mapping = {n: ("price" if n.startswith(("ROC", "MA")) else "other") for n in NAMES}
    assert group_features(NAMES, mapping) == {"price": (0, 1, 2, 3), "other": (4, 5, 6)}
    with pytest.raises(ModelError, match="do not name 1 feature"):
        group_features(NAMES, {n: "x" for n in NAMES[:-1]})


def test_shuffles_stay_within_each_date() -> None:
    rng = np.random.default_rng(3)
    dates = np.array([2, 0, 1, 0, 2, 2, 1, 0, 1, 1])  # not sorted
    order = np.argsort(dates, kind="stable")
    perm = _within_date_permutation(dates, order, rng)
    assert sorted(perm.tolist()) == list(range(len(dates)))
    np.testing.assert_array_equal(dates[perm], dates)
    assert (perm != np.arange(len(dates))).any()


def test_per_date_ic_matches_pandas() -> None:
    x, y, dates = panel(n_dates=8, n_assets=10)
    frame = pd.DataFrame({"p": x[:, 0].astype(float), "y": y, "d": dates})
    expected = frame.groupby("d").apply(lambda g: g["p"].corr(g["y"])).mean()
    assert per_date_ic(frame["p"].to_numpy(), y, dates) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("family", ["lightgbm", "ridge"])
def test_the_planted_feature_and_its_family_rank_first(family: str) -> None:
    x, y, dates = panel()
    train, test = dates < 70, dates >= 70
    est = make_estimator(family, params={"n_estimators": 60} if family == "lightgbm" else {})
    est.fit(x[train], y[train])
    imp = permutation_importance(
        est.predict, x[test], y[test], dates[test], NAMES, n_repeats=3, seed=1
    )
    assert imp.features.index[0] == "MA5"
    assert imp.families.index[0] == "MA"
    assert imp.features.loc["MA5", "importance"] > 0.2
    assert imp.features.loc["MA5", "importance"] > 10 * abs(imp.features["importance"].iloc[1])
    assert imp.families.loc["MA", "n_features"] == 2
    assert imp.n_dates == 30
    assert imp.baseline == pytest.approx(per_date_ic(est.predict(x[test]), y[test], dates[test]))
    again = permutation_importance(
        est.predict, x[test], y[test], dates[test], NAMES, n_repeats=3, seed=1
    )
    pd.testing.assert_frame_equal(imp.features, again.features)
    doc = imp.to_dict()
    assert doc["features"][0]["feature"] == "MA5"
    assert doc["groups"]["KBAR"] == ["KMID", "KLOW2"]


def test_a_model_without_the_signal_has_no_important_feature() -> None:
    x, _, dates = panel()
    noise = np.random.default_rng(9).standard_normal(len(dates))
    est = make_estimator("ridge").fit(x[dates < 70], noise[dates < 70])
    test = dates >= 70
    imp = permutation_importance(est.predict, x[test], noise[test], dates[test], NAMES)
    assert imp.features["importance"].abs().max() < 0.05


def test_sequence_inputs_shuffle_whole_windows() -> None:
    x, y, dates = panel(n_dates=60, n_assets=20)
    window = 3
    seq = np.stack([np.roll(x, 20 * k, axis=0) for k in range(window - 1, -1, -1)], axis=1)
    assert seq.shape == (len(x), window, len(NAMES))
    last = make_estimator("ridge").fit(seq[:, -1, :], y)  # uses the decision bar only

    def predict(windows: np.ndarray) -> np.ndarray:
        return last.predict(windows[:, -1, :])

    imp = permutation_importance(predict, seq, y, dates, NAMES, n_repeats=2, per_feature=False)
    assert imp.families.index[0] == "MA"
    assert imp.features.empty


def test_bad_inputs_are_refused() -> None:
    x, y, dates = panel(n_dates=5, n_assets=3)
    est = make_estimator("ridge").fit(x, y)
    with pytest.raises(ModelError, match="no date has 5"):
        permutation_importance(est.predict, x, y, dates, NAMES)
    with pytest.raises(ModelError, match="X must be"):
        permutation_importance(est.predict, x, y, dates, NAMES[:-1])
    with pytest.raises(ModelError, match="n_repeats"):
        permutation_importance(est.predict, x, y, dates, NAMES, n_repeats=0)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "random_forest"])
def test_tree_shap_values_add_up_to_the_prediction(family: str) -> None:
    x, y, _ = panel(n_dates=40)
    est = make_estimator(family, params={"n_estimators": 30}).fit(x[:800], y[:800])
    exp = shap_explanation(est, x[800:], NAMES, max_rows=50)
    assert exp.method == "tree"
    assert exp.values.shape == (50, len(NAMES))
    pred = est.predict(x[800:][exp.rows])
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base_value, pred, atol=1e-5)
    assert exp.features.index[0] == "MA5"
    assert exp.families.index[0] == "MA"


def test_lightgbm_early_stopped_shap_matches_its_predictions() -> None:
    x, y, _ = panel(n_dates=40)
    est = make_estimator("lightgbm", params={"n_estimators": 300, "early_stopping_rounds": 5})
    est.fit(x[:600], y[:600], X_valid=x[600:800], y_valid=y[600:800])
    assert est.best_iteration_ < 300
    exp = shap_explanation(est, x[800:], NAMES, max_rows=40)
    pred = est.predict(x[800:][exp.rows])
    np.testing.assert_allclose(exp.values.sum(axis=1) + exp.base_value, pred, atol=1e-6)


def test_classifier_boosting_is_explained_in_log_odds() -> None:
    x, y, _ = panel(n_dates=40)
    label = (y > 0).astype(float)
    est = make_estimator("lightgbm", "classification", {"n_estimators": 30}).fit(x, label)
    exp = shap_explanation(est, x, NAMES, max_rows=30)
    assert exp.output == "log-odds"
    p = est.predict(x[exp.rows])
    np.testing.assert_allclose(
        exp.values.sum(axis=1) + exp.base_value, np.log(p / (1 - p)), atol=1e-5
    )


def test_fallback_on_ridge_adds_up_and_equals_the_linear_shapley_values() -> None:
    x, y, _ = panel(n_dates=30)
    est = make_estimator("ridge").fit(x, y)
    exp = shap_explanation(est, x, NAMES, max_rows=40, background_rows=20, seed=4)
    assert exp.method == "permutation"
    assert exp.n_rows == 40
    assert exp.n_background == 20
    rows = x[exp.rows]
    np.testing.assert_allclose(
        exp.values.sum(axis=1) + exp.base_value, est.predict(rows), atol=1e-6
    )
    # linear model: phi_k = slope_k * (x_k - c_k) with c_k the background mean, the same
    # for every row; so x_k - phi_k / slope_k is one constant per feature
    zero = est.predict(np.zeros((1, len(NAMES)), dtype=np.float32))[0]
    slope = est.predict(np.eye(len(NAMES), dtype=np.float32)) - zero
    implied = rows - exp.values / slope
    np.testing.assert_allclose(implied, np.broadcast_to(implied[0], implied.shape), atol=1e-4)
    assert exp.features.index[0] == "MA5"
    again = shap_explanation(est, x, NAMES, max_rows=40, background_rows=20, seed=4)
    np.testing.assert_array_equal(exp.values, again.values)


def test_fallback_on_a_sequence_model_and_the_skip_for_wide_windows() -> None:
    rng = np.random.default_rng(0)
    seq = rng.standard_normal((300, 4, 3)).astype(np.float32)
    y = seq[:, -1, 0] + 0.1 * rng.standard_normal(300)
    est = make_estimator("gru", params={"max_epochs": 2, "hidden_size": 8, "n_layers": 1})
    est.fit(seq, y)
    exp = shap_explanation(est, seq, ["a1", "b1", "c1"], max_rows=100, background_rows=10)
    assert exp.method == "permutation"
    assert exp.values.shape == (16, 4, 3)  # SEQUENCE_ROWS rows
    pred = est.predict(seq[exp.rows])
    np.testing.assert_allclose(exp.values.sum(axis=(1, 2)) + exp.base_value, pred, atol=1e-4)
    assert len(exp.positions) == 4
    wide = np.zeros((20, SEQUENCE_MAX_INPUTS // 3 + 1, 3), dtype=np.float32)
    skipped = shap_explanation(est, wide, ["a1", "b1", "c1"])
    assert skipped.method == "skipped"
    assert "more than" in skipped.reason
    assert skipped.to_dict()["features"] == []
