"""ONNX export: every exportable family's graph predicts what the native model predicts.

Parity rule (alphaloop.models.onnx_export): max |onnx - native| <= 1e-5 *
max(1, RMS(native)), on synthetic rows with missing values (NaN), including
rows not seen in training and a batch of one.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxmltools")
pytest.importorskip("skl2onnx")

from alphaloop.models import ModelError, make_estimator
from alphaloop.models.onnx_export import check_parity, export_onnx

N, WINDOW, N_FEATURES = 900, 4, 3
TABULAR = {
    "lightgbm": {"n_estimators": 40, "min_child_samples": 10},
    "xgboost": {"n_estimators": 40},
    "random_forest": {"n_estimators": 10, "min_samples_leaf": 5},
    "ridge": {},
    "linear": {},
    "mlp": {"max_epochs": 3, "hidden_size": 8},
}
SEQUENCE = {
    "lstm": {"max_epochs": 2, "hidden_size": 8},
    "gru": {"max_epochs": 2, "hidden_size": 8},
    "transformer": {"max_epochs": 2, "d_model": 8, "n_heads": 2, "dim_feedforward": 16},
}


def _data(sequence: bool, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Features with 10% NaN and a label driven by feature 0 at the last step."""
    rng = np.random.default_rng(seed)
    shape = (N, WINDOW, N_FEATURES) if sequence else (N, N_FEATURES)
    x = rng.standard_normal(shape).astype(np.float32) * np.float32(3.0) + np.float32(1.0)
    x[rng.random(shape) < 0.1] = np.nan
    last = x[:, -1] if sequence else x
    y = 0.02 * np.nan_to_num(last[..., 0]) + 0.01 * rng.standard_normal(N)
    return x, y


def _fit_and_export(family: str, params: dict, task: str, sequence: bool):
    x, y = _data(sequence)
    labels = (y > np.median(y)).astype(float) if task == "classification" else y
    train, valid = slice(0, 600), slice(600, 750)
    estimator = make_estimator(family, task, params, seed=3).fit(
        x[train], labels[train], X_valid=x[valid], y_valid=labels[valid]
    )
    return estimator, export_onnx(estimator), x


def _assert_parity(estimator, exported, x: np.ndarray) -> None:
    native = estimator.predict(x)
    onnx = exported.predict(x)
    parity = check_parity(native, onnx)
    assert parity.passed, parity
    assert np.std(native) > 0  # a model that learned something, not a constant
    assert exported.predict(x[:1])[0] == pytest.approx(native[0], abs=parity.tolerance)


@pytest.mark.parametrize("family", sorted(TABULAR))
def test_tabular_regression_parity(family: str) -> None:
    estimator, exported, x = _fit_and_export(family, TABULAR[family], "regression", False)
    assert exported.input_shape == [None, N_FEATURES]
    _assert_parity(estimator, exported, x)


@pytest.mark.parametrize("family", sorted(SEQUENCE))
def test_sequence_regression_parity(family: str) -> None:
    estimator, exported, x = _fit_and_export(family, SEQUENCE[family], "regression", True)
    assert exported.input_shape == [None, WINDOW, N_FEATURES]
    assert exported.window == WINDOW
    _assert_parity(estimator, exported, x)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "random_forest", "ridge", "linear"])
def test_tabular_classification_outputs_the_probability(family: str) -> None:
    estimator, exported, x = _fit_and_export(family, TABULAR[family], "classification", False)
    onnx = exported.predict(x)
    assert ((onnx >= 0) & (onnx <= 1)).all()
    _assert_parity(estimator, exported, x)


def test_sequence_classification_parity() -> None:
    estimator, exported, x = _fit_and_export("gru", SEQUENCE["gru"], "classification", True)
    _assert_parity(estimator, exported, x)


def test_forest_routes_missing_values_as_scikit_learn_does() -> None:
    """Rows whose every feature is NaN follow the forest's learned NaN directions."""
    estimator, exported, x = _fit_and_export(
        "random_forest", TABULAR["random_forest"], "regression", False
    )
    rows = np.full((3, N_FEATURES), np.nan, dtype=np.float32)
    rows[1, 0] = 2.0
    _assert_parity(estimator, exported, np.concatenate([rows, x[:50]]))


def test_parity_rule() -> None:
    native = np.array([0.01, -0.02, 0.03])
    assert check_parity(native, native + 9e-6).passed
    assert not check_parity(native, native + 2e-5).passed
    big = np.array([300.0, -400.0])  # RMS ~354: tolerance scales with it
    assert check_parity(big, big + 3e-3).passed
    assert not check_parity(big, big + 5e-3).passed
    assert not check_parity(native, np.array([0.01, np.nan, 0.03])).passed


def test_unfitted_or_unknown_models_are_refused() -> None:
    with pytest.raises(ModelError, match="not fitted"):
        export_onnx(make_estimator("ridge"))
    with pytest.raises(ModelError, match="not a single estimator"):
        export_onnx(object())


@pytest.mark.slow  # the torch.export exporter takes 10-20 s on first use
def test_torch_export_api_fallback_has_parity() -> None:
    """The torch.export-based exporter, used when TorchScript's lacks an operator."""
    import onnx
    import torch

    from alphaloop.models.onnx_converters import _dynamo_export, _torch_graph
    from alphaloop.models.onnx_export import onnx_predict

    x, y = _data(True)
    estimator = make_estimator("lstm", "regression", SEQUENCE["lstm"], seed=1).fit(x, y)
    example = torch.zeros((2, WINDOW, N_FEATURES), dtype=torch.float32)
    with torch.no_grad():
        data = _dynamo_export(_torch_graph(estimator).eval(), example)
    onnx.checker.check_model(onnx.load_from_string(data))
    parity = check_parity(estimator.predict(x), onnx_predict(data, x))
    assert parity.passed, parity
