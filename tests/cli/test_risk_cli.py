"""``alphaloop risk report`` and ``alphaloop risk stress`` on the bundled S&P 500 stocks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alphaloop.cli import main

SPEC = """
name: momentum-risk
data: sp500-stocks
start: 2014-01-01
end: 2016-03-31
signal: {expr: "Ref($close, 21) / Ref($close, 126) - 1"}
portfolio: {method: top_k, k: 5, weighting: equal}
rebalance: {frequency: monthly}
fills: next_close                 # the bundled stocks have closes only
"""


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "momentum.yaml"
    path.write_text(SPEC)
    return path


def test_risk_report_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: Path) -> None:
    code, out, err = run(capsys, tmp_path / "ws", "risk", "report", str(spec), "--json",
                         "--confidence", "0.95", "--max-loss", "0.05")  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["confidence"] == 0.95
    assert [v["method"] for v in doc["var"]] == [
        "historical", "normal", "student_t", "cornish_fisher", "filtered_historical", "monte_carlo"
    ]  # fmt: skip
    assert all(v["cvar"] >= v["var"] > 0 for v in doc["var"])
    bars = doc["period"]["bars"]
    bt = doc["var_backtest"]
    assert bt["n_obs"] == bars - 250
    assert 0 <= bt["tests"]["kupiec_pof"]["p_value"] <= 1
    assert doc["exposure"]["n_obs"] > 0
    stress = doc["stress"]
    assert {s["name"] for s in stress["scenarios"]} == {"china-2015"}
    assert "gfc-2008" in stress["skipped"]
    assert stress["monte_carlo"]["horizon"] == 21
    assert "max_loss" in stress["monte_carlo"]["breach_probability"]
    regimes = {row["regime"]: row for row in doc["regimes"]["table"]}
    assert set(regimes) == {"calm", "turbulent", "all"}
    per_regime = sum(row["bars"] for name, row in regimes.items() if name != "all")
    assert per_regime == regimes["all"]["bars"]
    assert 0 < regimes["all"]["bars"] <= bars
    assert "known at the close before it" in doc["regimes"]["note"]


def test_risk_stress_with_a_scenario_file_and_limits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: Path
) -> None:
    windows = tmp_path / "windows.yaml"
    windows.write_text(
        "- {name: late-2015, start: 2015-11-02, end: 2016-02-11, description: oil slump}\n"
    )
    args = ["risk", "stress", str(spec), "--scenario", "china-2015", "--scenario", str(windows)]
    code, out, err = run(capsys, tmp_path / "ws", *args, "--max-drawdown", "0.001", "--json")
    assert code == 1, err  # a limit this tight is breached: the check says no
    doc = json.loads(out)
    assert [s["name"] for s in doc["scenarios"]] == ["china-2015", "late-2015"]
    assert doc["breached"] == ["china-2015", "late-2015"]
    assert doc["skipped"] == {}


def test_bad_input_fails_before_the_backtest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: Path
) -> None:
    ws = tmp_path / "ws"
    code, _, err = run(capsys, ws, "risk", "stress", str(spec), "--scenario", "gfc-2009")
    assert code == 2
    assert "'gfc-2009' is unknown; built-in scenarios: ltcm-1998" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, ws, "risk", "report", str(spec), "--confidence", "99")
    assert code == 2
    assert "confidence must be strictly between 0 and 1" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: x, start: 2015-01-01}\n")
    code, _, err = run(capsys, ws, "risk", "stress", str(spec), "--scenario", str(bad))
    assert code == 2
    assert "entry 1: missing end" in err
    code, out, _ = run(capsys, ws, "risk", "stress", str(spec), "--scenario", "nope", "--json")
    assert json.loads(out)["error"]["field"] == "scenario"


def test_risk_report_writes_html_with_factor_etfs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: Path
) -> None:
    target = tmp_path / "out" / "risk.html"
    code, out, err = run(capsys, tmp_path / "ws", "risk", "report", str(spec), "--json",
                         "--factors", "etf", "--report", str(target))  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["report"] == str(target)
    fx = doc["factor_exposure"]
    assert fx["name"] == "etf"
    assert fx["factors"] == ["MTUM", "QUAL", "SIZE", "USMV", "VLUE"]
    assert fx["n_obs"] > 200
    assert fx["start"] >= "2014-01-01"
    contributions = doc["contributions"]
    assert contributions["measure"] == "normal VaR"
    assert len(contributions["assets"]) == 5  # top 5 held at the last bar
    total = sum(a["component"] for a in contributions["assets"])
    assert total == pytest.approx(contributions["total"], rel=1e-9)
    html = target.read_text()
    for element in ('id="risk"', 'id="risk-var"', 'id="risk-var-backtest"',
                    'id="risk-exposure-etf"', 'id="risk-contributions"',
                    'id="risk-regimes"'):  # fmt: skip
        assert element in html
    assert "VaR 99%" in html
    assert "VaR 95%" in html
    markup = re.sub(r"<script.*?</script>", "", html, flags=re.DOTALL)  # plotly.js inlined
    assert html.count("<script") > len(re.findall("<script", markup))
    assert re.search(r'(src|href)="(https?:)?//', markup) is None  # offline: nothing fetched


def test_risk_report_text_names_the_factor_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: Path
) -> None:
    code, out, err = run(capsys, tmp_path / "ws", "risk", "report", str(spec), "--factors", "ff")
    assert code == 0, err
    assert "Fama-French three factors (monthly)" in out
    assert "MKT_RF" in out
    assert "normal VaR" in out  # the per-asset table of the held portfolio


def test_bad_report_paths_and_factor_sets_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spec: Path
) -> None:
    ws = tmp_path / "ws"
    code, _, err = run(capsys, ws, "risk", "report", str(spec), "--report", str(tmp_path))
    assert code == 2
    assert f"report path {tmp_path} is a directory" in err
    assert "Traceback" not in err
    a_file = tmp_path / "plain.txt"
    a_file.write_text("keep me")
    code, _, err = run(capsys, ws, "risk", "report", str(spec),
                       "--report", str(a_file / "risk.html"))  # fmt: skip
    assert code == 2
    assert "is not a directory" in err
    assert "Traceback" not in err
    assert a_file.read_text() == "keep me"
    code, out, err = run(capsys, ws, "risk", "report", str(spec), "--factors", "famafrench",
                         "--json")  # fmt: skip
    assert code == 2
    assert json.loads(out)["error"]["field"] == "factors"
    assert not ws.exists()  # every refusal came before the workspace was opened
