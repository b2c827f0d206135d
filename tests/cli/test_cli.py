"""The command line, in process (fast) and as a subprocess (what a user runs)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alphaloop import __version__
from alphaloop.cli import main
from tests.conftest import write_csv

LIST_KEYS = {"name", "assets", "fields", "start", "end", "frequency", "rows", "source"}
GOOD = """
timestamp,symbol,close,volume
2024-01-02,AAA,10.0,100
2024-01-03,AAA,10.5,110
2024-01-04,AAA,10.2,120
"""


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """An empty workspace directory (commands that only read never create one)."""
    path = tmp_path / "ws"
    path.mkdir()
    return path


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"alphaloop {__version__}"


def test_data_list_json(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = run(capsys, ws, "data", "list", "--json")
    assert code == 0
    doc = json.loads(out)
    assert {d["name"] for d in doc} >= {"sp500-stocks", "fama-french", "vix"}
    for d in doc:
        assert set(d) >= LIST_KEYS
    stocks = next(d for d in doc if d["name"] == "sp500-stocks")
    assert stocks["assets"] == 20
    assert stocks["rows"] == 166260
    assert stocks["start"].startswith("1990-01-02")


def test_data_list_table(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = run(capsys, ws, "data", "list")
    assert code == 0
    assert "sp500-stocks" in out
    assert "fama-french" in out


def test_data_show(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = run(capsys, ws, "data", "show", "sp500-stocks", "--json", "--rows", "3")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["preview"]) == 3
    assert doc["asset_ids"][0] == "AAPL"
    assert any("survivorship" in c for c in doc["caveats"])
    code, out, _ = run(capsys, ws, "data", "show", "sp500-stocks")
    assert code == 0
    assert "survivorship" in out
    assert "content hash" in out


def test_show_unknown_dataset_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    code, out, err = run(capsys, ws, "data", "show", "nope")
    assert code == 2
    assert "dataset 'nope' is not in this workspace" in err
    assert "Traceback" not in err + out


def test_import_and_check(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", GOOD)
    code, out, _ = run(capsys, ws, "data", "import", str(good), "--name", "good", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "accepted"
    assert doc["dataset"]["rows"] == 3
    code, out, _ = run(capsys, ws, "data", "check", str(good), "--json")
    assert code == 0
    assert json.loads(out)["clean"] is True
    code, out, _ = run(capsys, ws, "data", "check", "good")
    assert code == 0
    assert "clean" in out


def test_refused_import_exits_1_with_the_report(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    bad = write_csv(tmp_path / "bad.csv", GOOD.replace("10.5,110", "10.5,-110"))
    code, out, err = run(capsys, ws, "data", "import", str(bad), "--name", "bad")
    assert code == 1
    assert "negative_volume" in out
    assert "refused" in err
    assert "--repair" in err
    assert "Traceback" not in out + err
    code, out, _ = run(capsys, ws, "data", "list", "--json")
    assert "bad" not in {d["name"] for d in json.loads(out)}
    code, out, _ = run(capsys, ws, "data", "import", str(bad), "--name", "bad", "--repair")
    assert code == 0
    assert "repaired negative_volume" in out


def test_check_exit_codes(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", GOOD.replace("10.2", "abc"))
    code, out, _ = run(capsys, ws, "data", "check", str(bad), "--json")
    assert code == 1
    issue = json.loads(out)["issues"][0]
    assert issue["check"] == "non_numeric"
    assert issue["locations"][0]["line"] == 4
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = run(capsys, ws, "data", "check", str(empty))
    assert code == 2
    assert "empty" in err
    code, _, err = run(capsys, ws, "data", "check", str(tmp_path / "missing.csv"))
    assert code == 2
    assert "no such file" in err
    code, _, err = run(capsys, ws, "data", "check", "no-such-dataset")
    assert code == 2
    assert "neither a file nor a dataset" in err
    code, out, _ = run(capsys, ws, "data", "check", "vix", "--json")
    assert code == 1
    assert json.loads(out)["issues"][0]["check"] == "missing_values"


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", GOOD)
    code, _, err = run(capsys, ws, "data", "import", str(good), "--name", "x", "--layout", "tall")
    assert code == 2
    assert "tall" in err
    code, _, _ = run(capsys, ws, "data", "import", str(good))
    assert code == 2


def test_debug_shows_the_traceback(ws: Path) -> None:
    from alphaloop.errors import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError):
        main(["--workspace", str(ws), "--debug", "data", "show", "nope"])


def test_demo_json_and_run_log(
    capsys: pytest.CaptureFixture[str], ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")  # the product's default
    code, out, _ = run(capsys, ws, "demo", "--json")
    assert code == 0
    doc = json.loads(out)
    assert len(doc["stocks"]) == 20
    assert 0.05 < doc["index"]["cagr"] < 0.10  # S&P 500 price index 1990-2022
    assert doc["stocks"]["RRC"]["zero_return_share"] > 0.1
    assert any("survivorship" in c for c in doc["caveats"])
    scan = doc["factors"]["library_scan"]
    assert scan["n_factors_tested"] == 75
    assert scan["significant_after_holm"] <= scan["significant_before_adjustment"]
    assert -1 < doc["factors"]["momentum"]["rank_ic_mean"] < 1
    bt = doc["backtest"]
    assert bt["lookahead_clean"] is True
    assert bt["metrics"]["cost_drag_annual"] > 0
    assert Path(bt["report"]).stat().st_size > 10_000
    assert bt["holdout_from"].startswith("2016")
    assert bt["period"][1] < bt["holdout_from"]
    code, out, _ = run(capsys, ws, "runs", "list", "--kind", "demo", "--json")
    runs = json.loads(out)
    assert runs[0]["kind"] == "demo"
    assert runs[0]["status"] == "succeeded"
    assert len(runs[0]["data_hashes"]["sp500-stocks"]) == 64
    code, out, _ = run(capsys, ws, "runs", "list", "--kind", "backtest", "--json")
    (backtest_run,) = json.loads(out)
    assert backtest_run["id"] == bt["run_id"]
    assert backtest_run["params"]["spec_hash"] == bt["spec_hash"]


def test_subprocess_error_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bin.csv"
    bad.write_bytes(b"timestamp,symbol,close\n2024-01-01,\xe9t\xe9,1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "alphaloop.cli",
            "--workspace",
            str(tmp_path / "ws"),
            "data",
            "import",
            str(bad),
            "--name",
            "x",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "not UTF-8" in proc.stderr
    assert "line 2" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_console_script_demo(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "alphaloop"
    proc = subprocess.run(
        [str(exe), "--workspace", str(tmp_path / "ws"), "demo"],
        capture_output=True,
        text=True,
        # a guard against a hang, not a speed test: a loaded 2-core machine takes minutes
        timeout=1200,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "survivorship" in proc.stdout
    assert "recorded as run 1" in proc.stdout
    # the backtest's run id, printed twice, is the one its tearsheet shows
    assert "its backtest as run 2 (the run id in the tearsheet)" in proc.stdout
    assert "recorded as run 2; tearsheet (run 2)" in proc.stdout
    html = (tmp_path / "ws" / "reports" / "demo-backtest.html").read_text()
    assert re.search(r"<td>run id</td>\s*<td>2</td>", html)


def test_brackets_in_user_text_are_printed_as_they_are(
    capsys: pytest.CaptureFixture[str], ws: Path, tmp_path: Path
) -> None:
    no_ts = write_csv(tmp_path / "p[red]x.csv", "[/],close\n1,2")
    code, out, err = run(capsys, ws, "data", "check", str(no_ts))
    assert code == 2
    assert "p[red]x.csv" in err
    assert "'[/]'" in err
    bad = write_csv(tmp_path / "sym.csv", "timestamp,symbol,close\n2024-01-01,[/],abc")
    code, out, err = run(capsys, ws, "data", "check", str(bad))
    assert code == 1
    assert "[/]" in out
    assert "Traceback" not in out + err
