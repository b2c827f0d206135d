"""``alphaloop research --policy llm``: options refused before any work, a replay miss is a
clean error, and a session against a local OpenAI-protocol server shows the guard first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from tests.research.llm_support import researcher

from .conftest import cli

ARGS = (
    "--goal", "technical only, long-only, monthly", "--data", "sp500-stocks",
    "--policy", "llm", "--no-ml", "--workers", "1", "--budget", "4", "--batch-size", "4",
    "--picks", "0",
)  # fmt: skip


@pytest.fixture
def ws_path(tmp_path: Path) -> Path:
    with Workspace(tmp_path / "ws", holdout_fraction=0.2) as ws:
        ws.data.ensure_bundled()
    return tmp_path / "ws"


def _sessions(ws_path: Path) -> list[dict]:
    with Workspace(ws_path, create=False) as ws:
        return ws.strategies.sessions()


@pytest.mark.parametrize(
    ("extra", "env", "needle"),
    [
        (("--policy", "gpt"), {}, "policy"),
        (("--llm-cache", "later"), {}, "--llm-cache"),
        ((), {"ALPHALOOP_LLM_PROVIDER": "bogus"}, "ALPHALOOP_LLM_PROVIDER"),
    ],
)
def test_bad_llm_options_are_refused_before_any_work(
    ws_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
    env: dict[str, str],
    needle: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, _, err = cli(capsys, ws_path, "research", *ARGS, *extra)
    assert code not in (0, 1)
    assert needle in err
    assert "Traceback" not in err
    assert _sessions(ws_path) == []


def test_a_replay_miss_stops_the_session_cleanly(
    ws_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    cache = tmp_path / "empty.sqlite"
    code, _, err = cli(
        capsys, ws_path, "research", *ARGS, "--llm-cache", "replay", "--llm-cache-file", str(cache)
    )
    assert code not in (0, 1)
    assert "not in the response cache" in err
    assert "Traceback" not in err
    assert [s["status"] for s in _sessions(ws_path)] == ["failed"]


def test_an_llm_session_through_the_command_line(
    ws_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    with researcher() as server:
        monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", server.url)
        monkeypatch.setenv("ALPHALOOP_LLM_MODEL", "local-researcher")
        monkeypatch.setenv("ALPHALOOP_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("ALPHALOOP_LLM_KNOWLEDGE_CUTOFF", "2012-01-01")
        code, out, err = cli(capsys, ws_path, "research", *ARGS)
        assert code in (0, 1), err
        assert "proposals by origin: llm 4" in out
        assert "knowledge cut-off 2012-01-01" in out
        assert out.index("post-cut-off Sharpe") < out.index("search Sharpe")
        code, out, _ = cli(capsys, ws_path, "research", *ARGS, "--seed", "1", "--json")
    doc = json.loads(out)
    assert doc["session"]["config"]["policy"] == "llm"
    assert doc["session"]["config"]["llm"]["model"] == "local-researcher"
    assert doc["llm"]["origins"] == {"llm": 4}
    assert (ws_path / "llm" / "cache.sqlite").exists()
