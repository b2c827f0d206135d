"""``alphaloop synth`` with the GAN: listed, fitted (a tiny configuration), sampled, scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli

pytest.importorskip("torch")

TINY = "steps=3,hidden=4,n_layers=2,window=8,batch_size=4,seed=2"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("gan") / "ws"
    assert main(["--workspace", str(root), "init"]) == 0
    return root


def test_fit_sample_score(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, _ = cli(capsys, ws, "synth", "fit", "--help")
    assert code == 0
    assert "gan" in out
    code, out, err = cli(
        capsys, ws, "synth", "fit", "g", "--data", "sp500-stocks", "--generator", "gan",
        "--start", "2018-01-01", "--assets", "AAPL,JPM,XOM", "--params", TINY, "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["kind"] == "gan"
    assert doc["params"]["steps"] == 3
    assert doc["params"]["seed"] == 2
    assert {"critic_loss", "generator_loss"} <= set(doc["fitted"])
    code, out, _ = cli(capsys, ws, "synth", "list")
    assert "gan" in out
    runs = []
    for _ in range(2):
        code, out, err = cli(
            capsys, ws, "synth", "sample", "g", "--paths", "3", "--length", "40", "--seed", "5",
            "--json",
        )  # fmt: skip
        assert code == 0, err
        runs.append(json.loads(out))
    assert runs[0] == runs[1]
    assert runs[0]["kind"] == "gan"
    assert runs[0]["synthetic"] is True
    code, out, err = cli(capsys, ws, "synth", "score", "g", "--paths", "2", "--json")
    assert code == 0, err
    assert "g" in json.dumps(json.loads(out))


def test_bad_gan_parameter_exits_2(capsys: pytest.CaptureFixture[str], ws: Path) -> None:
    code, out, err = cli(
        capsys, ws, "synth", "fit", "bad", "--data", "sp500-stocks", "--generator",
        "gan", "--start", "2018-01-01", "--params", "window=8,n_layers=3",
    )  # fmt: skip
    assert code == 2
    assert "receptive field" in err + out
    assert "Traceback" not in err
