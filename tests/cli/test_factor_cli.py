"""The factor commands end to end on bundled data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.cli import main


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("factor-cli") / "ws"
    path.mkdir()
    return path


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_eval_writes_long_parquet_with_warmup_before_start(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ma.parquet"
    code, stdout, _ = run(
        capsys,
        ws,
        "factor",
        "eval",
        "Mean($close, 20) / $close",
        "--data",
        "sp500-stocks",
        "--start",
        "2020-01-01",
        "--end",
        "2020-12-31",
        "--out",
        str(out),
        "--json",
    )
    assert code == 0
    doc = json.loads(stdout)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["timestamp", "asset", "value"]
    assert len(frame) == doc["rows"] == 253 * 20
    assert frame["timestamp"].min() == pd.Timestamp("2020-01-02", tz="UTC")
    # history before --start fills the window: no warm-up NaN on the first day
    assert frame["value"].notna().all()
    aapl = frame[frame.asset == "AAPL"].set_index("timestamp")["value"]
    assert aapl.iloc[0] == pytest.approx(_mean_over_close("AAPL", "2020-01-02", ws), rel=1e-12)
    assert any("survivorship" in c for c in doc["caveats"])


def _mean_over_close(asset: str, day: str, ws: Path) -> float:
    from alphaloop.app import Workspace

    p = Workspace(ws).data.load("sp500-stocks", end=day, assets=[asset])
    c = p["close"][:, 0]
    return float(np.mean(c[-20:]) / c[-1])


def test_eval_refuses_lookahead_and_bad_expressions(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    out = tmp_path / "x.parquet"
    code, _, err = run(
        capsys,
        ws,
        "factor",
        "eval",
        "Ref($close, -5) / $close",
        "--data",
        "sp500-stocks",
        "--out",
        str(out),
    )
    assert code == 2
    assert "lookahead" in err
    assert "Traceback" not in err
    assert not out.exists()
    code, _, err = run(
        capsys,
        ws,
        "factor",
        "eval",
        "Ref($close, -5) / $close - 1",
        "--data",
        "sp500-stocks",
        "--out",
        str(out),
        "--label",
    )
    assert code == 0
    code, _, err = run(
        capsys,
        ws,
        "factor",
        "eval",
        "Mean($open, 5)",
        "--data",
        "sp500-stocks",
        "--out",
        str(out),
    )
    assert code == 2
    assert "unknown field $open" in err


def test_analyze_expression_json_and_report(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    report = tmp_path / "mom.html"
    code, stdout, _ = run(
        capsys,
        ws,
        "factor",
        "analyze",
        "Ref($close, 1) / Ref($close, 21) - 1",
        "--data",
        "sp500-stocks",
        "--horizon",
        "5",
        "--start",
        "2015-01-01",
        "--json",
        "--report",
        str(report),
    )
    assert code == 0
    doc = json.loads(stdout)
    for key in ("ic_mean", "rank_ic_mean", "icir", "ic_decay", "turnover", "quantile_returns"):
        assert key in doc
    assert set(doc["ic_decay"]) == {"1", "5", "20"}
    assert doc["horizon"] == 5
    assert doc["n_factors_tested"] == 1
    assert doc["known_factors"] == ["factor-etfs"]
    assert doc["orthogonality"] is not None
    assert -1 <= doc["rank_ic_mean"] <= 1
    html = report.read_text()
    assert "survivorship" in html
    assert "cdn.plot.ly" not in html


def test_analyze_library_adjusts_for_multiple_testing(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    report = tmp_path / "lib.html"
    code, stdout, _ = run(
        capsys,
        ws,
        "factor",
        "analyze",
        "alpha158-close",
        "--data",
        "sp500-stocks",
        "--start",
        "2018-01-01",
        "--known",
        "none",
        "--market",
        "none",
        "--json",
        "--report",
        str(report),
    )
    assert code == 0
    doc = json.loads(stdout)
    assert doc["n_factors_tested"] == 75
    mt = doc["multiple_testing"]
    assert mt["significant_at_5pct_after_adjustment"] <= mt["significant_at_5pct_before_adjustment"]
    for f in doc["factors"].values():
        if f["rank_ic_p_value"] is not None:
            assert f["rank_ic_p_value_holm"] >= f["rank_ic_p_value"]
    assert "75 factors were tested" in report.read_text()


def test_library_commands(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    code, stdout, _ = run(capsys, ws, "factor", "library", "list", "--json")
    assert code == 0
    counts = {lib["name"]: lib["count"] for lib in json.loads(stdout)}
    assert counts["alpha158"] == 158
    assert counts["alpha158-close"] == 75
    code, stdout, _ = run(capsys, ws, "factor", "library", "show", "alpha158", "--json")
    assert json.loads(stdout)["factors"]["KMID"] == "($close-$open)/$open"
    good = tmp_path / "mine.yaml"
    good.write_text(
        "name: mine\ndescription: test\nfactors:\n  MOM: Ref($close, 1) / Ref($close, 21) - 1\n"
    )
    code, _, _ = run(capsys, ws, "factor", "library", "add", str(good))
    assert code == 0
    code, stdout, _ = run(capsys, ws, "factor", "library", "show", "mine", "--json")
    assert json.loads(stdout)["factors"] == {"MOM": "Ref($close, 1) / Ref($close, 21) - 1"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nfactors:\n  X: Mean($close, 0)\n")
    code, _, err = run(capsys, ws, "factor", "library", "add", str(bad))
    assert code == 2
    assert "factor 'X'" in err
    assert "must be positive" in err
    code, _, err = run(capsys, ws, "factor", "library", "show", "nope")
    assert code == 2
    assert "no factor library named 'nope'" in err


def test_operators_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["factor", "operators", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    names = {op["name"] for op in doc["operators"]}
    assert {"Mean", "TsRank", "CsRank", "CsNeutralize", "Corr", "EMA"} <= names
    assert doc["aliases"] == {"Rank": "TsRank"}


def test_cache_returns_the_same_values_and_is_keyed_by_data(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    args = [
        "factor",
        "eval",
        "Std($close, 10)",
        "--data",
        "sp500-stocks",
        "--start",
        "2021-01-01",
        "--cache",
    ]
    assert run(capsys, ws, *args, "--out", str(tmp_path / "a.parquet"))[0] == 0
    cached = sorted((ws / "cache" / "factors").glob("*/*.npy"))
    assert len(cached) == 1
    assert run(capsys, ws, *args, "--out", str(tmp_path / "b.parquet"))[0] == 0
    assert sorted((ws / "cache" / "factors").glob("*/*.npy")) == cached
    a = pd.read_parquet(tmp_path / "a.parquet")
    b = pd.read_parquet(tmp_path / "b.parquet")
    pd.testing.assert_frame_equal(a, b)
    other = ["factor", "eval", "Std($close, 10)", "--data", "factor-etfs", "--cache"]
    assert run(capsys, ws, *other, "--out", str(tmp_path / "c.parquet"))[0] == 0
    assert len(list((ws / "cache" / "factors").glob("*/*.npy"))) == 2
