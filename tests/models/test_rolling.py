"""Rolling retraining: each segment trains only on rows labelled before it; stitched OOS series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.errors import SpecError
from alphaloop.models.artifacts import _default_loader
from alphaloop.models.errors import ModelError
from alphaloop.models.estimators import Estimator
from alphaloop.models.labels import LabelSpec
from alphaloop.models.learning_data import LearningData
from alphaloop.models.rolling import RollingResult, rolling_train
from alphaloop.models.rolling_model import RollingModel, rolling_first_out_of_sample
from alphaloop.models.spec import ModelSpec
from alphaloop.models.training_results import FitRecord

N_ASSETS = 10


def planted(
    n_dates: int = 240, horizon: int = 5, seed: int = 0, signal: float = 0.01
) -> LearningData:
    """Synthetic data whose feature 0 predicts the forward return (labels span 6 bars)."""
    rng = np.random.default_rng(seed)
    label = LabelSpec(horizon=horizon)
    index = pd.bdate_range("2020-01-01", periods=n_dates + label.span, tz="UTC").as_unit("ns")
    rows = np.repeat(np.arange(n_dates), N_ASSETS)
    cols = np.tile(np.arange(N_ASSETS), n_dates)
    X = rng.standard_normal((len(rows), 3)).astype(np.float32)
    fwd = signal * X[:, 0] + 0.01 * rng.standard_normal(len(rows))
    return LearningData(
        X=X,
        y=fwd,
        forward_return=fwd,
        rows=rows,
        cols=cols,
        feature_names=("signal", "noise1", "noise2"),
        assets=tuple(f"A{j:02d}" for j in range(N_ASSETS)),
        panel_index=index,
        label=label,
    )


def spied(data: LearningData, family: str = "ridge", **kw: object) -> tuple[RollingResult, list]:
    records: list[FitRecord] = []
    result = rolling_train(data, family, on_fit=records.append, **kw)  # type: ignore[arg-type]
    return result, records


@pytest.mark.parametrize(
    ("family", "kw"),
    [
        ("ridge", {"retrain_every": 40, "window": 80, "min_train": 50}),
        ("ridge", {"retrain_every": 25, "window": None, "min_train": 30, "embargo_dates": 3}),
        ("lightgbm", {"retrain_every": 60, "window": 100, "min_train": 60,
                      "params": {"n_estimators": 20}}),
        ("gru", {"retrain_every": 90, "window": None, "min_train": 60, "sequence_window": 4,
                 "params": {"max_epochs": 1, "hidden_size": 4, "batch_size": 256}}),
    ],
)  # fmt: skip
def test_spy_no_segment_trains_on_its_own_or_later_rows(family: str, kw: dict) -> None:
    data = planted()
    result, records = spied(data, family, **kw)
    times = data.times.as_unit("ns").asi8
    label_end = pd.DatetimeIndex(data.t1).as_unit("ns").asi8
    embargo = int(kw.get("embargo_dates", 0))
    calendar = data.panel_index.as_unit("ns").asi8
    model = result.model
    assert [r.stage for r in records] == ["rolling"] * len(model.segments)
    assert [r.fold for r in records] == list(range(len(model.segments)))
    predicted = np.zeros(len(data), dtype=int)
    for k, (record, segment) in enumerate(zip(records, model.segments, strict=True)):
        t0 = segment.start.value
        cutoff = calendar[np.searchsorted(calendar, t0) - embargo]
        seen = np.concatenate([record.fit_rows, record.valid_rows])
        assert seen.size > 0
        assert (times[seen] < t0).all()  # decision times before the segment
        assert (label_end[seen] < cutoff).all()  # and labels ended before it (and the embargo)
        assert (label_end[seen] < t0).all()
        eval_rows = record.eval_rows
        assert eval_rows.size > 0
        assert (times[eval_rows] >= t0).all()
        if k + 1 < len(model.segments):
            assert (times[eval_rows] < model.segments[k + 1].start.value).all()
        assert (model.segment_of(data.times[eval_rows]) == k).all()
        predicted[eval_rows] += 1
        # each prediction is the covering segment's model's
        inputs = data.X[eval_rows]
        if "sequence_window" in kw:
            inputs, positions = data.sequences(kw["sequence_window"], rows=eval_rows)
            np.testing.assert_array_equal(positions, eval_rows)
        np.testing.assert_array_equal(
            result.predictions[eval_rows], model.estimators[k].predict(inputs)
        )
    assert predicted.max() == 1  # no row predicted twice
    np.testing.assert_array_equal(predicted == 1, np.isfinite(result.predictions))
    assert (times[np.isfinite(result.predictions)] >= model.first_out_of_sample.value).all()


def test_expanding_and_fixed_windows_train_on_the_expected_rows() -> None:
    data = planted()
    span = data.label.span  # dates whose labels reach into the segment are purged
    starts = []
    counts = {}
    for window in (None, 60):
        result, records = spied(
            data, retrain_every=30, window=window, min_train=70, valid_fraction=0.0
        )
        starts = [int(np.searchsorted(data.panel_index, s.start)) for s in result.model.segments]
        counts[window] = [r.fit_rows.size for r in records]
        for record, start in zip(records, starts, strict=True):
            lo = 0 if window is None else start - window
            assert data.rows[record.fit_rows].min() == lo
            assert data.rows[record.fit_rows].max() == start - span - 1
        assert list(result.segments["n_train"]) == counts[window]
    assert starts[0] == 70
    assert counts[None] == [N_ASSETS * (s - span) for s in starts]  # all earlier dates
    assert counts[60] == [N_ASSETS * (60 - span)] * len(starts)  # the last 60 dates


def test_stitched_series_is_the_segments_predictions_and_survives_save_load(
    tmp_path: Path,
) -> None:
    data = planted()
    result = rolling_train(
        data, "lightgbm", retrain_every=50, window=120, min_train=60, params={"n_estimators": 20}
    )
    model = result.model
    np.testing.assert_array_equal(model.predict_data(data), result.predictions)
    assert np.isnan(result.predictions[data.times < model.first_out_of_sample]).all()
    assert np.isfinite(result.predictions[data.times >= model.first_out_of_sample]).all()
    # early stopping saw the tail of each segment's training dates only
    assert (result.segments["valid_end"] < result.segments["test_start"]).all()
    assert (result.segments["n_valid"] > 0).all()

    path = model.save(tmp_path / "rolling")
    loaded = RollingModel.load(path)
    assert loaded.segments == model.segments
    assert loaded.first_out_of_sample == model.first_out_of_sample
    np.testing.assert_array_equal(loaded.predict_data(data), result.predictions)
    assert rolling_first_out_of_sample(path) == model.first_out_of_sample
    # the registry's default loader tells a rolling directory from an estimator's
    assert isinstance(_default_loader()(path), RollingModel)
    single = model.estimators[0].save(tmp_path / "single")
    assert isinstance(_default_loader()(single), Estimator)
    assert rolling_first_out_of_sample(single) is None
    model.save(path)  # replacing a rolling-model directory is fine
    with pytest.raises(ModelError, match="is not a rolling-model directory"):
        model.save(single)
    with pytest.raises(ModelError, match="not a rolling-model directory"):
        RollingModel.load(single)


def test_later_data_gets_the_live_model_and_earlier_data_none() -> None:
    data = planted(n_dates=200)
    longer = planted(n_dates=260)  # the same first 200 dates (same seed), then 60 more
    np.testing.assert_array_equal(longer.X[: len(data)], data.X)
    result = rolling_train(data, "ridge", retrain_every=50, window=None, min_train=50)
    pred = result.model.predict_data(longer)
    # (other batches: equal up to floating-point summation order)
    np.testing.assert_allclose(pred[: len(data)], result.predictions, rtol=1e-6, atol=1e-12)
    later = np.arange(len(data), len(longer))
    live = result.model.estimators[-1].predict(longer.X[later])
    np.testing.assert_allclose(pred[later], live, rtol=1e-6, atol=1e-12)
    assert result.model.live_since == result.model.segments[-1].start


def test_learns_a_planted_signal_and_not_noise() -> None:
    result = rolling_train(planted(), "ridge", retrain_every=40, window=100, min_train=50)
    assert result.metrics["ic"] > 0.4
    assert result.metrics["n_segments"] == len(result.segments) == 5
    assert (result.segments["ic"] > 0.3).all()
    assert result.metrics["n_oos"] == np.isfinite(result.predictions).sum()
    noise = rolling_train(
        planted(signal=0.0, seed=3), "ridge", retrain_every=40, window=100, min_train=50
    )
    assert abs(noise.metrics["ic_tstat"]) < 3.5
    summary = result.summary()
    assert summary["settings"]["schedule"] == "rolling"
    assert len(summary["segments"]) == 5
    assert summary["period"]["last_label_end"] == result.model.label_end.isoformat()
    assert result.model.label_end < result.model.segments[-1].start


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"retrain_every": 0}, "retrain_every must be an integer >= 1"),
        ({"retrain_every": 2.5}, "retrain_every must be an integer"),
        ({"window": 1}, "window must be an integer >= 2"),
        ({"min_train": 0}, "min_train must be an integer >= 1"),
        ({"embargo_dates": -1}, "embargo_dates must be an integer >= 0"),
        ({"min_train": 240}, "needs more than min_train=240"),
        ({"window": 5, "min_train": 10}, "segment 0 .* has no training rows"),
        ({"valid_fraction": 1.0}, "valid_fraction must be in"),
        ({"sequence_window": 5}, "sequence_window applies to sequence families only"),
        ({"task": "ranking"}, "task must be one of"),
    ],
)
def test_bad_settings_are_refused(kw: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        rolling_train(planted(), "ridge", **kw)


def test_spec_schedule_fields() -> None:
    def spec(training: dict) -> ModelSpec:
        return ModelSpec.from_dict({"name": "m", "data": "d", "training": training})

    rolling = spec({"schedule": "rolling", "window": "expanding", "retrain_every": 21})
    assert rolling.training.rolling_window is None
    assert spec({"schedule": "rolling"}).training.rolling_window == 756
    assert spec({}).training.schedule == "cv"
    # a dumped spec (every field present) loads again
    assert ModelSpec.from_dict(rolling.model_dump(mode="json")) == rolling
    with pytest.raises(SpecError, match="window: must be a whole number of dates >= 2"):
        spec({"schedule": "rolling", "window": 1})
    with pytest.raises(SpecError, match="or 'expanding', got 'grow'"):
        spec({"schedule": "rolling", "window": "grow"})
    with pytest.raises(SpecError, match="retrain_every applies to schedule: rolling only"):
        spec({"retrain_every": 21})
    with pytest.raises(SpecError, match="n_splits applies to schedule: cv only"):
        spec({"schedule": "rolling", "n_splits": 3})
    with pytest.raises(SpecError, match="hpo_trials is not supported with schedule: rolling"):
        spec({"schedule": "rolling", "hpo_trials": 5})
    with pytest.raises(SpecError, match=r"training\.schedule"):
        spec({"schedule": "walk"})
