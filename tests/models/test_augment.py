"""Opt-in augmentation: synthetic rows join each fit's training rows only, from its span only."""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.data.panel import Panel
from alphaloop.errors import SpecError, SynthError
from alphaloop.models.augment import TrainingAugmenter, span_bars
from alphaloop.models.dataset import build_dataset
from alphaloop.models.labels import LabelSpec
from alphaloop.models.learning_data import LearningData
from alphaloop.models.spec import ModelSpec
from alphaloop.models.training import train
from alphaloop.models.training_results import FitRecord
from alphaloop.synth.augment import AugmentConfig, augment_panel, training_span

FEATURES = {"MOM5": "$close/Ref($close, 5) - 1", "REV1": "-($close/Ref($close, 1) - 1)"}
LABEL = LabelSpec(horizon=5)


@pytest.fixture(scope="module")
def panel(shared_workspace: Workspace) -> Panel:
    """Six years of the bundled 20 stocks (close only): every fold spans over 250 bars."""
    return shared_workspace.data.load("sp500-stocks").slice("2016-01-01", "2021-12-31")


@pytest.fixture(scope="module")
def data(panel: Panel) -> LearningData:
    return build_dataset(panel, FEATURES, LABEL)


def build(p: Panel) -> LearningData:
    return build_dataset(p, FEATURES, LABEL)


class Spy(TrainingAugmenter):
    """Keeps each fit's kept bars, to check them against the fit's test rows."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kept: list[np.ndarray] = []

    def __call__(self, data, fit_rows, **kw):
        self.kept.append(span_bars(data, fit_rows, self.panel.n_times))
        return super().__call__(data, fit_rows, **kw)


def test_training_span_hides_every_other_bar(panel: Panel) -> None:
    keep = np.zeros(panel.n_times, dtype=bool)
    keep[10:400] = True
    keep[100:150] = False
    span = training_span(panel, keep)
    assert span.n_times == 390
    assert span.index[0] == panel.index[10]
    assert np.isnan(span["close"][90:140]).all()
    assert np.isfinite(span["close"][:90]).all()
    panels, gen = augment_panel(span, AugmentConfig("bootstrap", paths=2, seed=3))
    # returns across the hidden bars are never fitted on: 390 bars, 2 runs -> 388 - 50 rows
    assert gen.returns_.shape[0] == 390 - 50 - 2
    assert len(panels) == 2
    assert all(p.is_synthetic and p.n_times == 390 for p in panels)
    assert panels[0].synthetic.label == "augment"


def test_config_is_checked() -> None:
    with pytest.raises(SynthError, match="not known"):
        AugmentConfig("gann")
    with pytest.raises(SynthError, match="paths"):
        AugmentConfig("bootstrap", paths=0)
    with pytest.raises(SynthError, match="no parameter"):
        AugmentConfig("bootstrap", params={"blocks": 3})
    with pytest.raises(SpecError, match="not known"):
        ModelSpec.from_dict({"name": "m", "data": "d", "augment": {"generator": "gann"}})
    with pytest.raises(SpecError, match="schedule: cv"):
        ModelSpec.from_dict(
            {"name": "m", "data": "d", "augment": {}, "training": {"schedule": "rolling"}}
        )
    spec = ModelSpec.from_dict({"name": "m", "data": "d", "augment": {"paths": 2, "seed": 7}})
    assert spec.augment is not None
    assert spec.augment.config().seed == 7


def test_synthetic_rows_train_but_evaluation_stays_real(panel: Panel, data: LearningData) -> None:
    config = AugmentConfig("bootstrap", paths=2, seed=7)
    spy = Spy(panel, build, config)
    records: list[FitRecord] = []
    result = train(data, "ridge", n_splits=3, seed=0, augment=spy, on_fit=records.append)
    plain = train(data, "ridge", n_splits=3, seed=0)
    n = len(data)
    # every fit (3 folds and the final) was augmented with rows of its own
    assert [r["stage"] for r in spy.records] == ["cv", "cv", "cv", "final"]
    assert all(r["synthetic_rows"] > 0.5 * r["real_rows"] for r in spy.records), spy.records
    # validation and test rows are rows of the real data; predictions exist for real rows only
    for rec in records:
        assert rec.valid_rows.max(initial=0) < n
        assert rec.eval_rows.max(initial=0) < n
    assert result.oos_predictions.shape == (n,)
    tested = np.isfinite(result.oos_predictions)
    assert np.array_equal(tested, np.isfinite(plain.oos_predictions))
    # the models differ (the synthetic rows were used), the metrics are on the same real rows
    assert not np.allclose(result.oos_predictions[tested], plain.oos_predictions[tested])
    assert result.metrics["n_oos"] == plain.metrics["n_oos"]
    # no generator saw a bar a fold is tested on or validated with
    times = data.times
    for k, rec in enumerate(r for r in records if r.stage == "cv"):
        kept = spy.kept[k]
        hidden = np.unique(data.rows[np.concatenate([rec.eval_rows, rec.valid_rows])])
        assert not kept[hidden].any()
        assert spy.records[k]["span_end"] < str(times[rec.eval_rows[0]].date())
    # the result records the augmentation
    aug = result.settings["augment"]
    assert aug["generator"] == "bootstrap"
    assert aug["paths"] == 2
    assert aug["seed"] == 7
    assert aug["synthetic_rows"] == sum(r["synthetic_rows"] for r in spy.records)


def test_same_seed_same_augmented_model(panel: Panel, data: LearningData) -> None:
    config = AugmentConfig("normal", paths=1, seed=1)
    a = train(data, "ridge", n_splits=2, augment=TrainingAugmenter(panel, build, config))
    b = train(data, "ridge", n_splits=2, augment=TrainingAugmenter(panel, build, config))
    assert np.array_equal(a.oos_predictions, b.oos_predictions, equal_nan=True)


def test_a_span_too_short_for_the_generator_trains_on_real_rows(panel: Panel) -> None:
    short = panel.slice("2021-01-01", None)
    data = build_dataset(short, FEATURES, LABEL)
    aug = TrainingAugmenter(short, build, AugmentConfig("bootstrap", paths=1))
    result = train(data, "ridge", n_splits=2, augment=aug)
    first = aug.records[0]
    assert first["synthetic_rows"] == 0
    assert "at least 250" in first["skipped"]
    assert np.isfinite(result.oos_predictions).any()
