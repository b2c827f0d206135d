"""``model promote``, numbers in model output, ``runs list`` hashes and ``runs show``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alphaloop.cli.common import fmt_num
from tests.cli.conftest import cli


def test_fmt_num() -> None:
    assert fmt_num(4390.0) == "4,390"
    assert fmt_num(3) == "3"
    assert fmt_num(0.0123456) == "0.01235"
    assert fmt_num(-1.23456) == "-1.235"
    assert fmt_num(123456.7) == "123,457"
    assert fmt_num(0.00001234) == "1.234e-05"
    assert fmt_num(None) == "-"
    assert fmt_num(float("nan")) == "-"
    assert fmt_num(True) == "true"


def test_promote_through_the_stages(research_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, research_ws, "model", "promote", "tiny/v1", "--stage",
                       "production", "--note", "best OOS IC", "--json")  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["ref"] == "tiny/v1"
    assert doc["from_stage"] == "candidate"
    assert doc["to_stage"] == "production"
    assert doc["note"] == "best OOS IC"
    assert doc["archived"] == []
    assert doc["version"]["stage"] == "production"
    # a second production version archives the first, in the same step
    code, out, _ = cli(capsys, research_ws, "model", "promote", "tiny/v2", "--stage", "production")
    assert code == 0
    assert "tiny/v2: candidate -> production" in out
    assert "tiny/v1: production -> archived (replaced)" in out
    _, out, _ = cli(capsys, research_ws, "model", "show", "tiny/v1", "--json")
    history = json.loads(out)["stage_history"]
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "candidate"),
        ("candidate", "production"),
        ("production", "archived"),
    ]
    assert history[1]["reason"] == "best OOS IC"
    # each promotion is in the hash-chained audit trail too
    code, out, _ = cli(capsys, research_ws, "audit", "list", "--action", "model.promoted",
                       "--json")  # fmt: skip
    promoted = [e["payload"] | {"subject": e["subject"]} for e in json.loads(out)]
    assert {"subject": "model tiny/v1", "from": "candidate", "to": "production",
            "archived": [], "note": "best OOS IC"}.items() <= promoted[-2].items()  # fmt: skip
    assert promoted[-1]["subject"] == "model tiny/v2"
    assert promoted[-1]["archived"] == ["tiny/v1"]
    assert cli(capsys, research_ws, "audit", "verify")[0] == 0
    # moves the registry does not allow, and unknown stages, are bad input
    code, _, err = cli(capsys, research_ws, "model", "promote", "tiny/v1", "--stage", "production")
    assert code == 2
    assert "cannot move from archived to production" in err
    code, out, _ = cli(capsys, research_ws, "model", "promote", "tiny/v1", "--stage", "staging",
                       "--json")  # fmt: skip
    assert code == 2
    assert "unknown stage 'staging'" in json.loads(out)["error"]["message"]
    assert cli(capsys, research_ws, "model", "promote", "tiny/v1", "--stage", "candidate")[0] == 0


def test_model_output_formats_counts_as_integers(
    research_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, research_ws, "model", "show", "tiny/v1")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("metrics: "))
    metrics = dict(item.split(" ", 1) for item in line.removeprefix("metrics: ").split(", "))
    assert re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})*", metrics["n_oos"])  # 4,390, not 4390.0000
    assert metrics["n_folds"] == "3"
    assert re.fullmatch(r"-?0\.[0-9]{1,5}|-", metrics["ic"])  # 4 significant digits
    assert ".0000" not in out
    _, listed, _ = cli(capsys, research_ws, "model", "list")
    assert ".0000" not in listed


def test_runs_list_shows_data_hashes(research_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, research_ws, "runs", "list", "--json")
    runs = json.loads(out)
    trained = [r for r in runs if r["kind"] == "model-train"]
    assert trained
    digest = trained[0]["data_hashes"]["sp500-stocks"]
    assert len(digest) == 64  # in full in the JSON form
    _, table, _ = cli(capsys, research_ws, "runs", "list")
    assert "data (hash)" in table
    assert digest[:12] in table  # short in the table
    assert digest not in table


def test_runs_show_one_run_in_full(research_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = cli(capsys, research_ws, "runs", "list", "--kind", "model-train", "--json")
    run = json.loads(out)[-1]
    code, out, _ = cli(capsys, research_ws, "runs", "show", str(run["id"]), "--json")
    assert code == 0
    assert json.loads(out) == run
    code, out, _ = cli(capsys, research_ws, "runs", "show", str(run["id"]))
    assert code == 0
    assert out.startswith(f"run {run['id']} model-train: succeeded")
    assert run["data_hashes"]["sp500-stocks"] in out  # the full hash
    assert '"model_spec"' in out  # the parameters
    assert '"ref": "tiny/v1"' in out  # the result
    code, _, err = cli(capsys, research_ws, "runs", "show", "424242")
    assert code == 2
    assert "no run 424242" in err
