"""``alphaloop evolve``: text and JSON reports, reproducible runs, trials counted once."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.cli.conftest import cli

ARGS = ("evolve", "--data", "vix", "--population", "5", "--generations", "3", "--seed", "4")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("evolve") / "ws"
    assert main(["--workspace", str(root), "init"]) == 0
    assert main(["--workspace", str(root), "holdout", "set", "vix", "--fraction", "0.2"]) == 0
    return root


def test_json_report_is_reproducible_and_counts_trials_once(
    capsys: pytest.CaptureFixture[str], ws: Path
) -> None:
    code, out, _ = cli(capsys, ws, *ARGS, "--survivors", "3", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["status"] == "completed"
    assert doc["n_generations"] == 3
    assert doc["n_trials"] >= doc["n_evaluations"] >= 5
    assert doc["dataset_trials"] == doc["n_evaluations"]  # a fresh workspace: these are all
    assert doc["search_span"]["end"] < doc["validation_tail"]["start"]
    assert doc["validation_tail"]["end"][:10] < doc["holdout_from"]
    best = [g["best_fitness"] for g in doc["generations"]]
    assert best == sorted(best)
    assert len(doc["survivors"]) == 3
    for s in doc["survivors"]:
        assert set(s["search"]) >= {"sharpe", "dsr"}
        assert s["validation_tail"]["sharpe"] is not None
        assert s["verdict"] in ("holds", "weakens", "collapses", "no edge")
    code, out2, _ = cli(capsys, ws, *ARGS, "--survivors", "3", "--json")
    again = json.loads(out2)
    assert again["generations"] == doc["generations"]
    assert again["survivors"] == doc["survivors"]
    assert again["dataset_trials"] == doc["dataset_trials"]  # the same specs: no new trials


def test_text_report(capsys: pytest.CaptureFixture[str], ws: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = cli(capsys, ws, *ARGS)
    assert code == 0
    assert "generation 3/3" in out
    assert "DSR deflated for" in out
    assert "validation tail" in out
    assert "survivors (search span selects" in out
    assert "note: the sealed holdout from" in out


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--data", "vix", "--population", "2"], "population must be >= 4"),
        (["--data", "vix", "--generations", "0"], "generations must be >= 1"),
        (["--data", "vix", "--styles", "astrology"], "unknown or repeated"),
        (["--data", "vix", "--styles", "market_making"], "cannot support"),
        (["--data", "fama-french"], "has no close field"),
        (["--data", "nope"], "nope"),
        (["--data", "vix", "--seed", "x"], "--seed"),
        (["--data", "vix", "--seed", "-1"], "seed must be >= 0"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], ws: Path, args: list[str], match: str
) -> None:
    code, out, err = cli(capsys, ws, "evolve", *args)
    assert code == 2
    assert match in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, ws, "evolve", *args, "--json")
    assert code == 2
    assert match in json.loads(out)["error"]["message"]


def test_ctrl_c_stops_after_the_generation_and_reports(
    capsys: pytest.CaptureFixture[str], ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import alphaloop.app.evolution as app_evolution

    real = app_evolution.evolve_dataset

    def with_ctrl_c(*args, on_generation=None, **kwargs):  # type: ignore[no-untyped-def]
        def hook(gen, new):  # type: ignore[no-untyped-def]
            on_generation(gen, new)
            if gen.index == 0:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C during the first generation

        return real(*args, on_generation=hook, **kwargs)

    monkeypatch.setattr(app_evolution, "evolve_dataset", with_ctrl_c)
    code, out, _ = cli(capsys, ws, *ARGS, "--json")
    assert code == 130
    doc = json.loads(out)
    assert doc["status"] == "interrupted"
    assert doc["n_generations"] == 1
    assert doc["survivors"]
    assert any("interrupted after generation 1 of 3" in c for c in doc["caveats"])
