"""``factor mine --hypotheses llm`` and ``research improve --ideas llm`` against a local server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from alphaloop.cli import main
from alphaloop.factors.mining import planted_panel
from tests.cli.conftest import MODEL_SPEC, cli
from tests.llm.servers import ProtocolServer, Reply, openai_body, running

SMALL = ("--budget", "250", "--population", "80", "--pool", "4")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ProtocolServer]:
    with running("openai") as s:
        monkeypatch.setenv("ALPHALOOP_LLM_BASE_URL", s.url)
        monkeypatch.setenv("ALPHALOOP_LLM_MODEL", "local-model")
        monkeypatch.setenv("ALPHALOOP_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("ALPHALOOP_LLM_KNOWLEDGE_CUTOFF", "2015-10-31")
        yield s


@pytest.fixture
def ws(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    pp = planted_panel(alpha="corr_close_volume", seed=21, n_times=500, n_assets=30)
    csv = tmp_path / "planted.csv"
    pp.panel.to_long().to_csv(csv, index=False)
    root = tmp_path / "ws"
    code, _, err = cli(capsys, root, "data", "import", str(csv), "--name", "planted")
    assert code == 0, err
    return root


def hypotheses(*expressions: str) -> Reply:
    items = [
        {
            "name": f"h{i}",
            "expression": e,
            "rationale": "r",
            "expected_sign": "positive",
            "horizon": 5,
        }
        for i, e in enumerate(expressions)
    ]
    return Reply(body=openai_body(json.dumps({"hypotheses": items})))


def test_mine_with_llm_hypotheses_then_replay_without_the_server(
    ws: Path, server: ProtocolServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script = [hypotheses("Corr($close, $volume, 10)", "__import__('os')")]
    args = ("factor", "mine", "--data", "planted", *SMALL, "--hypotheses", "llm")
    code, out, err = cli(capsys, ws, *args)
    assert code in (0, 1), err
    text = " ".join(out.split())  # the console may wrap long lines
    assert "hypotheses from llm:local-model: 1 accepted" in text
    assert "1 refused by the parser" in text
    assert "from the model's hypotheses (after the cut-off 2015-10-31" in text
    assert text.index("IC after cut-off") < text.index("passes")  # the guard before the pool
    server.stop()
    code, out, err = cli(capsys, ws, *args, "--llm-cache", "replay", "--json")
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["resumed"] is True
    assert doc["hypotheses"]["accepted"][0]["expression"] == "Corr($close,$volume,10)"
    assert doc["memorisation_guard"]["span"]["cutoff"] == "2015-10-31"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--hypotheses", "gpt"), "--hypotheses must be none or llm"),
        (("--hypotheses", "llm", "--llm-cache", "maybe"), "--llm-cache must be"),
    ],
)
def test_bad_llm_options_exit_2(
    ws: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, _, err = cli(capsys, ws, "factor", "mine", "--data", "planted", *SMALL, *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_bad_llm_settings_exit_2(
    ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALPHALOOP_LLM_TIMEOUT_S", "-1")
    code, _, err = cli(
        capsys, ws, "factor", "mine", "--data", "planted", *SMALL, "--hypotheses", "llm"
    )
    assert code == 2
    assert "ALPHALOOP_LLM_TIMEOUT_S" in err
    assert "Traceback" not in err


def test_improve_with_llm_ideas(
    tmp_path: Path, server: ProtocolServer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ws"
    spec = tmp_path / "tiny.yaml"
    spec.write_text(MODEL_SPEC)
    assert main(["--workspace", str(root), "init"]) == 0
    assert main(["--workspace", str(root), "model", "train", str(spec)]) == 0
    capsys.readouterr()
    idea = {
        "kind": "hyperparameters",
        "features": None,
        "add_features": False,
        "family": None,
        "params": [{"name": "alpha", "value": 10.0}],
        "rationale": "stronger shrinkage",
    }
    server.script = [Reply(body=openai_body(json.dumps({"ideas": [idea]})))]
    code, out, err = cli(
        capsys, root, "research", "improve", "--data", "sp500-stocks", "--ref", "tiny/v1",
        "--ideas", "llm", "--json",
    )  # fmt: skip
    assert code in (0, 1), err
    (result,) = json.loads(out)
    assert result["ideas"]["used"] == "ideas"
    assert [p["source"] for p in result["proposals"]] == ["llm:local-model"]
    assert result["alpha_per_test"] == result["alpha"]  # k = 1
