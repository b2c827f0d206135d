"""The hyperparameter search on task pools: a process pool gives the in-process search
for the same seed and ``hpo_concurrent``; every trial is counted; fits are replayed."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from alphaloop.app import Workspace
from alphaloop.models.dataset import build_dataset
from alphaloop.models.errors import ModelError
from alphaloop.models.labels import LabelSpec
from alphaloop.models.learning_data import LearningData
from alphaloop.models.training import train
from alphaloop.models.training_results import FitRecord, TrainingResult

FEATURES = {
    "MOM5": "$close/Ref($close, 5) - 1",
    "REV1": "-($close/Ref($close, 1) - 1)",
    "VOL10": "Std($close/Ref($close, 1) - 1, 10)",
}
TRIALS = 12  # more than TPE's 10 random start-up trials: later draws read the history


@pytest.fixture(scope="module")
def small(shared_workspace: Workspace) -> LearningData:
    """One year of the bundled stocks (before the sealed holdout), 5-day forward returns."""
    panel = shared_workspace.data.load("sp500-stocks").slice("2015-01-01", "2015-12-31")
    return build_dataset(panel, FEATURES, LabelSpec(horizon=5))


def _search_record(result: TrainingResult) -> tuple:
    folds = result.folds[["hpo_trials", "hpo_pruned", "hpo_best", "params"]]
    return asdict(result.search), folds.to_dict("list"), result.params


def _train(data: LearningData, **kwargs: object) -> TrainingResult:
    return train(data, "ridge", n_splits=2, hpo_trials=TRIALS, seed=3, **kwargs)  # type: ignore[arg-type]


def test_a_process_pool_gives_the_in_process_search(small: LearningData) -> None:
    for concurrent in (1, 4):
        here = _train(small, hpo_concurrent=concurrent)
        pooled = _train(small, hpo_concurrent=concurrent, hpo_workers=2)
        assert _search_record(pooled) == _search_record(here)  # best params and every value
        search = here.search
        assert search is not None
        assert search.concurrent == concurrent
        assert here.settings["hpo_concurrent"] == concurrent
        assert search.n_trials == len(search.trials) == TRIALS  # every trial counted
        assert search.n_complete + search.n_pruned == TRIALS
        assert [t["number"] for t in search.trials] == list(range(TRIALS))
        assert len({t["value"] for t in search.trials}) > 1  # the trials differ


def test_rounds_replay_every_fit_in_trial_order(small: LearningData) -> None:
    records: list[FitRecord] = []
    result = _train(small, hpo_concurrent=3, on_fit=records.append)
    search = result.search
    assert search is not None
    final = [r for r in records if r.stage == "hpo" and r.fold is None]
    # with rounds every split of every trial ran (pruning is decided afterwards)
    assert [r.trial for r in final] == [n for n in range(TRIALS) for _ in range(3)]
    sequential = _train(small, hpo_concurrent=1)
    assert sequential.search is not None
    first = {t["number"]: t for t in search.trials[:3]}
    # the first round is drawn from the same seed with no history: the same parameters
    assert [t["params"] for t in sequential.search.trials[:3]] == [
        first[n]["params"] for n in range(3)
    ]


def test_a_bad_concurrency_is_a_model_error(small: LearningData) -> None:
    with pytest.raises(ModelError, match="hpo_concurrent must be an integer >= 1, got 0"):
        _train(small, hpo_concurrent=0)


def test_an_augmented_search_on_a_process_pool_keeps_every_fit_record(
    shared_workspace: Workspace, small: LearningData
) -> None:
    from functools import partial

    import numpy as np

    from alphaloop.models.augment import TrainingAugmenter
    from alphaloop.synth.augment import AugmentConfig

    panel = shared_workspace.data.load("sp500-stocks").slice("2015-01-01", "2015-12-31")
    build = partial(build_dataset, features=FEATURES, label=LabelSpec(horizon=5))
    config = AugmentConfig("normal", paths=1, seed=1)
    kwargs = {"n_splits": 2, "hpo_trials": 4, "seed": 3, "hpo_concurrent": 2}
    runs = [
        train(small, "ridge", augment=TrainingAugmenter(panel, build, config), **kwargs, **where)  # type: ignore[arg-type]
        for where in ({}, {"hpo_workers": 2})
    ]
    here, pooled = (r.settings["augment"] for r in runs)
    assert pooled == here  # the workers' fit records came back, in trial order
    hpo = [f for f in here["fits"] if f["stage"] == "hpo"]
    assert len(hpo) == 3 * 4 * 3  # 3 searches x 4 trials x 3 inner splits
    assert np.array_equal(runs[0].oos_predictions, runs[1].oos_predictions, equal_nan=True)
