"""Validating specs end to end: statistics, trial counting, gates, CLI and report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.app.validation import trial_family, validate_spec
from alphaloop.backtest.spec import quick_spec
from alphaloop.cli import main
from alphaloop.validation.policy import ValidationPolicy

DATA = "sp500-stocks"
MOM = "Ref($close, 21) / Ref($close, 126) - 1"
KEYS = {"psr", "dsr", "n_trials", "pbo", "oos_is_ratio", "regimes", "passed", "reasons"}


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    yield w
    w.close()


def test_report_has_every_statistic_and_a_reasoned_verdict(ws: Workspace) -> None:
    spec = quick_spec(MOM, DATA, fills="next_close")
    report = validate_spec(ws, spec)
    doc = report.to_dict()
    assert set(doc) >= KEYS
    json.dumps(doc, allow_nan=False)
    assert 0 <= doc["psr"] <= 1
    assert doc["n_trials"] == 1
    # with one trial the deflation has nothing to deflate for: DSR is PSR against 0
    assert doc["dsr"] == pytest.approx(doc["psr"])
    assert 0 <= doc["pbo"] <= 1
    assert doc["family"] == {"size": 8, "recorded_trials": 1, "neighbours": 7}
    assert len(doc["walk_forward"]["is_sharpe"]) == 5
    assert 0 <= doc["regime_share"] <= 1
    assert doc["regimes"]["regimes"]
    assert 0 < doc["permutation"]["p_value"] <= 1
    assert doc["reasons"]
    assert doc["passed"] == all(g["passed"] for g in doc["gates"])
    failing = [g["reason"] for g in doc["gates"] if not g["passed"]]
    assert doc["reasons"] == (failing or [g["reason"] for g in doc["gates"]])


def test_more_trials_deflate_the_sharpe_ratio(ws: Workspace) -> None:
    spec = quick_spec(MOM, DATA, fills="next_close")
    first = validate_spec(ws, spec).to_dict()
    for window in (5, 10, 20, 40, 60, 90, 250):
        run_backtest(ws, quick_spec(f"$close / Ref($close, {window}) - 1", DATA,
                                    fills="next_close"))  # fmt: skip
    again = validate_spec(ws, spec).to_dict()
    assert again["n_trials"] == 8
    assert again["effective_trials"] is not None
    assert 1 <= again["effective_trials"] <= 8
    assert again["sr0_annual"] > 0
    assert again["dsr"] < first["dsr"]
    family, recorded = trial_family(ws, spec)
    assert recorded == 8
    assert family[0].hash == spec.hash


def test_policy_gates() -> None:
    policy = ValidationPolicy()
    good = {
        "dsr": 0.99, "pbo": 0.1, "oos_is_ratio": 0.8, "regime_share": 0.7,
        "n_round_trips": 100, "years": 10, "n_obs": 2520, "min_track_record": 500,
    }  # fmt: skip
    verdict = policy.evaluate(good)
    assert verdict.passed
    assert len(verdict.reasons) == 7
    bad = good | {"dsr": 0.5, "pbo": None}
    verdict = policy.evaluate(bad)
    assert not verdict.passed
    assert any("deflated Sharpe ratio 0.5 is below the minimum 0.95" in r for r in verdict.reasons)
    assert any("could not be measured" in r for r in verdict.reasons)
    assert len(verdict.reasons) == 2
    loose = ValidationPolicy(min_dsr=0.4, max_pbo=1.0)
    assert loose.evaluate(good | {"dsr": 0.5, "pbo": 0.9}).passed
    with pytest.raises(ValueError, match="min_dsr"):
        ValidationPolicy(min_dsr=2)


def test_cli_validate(ws: Workspace, capsys, tmp_path: Path) -> None:
    root = str(ws.root)
    report = tmp_path / "v.html"
    code = main(["--workspace", root, "validate", "--expr", MOM, "--data", DATA,
                 "--fills", "next_close", "--json", "--report", str(report)])  # fmt: skip
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) >= KEYS
    assert code == (0 if doc["passed"] else 1)
    html = report.read_text()
    assert "Validation" in html
    assert "deflated Sharpe ratio" in html
    # by backtest run id
    code = main(["--workspace", root, "validate", str(doc["run_id"])])
    out = capsys.readouterr().out
    assert "deflated Sharpe" in out
    assert "strategies tried" in out
    assert main(["--workspace", root, "validate", "99999"]) == 2
    assert "no run 99999" in capsys.readouterr().err


def test_effective_trials_count_every_trial_not_only_the_sampled_family() -> None:
    from alphaloop.app.validation import scale_effective_trials

    # the family re-runs 200 of 1,000 trials and finds 50 independent ones among them
    assert scale_effective_trials(50.0, 200, 1_000) == pytest.approx(250.0)
    # every trial sampled: the estimate stands
    assert scale_effective_trials(7.5, 10, 10) == 7.5
    # never above the trials made, never below one
    assert scale_effective_trials(200.0, 200, 300) == 300.0
    assert scale_effective_trials(0.2, 200, 300) == 1.0
    assert scale_effective_trials(None, 0, 5) is None
