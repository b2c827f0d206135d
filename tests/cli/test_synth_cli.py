"""``alphaloop synth``: fit, list, sample, score, robustness; errors exit 2 without traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli

SPEC = """
name: mom-top5
data: sp500-stocks
signal: {expr: "$close / Ref($close, 60) - 1"}
portfolio: {method: top_k, k: 5}
rebalance: {frequency: monthly}
fills: next_close
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a bootstrap and a normal generator on recent sp500-stocks."""
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("synth") / "ws"
    assert main(["--workspace", str(root), "init"]) == 0
    for name, kind in (("boot", "bootstrap"), ("base", "normal")):
        code = main([
            "--workspace", str(root), "synth", "fit", name, "--data", "sp500-stocks",
            "--generator", kind, "--start", "2015-01-01",
        ])  # fmt: skip
        assert code == 0
    return root


def test_fit_and_list(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(
        capsys, ws, "synth", "fit", "circ", "--data", "sp500-ohlcv", "--generator", "bootstrap",
        "--params", "method=circular,block_length=7", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["kind"] == "bootstrap"
    assert doc["params"] == {"method": "circular", "block_length": 7}
    assert doc["fitted"]["block_length"] == 7.0
    code, out, _ = cli(capsys, ws, "synth", "list", "--json")
    assert {g["name"] for g in json.loads(out)} >= {"boot", "base", "circ"}
    code, out, _ = cli(capsys, ws, "synth", "list")
    assert code == 0
    assert "boot" in out
    assert "bootstrap" in out


def test_sample_writes_marked_files(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    code, out, _ = cli(
        capsys, ws, "synth", "sample", "circ", "--paths", "3", "--length", "100", "--seed", "4",
        "--out", str(tmp_path / "paths"), "--name", "crash-x3", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["label"] == "crash-x3"
    assert Path(doc["files"][0]).name == "crash-x3-0000.parquet"
    assert doc["synthetic"] is True
    assert doc["fields"] == ["open", "high", "low", "close", "volume"]
    assert len(doc["files"]) == 3
    code, _, err = cli(capsys, ws, "data", "import", doc["files"][0], "--name", "fake")
    assert code == 2
    assert "synthetic paths drawn by a generator" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, ws, "synth", "sample", "boot", "--paths", "2", "--length", "50")
    assert code == 0
    assert out.startswith("SYNTHETIC 2 path(s)")


def test_score_with_report(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    report = tmp_path / "score.html"
    code, out, _ = cli(
        capsys, ws, "synth", "score", "boot", "--paths", "5", "--report", str(report), "--json"
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc["generators"]) == {"boot", "base"}
    base = {f["name"]: f for f in doc["generators"]["base"]["facts"]}
    assert base["heavy_tails"]["passed"] is False
    assert base["volatility_clustering"]["passed"] is False
    boot = {f["name"]: f for f in doc["generators"]["boot"]["facts"]}
    assert boot["heavy_tails"]["passed"] is True
    page = report.read_text()
    assert "Synthetic data: stylized facts" in page
    assert "FAIL" in page
    assert '<script src="http' not in page
    code, out, _ = cli(capsys, ws, "synth", "score", "boot", "--paths", "3")
    assert code == 0
    assert "facts passed" in out
    assert "synthetic" in out


def test_stress(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    args = ("synth", "stress", "boot", "--paths", "500", "--horizon", "10", "--seed", "2")
    code, out, _ = cli(capsys, ws, *args, "--max-drawdown", "0.05", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["synthetic"] is True
    assert doc["n_paths"] == 500
    assert doc["horizon"] == 10
    assert doc["source"] == "generator 'boot' (bootstrap)"
    assert 0 < doc["var"] <= doc["cvar"]
    assert 0.0 <= doc["breach_probability"]["max_drawdown"] <= 1.0
    # all in one stock is riskier than equal weights over twenty
    code, out, _ = cli(capsys, ws, *args, "--weights", "AAPL=1.0", "--json")
    assert json.loads(out)["var"] > doc["var"]
    code, out, _ = cli(capsys, ws, *args)
    assert code == 0
    assert out.startswith("SYNTHETIC paths")
    assert "VaR 99%" in out


@pytest.mark.slow
def test_robustness(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    code, out, _ = cli(
        capsys, ws, "synth", "robustness", str(spec), "--generator", "boot", "--paths", "4",
        "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["paths_run"] + len(doc["failed"]) == 4
    assert doc["synthetic"] is True
    assert "not used to choose parameters" in doc["check"]
    sharpe = doc["summary"]["sharpe_ratio"]
    assert sharpe["q05"] <= sharpe["q50"] <= sharpe["q95"]
    assert 0.0 <= sharpe["real_percentile"] <= 1.0
    # nothing recorded
    code, out, _ = cli(capsys, ws, "runs", "list", "--json")
    assert json.loads(out) == [] or all(r.get("name") != "mom-top5" for r in json.loads(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fit", "x", "--data", "sp500-stocks", "--generator", "vae"), "unknown generator 'vae'"),
        (("fit", "x", "--data", "nope", "--generator", "normal"), "nope"),
        (("fit", "boot", "--data", "sp500-stocks", "--generator", "normal"), "exists already"),
        (("fit", "bad/name", "--data", "sp500-stocks", "--generator", "normal"), "not valid"),
        (("fit", "y", "--data", "sp500-stocks", "--generator", "garch", "--params", "vol"),
         "not key=value"),
        (("fit", "y", "--data", "sp500-stocks", "--generator", "garch", "--params", "{bad"),
         "not valid JSON"),
        (("sample", "missing"), "no generator named 'missing'"),
        (("sample", "boot", "--paths", "0"), "n_paths must be between"),
        (("sample", "base", "--params", "stay_longer=2"), "cannot change"),
        (("sample", "base", "--name", "a b"), "not valid"),
        (("score", "boot", "--paths", "0"), "n_paths must be between"),
        (("stress", "boot", "--weights", "AAPL"), "not ASSET=NUMBER"),
        (("stress", "boot", "--weights", "ZZZ=1"), "not fitted on: ['ZZZ']"),
        (("stress", "boot", "--paths", "5"), "n_paths must be at least 100"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], ws: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = cli(capsys, ws, "synth", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""
