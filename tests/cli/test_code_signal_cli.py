"""Code signals through the command line: ``backtest``, ``validate`` and ``lookahead`` on a
spec file with ``signal: {code: |...}`` (bundled sp500-stocks), and ``generate
--allow-code`` with a model (a real HTTP server) that writes code."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from alphaloop.backtest import load_spec
from alphaloop.cli import main
from tests.app.generate_support import DATA, DRAFT, planted_workspace
from tests.llm.servers import Reply, openai_body, running

MOMENTUM = """\
def signal(close, high=None, low=None, volume=None, open=None):
    out = np.full_like(close, np.nan)
    out[20:] = close[20:] / close[:-20] - 1
    return out
"""
PEEKING = """\
def signal(close, high=None, low=None, volume=None, open=None):
    return np.roll(close, -1, axis=0) / close - 1
"""
MALICIOUS = """\
import os
def signal(close):
    os.system("touch /tmp/pwned")
    return close
"""


def write_spec(path: Path, code: str) -> Path:
    body = textwrap.indent(code, "    ")
    path.write_text(
        "name: code-momentum\n"
        "data: sp500-stocks\n"
        'start: "2001-01-01"\n'
        'end: "2002-12-31"\n'
        "signal:\n"
        "  code: |\n"
        f"{body}"
        "portfolio: {method: top_k, k: 5}\n"
        "rebalance: {frequency: quarterly}\n"
        "fills: next_close\n"
    )
    return path


def cli(capsys, ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_backtest_validate_and_scan_a_code_spec_file(tmp_path: Path, capsys) -> None:
    ws = tmp_path / "ws"
    spec_file = write_spec(tmp_path / "code.yaml", MOMENTUM)
    spec = load_spec(spec_file)
    code, out, err = cli(capsys, ws, "backtest", str(spec_file), "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["metrics"]["cost_drag_annual"] > 0
    code, out, err = cli(capsys, ws, "validate", str(spec_file), "--json")
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["spec_hash"] == spec.hash
    assert doc["n_trials"] >= 1
    code, out, err = cli(capsys, ws, "lookahead", str(spec_file), "--points", "4", "--json")
    assert code == 0, err
    assert json.loads(out)["clean"] is True


def test_a_peeking_code_spec_fails_the_scan(tmp_path: Path, capsys) -> None:
    spec_file = write_spec(tmp_path / "peek.yaml", PEEKING)
    code, out, err = cli(
        capsys, tmp_path / "ws", "lookahead", str(spec_file), "--points", "4", "--json"
    )
    assert code == 1, err
    assert json.loads(out)["clean"] is False


def test_malicious_code_exits_2_before_anything_runs(tmp_path: Path, capsys) -> None:
    ws = tmp_path / "ws"
    spec_file = write_spec(tmp_path / "bad.yaml", MALICIOUS)
    for command in ("backtest", "validate", "lookahead"):
        code, _, err = cli(capsys, ws, command, str(spec_file))
        assert code == 2
        assert "signal.code" in err
        assert "import of os" in err
        assert "Traceback" not in err
    assert not Path("/tmp/pwned").exists()
    assert not ws.exists()  # refused before a workspace was even opened: nothing ran


def test_a_code_spec_that_fails_at_run_time_exits_2_naming_signal_code(
    tmp_path: Path, capsys
) -> None:
    failing = "def signal(close):\n    return close[:, :2]\n"
    spec_file = write_spec(tmp_path / "fail.yaml", failing)
    code, out, err = cli(capsys, tmp_path / "ws", "backtest", str(spec_file), "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert error["type"] == "CodeSignalError"
    assert error["path"] == "signal.code"
    assert error["reason"] == "SandboxOutputError"
    assert "Traceback" not in err


# ------------------------------------------------------------------ generate --allow-code
CODE_DRAFT = {
    **DRAFT,
    "name": "llm-code-momentum",
    "signal": {"kind": "code", "code": MOMENTUM},
    "rebalance": "monthly",
}


@pytest.fixture
def gen_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in list(os.environ):
        if key.startswith("ALPHALOOP_LLM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    planted_workspace(tmp_path).close()
    return str(tmp_path / "ws")


def _generate(capsys, monkeypatch, root: str, draft: dict, *extra: str):
    with running("openai") as server:
        server.default = Reply(body=openai_body(json.dumps(draft)))
        monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ALPHALOOP_LLM_MODEL", "local-model")
        monkeypatch.setenv("ALPHALOOP_LLM_MAX_RETRIES", "0")
        code = main(["--workspace", root, "generate", "momentum", "--data", DATA, *extra])
        requests = list(server.requests)
    captured = capsys.readouterr()
    return code, captured.out, captured.err, requests


def _system_prompt(request) -> str:
    return request["body"]["messages"][0]["content"]


@pytest.mark.slow
def test_generate_allow_code_scans_backtests_and_validates_model_written_code(
    gen_root: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err, requests = _generate(
        capsys, monkeypatch, gen_root, CODE_DRAFT, "--allow-code", "--json"
    )
    assert code in (0, 1), err
    assert "def signal(close" in _system_prompt(requests[0])
    doc = json.loads(out)
    assert doc["signal_origin"] == "model_code"
    assert doc["source"]["origin"] == "llm"
    assert doc["spec"]["signal"]["code"] == MOMENTUM
    assert doc["lookahead"]["clean"] is True
    assert doc["metrics"] is not None  # scanned, backtested and validated like any spec
    assert doc["n_trials"] == 1
    assert any("model-written Python code" in a for a in doc["assumptions"])
    from alphaloop.cli.generate import _print

    _print(doc)
    shown = capsys.readouterr().out
    assert "signal: model-written Python code (4 lines), run in the sandbox:" in shown
    assert "out[20:] = close[20:] / close[:-20] - 1" in shown


@pytest.mark.slow
def test_generate_stops_model_written_code_that_peeks(
    gen_root: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    peeking = {**CODE_DRAFT, "signal": {"kind": "code", "code": PEEKING}}
    code, out, _, _ = _generate(capsys, monkeypatch, gen_root, peeking, "--allow-code", "--json")
    doc = json.loads(out)
    assert code == 1
    assert doc["signal_origin"] == "model_code"
    assert doc["status"] == "lookahead"
    assert doc["lookahead"]["clean"] is False
    assert doc["metrics"] is None  # never backtested
