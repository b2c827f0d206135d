"""Training on purged splits: out-of-sample metrics, leakage guards, tuning inside folds."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from alphaloop.app import Workspace
from alphaloop.data.panel import Panel
from alphaloop.models.boosting import LightGBMEstimator
from alphaloop.models.dataset import build_dataset
from alphaloop.models.errors import ModelError
from alphaloop.models.families import FAMILIES, SEQUENCE_FAMILIES
from alphaloop.models.labels import LabelSpec
from alphaloop.models.learning_data import LearningData
from alphaloop.models.metrics import prediction_metrics
from alphaloop.models.training import train
from alphaloop.models.training_results import FitRecord, TrainingResult
from alphaloop.models.tuning import SEARCH_SPACES

FEATURES = {
    "MOM5": "$close/Ref($close, 5) - 1",
    "MOM20": "Ref($close, 1)/Ref($close, 21) - 1",
    "REV1": "-($close/Ref($close, 1) - 1)",
    "VOL10": "Std($close/Ref($close, 1) - 1, 10)",
}
FAST = {
    "lightgbm": {"n_estimators": 40},
    "xgboost": {"n_estimators": 40},
    "random_forest": {"n_estimators": 15},
    "ridge": {},
    "linear": {},
    "mlp": {"max_epochs": 2, "batch_size": 256},
    "lstm": {"max_epochs": 2, "batch_size": 256},
    "gru": {"max_epochs": 2, "batch_size": 256},
    "transformer": {"max_epochs": 2, "batch_size": 256},
    "tft": {"max_epochs": 2, "batch_size": 256, "hidden_size": 8},
}


@pytest.fixture(scope="module")
def panel(shared_workspace: Workspace) -> Panel:
    """The bundled 20 US stocks, 2016-2021 (close only)."""
    return shared_workspace.data.load("sp500-stocks").slice("2016-01-01", "2021-12-31")


@pytest.fixture(scope="module")
def small(panel: Panel) -> LearningData:
    """One year of momentum and volatility features, 5-day forward returns (~5,000 rows)."""
    return build_dataset(panel.slice("2021-01-01", None), FEATURES, LabelSpec(horizon=5))


def planted(
    n_dates: int = 200, n_assets: int = 20, kind: str = "regression", seed: int = 0
) -> LearningData:
    """Synthetic data whose feature 0 truly predicts the next-bar return (correlation ~0.7)."""
    rng = np.random.default_rng(seed)
    label = LabelSpec(horizon=1, kind=kind)  # type: ignore[arg-type]
    index = pd.bdate_range("2020-01-01", periods=n_dates + label.span, tz="UTC").as_unit("ns")
    rows = np.repeat(np.arange(n_dates), n_assets)
    cols = np.tile(np.arange(n_assets), n_dates)
    X = rng.standard_normal((len(rows), 4)).astype(np.float32)
    fwd = 0.01 * X[:, 0] + 0.01 * rng.standard_normal(len(rows))
    y = (fwd > 0).astype(float) if kind == "classification" else fwd
    return LearningData(
        X=X,
        y=y,
        forward_return=fwd,
        rows=rows,
        cols=cols,
        feature_names=("signal", "noise1", "noise2", "noise3"),
        assets=tuple(f"A{j:02d}" for j in range(n_assets)),
        panel_index=index,
        label=label,
    )


def _window(family: str) -> int | None:
    return 5 if family in SEQUENCE_FAMILIES else None


def _check_result(result: TrainingResult, data: LearningData, family: str) -> None:
    n = len(data)
    assert result.oos_predictions.shape == (n,)
    tested = np.isfinite(result.oos_predictions)
    assert 0 < tested.sum() < n  # walk-forward: the first block is never tested
    assert not tested[0]
    assert result.estimator.family == family
    assert result.params == result.estimator.params
    assert result.feature_names == data.feature_names
    assert result.period.first_decision <= result.period.last_decision
    assert result.period.last_label_end > result.period.last_decision
    assert list(result.folds["fold"]) == list(range(len(result.folds)))
    for key in ("ic", "rank_ic", "icir", "ic_tstat", "in_sample_ic", "n_oos"):
        assert np.isfinite(result.metrics[key]), key
    json.dumps(result.summary())


# ------------------------------------------------------------------ every family


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_trains_end_to_end_on_bundled_data(small: LearningData, family: str) -> None:
    result = train(small, family, params=FAST[family], n_splits=2, sequence_window=_window(family))
    _check_result(result, small, family)
    pred = result.estimator.predict(
        small.sequences(5)[0][:50] if family in SEQUENCE_FAMILIES else small.X[:50]
    )
    assert np.isfinite(pred).all()
    assert result.settings["sequence_window"] == _window(family)


@pytest.mark.parametrize("family", ["lightgbm", "ridge", "gru"])
def test_classifiers_report_accuracy_and_auc(panel: Panel, family: str) -> None:
    data = build_dataset(
        panel.slice("2021-01-01", None), FEATURES, LabelSpec(kind="classification")
    )
    result = train(data, family, params=FAST[family], n_splits=2, sequence_window=_window(family))
    assert result.task == "classification"
    tested = np.isfinite(result.oos_predictions)
    assert ((result.oos_predictions[tested] >= 0) & (result.oos_predictions[tested] <= 1)).all()
    assert 0.3 < result.metrics["accuracy"] < 0.7
    assert 0.3 < result.metrics["auc"] < 0.7
    assert {"accuracy", "auc"} <= set(result.folds.columns)


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "random_forest"])
def test_tree_models_find_a_planted_signal_out_of_sample(family: str) -> None:
    data = planted()
    result = train(data, family, params=FAST[family], n_splits=3)
    assert result.metrics["ic"] > 0.2
    assert result.metrics["rank_ic"] > 0.2
    assert (result.folds["ic"] > 0.2).all()


def test_purged_kfold_tests_every_row_once() -> None:
    data = planted(n_dates=120)
    result = train(data, "lightgbm", params=FAST["lightgbm"], splitter="purged_kfold", n_splits=3)
    assert np.isfinite(result.oos_predictions).all()
    assert result.folds["n_test"].sum() == len(data)
    assert result.metrics["ic"] > 0.2


def test_planted_classification_signal_gives_auc() -> None:
    result = train(planted(kind="classification"), "lightgbm", params=FAST["lightgbm"], n_splits=3)
    assert result.metrics["auc"] > 0.7
    assert result.metrics["accuracy"] > 0.6


@pytest.mark.parametrize("family", ["lightgbm", "mlp", "lstm"])
def test_training_is_deterministic_given_the_seed(small: LearningData, family: str) -> None:
    runs = [
        train(
            small, family, params=FAST[family], n_splits=2, seed=7, sequence_window=_window(family)
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].oos_predictions, runs[1].oos_predictions)
    assert runs[0].metrics == runs[1].metrics
    assert runs[0].seed == 7
    assert runs[0].params["seed"] == 7


def test_sequence_rows_without_a_full_window_are_left_out() -> None:
    data = planted(n_dates=60)
    result = train(data, "gru", params=FAST["gru"], n_splits=2, sequence_window=5)
    assert result.period.first_decision == data.panel_index[4]  # the first complete window
    assert result.estimator.window_ == 5


def test_unlabeled_rows_are_neither_trained_nor_scored(panel: Panel) -> None:
    data = build_dataset(panel.slice("2021-06-01", None), FEATURES, keep_unlabeled=True)
    unlabeled = np.isnan(data.y)
    assert unlabeled.any()
    result = train(data, "ridge", n_splits=2)
    assert np.isnan(result.oos_predictions[unlabeled]).all()
    assert result.period.last_decision < data.times[-1]


# -------------------------------------------------------------------- leakage guards


def test_noise_labels_give_zero_oos_ic_but_positive_in_sample_ic(panel: Panel) -> None:
    """The issue's leakage guard: a flexible model fits noise in sample, never out of sample."""
    data = build_dataset(panel, FEATURES, LabelSpec(horizon=5))
    noise = np.random.default_rng(42).standard_normal(len(data)) * 0.02
    data = dataclasses.replace(data, y=noise, forward_return=noise)
    flexible = {"n_estimators": 150, "num_leaves": 31, "min_child_samples": 20}
    result = train(data, "lightgbm", params={**flexible, "learning_rate": 0.1}, valid_fraction=0.0)
    oos = result.metrics
    assert abs(oos["ic_tstat"]) < 3.0, oos  # mean OOS IC within 3 standard errors of zero
    assert abs(oos["ic"]) < 0.02
    assert oos["in_sample_ic"] > 0.1
    assert (result.folds["in_sample_ic"] > 0.1).all()


def _end(data: LearningData, rows: np.ndarray) -> pd.Timestamp:
    return data.t1.iloc[rows].max()


@pytest.mark.parametrize("splitter", ["walk_forward", "purged_kfold"])
def test_early_stopping_never_sees_test_rows(
    small: LearningData, splitter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    records: list[FitRecord] = []
    seen_valid: list[np.ndarray] = []
    original = LightGBMEstimator.fit

    def spy(self, X, y, *, X_valid=None, y_valid=None):  # noqa: N803
        seen_valid.append(np.asarray(y_valid))
        return original(self, X, y, X_valid=X_valid, y_valid=y_valid)

    monkeypatch.setattr(LightGBMEstimator, "fit", spy)
    train(small, "lightgbm", params=FAST["lightgbm"], splitter=splitter, n_splits=3,
          on_fit=records.append)  # fmt: skip
    assert [r.stage for r in records] == ["cv", "cv", "cv", "final"]
    # the estimator saw exactly the recorded validation rows
    for record, y_valid in zip(records, seen_valid, strict=True):
        np.testing.assert_array_equal(y_valid, small.y[record.valid_rows])
    times, t1 = small.times, small.t1
    for r in records:
        assert r.valid_rows.size > 0
        assert not np.intersect1d(r.fit_rows, r.valid_rows).size
        # validation = the last dates of training; fit rows purged against it
        assert times[r.valid_rows].min() > times[r.fit_rows].max()
        assert _end(small, r.fit_rows) < times[r.valid_rows].min()
        if r.stage == "final":
            assert r.eval_rows.size == 0
            continue
        test = r.eval_rows
        assert not np.intersect1d(r.valid_rows, test).size
        assert not np.intersect1d(r.fit_rows, test).size
        test_start, test_end = times[test].min(), _end(small, test)
        for rows in (r.fit_rows, r.valid_rows):  # purged: no label span meets the test period
            overlaps = (times[rows] <= test_end) & (t1.iloc[rows].to_numpy() >= test_start)
            assert not overlaps.any()
        if splitter == "walk_forward":
            assert times[r.valid_rows].max() < test_start
            assert _end(small, r.valid_rows) < test_start


def test_hpo_runs_trials_with_pruning_inside_training_folds_only(small: LearningData) -> None:
    records: list[FitRecord] = []
    fixed = {"n_estimators": 30}
    result = train(small, "lightgbm", params=fixed, n_splits=2, hpo_trials=8, on_fit=records.append)
    search = result.search
    assert search is not None
    assert search.n_trials == 8
    assert search.n_complete + search.n_pruned == 8
    assert set(search.best_params) <= set(SEARCH_SPACES["lightgbm"])
    assert "n_estimators" not in search.best_params
    assert result.params["n_estimators"] == 30  # fixed parameters stay fixed
    for name, value in search.best_params.items():
        assert result.params[name] == value
    assert list(result.folds["hpo_trials"]) == [8, 8]
    pruned = int(result.folds["hpo_pruned"].sum()) + search.n_pruned
    assert pruned > 0
    summary = json.loads(json.dumps(result.summary()))
    assert summary["search"]["n_trials"] == 8
    assert summary["folds"][0]["params"].keys() == search.best_params.keys()

    times, t1 = small.times, small.t1
    cv = {r.fold: r for r in records if r.stage == "cv"}
    for fold, outer in cv.items():
        hpo = [r for r in records if r.stage == "hpo" and r.fold == fold]
        assert len({r.trial for r in hpo}) == 8
        test_start = times[outer.eval_rows].min()
        for r in hpo:
            touched = np.concatenate([r.fit_rows, r.valid_rows, r.eval_rows])
            assert not np.intersect1d(touched, outer.eval_rows).size
            assert times[touched].max() < test_start
            assert t1.iloc[touched].max() < test_start  # purged from the outer test fold
            assert times[r.valid_rows].max() < times[r.eval_rows].min()
    final_hpo = [r for r in records if r.stage == "hpo" and r.fold is None]
    assert len({r.trial for r in final_hpo}) == 8


def test_hpo_is_reproducible(small: LearningData) -> None:
    runs = [train(small, "ridge", n_splits=2, hpo_trials=4) for _ in range(2)]
    assert runs[0].search == runs[1].search
    assert runs[0].params == runs[1].params


# ------------------------------------------------------------------------ metrics


def test_prediction_metrics_match_hand_computed_values() -> None:
    data = planted(n_dates=3, n_assets=6, seed=1)
    pred = np.random.default_rng(3).standard_normal(len(data))
    got = prediction_metrics(data, pred)
    per_date = [np.corrcoef(pred[d * 6 : d * 6 + 6], data.forward_return[d * 6 : d * 6 + 6])[0, 1]
                for d in range(3)]  # fmt: skip
    ranks = [spearmanr(pred[d * 6 : d * 6 + 6], data.forward_return[d * 6 : d * 6 + 6])[0]
             for d in range(3)]  # fmt: skip
    assert got["ic"] == pytest.approx(np.mean(per_date))
    assert got["rank_ic"] == pytest.approx(np.mean(ranks))
    assert got["icir"] == pytest.approx(np.mean(per_date) / np.std(per_date, ddof=1))
    assert got["ic_tstat"] == pytest.approx(got["icir"] * np.sqrt(3))
    assert got["n_dates"] == 3

    labels = planted(n_dates=3, n_assets=6, seed=1, kind="classification")
    prob = 1 / (1 + np.exp(-pred))
    cls = prediction_metrics(labels, prob, task="classification")
    assert cls["auc"] == pytest.approx(roc_auc_score(labels.y, prob))
    assert cls["accuracy"] == pytest.approx(np.mean((prob > 0.5) == (labels.y == 1)))
    only = prediction_metrics(data, pred, np.arange(6))  # the first date alone
    assert only["ic"] == pytest.approx(per_date[0])


# ------------------------------------------------------------------------- errors


@pytest.fixture
def tiny() -> LearningData:
    return planted(n_dates=40, n_assets=6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "svm"}, "unknown model family"),
        ({"family": "ridge", "splitter": "random"}, "splitter must be one of"),
        ({"family": "ridge", "n_splits": 1}, "n_splits must be an integer >= 2"),
        ({"family": "ridge", "valid_fraction": 1.0}, "valid_fraction"),
        ({"family": "ridge", "sequence_window": 5}, "sequence families only"),
        ({"family": "ridge", "task": "classification"}, "needs 0/1 labels"),
        ({"family": "linear", "hpo_trials": 2}, "no hyperparameters to search"),
        ({"family": "ridge", "params": {"alpha": 1.0, "beta": 2}}, "unknown parameter"),
        ({"family": "ridge", "n_splits": 39}, "cannot make 39 outer splits"),
    ],
)
def test_bad_settings_raise_model_errors(tiny: LearningData, kwargs: dict, message: str) -> None:
    family = kwargs.pop("family")
    with pytest.raises(ModelError, match=message):
        train(tiny, family, **kwargs)
