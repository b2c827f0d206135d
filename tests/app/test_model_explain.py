"""Variable selection and attention of models that expose ``interpret(X)`` (the TFT contract)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from alphaloop.app.model_explain import tft_payload
from alphaloop.models import FAMILIES, ModelError, make_estimator

NAMES = ("ROC5", "ROC10", "MA5")


@dataclass(frozen=True)
class Interpretation:
    variable_weights: np.ndarray
    attention: np.ndarray
    feature_names: tuple[str, ...] | None = None


class MeanAbsInterpreter:
    """Implements only the ``interpret`` contract: weights from the inputs' mean |value|."""

    def __init__(self, n_weights: int | None = None) -> None:
        self.n_weights = n_weights

    def interpret(self, X: np.ndarray) -> Interpretation:  # noqa: N803
        w = np.abs(X).mean(axis=(0, 1))[: self.n_weights]
        a = np.abs(X).mean(axis=(0, 2))
        return Interpretation(w / w.sum(), a / a.sum())


def windows() -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((40, 4, 3))
    return x * np.array([1.0, 2.0, 5.0])  # MA5 largest, then ROC10


def test_an_estimator_without_interpret_gives_nothing() -> None:
    est = make_estimator("ridge").fit(np.eye(3, dtype=np.float32), np.arange(3.0))
    assert tft_payload(est, windows(), NAMES) is None


def test_weights_by_feature_and_family_and_attention_by_position() -> None:
    payload = tft_payload(MeanAbsInterpreter(), windows(), NAMES)
    assert payload is not None
    features = [(r["feature"], r["weight"]) for r in payload["variable_weights"]]
    assert [f for f, _ in features] == ["MA5", "ROC10", "ROC5"]
    assert sum(w for _, w in features) == pytest.approx(1.0)
    families = {r["family"]: r["weight"] for r in payload["families"]}
    assert families["ROC"] == pytest.approx(dict(features)["ROC5"] + dict(features)["ROC10"])
    assert [r["family"] for r in payload["families"]] == ["MA", "ROC"]  # about 5/8 vs 3/8
    assert len(payload["attention"]) == 4
    assert sum(payload["attention"]) == pytest.approx(1.0)
    assert payload["n_rows"] == 40


def test_a_wrong_number_of_weights_is_refused() -> None:
    with pytest.raises(ModelError, match="2 variable weights for 3 features"):
        tft_payload(MeanAbsInterpreter(n_weights=2), windows(), NAMES)


@pytest.mark.skipif("tft" not in FAMILIES, reason="the tft family is not installed here")
def test_the_tft_family_is_interpreted() -> None:  # pragma: no cover - needs the tft family
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 5, 3)).astype(np.float32)
    y = x[:, -1, 0] + 0.1 * rng.standard_normal(256)
    est = make_estimator("tft").fit(x, y)
    payload = tft_payload(est, x, NAMES)
    assert payload is not None
    assert sum(r["weight"] for r in payload["variable_weights"]) == pytest.approx(1.0, abs=1e-4)
    assert len(payload["attention"]) == 5


@pytest.mark.slow
def test_a_sequence_model_is_explained_on_its_own_test_folds(tmp_path) -> None:
    from alphaloop.app import Workspace
    from alphaloop.app.model_explain import explain_model
    from alphaloop.app.models import train_from_spec
    from alphaloop.models import ModelSpec

    spec = ModelSpec.from_dict(
        {
            "name": "gru-x",
            "data": "sp500-stocks",
            "start": "1998-01-01",
            "end": "1999-12-31",
            "features": {"ROC5": "Ref($close, 5)/$close", "ROC20": "Ref($close, 20)/$close"},
            "label": {"horizon": 5},
            "model": {"family": "gru", "params": {"max_epochs": 2, "hidden_size": 8}},
            "training": {"n_splits": 2, "sequence_window": 4},
        }
    )
    with Workspace(tmp_path / "ws") as ws:
        trained = train_from_spec(ws, spec)
        explained = explain_model(ws, "gru-x/v1", n_repeats=2)
        perm = explained.payload("permutation")
        shap = explained.payload("shap")
    assert explained.computed
    assert perm["reproduced"] is True
    folds = trained.training.folds
    assert [f["test_start"][:10] for f in perm["folds"]] == [
        f"{t:%Y-%m-%d}" for t in folds["test_start"]
    ]
    assert [f["n_rows"] for f in perm["folds"]] == folds["n_test"].tolist()
    assert [r["family"] for r in perm["families"]] == ["ROC"]
    assert shap["method"] == "permutation"
    assert shap["n_rows"] == 16
    assert len(shap["positions"]) == 4
