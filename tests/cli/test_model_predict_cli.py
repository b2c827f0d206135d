"""``model predict`` and ``model export`` on a trained model in a workspace.

The fixture's ``tiny/v1`` is a ridge model trained on sp500-stocks up to
1999-12-31 (labels included); ``vix`` has a sealed holdout (20%).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.model_predict import in_sample_end, read_prediction_metadata
from tests.cli.conftest import cli

BOUNDARY = pd.Timestamp("1999-12-31", tz="UTC")


def _predict(capsys, ws: Path, out: Path, *args: str) -> tuple[dict, pd.DataFrame]:
    code, stdout, err = cli(
        capsys, ws, "model", "predict", "tiny/v1", "--data", "sp500-stocks", "--out", str(out),
        "--json", *args,
    )  # fmt: skip
    assert code == 0, err
    return json.loads(stdout), pd.read_parquet(out)


def test_predict_leaves_out_the_training_span(capsys, research_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.parquet"
    doc, frame = _predict(capsys, research_ws, out, "--end", "2001-12-31")
    assert list(frame.columns) == ["time", "asset", "prediction", "in_sample"]
    assert doc["in_sample_end"] == BOUNDARY.isoformat()
    assert frame["time"].min() > BOUNDARY
    assert not frame["in_sample"].any()
    assert doc["dropped_in_sample"] > 0
    assert doc["n_rows"] == len(frame)
    assert frame["prediction"].notna().all()
    assert frame["time"].max() <= pd.Timestamp("2001-12-31", tz="UTC")
    with Workspace(research_ws) as ws:
        assets = ws.data.load("sp500-stocks", end="1990-02-01").assets
    assert set(frame["asset"]) <= set(assets)
    assert frame["asset"].nunique() > 10
    meta = read_prediction_metadata(out)
    assert meta["model"] == "tiny/v1"
    assert meta["dataset"] == "sp500-stocks"
    assert meta["dataset_version"] == 1
    assert meta["in_sample_end"] == BOUNDARY.isoformat()
    assert not meta["include_in_sample"]


def test_in_sample_rows_are_kept_only_when_asked_and_labelled(
    capsys, research_ws: Path, tmp_path: Path
) -> None:
    doc, frame = _predict(
        capsys, research_ws, tmp_path / "p.parquet", "--in-sample", "--start", "1999-11-01",
        "--end", "2000-02-29",
    )  # fmt: skip
    assert frame["time"].min() >= pd.Timestamp("1999-11-01", tz="UTC")
    assert frame["time"].max() <= pd.Timestamp("2000-02-29", tz="UTC")
    assert (frame["in_sample"] == (frame["time"] <= BOUNDARY)).all()
    assert frame["in_sample"].any()
    assert not frame["in_sample"].all()
    assert doc["n_in_sample"] == int(frame["in_sample"].sum())
    assert doc["dropped_in_sample"] == 0
    assert read_prediction_metadata(tmp_path / "p.parquet")["include_in_sample"]


def test_predictions_are_point_in_time(capsys, research_ws: Path, tmp_path: Path) -> None:
    """Predictions up to a date do not change when later bars are loaded too."""
    _, short = _predict(capsys, research_ws, tmp_path / "a.parquet", "--end", "2000-06-30")
    _, long = _predict(capsys, research_ws, tmp_path / "b.parquet", "--end", "2001-06-30")
    common = long[long["time"] <= short["time"].max()].reset_index(drop=True)
    pd.testing.assert_frame_equal(short, common)


def test_nothing_out_of_sample_is_an_error_with_a_hint(
    capsys, research_ws: Path, tmp_path: Path
) -> None:
    code, _, err = cli(
        capsys, research_ws, "model", "predict", "tiny/v1", "--data", "sp500-stocks",
        "--end", "1999-06-30", "--out", str(tmp_path / "none.parquet"),
    )  # fmt: skip
    assert code != 0
    assert "inside its training span" in err
    assert "--in-sample" in err
    assert "Traceback" not in err
    assert not (tmp_path / "none.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nope/v1", "--data", "sp500-stocks"), "no model named 'nope'"),
        (("tiny/v9", "--data", "sp500-stocks"), "tiny/v9"),
        (("tiny/v1", "--data", "no-such-data"), "no-such-data"),
        (("tiny/v1", "--data", "sp500-stocks", "--start", "2001-01-01", "--end", "2000-01-01"),
         "after --end"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_without_traceback(
    capsys, research_ws: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "x.parquet"
    code, _, err = cli(capsys, research_ws, "model", "predict", *args, "--out", str(out))
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()


def test_predict_never_reads_the_sealed_holdout(capsys, research_ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "vix.parquet"
    code, stdout, err = cli(
        capsys, research_ws, "model", "predict", "tiny/v1", "--data", "vix", "--out", str(out),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    frame = pd.read_parquet(out)
    with Workspace(research_ws) as ws:
        visible_end = ws.data.load("vix").index[-1]
    assert frame["time"].max() <= visible_end < pd.Timestamp("2018-06-01", tz="UTC")
    assert json.loads(stdout)["dataset"] == "vix"


def test_in_sample_end_of_a_model_retrained_through_time() -> None:
    """A model predicted out of sample from a date has its boundary just before that date."""
    version = SimpleNamespace(label_end=pd.Timestamp("2005-01-03", tz="UTC"), train_end=None)

    class Retrained:
        first_out_of_sample = pd.Timestamp("2001-01-02", tz="UTC")

    assert in_sample_end(version, object()) == pd.Timestamp("2005-01-03", tz="UTC")
    boundary = in_sample_end(version, Retrained())
    assert boundary < Retrained.first_out_of_sample
    assert boundary > pd.Timestamp("2001-01-01 23:59:59.999", tz="UTC")


def test_export_writes_a_checked_graph_and_its_sidecar(
    capsys, research_ws: Path, tmp_path: Path
) -> None:
    import onnxruntime as ort

    out = tmp_path / "tiny.onnx"
    code, stdout, err = cli(capsys, research_ws, "model", "export", "tiny/v1", "--out", str(out))
    assert code == 0, err
    assert "parity on" in stdout
    sidecar = json.loads((tmp_path / "tiny.json").read_text())
    assert sidecar["model"] == "tiny/v1"
    assert sidecar["family"] == "ridge"
    assert sidecar["feature_names"] == ["mom20", "rev5"]
    assert sidecar["input_shape"] == [None, 2]
    assert sidecar["window"] is None
    assert sidecar["parity"]["passed"]
    assert sidecar["parity"]["n_rows"] > 100
    assert {"onnx", "onnxruntime", "skl2onnx"} <= set(sidecar["versions"])
    session = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    x = np.array([[0.5, -1.0], [np.nan, 0.2]], dtype=np.float32)
    (pred,) = session.run(None, {sidecar["input_name"]: x})
    with Workspace(research_ws) as ws:
        native = ws.models.load("tiny/v1").predict(x)
    np.testing.assert_allclose(pred, native, atol=1e-5)


def test_export_json_and_errors(capsys, research_ws: Path, tmp_path: Path) -> None:
    code, stdout, _ = cli(
        capsys, research_ws, "model", "export", "tiny/v2", "--out", str(tmp_path / "m.onnx"),
        "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(stdout)
    assert doc["model"] == "tiny/v2"
    assert doc["parity"]["passed"]
    assert doc["sidecar_path"] == str(tmp_path / "m.json")
    code, _, err = cli(
        capsys, research_ws, "model", "export", "nope/v1", "--out", str(tmp_path / "n.onnx")
    )
    assert code != 0
    assert "Traceback" not in err
    assert not (tmp_path / "n.onnx").exists()
    code, _, err = cli(
        capsys, research_ws, "model", "export", "tiny/v1", "--out", str(tmp_path / "m.json")
    )
    assert code != 0
    assert "sidecar" in err


GRU_SPEC = """
name: tiny-gru
data: sp500-stocks
start: "1998-01-01"
end: "1999-12-31"
features:
  mom20: $close / Ref($close, 20) - 1
  rev5: Ref($close, 5) / $close - 1
label: {horizon: 5}
model: {family: gru, params: {max_epochs: 1, hidden_size: 4}}
training: {n_splits: 2, sequence_window: 5}
"""


def test_sequence_model_exports_and_predicts(capsys, research_ws: Path, tmp_path: Path) -> None:
    """A sequence model end to end: windows of past features in, the same predictions out."""
    spec = tmp_path / "gru.yaml"
    spec.write_text(GRU_SPEC)
    code, _, err = cli(capsys, research_ws, "model", "train", str(spec), "--json")
    assert code == 0, err
    out = tmp_path / "gru.onnx"
    code, stdout, err = cli(
        capsys, research_ws, "model", "export", "tiny-gru", "--out", str(out), "--json"
    )
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["input_shape"] == [None, 5, 2]
    assert doc["window"] == 5
    assert doc["family"] == "gru"
    assert doc["parity"]["passed"]
    code, stdout, err = cli(
        capsys, research_ws, "model", "predict", "tiny-gru", "--data", "sp500-stocks",
        "--end", "2000-03-31", "--out", str(tmp_path / "gru.parquet"), "--json",
    )  # fmt: skip
    assert code == 0, err
    frame = pd.read_parquet(tmp_path / "gru.parquet")
    assert frame["time"].min() > BOUNDARY
    assert json.loads(stdout)["family"] == "gru"
