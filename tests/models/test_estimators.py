"""Estimators: one contract for every family, determinism, early stopping, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from alphaloop.models.boosting import LightGBMEstimator, XGBoostEstimator
from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import Estimator
from alphaloop.models.families import (
    FAMILIES,
    SEQUENCE_FAMILIES,
    estimator_class,
    make_estimator,
)

WINDOW = 6
N_FEATURES = 3
# Small budgets so every family trains in well under a second.
FAST = {
    "lightgbm": {"n_estimators": 60},
    "xgboost": {"n_estimators": 60},
    "random_forest": {"n_estimators": 20},
    "ridge": {},
    "linear": {},
    "mlp": {"max_epochs": 4, "batch_size": 128, "learning_rate": 5e-3},
    "lstm": {"max_epochs": 3, "batch_size": 128, "learning_rate": 5e-3},
    "gru": {"max_epochs": 3, "batch_size": 128, "learning_rate": 5e-3},
    "transformer": {"max_epochs": 3, "batch_size": 128, "learning_rate": 5e-3},
    "tft": {"max_epochs": 4, "batch_size": 64, "learning_rate": 1e-2, "hidden_size": 8},
}


def _arrays(family: str, task: str, n: int = 1200, seed: int = 0):
    """Features with a planted signal in feature 0 (of the last step for sequences)."""
    rng = np.random.default_rng(seed)
    if family in SEQUENCE_FAMILIES:
        X = rng.standard_normal((n, WINDOW, N_FEATURES)).astype(np.float32)
        signal = X[:, -1, 0] + 0.5 * X[:, -2, 1]
    else:
        X = rng.standard_normal((n, N_FEATURES)).astype(np.float32)
        signal = X[:, 0]
    y = signal + rng.standard_normal(n)
    if task == "classification":
        y = (y > 0).astype(float)
    return X, y


def _split(x, y):
    n = len(y)
    a, b = int(n * 0.6), int(n * 0.8)
    return (x[:a], y[:a]), (x[a:b], y[a:b]), (x[b:], y[b:])


def _fit(family: str, task: str, seed: int = 0) -> tuple[Estimator, np.ndarray, np.ndarray]:
    X, y = _arrays(family, task)
    (xf, yf), (xv, yv), (xt, yt) = _split(X, y)
    est = make_estimator(family, task, FAST[family], seed=seed)
    est.fit(xf, yf, X_valid=xv, y_valid=yv)
    return est, xt, yt


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_learns_a_planted_signal(family: str, task: str) -> None:
    est, xt, yt = _fit(family, task)
    pred = est.predict(xt)
    assert pred.shape == (len(xt),)
    assert pred.dtype == np.float64
    assert np.isfinite(pred).all()
    assert est.family == family
    assert est.n_features_in_ == N_FEATURES
    assert est.window_ == (WINDOW if family in SEQUENCE_FAMILIES else None)
    assert np.corrcoef(pred, yt)[0, 1] > 0.25
    if task == "classification":
        assert ((pred >= 0) & (pred <= 1)).all()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_same_seed_gives_identical_predictions(family: str) -> None:
    first, xt, _ = _fit(family, "regression", seed=3)
    second, _, _ = _fit(family, "regression", seed=3)
    np.testing.assert_array_equal(first.predict(xt), second.predict(xt))


@pytest.mark.parametrize("family", ["lightgbm", "random_forest", "mlp", "gru"])
def test_another_seed_gives_another_model(family: str) -> None:
    first, xt, _ = _fit(family, "regression", seed=1)
    second, _, _ = _fit(family, "regression", seed=2)
    assert not np.array_equal(first.predict(xt), second.predict(xt))


def test_torch_global_state_is_restored() -> None:
    import torch

    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _fit("mlp", "regression")
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("family", list(FAMILIES))
def test_save_load_round_trip(family: str, task: str, tmp_path: Path) -> None:
    est, xt, _ = _fit(family, task)
    path = est.save(tmp_path / "model")
    manifest = json.loads((path / "estimator.json").read_text())
    assert manifest["family"] == family
    assert manifest["params"] == est.params
    assert not list(tmp_path.glob(".*"))  # no staging directories left behind
    for loaded in (Estimator.load(path), estimator_class(family).load(path)):
        assert type(loaded) is type(est)
        assert loaded.params == est.params
        np.testing.assert_array_equal(loaded.predict(xt), est.predict(xt))


def test_load_refuses_another_family(tmp_path: Path) -> None:
    est, _, _ = _fit("lightgbm", "regression")
    path = est.save(tmp_path / "lgbm")
    with pytest.raises(ModelError, match="holds a 'lightgbm' model, not a 'xgboost' model"):
        XGBoostEstimator.load(path)
    assert isinstance(LightGBMEstimator.load(path), LightGBMEstimator)


def test_load_refuses_what_is_not_an_estimator(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not an estimator directory"):
        Estimator.load(tmp_path)
    (tmp_path / "estimator.json").write_text(json.dumps({"format": "other/9"}))
    with pytest.raises(ModelError, match="format 'other/9'"):
        Estimator.load(tmp_path)


def test_save_replaces_an_estimator_but_not_other_files(tmp_path: Path) -> None:
    small, xt, _ = _fit("ridge", "regression")
    path = small.save(tmp_path / "m")
    other = make_estimator("ridge", params={"alpha": 1e4}).fit(*_arrays("ridge", "regression"))
    other.save(path)
    np.testing.assert_array_equal(Estimator.load(path).predict(xt), other.predict(xt))
    keep = tmp_path / "notes"
    keep.mkdir()
    (keep / "readme.txt").write_text("mine")
    with pytest.raises(ModelError, match="not an estimator directory; refusing"):
        small.save(keep)
    assert (keep / "readme.txt").read_text() == "mine"


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "mlp"])
def test_early_stopping_uses_the_validation_set_only(family: str) -> None:
    """Noise validation labels stop boosting/epochs early; without them the budget is used."""
    X, y = _arrays(family, "regression")
    rng = np.random.default_rng(9)
    params = {**FAST[family], "learning_rate": 0.1}
    noise = rng.standard_normal(300)
    stopped = make_estimator(family, params=params).fit(
        X[:900], y[:900], X_valid=X[900:], y_valid=noise
    )
    full = make_estimator(family, params=params).fit(X[:900], y[:900])
    budget = params.get("n_estimators", params.get("max_epochs"))
    assert full.best_iteration_ == budget
    assert stopped.best_iteration_ < budget


def test_make_estimator_checks_family_task_and_params() -> None:
    with pytest.raises(ModelError, match="unknown model family 'svm'"):
        make_estimator("svm")
    with pytest.raises(ModelError, match="task must be one of"):
        make_estimator("ridge", task="ranking")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="unknown parameter"):
        make_estimator("lightgbm", params={"num_leafs": 3})
    with pytest.raises(ModelError, match="not inside params"):
        make_estimator("lightgbm", params={"seed": 3})
    est = make_estimator("lightgbm", "classification", {"num_leaves": 7}, seed=5)
    assert est.params["num_leaves"] == 7
    assert est.params["seed"] == 5
    assert est.params["task"] == "classification"


def test_estimators_follow_the_sklearn_contract() -> None:
    est = make_estimator("xgboost", params={"max_depth": 2}, seed=4)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "n_features_in_")
    X, y = _arrays("xgboost", "regression", n=300)
    assert est.fit(X, y) is est
    assert est.params == copy.params  # fit does not change parameters


def test_input_errors_are_typed_and_say_what_is_wrong() -> None:
    X, y = _arrays("lightgbm", "regression", n=200)
    est = make_estimator("lightgbm", params={"n_estimators": 5})
    with pytest.raises(ModelError, match="not fitted"):
        est.predict(X)
    with pytest.raises(ModelError, match="shape"):
        est.fit(X[:, None, :], y)
    with pytest.raises(ModelError, match="missing or infinite labels"):
        est.fit(X, np.where(np.arange(200) == 3, np.nan, y))
    with pytest.raises(ModelError, match="both X_valid and y_valid"):
        est.fit(X, y, X_valid=X)
    with pytest.raises(ModelError, match="0 or 1"):
        make_estimator("ridge", "classification").fit(X, y)
    with pytest.raises(ModelError, match="infinite"):
        est.fit(np.where(X > 2, np.inf, X), y)
    est.fit(X, y)
    with pytest.raises(ModelError, match="expects"):
        est.predict(X[:, :2])
    seq = make_estimator("lstm", params={"max_epochs": 1})
    with pytest.raises(ModelError, match=r"\(n, window, n_features\)"):
        seq.fit(X, y)


def test_nan_features_are_accepted_by_every_family() -> None:
    for family in ("lightgbm", "random_forest", "ridge", "mlp"):
        X, y = _arrays(family, "regression", n=400)
        X[::7, 1] = np.nan
        pred = make_estimator(family, params=FAST[family]).fit(X, y).predict(X)
        assert np.isfinite(pred).all(), family
