"""``alphaloop generate`` through the command line: JSON, terminal, report, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from alphaloop.cli import main
from tests.app.generate_support import DATA, DRAFT, planted_workspace
from tests.llm.servers import Reply, openai_body, running


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for key in list(os.environ):
        if key.startswith("ALPHALOOP_LLM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
    planted_workspace(tmp_path).close()
    return str(tmp_path / "ws")


def _run(capsys, root: str, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", root, "generate", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_offline_json_and_report(root: str, capsys, tmp_path: Path) -> None:
    report = tmp_path / "gen.html"
    code, out, _ = _run(
        capsys, root, "12-day momentum, top 3, weekly", "--data", DATA, "--json",
        "--report", str(report), "--seed", "3",
    )  # fmt: skip
    doc = json.loads(out)
    assert next(iter(doc)) == "post_cutoff"
    assert doc["post_cutoff"]["available"] is False
    assert "no knowledge cut-off" in doc["post_cutoff"]["reason"]
    assert doc["source"]["reason"] == "no language model is configured"
    assert doc["spec"]["signal"]["expr"] == "$close/Ref($close, 12)-1"
    assert doc["n_trials"] == 1
    assert code == (0 if doc["status"] == "validated" else 1)
    page = report.read_text()
    assert page.index('id="post-cutoff"') < page.index('id="assumptions"')
    assert doc["report"] == str(report)


def test_terminal_output_shows_the_post_cutoff_line_first(
    root: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("openai") as server:
        server.default = Reply(body=openai_body(json.dumps(DRAFT)))
        monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ALPHALOOP_LLM_MODEL", "local-model")
        monkeypatch.setenv("ALPHALOOP_LLM_KNOWLEDGE_CUTOFF", "2017-01-01")
        monkeypatch.setenv("ALPHALOOP_LLM_MAX_RETRIES", "0")
        code, out, err = _run(capsys, root, "one-month momentum", "--data", DATA)
    assert code in (0, 1)
    lines = out.splitlines()
    assert lines[0].startswith("after the knowledge cut-off (2017-01-02 to")
    assert "drafted by the language model local-model" in out
    assert "one month is 21 bars" in out
    assert "Traceback" not in err
    # --offline never asks the configured model
    with running("openai") as server:
        monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", server.url)
        code, out, _ = _run(capsys, root, "low volatility", "--data", DATA, "--offline")
        assert server.requests == []
    assert "--offline was given" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "--data", DATA), "empty"),
        (("momentum", "--data", "nope"), "dataset 'nope'"),
        (("make me rich", "--data", DATA), "no strategy signal recognised"),
    ],
)
def test_bad_input_exits_2_without_a_traceback(root: str, capsys, args, message: str) -> None:
    code, out, err = _run(capsys, root, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    code, out, _ = _run(capsys, root, *args, "--json")
    assert code == 2
    assert message in json.loads(out)["error"]["message"]


def test_a_failing_model_and_an_unreadable_idea_exit_2(
    root: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running("openai") as server:
        server.default = Reply(body=openai_body("no idea"))
        monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ALPHALOOP_LLM_MAX_RETRIES", "0")
        code, _, err = _run(capsys, root, "make me rich", "--data", DATA)
        assert len(server.requests) == 2  # the answer and its repair round, then the parser
    assert code == 2
    assert "no strategy signal recognised" in err
    assert "Traceback" not in err
