"""Temporal Fusion Transformer: learns a lagged signal and not noise, interprets it, persists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.models import TFTInterpretation
from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import Estimator
from alphaloop.models.families import make_estimator
from alphaloop.models.labels import LabelSpec
from alphaloop.models.learning_data import LearningData
from alphaloop.models.tft import TFTEstimator
from alphaloop.models.training import train

WINDOW, N_FEATURES, LAG = 8, 4, 3  # the label depends on feature 0, LAG steps before the decision
N_DATES, N_ASSETS = 150, 20
FAST = {
    "hidden_size": 16,
    "dropout": 0.0,
    "learning_rate": 5e-3,
    "batch_size": 128,
    "max_epochs": 10,
}


def _sequences(seed: int, planted: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, y, date of each row): rows are dates x assets, dates in order."""
    rng = np.random.default_rng(seed)
    n = N_DATES * N_ASSETS
    X = rng.standard_normal((n, WINDOW, N_FEATURES)).astype(np.float32)
    noise = rng.standard_normal(n)
    y = X[:, -1 - LAG, 0] + 0.5 * noise if planted else noise
    return X, y, np.repeat(np.arange(N_DATES), N_ASSETS)


def _splits(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test rows: the first 60%, next 20% and last 20% of dates."""
    a, b = int(N_DATES * 0.6), int(N_DATES * 0.8)
    return dates < a, (dates >= a) & (dates < b), dates >= b


def _fit(seed: int, planted: bool, **params: object) -> tuple[TFTEstimator, np.ndarray, np.ndarray]:
    X, y, dates = _sequences(seed, planted)
    fit, valid, test = _splits(dates)
    est = make_estimator("tft", params={**FAST, **params}, seed=seed)
    est.fit(X[fit], y[fit], X_valid=X[valid], y_valid=y[valid])
    assert isinstance(est, TFTEstimator)
    return est, X[test], y[test]


def _ic_tstat(pred: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean per-date Pearson IC over the test dates and its t-statistic."""
    ics = []
    for p, r in zip(pred.reshape(-1, N_ASSETS), y.reshape(-1, N_ASSETS), strict=True):
        ics.append(0.0 if p.std() == 0 else float(np.corrcoef(p, r)[0, 1]))
    ic = np.asarray(ics)
    return float(ic.mean()), float(ic.mean() / ic.std(ddof=1) * np.sqrt(len(ic)))


@pytest.fixture(scope="module")
def planted() -> tuple[TFTEstimator, np.ndarray, np.ndarray]:
    return _fit(0, planted=True)


def test_learns_a_lagged_signal_out_of_sample(planted) -> None:
    est, xt, yt = planted
    ic, tstat = _ic_tstat(est.predict(xt), yt)
    assert ic > 0.5
    assert tstat > 10
    quantiles = est.predict_quantiles(xt)
    assert quantiles.shape == (len(xt), 3)
    np.testing.assert_array_equal(quantiles[:, 1], est.predict(xt))
    # the 10% and 90% quantiles bracket about 80% of the outcomes
    inside = np.mean((yt >= quantiles[:, 0]) & (yt <= quantiles[:, 2]))
    assert 0.6 < inside < 0.95


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_does_not_learn_noise(seed: int) -> None:
    est, xt, yt = _fit(seed, planted=False)
    _, tstat = _ic_tstat(est.predict(xt), yt)
    assert abs(tstat) < 3


def test_interpretation_points_at_the_planted_feature_and_lag(planted) -> None:
    est, xt, _ = planted
    found = est.interpret(xt)
    assert isinstance(found, TFTInterpretation)
    assert found.variable_weights.shape == (N_FEATURES,)
    assert found.attention.shape == (WINDOW,)
    for weights in (found.variable_weights, found.attention):
        assert (weights >= 0).all()
        assert weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert int(np.argmax(found.variable_weights)) == 0
    assert int(np.argmax(found.attention)) == WINDOW - 1 - LAG
    assert found.feature_names is None
    assert found.static_features == ()
    assert found.n_rows == len(xt)


def test_static_features_by_name_are_read_at_the_last_step() -> None:
    names = ("signal", "a", "b", "sector")
    est, xt, _ = _fit(
        0, planted=True, max_epochs=2, static_features=["sector"], feature_names=names
    )
    found = est.interpret(xt)
    assert found.static_features == (3,)
    assert found.feature_names == names
    assert found.variable_weights.sum() == pytest.approx(1.0, abs=1e-9)
    assert (found.variable_weights > 0).all()
    # a static feature is read at the last step only: earlier steps do not move predictions
    changed = xt.copy()
    changed[:, :-1, 3] += 5.0
    np.testing.assert_array_equal(est.predict(changed), est.predict(xt))
    changed[:, -1, 3] += 5.0
    assert not np.array_equal(est.predict(changed), est.predict(xt))


def test_same_seed_gives_identical_predictions_and_weights() -> None:
    first, xt, _ = _fit(4, planted=True, max_epochs=2)
    second, _, _ = _fit(4, planted=True, max_epochs=2)
    np.testing.assert_array_equal(first.predict(xt), second.predict(xt))
    np.testing.assert_array_equal(first.interpret(xt).attention, second.interpret(xt).attention)
    X, y, dates = _sequences(4, planted=True)
    fit, valid, _ = _splits(dates)
    other = make_estimator("tft", params={**FAST, "max_epochs": 2}, seed=5)
    other.fit(X[fit], y[fit], X_valid=X[valid], y_valid=y[valid])
    assert not np.array_equal(other.predict(xt), first.predict(xt))


def test_save_load_round_trip(planted, tmp_path: Path) -> None:
    est, xt, _ = planted
    loaded = Estimator.load(est.save(tmp_path / "tft"))
    assert isinstance(loaded, TFTEstimator)
    assert loaded.best_iteration_ == est.best_iteration_
    np.testing.assert_array_equal(loaded.predict(xt), est.predict(xt))
    np.testing.assert_array_equal(loaded.predict_quantiles(xt), est.predict_quantiles(xt))
    np.testing.assert_array_equal(loaded.interpret(xt).attention, est.interpret(xt).attention)


def test_classification_and_list_params_round_trip(tmp_path: Path) -> None:
    X, y, dates = _sequences(6, planted=True)
    fit, _, test = _splits(dates)
    label = (y > 0).astype(float)
    params = {**FAST, "max_epochs": 3, "static_features": [1], "quantiles": [0.2, 0.5, 0.8]}
    est = make_estimator("tft", "classification", params).fit(X[fit], label[fit])
    prob = est.predict(X[test])
    assert ((prob > 0) & (prob < 1)).all()  # learning in classification: test_estimators.py
    loaded = TFTEstimator.load(est.save(tmp_path / "clf"))
    assert loaded.params == est.params
    np.testing.assert_array_equal(loaded.predict(X[test]), prob)
    with pytest.raises(ModelError, match="task='regression'"):
        est.predict_quantiles(X[test])


def test_train_gives_the_estimator_the_data_feature_names() -> None:
    rng = np.random.default_rng(0)
    n_dates, n_assets = 80, 10
    index = pd.bdate_range("2020-01-01", periods=n_dates + 2, tz="UTC").as_unit("ns")
    rows = np.repeat(np.arange(n_dates), n_assets)
    X = rng.standard_normal((len(rows), 2)).astype(np.float32)
    fwd = 0.01 * X[:, 0] + 0.01 * rng.standard_normal(len(rows))
    data = LearningData(
        X=X,
        y=fwd,
        forward_return=fwd,
        rows=rows,
        cols=np.tile(np.arange(n_assets), n_dates),
        feature_names=("signal", "size"),
        assets=tuple(f"A{j}" for j in range(n_assets)),
        panel_index=index,
        label=LabelSpec(horizon=1),
    )
    params = {**FAST, "max_epochs": 2, "static_features": ["size"]}
    result = train(data, "tft", params=params, n_splits=2, sequence_window=4)
    assert result.params["feature_names"] == ("signal", "size")
    assert result.estimator.interpret(data.sequences(4)[0]).static_features == (1,)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_heads": 3}, "must be >= 1 and divide hidden_size=16"),
        ({"quantiles": [0.1, 0.9]}, "must include 0.5"),
        ({"quantiles": [0.5, 0.1]}, "increasing"),
        ({"quantiles": [0.0, 0.5]}, r"lie in \(0, 1\)"),
        ({"quantiles": []}, "non-empty"),
        ({"static_features": [4]}, "out of range for 4 features"),
        ({"static_features": [0, 1, 2, 3]}, "at least one must be time-varying"),
        ({"static_features": ["sector"]}, "not a feature name"),
        ({"static_features": [1, 1]}, "listed twice"),
        ({"static_features": 1}, "must be a list"),
        ({"feature_names": ["a"]}, "has 1 names but X has 4 features"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_params_raise_model_error(params: dict, match: str) -> None:
    X, y, _ = _sequences(0, planted=True)
    est = make_estimator("tft", params={**FAST, "max_epochs": 1, **params})
    with pytest.raises(ModelError, match=match):
        est.fit(X[:200], y[:200])


@pytest.mark.slow
def test_a_tft_spec_trains_registers_and_predicts_point_in_time(tmp_path: Path) -> None:
    """Spec -> registry -> point-in-time predictions through the sequence path of the app."""
    from alphaloop.app import Workspace
    from alphaloop.app.models import predict_panel, train_from_spec
    from alphaloop.models.spec import ModelSpec

    spec = ModelSpec.from_dict(
        {
            "name": "tft-mom",
            "data": "sp500-stocks",
            "start": "2008-01-01",
            "end": "2008-12-31",
            "features": {
                "mom20": "$close / Ref($close, 20) - 1",
                "vol20": "Std($close / Ref($close, 1) - 1, 20)",
                "rev5": "Ref($close, 5) / $close - 1",
            },
            "label": {"horizon": 5},
            "model": {
                "family": "tft",
                "params": {"hidden_size": 8, "max_epochs": 2, "static_features": ["vol20"]},
            },
            "training": {"n_splits": 2, "sequence_window": 5},
        }
    )
    with Workspace(tmp_path / "ws", holdout_fraction=0.2) as ws:
        version = train_from_spec(ws, spec).version
        assert version.family == "tft"
        panel = ws.data.load("sp500-stocks").slice("2008-06-01", "2009-06-30")
        full, _ = predict_panel(ws, version.ref, panel)
        assert np.isnan(full[:20]).all()  # no complete window before the features warm up
        assert np.isfinite(full[-1]).all()
        k = panel.n_times - 40
        cut, _ = predict_panel(ws, version.ref, panel.iloc(slice(0, k + 1)))
        np.testing.assert_allclose(cut[k], full[k], rtol=1e-6, atol=1e-9)
