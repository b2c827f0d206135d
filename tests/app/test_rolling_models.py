"""A rolling model end to end: spec -> segments -> one registered version -> signal -> backtest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest, scan_spec
from alphaloop.app.models import (
    check_model_spec,
    monitor_model,
    predict_panel,
    rolling_segments,
    spec_learning_data,
    train_from_spec,
)
from alphaloop.backtest.spec import StrategySpec
from alphaloop.cli import main
from alphaloop.models import RollingModel
from alphaloop.models.spec import ModelSpec

FEATURES = {
    "mom20": "$close / Ref($close, 20) - 1",
    "vol20": "Std($close / Ref($close, 1) - 1, 20)",
    "rev5": "Ref($close, 5) / $close - 1",
}
ROLLING = {"schedule": "rolling", "retrain_every": 126, "window": 504, "min_train": 252}


def rolling_spec(**over: object) -> ModelSpec:
    base = {
        "name": "lgbm-roll",
        "data": "sp500-stocks",
        "start": "2004-01-01",
        "end": "2007-12-31",
        "features": FEATURES,
        "label": {"horizon": 5},
        "model": {"family": "lightgbm", "params": {"n_estimators": 20, "num_leaves": 7}},
        "training": ROLLING,
    }
    return ModelSpec.from_dict({**base, **over})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    ws = Workspace(tmp_path_factory.mktemp("rolling") / "ws", holdout_fraction=0.2)
    result = train_from_spec(ws, rolling_spec())
    yield ws, result
    ws.close()


def test_registered_as_one_version_with_its_segments(trained) -> None:
    ws, trained_model = trained
    v, result = trained_model.version, trained_model.training
    assert [x.ref for x in ws.models.list(name="lgbm-roll")] == ["lgbm-roll/v1"]
    segments = rolling_segments(v)
    assert segments is not None
    assert len(segments) == len(result.segments) >= 4
    assert v.metrics["n_segments"] == len(segments)
    assert np.isfinite(v.metrics["ic"])
    # honest spans: the first segment's training start, the last one's training label end
    last = pd.Timestamp(segments[-1]["test_start"])
    assert pd.Timestamp(v.label_end) == pd.Timestamp(segments[-1]["label_end"]) < last
    assert pd.Timestamp(v.train_start) == pd.Timestamp(segments[0]["train_start"])
    for s in segments:
        assert pd.Timestamp(s["label_end"]) < pd.Timestamp(s["test_start"])
    model = ws.models.load(v.ref)
    assert isinstance(model, RollingModel)
    assert model.first_out_of_sample == pd.Timestamp(segments[0]["test_start"])
    assert rolling_segments(ws.models.get(v.ref)) == segments
    assert (Path(v.artifact_path) / "recipe.json").exists()


def test_predict_panel_is_the_stitched_out_of_sample_series(trained) -> None:
    ws, trained_model = trained
    result = trained_model.training
    spec = rolling_spec()
    data = spec_learning_data(ws, spec, check_model_spec(ws, spec))
    stitched = data.to_panel(result.predictions)
    panel = ws.data.load("sp500-stocks", end=pd.Timestamp("2007-12-31 23:59", tz="UTC"))
    pred, _ = predict_panel(ws, "lgbm-roll/v1", panel)
    assert pred.shape == stitched.shape
    first = panel.index.searchsorted(result.first_out_of_sample)
    assert np.isnan(pred[:first]).all()  # in-sample dates are never predicted
    cells = np.isfinite(stitched)
    assert cells.sum() > 1000
    np.testing.assert_allclose(pred[cells], stitched[cells], rtol=1e-6, atol=1e-9)
    # after the last segment's dates the live model (the last segment's) predicts
    later, _ = predict_panel(ws, "lgbm-roll/v1", ws.data.load("sp500-stocks"))
    assert np.isfinite(later[len(panel.index) + 5 :]).any()


SIGNAL = {
    "name": "rolling top5",
    "data": "sp500-stocks",
    "signal": {"model": "lgbm-roll/v1"},
    "portfolio": {"k": 5},
    "rebalance": {"frequency": "weekly"},
    "fills": "next_close",
}


def test_backtest_of_a_rolling_signal_starts_out_of_sample(trained) -> None:
    ws, trained_model = trained
    v, result = trained_model.version, trained_model.training
    spec = StrategySpec.from_dict(SIGNAL)
    bt = run_backtest(ws, spec)
    start = bt.simulation.equity.index[0]
    assert start >= result.first_out_of_sample  # never on in-sample predictions
    assert start < pd.Timestamp(v.label_end)  # the segments' out-of-sample span is used
    assert np.isfinite(bt.metrics["sharpe_ratio"])
    assert ws.models.usage(v.ref)[-1].strategy_hash == spec.hash


@pytest.mark.slow
def test_lookahead_scan_of_a_rolling_signal_is_clean(trained) -> None:
    ws, _ = trained
    # signal values at t are unchanged when the data after t is removed
    assert scan_spec(ws, StrategySpec.from_dict(SIGNAL), n_points=4).clean


def test_monitor_uses_the_live_model_after_the_last_label_end(trained) -> None:
    ws, trained_model = trained
    report = monitor_model(ws, "lgbm-roll/v1", record=False)
    assert report.n_recent > 0
    assert report.recent_ic is not None
    assert report.validation_ic == pytest.approx(trained_model.version.metrics["ic"])


def test_cli_trains_and_shows_a_rolling_model(
    trained, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = trained
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    root = str(ws.root)
    path = tmp_path / "roll.json"
    spec = rolling_spec(name="cli-roll", start="2005-01-01", end="2007-06-30")
    path.write_text(json.dumps(spec.model_dump(mode="json")))
    assert main(["--workspace", root, "model", "train", str(path)]) == 0
    text = capsys.readouterr().out
    assert "registered cli-roll/v1" in text
    assert "rolling segments from" in text
    assert "folds" not in text
    assert main(["--workspace", root, "model", "show", "cli-roll/v1"]) == 0
    shown = capsys.readouterr().out
    n = len(rolling_segments(ws.models.get("cli-roll/v1")) or [])
    assert n >= 2
    assert f"rolling: {n} segments" in shown
    assert main(["--workspace", root, "model", "show", "cli-roll/v1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["segment"] for s in doc["segments"]] == list(range(n))
    assert main(["--workspace", root, "model", "show", "lgbm-roll/v1", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["segments"]) >= 4


def test_cv_models_have_no_segments(trained, capsys: pytest.CaptureFixture[str]) -> None:
    ws, _ = trained
    spec = rolling_spec(name="lgbm-cv", training={"n_splits": 3})
    v = train_from_spec(ws, spec).version
    assert rolling_segments(v) is None
    assert not isinstance(ws.models.load(v.ref), RollingModel)
    assert main(["--workspace", str(ws.root), "model", "show", v.ref]) == 0
    assert "rolling:" not in capsys.readouterr().out
