"""One exit-code table for every command, and errors as one JSON document with --json."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from alphaloop.errors import ExitCode
from tests.cli.conftest import cli, cli_process
from tests.conftest import write_csv

GOOD = """
timestamp,symbol,close,volume
2024-01-02,AAA,10.0,100
2024-01-03,AAA,10.5,110
2024-01-04,AAA,10.2,120
"""


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]  # {tmp} is replaced by the test's temporary directory
    code: int
    error: str  # the error type in the JSON document
    says: str  # a fragment of the message


ERRORS = [
    # usage: unknown option, bad option value, missing argument or option, no confirmation
    Case("unknown-option", ("data", "list", "--colour"), 2, "UsageError", "--colour"),
    Case("bad-value", ("runs", "list", "--limit", "many"), 2, "UsageError", "--limit"),
    Case("missing-argument", ("runs", "show"), 2, "UsageError", "Missing argument"),
    Case(
        "missing-option",
        ("data", "import", "{tmp}/good.csv"),
        2,
        "UsageError",
        "--name",
    ),
    Case(
        "bad-choice",
        ("backtest", "--expr", "$close", "--data", "sp500-stocks", "--top-k", "0"),
        2,
        "UsageError",
        "--top-k",
    ),
    Case(
        "no-confirmation",
        ("holdout", "unseal", "vix", "--spec", "{tmp}/spec.yaml", "--note", "n"),
        2,
        "UsageError",
        "--yes",
    ),
    # bad input: unknown names, bad spec, bad expression, unreadable file
    Case("unknown-dataset", ("data", "show", "nope"), 2, "DatasetNotFoundError", "nope"),
    Case("unknown-run", ("runs", "show", "999"), 2, "RunNotFoundError", "no run 999"),
    Case("unknown-model", ("model", "show", "nope/v1"), 2, "ModelNotFoundError", "nope"),
    Case(
        "unknown-library",
        ("factor", "library", "show", "nope"),
        2,
        "AlphaloopError",
        "no factor library named 'nope'",
    ),
    Case(
        "bad-expression",
        ("factor", "eval", "Mean($close", "--data", "vix", "--out", "{tmp}/x.parquet"),
        2,
        "ExpressionError",
        "Mean",
    ),
    Case("bad-spec", ("backtest", "{tmp}/bad-spec.yaml"), 2, "SpecError", "portfolio.method"),
    Case("missing-file", ("data", "check", "{tmp}/missing.csv"), 2, "DataReadError", "no such"),
    # a rule of the sealed-holdout protocol said no
    Case(
        "holdout-fraction",
        ("holdout", "set", "wti", "--fraction", "1.5"),
        1,
        "HoldoutError",
        "[0, 1)",
    ),
    # the workspace: not there, a file, invalid settings
    Case(
        "no-workspace",
        ("--workspace", "{tmp}/typo", "runs", "list"),
        3,
        "WorkspaceNotFoundError",
        "no workspace",
    ),
    Case(
        "workspace-is-a-file",
        ("--workspace", "{tmp}/good.csv", "data", "list"),
        3,
        "WorkspaceError",
        "not a directory",
    ),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("inputs")
    write_csv(tmp / "good.csv", GOOD)
    (tmp / "spec.yaml").write_text("data: vix\nsignal: {expr: $close}\n")
    bad = "data: vix\nsignal: {expr: $close}\nportfolio: {method: best}\n"
    (tmp / "bad-spec.yaml").write_text(bad)
    return tmp


def _args(case: Case, tmp: Path, ws: Path) -> list[str]:
    args = [a.replace("{tmp}", str(tmp)) for a in case.args]
    return args if args[0] == "--workspace" else ["--workspace", str(ws), *args]


@pytest.mark.parametrize("case", ERRORS, ids=[c.id for c in ERRORS])
def test_error_exit_code_and_json_document(
    case: Case, files: Path, research_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alphaloop.cli import main

    args = _args(case, files, research_ws)
    code = main([*args, "--json"])
    out, err = capsys.readouterr()
    assert code == case.code, (out, err)
    doc = json.loads(out)  # one JSON document and nothing else on stdout
    assert list(doc) == ["error"]
    assert set(doc["error"]) >= {"type", "message", "hint", "exit_code"}
    assert doc["error"]["type"] == case.error
    assert doc["error"]["exit_code"] == case.code
    assert case.says in doc["error"]["message"] + (doc["error"]["hint"] or "")
    assert err == ""

    code = main(args)
    out, err = capsys.readouterr()
    assert code == case.code
    assert out == ""
    assert err.startswith("error: ")
    assert case.says in " ".join(err.split())  # the line may wrap on a narrow terminal
    assert "Traceback" not in err


def test_invalid_setting_is_a_workspace_problem(
    research_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "2")
    code, out, _ = cli(capsys, research_ws, "data", "list", "--json")
    assert code == ExitCode.WORKSPACE == 3
    error = json.loads(out)["error"]
    assert error["type"] == "WorkspaceError"
    assert "ALPHALOOP_HOLDOUT_FRACTION" in error["message"]


def test_failed_checks_exit_1_with_their_report(
    research_ws: Path, files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a check that finds problems: the report is the document
    code, out, _ = cli(capsys, research_ws, "data", "check", "vix", "--json")
    assert code == ExitCode.CHECK_FAILED == 1
    assert json.loads(out)["clean"] is False
    # an import refused by the checks: the error document carries the report
    bad = write_csv(tmp_path / "bad.csv", GOOD.replace("10.5,110", "10.5,-110"))
    code, out, _ = cli(capsys, research_ws, "data", "import", str(bad), "--name", "b", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert error["type"] == "DataQualityError"
    assert error["exit_code"] == 1
    assert error["report"]["issues"][0]["check"] == "negative_volume"
    assert "--repair" in error["hint"]


def test_internal_error_is_70_and_a_json_document(
    tmp_path: Path, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = tmp_path / "ws"
    assert cli(capsys, ws, "data", "import", str(files / "good.csv"), "--name", "g")[0] == 0
    (ws / "data" / "g" / "v1" / "meta.json").write_text("{not json")  # damaged behind its back
    code, out, err = cli(capsys, ws, "data", "show", "g", "--json")
    assert code == ExitCode.INTERNAL == 70
    error = json.loads(out)["error"]
    assert error["type"] == "InternalError"
    assert error["exit_code"] == 70
    assert "--debug" in error["hint"]
    code, out, err = cli(capsys, ws, "data", "show", "g")
    assert code == 70
    assert out == ""
    assert err.startswith("internal error: JSONDecodeError")


def test_success_is_0_and_help_is_0(research_ws: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, research_ws, "runs", "list", "--json")[0] == ExitCode.OK == 0
    assert cli(capsys, research_ws, "data", "--help")[0] == 0


def test_a_group_without_its_command_is_a_usage_error(
    research_ws: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, research_ws, "data")
    assert code == 2
    assert "list" in out + err  # its help, naming the commands


def test_closed_output_pipe_exits_quietly(research_ws: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "alphaloop.cli", "--workspace", str(research_ws), "data", "show",
         "sp500-stocks", "--rows", "5000", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()  # the reader goes away before anything is written
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == ExitCode.BROKEN_PIPE == 141
    assert b"Traceback" not in err


def test_subprocess_json_error_is_the_only_output(tmp_path: Path) -> None:
    proc = cli_process("--workspace", str(tmp_path / "nowhere"), "model", "list", "--json")
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["error"]["type"] == "WorkspaceNotFoundError"
    assert proc.stderr == ""
    assert not (tmp_path / "nowhere").exists()
