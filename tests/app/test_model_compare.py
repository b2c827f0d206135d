"""Registered models compared on the same splits and span, in a workspace and through the CLI."""

from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.model_compare import compare_models
from alphaloop.app.models import train_from_spec
from alphaloop.cli import main
from alphaloop.models.errors import ModelError, ModelNotFoundError
from alphaloop.models.spec import ModelSpec

FEATURES = {
    "mom20": "$close / Ref($close, 20) - 1",
    "vol20": "Std($close / Ref($close, 1) - 1, 20)",
    "rev5": "Ref($close, 5) / $close - 1",
}


def spec(**over: object) -> ModelSpec:
    base = {
        "name": "ridge-mom",
        "data": "sp500-stocks",
        "start": "2005-01-01",
        "end": "2008-12-31",
        "features": FEATURES,
        "label": {"horizon": 5},
        "model": {"family": "ridge"},
        "training": {"n_splits": 3},
    }
    return ModelSpec.from_dict({**base, **over})


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory):
    """Ridge and a tiny LightGBM on the same rows, a ridge on a later span with a longer
    feature, and a ridge on another dataset."""
    workspace = Workspace(tmp_path_factory.mktemp("compare") / "ws", holdout_fraction=0.2)
    train_from_spec(workspace, spec())
    lgbm = {"family": "lightgbm", "params": {"n_estimators": 20, "num_leaves": 7}}
    train_from_spec(workspace, spec(name="lgbm-mom", model=lgbm, seed=3))
    late = {**FEATURES, "mom60": "$close / Ref($close, 60) - 1"}
    train_from_spec(workspace, spec(name="ridge-late", start="2006-06-01", features=late))
    etfs = spec(name="etf-ridge", data="factor-etfs", start="2014-03-01", end="2016-12-31")
    train_from_spec(workspace, etfs)
    yield workspace
    workspace.close()


def test_same_rows_reproduce_each_models_registered_oos_ic(ws: Workspace) -> None:
    result = compare_models(ws, ["ridge-mom/v1", "lgbm-mom/v1"], n_splits=3)
    by_name = {m.name: m for m in result.stats.models}
    for ref in ("ridge-mom/v1", "lgbm-mom/v1"):
        # same rows, same 3 walk-forward folds and embargo as at training: same OOS IC
        assert by_name[ref].ic == pytest.approx(ws.models.get(ref).metrics["ic"], abs=1e-9)
    assert result.settings["seeds"] == {"ridge-mom/v1": 0, "lgbm-mom/v1": 3}
    on_dataset = [v.ref for v in ws.models.list() if v.dataset == "sp500-stocks"]
    assert len(on_dataset) >= 3
    assert result.stats.n_trials == len(on_dataset)  # not just the 2 compared
    assert 0 < result.n_test_rows < result.n_rows
    (pair,) = result.stats.pairs
    difference = by_name["ridge-mom/v1"].ic - by_name["lgbm-mom/v1"].ic
    assert pair.mean_difference == pytest.approx(difference)
    assert 0.0 <= pair.p_value <= 1.0
    run = ws.runs.list(kind="model-compare")[0]
    assert run["id"] == result.run_id
    assert run["result"]["refs"] == ["ridge-mom/v1", "lgbm-mom/v1"]
    assert run["status"] == "succeeded"


def test_models_are_scored_on_identical_test_rows_of_the_common_span(ws: Workspace) -> None:
    seen: dict[str, list[pd.MultiIndex]] = defaultdict(list)
    trained_on: dict[str, list[pd.Timestamp]] = defaultdict(list)

    def spy(ref: str, record, eval_keys: pd.MultiIndex) -> None:
        if record.stage == "cv":
            seen[ref].append(eval_keys)
            trained_on[ref].append(record.fit_rows.size)

    result = compare_models(ws, ["ridge-mom/v1", "ridge-late/v1"], n_splits=4, on_fit=spy)
    assert len(seen["ridge-mom/v1"]) == len(seen["ridge-late/v1"]) == 4
    for a, b in zip(seen["ridge-mom/v1"], seen["ridge-late/v1"], strict=True):
        assert len(a) > 0
        assert a.equals(b)  # fold by fold, the same (date, asset) rows
    assert trained_on["ridge-mom/v1"] == trained_on["ridge-late/v1"]
    # the common span starts where the later model's first row with a 60-day feature is
    first_tested = min(k.get_level_values(0).min() for k in seen["ridge-mom/v1"])
    assert first_tested > pd.Timestamp("2006-08-01", tz="UTC")
    assert result.first_test == first_tested
    assert result.test_rows["ridge-mom/v1"].equals(result.test_rows["ridge-late/v1"])


@pytest.mark.slow
def test_a_sequence_model_is_compared_on_rows_with_a_full_window(ws: Workspace) -> None:
    gru = {"family": "gru", "params": {"hidden_size": 4, "max_epochs": 2}}
    training = {"n_splits": 3, "sequence_window": 5}
    train_from_spec(ws, spec(name="gru-mom", model=gru, training=training))
    seen: dict[str, list[pd.MultiIndex]] = defaultdict(list)

    def spy(ref: str, record, eval_keys: pd.MultiIndex) -> None:
        if record.stage == "cv":
            seen[ref].append(eval_keys)

    result = compare_models(ws, ["gru-mom/v1", "ridge-mom/v1"], n_splits=3, on_fit=spy)
    for a, b in zip(seen["gru-mom/v1"], seen["ridge-mom/v1"], strict=True):
        assert a.equals(b)
    gru_scores = result.stats.models[0]
    assert gru_scores.name == "gru-mom/v1"
    assert np.isfinite(gru_scores.ic)
    assert gru_scores.n_dates == result.stats.models[1].n_dates
    # the first 4 dates of each asset have no full 5-date window: fewer common rows than ridge's
    assert result.n_rows < compare_models(ws, ["ridge-mom/v1", "lgbm-mom/v1"], n_splits=3).n_rows


def test_different_datasets_are_refused(ws: Workspace) -> None:
    with pytest.raises(ModelError, match="same dataset"):
        compare_models(ws, ["ridge-mom/v1", "etf-ridge/v1"])


def test_too_few_unknown_and_repeated_models_are_refused(ws: Workspace) -> None:
    with pytest.raises(ModelError, match="at least 2 models"):
        compare_models(ws, ["ridge-mom/v1"])
    with pytest.raises(ModelNotFoundError):
        compare_models(ws, ["ridge-mom/v1", "nope/v1"])
    with pytest.raises(ModelError, match="named twice"):
        compare_models(ws, ["ridge-mom/v1", "ridge-mom"])


ROLLING = {"schedule": "rolling", "retrain_every": 126, "window": 504, "min_train": 252}


def test_rolling_versions_are_compared_on_their_shared_segments(ws: Workspace) -> None:
    lgbm = {"family": "lightgbm", "params": {"n_estimators": 20, "num_leaves": 7}}
    train_from_spec(ws, spec(name="ridge-roll", training=ROLLING))
    train_from_spec(ws, spec(name="lgbm-roll", model=lgbm, training=ROLLING))
    fits: dict[str, list] = defaultdict(list)

    def spy(ref: str, record, eval_keys: pd.MultiIndex) -> None:
        fits[ref].append((record.stage, record.fold, record.fit_rows.size))

    refs = ["ridge-roll/v1", "lgbm-roll/v1"]
    result = compare_models(ws, refs, on_fit=spy)
    assert result.settings["splitter"] == "rolling"
    by_name = {m.name: m for m in result.stats.models}
    for ref in refs:
        # the same rows and segments as at training: the registered out-of-sample IC
        assert by_name[ref].ic == pytest.approx(ws.models.get(ref).metrics["ic"], abs=1e-9)
        assert {stage for stage, _, _ in fits[ref]} == {"rolling"}
    # one fit per segment, the same segments and training sizes for both models
    assert [(k, n) for _, k, n in fits[refs[0]]] == [(k, n) for _, k, n in fits[refs[1]]]
    assert result.test_rows[refs[0]].equals(result.test_rows[refs[1]])
    first_segment = ws.models.load(refs[0]).first_out_of_sample
    assert result.first_test >= first_segment


def test_a_mix_of_schedules_is_refused(ws: Workspace) -> None:
    if not any(v.ref == "ridge-roll2/v1" for v in ws.models.list()):
        train_from_spec(ws, spec(name="ridge-roll2", training={**ROLLING, "retrain_every": 63}))
        train_from_spec(ws, spec(name="ridge-roll3", training=ROLLING))
    with pytest.raises(ModelError, match="one schedule only"):
        compare_models(ws, ["ridge-mom/v1", "ridge-roll3/v1"])
    with pytest.raises(ModelError, match="retrain_every 63"):
        compare_models(ws, ["ridge-roll3/v1", "ridge-roll2/v1"])


def test_cli_compare_json_and_errors(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(ws.root)
    code = main(["--workspace", root, "model", "compare", "ridge-mom/v1", "lgbm-mom/v1",
                 "--splits", "3", "--json"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    doc = json.loads(captured.out)
    assert doc["refs"] == ["ridge-mom/v1", "lgbm-mom/v1"]
    assert doc["settings"]["n_splits"] == 3
    assert doc["settings"]["splitter"] == "walk_forward"
    assert [m["name"] for m in doc["models"]] == doc["refs"]
    assert all(np.isfinite(m["ic"]) and 0 <= m["dsr"] <= 1 for m in doc["models"])
    assert doc["pairs"][0]["first"] == "ridge-mom/v1"

    code = main(["--workspace", root, "model", "compare", "ridge-mom/v1", "lgbm-mom/v1",
                 "--splits", "3"])  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0
    assert "identical test rows" in text
    assert "Diebold-Mariano" in text
    assert "lgbm-mom/v1" in text

    for args, message in (
        (["ridge-mom/v1"], "at least 2 models"),
        (["ridge-mom/v1", "nope/v1"], "no model named 'nope'"),
        (["ridge-mom/v1", "etf-ridge/v1"], "same dataset"),
    ):
        code = main(["--workspace", root, "model", "compare", *args])
        err = capsys.readouterr().err
        assert code == 2, args
        assert message in err
        assert "Traceback" not in err


def test_cli_compares_rolling_versions(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    if not any(v.ref == "ridge-roll4/v1" for v in ws.models.list()):
        lgbm = {"family": "lightgbm", "params": {"n_estimators": 20, "num_leaves": 7}}
        train_from_spec(ws, spec(name="ridge-roll4", training=ROLLING))
        train_from_spec(ws, spec(name="lgbm-roll4", model=lgbm, training=ROLLING))
    code = main(
        ["--workspace", str(ws.root), "model", "compare", "ridge-roll4/v1", "lgbm-roll4/v1"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "shared schedule 'rolling' (retrain_every 126, window 504, min_train 252)" in (
        " ".join(captured.out.split())
    )
