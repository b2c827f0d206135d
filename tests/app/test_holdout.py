"""The sealed holdout: fixed at first use, out of reach of every research path, spent once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest, scan_spec
from alphaloop.app.factors import analyze_dataset, evaluate_dataset
from alphaloop.app.holdout import evaluate_holdout
from alphaloop.backtest.spec import quick_spec
from alphaloop.cli import main
from alphaloop.data.holdout import HoldoutError, HoldoutKey
from alphaloop.errors import HoldoutClippedWarning

DATA = "sp500-stocks"
MOM = "$close / Ref($close, 60) - 1"


@pytest.fixture
def sealed(
    tmp_path: Path, db_settings: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Workspace:
    """A workspace with the product's default holdout (20%), on SQLite and PostgreSQL.

    The environment says the same, so CLI calls in the test open the same workspace.
    """
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    for key, value in db_settings.items():
        monkeypatch.setenv(f"ALPHALOOP_{key.upper()}", str(value))
    ws = Workspace(tmp_path / "ws", holdout_fraction=0.2, **db_settings)
    yield ws
    ws.close()


def _calendar(ws: Workspace) -> np.ndarray:
    info = ws.data.info(DATA)
    return ws.data.store.calendar(info.name, info.version)


def test_sealed_at_first_use_with_the_default_share(sealed: Workspace) -> None:
    assert sealed.data.holdouts.get(DATA) is None
    boundary = sealed.data.holdout_boundary(DATA)
    cal = _calendar(sealed)
    expected = pd.Timestamp(int(cal[math.ceil(len(cal) * 0.8)]), tz="UTC")
    assert boundary == expected
    info = sealed.data.holdouts.get(DATA)
    assert info is not None
    assert info.fraction == 0.2
    assert not info.spent


def test_loads_stop_before_the_boundary(sealed: Workspace) -> None:
    panel = sealed.data.load(DATA)
    boundary = sealed.data.holdout_boundary(DATA)
    assert panel.index[-1] < boundary
    assert panel.n_times == math.ceil(len(_calendar(sealed)) * 0.8)
    # an explicit end beyond the boundary is cut, a start inside it refused
    with pytest.warns(HoldoutClippedWarning, match="inside the sealed holdout"):
        assert sealed.data.load(DATA, end="2030-01-01").index[-1] < boundary
    with pytest.raises(HoldoutError, match="sealed holdout"):
        sealed.data.load(DATA, start=boundary)
    assert sealed.data.preview(DATA)["timestamp"].max() < boundary


def test_no_research_path_reads_it(sealed: Workspace, capsys, tmp_path: Path) -> None:
    boundary = sealed.data.holdout_boundary(DATA)
    ev = evaluate_dataset(sealed.data, {"m": MOM}, DATA)
    assert ev.panel.index[-1] < boundary
    report = analyze_dataset(sealed.data, MOM, DATA, horizon=5, market=None, known=[])
    assert pd.Timestamp(report.to_dict()["end"]) < boundary
    spec = quick_spec(MOM, DATA, fills="next_close")
    result = run_backtest(sealed, spec, record=False)
    assert result.simulation.equity.index[-1] < boundary
    assert scan_spec(sealed, spec, n_points=4).checked_points[-1] < boundary
    out = tmp_path / "f.parquet"
    code = main(["--workspace", str(sealed.root), "factor", "eval", MOM, "--data", DATA,
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    assert pd.read_parquet(out)["timestamp"].max() < boundary
    code = main(["--workspace", str(sealed.root), "factor", "eval", MOM, "--data", DATA,
                 "--out", str(out), "--start", str(boundary.date())])  # fmt: skip
    assert code == 1
    assert "sealed holdout" in capsys.readouterr().err


def test_configure_only_before_first_use(sealed: Workspace) -> None:
    info = sealed.data.configure_holdout("sp500-index", 0.3)
    assert info.fraction == 0.3
    with pytest.raises(HoldoutError, match="cannot be changed after first use"):
        sealed.data.configure_holdout("sp500-index", 0.1)
    sealed.data.load(DATA)
    with pytest.raises(HoldoutError, match="cannot be changed"):
        sealed.data.configure_holdout(DATA, 0.5)
    with pytest.raises(HoldoutError, match=r"\[0, 1\)"):
        sealed.data.configure_holdout("vix", 1.5)


def test_keys_cannot_be_forged(sealed: Workspace) -> None:
    with pytest.raises(HoldoutError, match="only from"):
        HoldoutKey(object(), DATA, None)


def test_unseal_once_with_trials_recorded(sealed: Workspace) -> None:
    tried = [quick_spec(e, DATA, fills="next_close") for e in (MOM, "$close / Ref($close, 20)")]
    for s in tried:
        run_backtest(sealed, s)
    run_backtest(sealed, tried[0])  # the same strategy twice is one trial
    boundary = sealed.data.holdout_boundary(DATA)
    with pytest.raises(HoldoutError, match="note"):
        evaluate_holdout(sealed, DATA, tried[:1], note="  ")
    with pytest.raises(HoldoutError, match="every strategy must run on"):
        evaluate_holdout(sealed, DATA, [quick_spec(MOM, "sp500-index")], note="x")
    assert not sealed.data.holdouts.get(DATA).spent  # refusals spend nothing
    ev = evaluate_holdout(sealed, DATA, tried[:1], note="the best of two")
    assert ev.trials_before == 2
    (row,) = ev.strategies
    assert pd.Timestamp(row["start"]) >= boundary
    assert row["metrics"]["n_periods"] > 1000
    info = sealed.data.holdouts.get(DATA)
    assert info.spent
    assert info.trials_before == 2
    assert info.note == "the best of two"
    assert info.results["strategies"][0]["spec_hash"] == tried[0].hash
    with pytest.raises(HoldoutError, match="cannot be evaluated again"):
        evaluate_holdout(sealed, DATA, tried[1:], note="second try")
    # research still stops at the boundary afterwards
    assert sealed.data.load(DATA).index[-1] < boundary
    kinds = [r["kind"] for r in sealed.runs.list()]
    assert "holdout-unseal" in kinds
    assert "holdout" in kinds


def test_cli(sealed: Workspace, capsys, tmp_path: Path) -> None:
    root = str(sealed.root)
    assert main(["--workspace", root, "holdout", "set", DATA, "--fraction", "0.25"]) == 0
    spec = tmp_path / "s.yaml"
    spec.write_text(quick_spec(MOM, DATA, fills="next_close").to_yaml())
    args = ["--workspace", root, "holdout", "unseal", DATA, "--spec", str(spec), "--note", "n"]
    capsys.readouterr()
    assert main(args) == 2
    assert "add --yes" in capsys.readouterr().err
    assert not sealed.data.holdouts.get(DATA).spent
    assert main([*args, "--yes", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["strategies"][0]["metrics"]["sharpe_ratio"] is not None
    assert main([*args, "--yes"]) == 1
    assert "cannot be evaluated again" in capsys.readouterr().err
    assert main(["--workspace", root, "holdout", "list", "--json"]) == 0
    listed = {h["dataset"]: h for h in json.loads(capsys.readouterr().out)}
    assert listed[DATA]["unsealed_at"] is not None
    assert listed[DATA]["trials_before"] == 0
    assert main(["--workspace", root, "holdout", "show", DATA, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["fraction"] == 0.25
    assert shown["unsealed_at"] is not None
