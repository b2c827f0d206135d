"""ModelSpec: estimator parameters are checked at load, before any data is read."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from alphaloop.errors import SpecError
from alphaloop.models import FAMILIES, RidgeEstimator, families
from alphaloop.models.spec import PARAM_BOUNDS, Bound, ModelSpec, load_model_spec


def model(family: str, **params: object) -> ModelSpec:
    return ModelSpec.from_dict(
        {"name": "m", "data": "sp500-stocks", "model": {"family": family, "params": params}}
    )


def test_good_params_load() -> None:
    spec = model("lightgbm", n_estimators=50, learning_rate=0.1, subsample=1.0)
    assert spec.model.params == {"n_estimators": 50, "learning_rate": 0.1, "subsample": 1.0}
    assert model("ridge", alpha=2).model.params == {"alpha": 2}  # an int where a float goes
    assert model("linear").model.params == {}


def test_unknown_family_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match="family 'lgbm' is not known") as exc:
        model("lgbm")
    for family in FAMILIES:
        assert family in str(exc.value)


def test_unknown_param_names_the_allowed_ones() -> None:
    with pytest.raises(SpecError, match="'n_estimator' is not a parameter") as exc:
        model("lightgbm", n_estimator=10)
    assert "n_estimators" in str(exc.value)
    with pytest.raises(SpecError, match="are not parameters of family 'linear'"):
        model("linear", alpha=1.0, fit_intercept=True)
    with pytest.raises(SpecError, match="set by the spec"):
        model("ridge", seed=3)


@pytest.mark.parametrize(
    ("family", "params", "match"),
    [
        ("lightgbm", {"n_estimators": 10.5}, "n_estimators must be a whole number, got 10.5"),
        ("lightgbm", {"n_estimators": True}, "whole number"),
        ("lightgbm", {"n_estimators": 0}, "n_estimators must be >= 1, got 0"),
        ("lightgbm", {"learning_rate": "1e-3"}, "write 1.0e-3"),
        ("xgboost", {"subsample": 1.5}, r"subsample must be > 0 and <= 1, got 1.5"),
        ("random_forest", {"max_features": 0}, "max_features must be > 0"),
        ("ridge", {"alpha": 0}, "alpha must be > 0, got 0"),
        ("ridge", {"alpha": float("inf")}, "finite"),
    ],
)
def test_bad_values_name_the_param_and_the_range(family, params, match) -> None:
    with pytest.raises(SpecError, match=match):
        model(family, **params)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SpecError) as exc:
        model("lightgbm", n_estimators=-1, num_leaves=1)
    assert "n_estimators" in str(exc.value)
    assert "num_leaves must be >= 2" in str(exc.value)


def test_torch_family_params() -> None:
    pytest.importorskip("torch")
    assert model("mlp", hidden_size=8, dropout=0.0).model.params["hidden_size"] == 8
    with pytest.raises(SpecError, match=r"dropout must be >= 0 and < 1, got 1\.0"):
        model("mlp", dropout=1.0)


def test_a_class_may_declare_its_own_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    class NarrowRidge(RidgeEstimator):
        family = "narrow-ridge"
        param_bounds: ClassVar[dict[str, Bound]] = {"alpha": Bound(1, 10)}

    monkeypatch.setitem(families.FAMILIES, "narrow-ridge", lambda: NarrowRidge)
    assert model("narrow-ridge", alpha=5.0).model.params == {"alpha": 5.0}
    with pytest.raises(SpecError, match=r"alpha must be >= 1 and <= 10, got 0.5"):
        model("narrow-ridge", alpha=0.5)
    assert PARAM_BOUNDS["alpha"].contains(0.5)


def test_a_file_fails_at_load(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("name: m\ndata: sp500-stocks\nmodel: {family: lightgbm, params: {trees: 10}}\n")
    with pytest.raises(SpecError, match=r"m\.yaml: model: 'trees' is not a parameter"):
        load_model_spec(path)
