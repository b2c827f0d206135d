"""Models end to end: spec -> dataset -> training -> registry -> signal -> backtest -> monitor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest, scan_spec
from alphaloop.app.models import monitor_model, predict_panel, train_from_spec
from alphaloop.backtest.lookahead import scan_lookahead
from alphaloop.backtest.spec import StrategySpec
from alphaloop.cli import main
from alphaloop.errors import AlphaloopError, SpecError
from alphaloop.models.spec import ModelSpec

FEATURES = {
    "mom20": "$close / Ref($close, 20) - 1",
    "mom60": "$close / Ref($close, 60) - 1",
    "vol20": "Std($close / Ref($close, 1) - 1, 20)",
    "ma_gap": "Mean($close, 10) / Mean($close, 50) - 1",
    "rev5": "Ref($close, 5) / $close - 1",
}


def model_spec(**over: object) -> ModelSpec:
    base = {
        "name": "lgbm-mom",
        "data": "sp500-stocks",
        "end": "2008-12-31",
        "features": FEATURES,
        "label": {"horizon": 5},
        "model": {"family": "lightgbm", "params": {"n_estimators": 30}},
        "training": {"n_splits": 3},
    }
    return ModelSpec.from_dict({**base, **over})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    ws = Workspace(tmp_path_factory.mktemp("models") / "ws", holdout_fraction=0.2)
    first = train_from_spec(ws, model_spec())
    yield ws, first
    ws.close()


def test_registered_with_provenance(trained) -> None:
    ws, first = trained
    v = first.version
    assert v.ref == "lgbm-mom/v1"
    assert v.stage == "candidate"
    assert v.features == tuple(FEATURES)
    assert v.dataset_hash == ws.data.info("sp500-stocks").content_hash
    assert v.train_end <= pd.Timestamp("2008-12-31", tz="UTC")
    assert v.label_end > v.train_end  # labels reach past the last decision
    assert np.isfinite(v.metrics["ic"])
    assert v.metrics["n_folds"] == 3
    assert (Path(v.artifact_path) / "recipe.json").exists()
    runs = ws.runs.list(kind="model-train")
    assert runs[0]["result"]["ref"] == "lgbm-mom/v1"


def test_retraining_adds_a_version_with_lineage(trained) -> None:
    ws, first = trained
    second = train_from_spec(ws, model_spec(seed=1, supersedes="lgbm-mom/v1", note="seed 1"))
    assert second.version.ref == "lgbm-mom/v2"
    assert [x.ref for x in ws.models.lineage("lgbm-mom/v2")] == ["lgbm-mom/v2", "lgbm-mom/v1"]
    assert ws.models.get("lgbm-mom").ref == "lgbm-mom/v2"
    assert ws.models.get("lgbm-mom/v1").artifact_sha256 == first.version.artifact_sha256


def test_predictions_are_point_in_time(trained) -> None:
    ws, _ = trained
    panel = ws.data.load("sp500-stocks")
    full, _ = predict_panel(ws, "lgbm-mom/v1", panel)
    for k in (3000, 4500, panel.n_times - 1):
        cut, _ = predict_panel(ws, "lgbm-mom/v1", panel.iloc(slice(0, k + 1)))
        np.testing.assert_allclose(cut[k], full[k], rtol=1e-6, atol=1e-9)


def test_model_signal_backtest_starts_after_training(trained) -> None:
    ws, first = trained
    spec = StrategySpec.from_dict(
        {"name": "model top5", "data": "sp500-stocks", "signal": {"model": "lgbm-mom/v1"},
         "portfolio": {"k": 5}, "rebalance": {"frequency": "weekly"}, "fills": "next_close"}
    )  # fmt: skip
    result = run_backtest(ws, spec)
    assert result.simulation.equity.index[0] > first.version.label_end
    assert result.simulation.equity.index[-1] < ws.data.holdout_boundary("sp500-stocks")
    usage = ws.models.usage("lgbm-mom/v1")
    assert usage[-1].strategy_hash == spec.hash
    assert usage[-1].sharpe == pytest.approx(result.metrics["sharpe_ratio"])
    assert scan_spec(ws, spec, n_points=4).clean


def test_a_future_feature_is_caught_by_the_scan(trained) -> None:
    ws, _ = trained
    model = ws.models.load("lgbm-mom/v1")
    panel = ws.data.load("sp500-stocks")

    def leaky(p):
        close = pd.DataFrame(np.asarray(p["close"]))
        future = (close.shift(-5) / close - 1).to_numpy()  # the label, used as a feature
        x = np.repeat(future.reshape(-1, 1), len(FEATURES), axis=1).astype(np.float32)
        pred = model.predict(np.nan_to_num(x)).reshape(future.shape)
        return {"prediction": np.where(np.isfinite(future), pred, np.nan)}

    report = scan_lookahead(leaky, panel, n_points=4, warmups=())
    assert not report.clean
    assert report.offending_outputs == ("prediction",)


def test_monitor_records_alerts(trained) -> None:
    ws, _ = trained
    report = monitor_model(ws, "lgbm-mom/v1", ic_drop=0.0)  # any drop alerts
    assert report.n_recent > 0
    assert report.recent_ic is not None
    assert len(ws.models.alerts("lgbm-mom/v1")) == len(report.alerts)


def test_model_never_reads_the_holdout(trained) -> None:
    ws, _ = trained
    boundary = ws.data.holdout_boundary("sp500-stocks")
    spec = model_spec(name="all-span", end=None)
    v = train_from_spec(ws, spec).version
    assert v.label_end < boundary


def test_bad_model_specs() -> None:
    with pytest.raises(SpecError, match="name"):
        model_spec(name="Bad Name")
    with pytest.raises(SpecError, match="features must name"):
        model_spec(features=[])
    with pytest.raises(SpecError, match=r"training\.n_splits"):
        model_spec(training={"n_splits": 1})
    with pytest.raises(SpecError, match="exactly one of expr"):
        StrategySpec.from_dict({"data": "x", "signal": {"expr": "$close", "model": "m/v1"}})
    with pytest.raises(SpecError, match=r"signal\.model"):
        StrategySpec.from_dict({"data": "x", "signal": {"model": "m"}})


def test_unknown_family_and_library(trained) -> None:
    ws, _ = trained
    with pytest.raises(AlphaloopError, match="family"):
        train_from_spec(ws, model_spec(name="x1", model={"family": "deep-magic"}))
    with pytest.raises(AlphaloopError, match="library"):
        train_from_spec(ws, model_spec(name="x2", features="no-such-library"))


def test_cli(trained, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, _ = trained
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    root = str(ws.root)
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps(model_spec(name="cli-model").model_dump(mode="json")))
    path = path.rename(tmp_path / "m.json")
    assert main(["--workspace", root, "model", "train", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ref"] == "cli-model/v1"
    assert main(["--workspace", root, "model", "list", "--json"]) == 0
    refs = [v["ref"] for v in json.loads(capsys.readouterr().out)]
    assert "cli-model/v1" in refs
    assert main(["--workspace", root, "model", "show", "cli-model", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["lineage"] == ["cli-model/v1"]
    code = main(["--workspace", root, "model", "monitor", "cli-model/v1", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == (1 if report["alerts"] else 0)
    assert main(["--workspace", root, "model", "show", "nope/v9"]) == 2
