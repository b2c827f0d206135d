"""Mining on a workspace: the search span only, sessions, the trial account, libraries,
the holdout once."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from alphaloop.app import Workspace
from alphaloop.app.factors import evaluate_dataset
from alphaloop.app.mining import (
    evaluate_mined_holdout,
    factor_trials,
    get_mining_session,
    list_mining_sessions,
    mine_dataset,
)
from alphaloop.errors import HoldoutError, MiningError
from alphaloop.factors.mining import MiningConfig, planted_panel

CONFIG = MiningConfig(budget=300, population=100, pool=4, seed=0)


def _workspace(root: Path, *, holdout: float = 0.0) -> Workspace:
    pp = planted_panel(alpha="corr_close_volume", seed=11, n_times=600, n_assets=30)
    csv = root / "planted.csv"
    root.mkdir(parents=True, exist_ok=True)
    pp.panel.to_long().to_csv(csv, index=False)
    ws = Workspace(root / "ws", holdout_fraction=holdout)
    ws.data.import_file(csv, "planted")
    return ws


def test_mining_reads_the_search_span_only(tmp_path: Path, monkeypatch) -> None:
    ws = _workspace(tmp_path, holdout=0.25)
    boundary = ws.data.holdout_boundary("planted")
    assert boundary is not None
    seen: list = []
    real_load = ws.data.load

    def spy(name, **kwargs):
        assert kwargs.get("holdout_key") is None
        panel = real_load(name, **kwargs)
        seen.append(panel.end)
        return panel

    monkeypatch.setattr(ws.data, "load", spy)
    outcome = mine_dataset(ws, "planted", CONFIG)
    assert seen
    assert all(end < boundary for end in seen)
    assert outcome.status == "finished"
    ws.close()


def test_a_session_is_recorded_replayed_and_counted(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    first = mine_dataset(ws, "planted", CONFIG, library="mined")
    assert first.status == "finished"
    assert not first.resumed
    n = first.summary["n_scored"]
    assert factor_trials(ws, "planted") == n
    assert first.summary["n_trials"] == n
    # the same run again: the recorded result, nothing mined, nothing counted twice
    again = mine_dataset(ws, "planted", CONFIG, library="mined")
    assert again.resumed
    assert again.session_id == first.session_id
    assert again.summary["pool"] == first.summary["pool"]
    assert factor_trials(ws, "planted") == n
    # another seed: earlier trials count in its adjustment; the account is a union
    other = mine_dataset(ws, "planted", replace(CONFIG, seed=1))
    assert other.summary["config"]["prior_trials"] == n
    assert other.summary["n_trials"] == other.summary["n_scored"] + n
    assert n < factor_trials(ws, "planted") <= n + other.summary["n_scored"]
    rows = list_mining_sessions(ws)
    assert [r["id"] for r in rows] == [other.session_id, first.session_id]
    assert get_mining_session(ws, first.key)["id"] == first.session_id
    ws.close()


def test_the_mined_library_is_a_building_block(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    outcome = mine_dataset(ws, "planted", CONFIG, library="mined", report=tmp_path / "m.html")
    assert outcome.library_path is not None
    doc = yaml.safe_load(outcome.library_path.read_text(encoding="utf-8"))
    assert doc["provenance"]["n_scored"] == outcome.summary["n_scored"]
    assert set(doc["provenance"]["factors"]) == set(doc["factors"])
    first = next(iter(doc["factors"]))
    assert len(doc["provenance"]["factors"][first]["folds"]["train_ic"]) == 3
    ref = f'Factor("mined/{first}")'
    a = evaluate_dataset(ws.data, {"ref": ref}, "planted", workspace=ws).values["ref"]
    b = evaluate_dataset(ws.data, {"f": doc["factors"][first]}, "planted").values["f"]
    np.testing.assert_array_equal(a, b)
    # the same run asked again under another library name saves the recorded pool under it
    again = mine_dataset(ws, "planted", CONFIG, library="mined-too")
    assert again.resumed
    assert again.library == "mined-too"
    other = yaml.safe_load(again.library_path.read_text(encoding="utf-8"))
    assert other["name"] == "mined-too"
    assert other["factors"] == doc["factors"]
    assert other["provenance"] == doc["provenance"]
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    assert "Factor mining" in page
    assert "trials every significance below is adjusted for" in page
    ws.close()


def test_a_stopped_session_resumes_under_its_key(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    calls: list[int] = []
    stopped = mine_dataset(
        ws,
        "planted",
        CONFIG,
        on_generation=lambda p: calls.append(p["generation"]),
        should_stop=lambda: len(calls) >= 2,
    )
    assert stopped.status == "interrupted"
    assert get_mining_session(ws, stopped.session_id)["status"] == "interrupted"
    assert (ws.root / "mining" / stopped.key / "checkpoint.json").exists()
    resumed = mine_dataset(ws, "planted", CONFIG)
    assert resumed.session_id == stopped.session_id
    assert resumed.status == "finished"
    fresh = _workspace(tmp_path / "other")
    whole = mine_dataset(fresh, "planted", CONFIG)
    assert resumed.summary["pool"] == whole.summary["pool"]
    assert resumed.summary["n_scored"] == whole.summary["n_scored"]
    ws.close()
    fresh.close()


def test_the_pool_meets_the_holdout_once(tmp_path: Path) -> None:
    ws = _workspace(tmp_path, holdout=0.25)
    outcome = mine_dataset(ws, "planted", CONFIG)
    assert outcome.summary["pool"]["members"]  # the planted factor gives the pool something
    result = evaluate_mined_holdout(ws, outcome.session_id, note="final pool")
    assert result["rows"] > 50
    assert result["trials_before"] == outcome.summary["n_scored"]
    assert set(result["factors"]) == {m["name"] for m in outcome.summary["pool"]["members"]}
    assert get_mining_session(ws, outcome.session_id)["holdout"]["pool"] == result["pool"]
    with pytest.raises(HoldoutError, match="already"):
        evaluate_mined_holdout(ws, outcome.session_id, note="again")
    ws.close()


def test_bad_requests_are_refused_clearly(tmp_path: Path) -> None:
    ws = _workspace(tmp_path)
    with pytest.raises(MiningError, match="too short"):
        mine_dataset(ws, "planted", replace(CONFIG, horizon=700))
    with pytest.raises(MiningError, match="built-in"):
        mine_dataset(ws, "planted", CONFIG, library="alpha158")
    session = mine_dataset(ws, "planted", replace(CONFIG, budget=120, population=60))
    with pytest.raises(HoldoutError, match=r"has no sealed holdout|\(fraction 0\)"):
        evaluate_mined_holdout(ws, session.session_id, note="x")
    ws.close()
