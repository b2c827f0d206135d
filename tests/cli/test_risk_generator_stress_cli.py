"""``alphaloop risk report --stress-generator``: a Monte Carlo over SYNTHETIC paths, labelled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli
from tests.cli.test_risk_cli import SPEC


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole output lines are matched: a console as wide as they are (another test in the
    same worker may have left a narrow one)."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a normal generator fitted on the 20 stocks."""
    from alphaloop.cli import main

    root = tmp_path_factory.mktemp("riskgen") / "ws"
    assert main(["--workspace", str(root), "init"]) == 0
    code = main([
        "--workspace", str(root), "synth", "fit", "all20", "--data", "sp500-stocks",
        "--generator", "normal", "--start", "2010-01-01",
    ])  # fmt: skip
    assert code == 0
    return root


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "momentum.yaml"
    path.write_text(SPEC)
    return path


def test_stored_generator_in_json_and_html(
    capsys: pytest.CaptureFixture[str], ws: Path, spec: Path, tmp_path: Path
) -> None:
    page = tmp_path / "risk.html"
    code, out, err = cli(
        capsys, ws, "risk", "report", str(spec), "--stress-generator", "all20", "--paths", "300",
        "--seed", "4", "--max-loss", "0.05", "--report", str(page), "--json",
    )  # fmt: skip
    assert code == 0, err
    gen = json.loads(out)["stress"]["generator"]
    assert gen["synthetic"] is True
    assert gen["label"].startswith("SYNTHETIC")
    assert (gen["generator"], gen["kind"], gen["source"]) == ("all20", "normal", "stored")
    mc = gen["monte_carlo"]
    assert mc["n_paths"] == 300
    assert mc["horizon"] == 21
    assert mc["seed"] == 4
    assert "max_loss" in mc["breach_probability"]
    # top-5 momentum holds five stocks, all of them in the generator
    assert len(gen["weights"]) == 5
    assert gen["left_out"] == {}
    assert 0.9 < sum(gen["weights"].values()) <= 1.0 + 1e-9
    html = page.read_text()
    assert 'id="generator-stress"' in html
    assert "SYNTHETIC" in html


def test_a_kind_is_fitted_on_the_held_assets(
    capsys: pytest.CaptureFixture[str], ws: Path, spec: Path
) -> None:
    code, out, err = cli(
        capsys, ws, "risk", "report", str(spec), "--stress-generator", "bootstrap",
        "--paths", "200",
    )  # fmt: skip
    assert code == 0, err
    line = next(x for x in out.splitlines() if "generator 'bootstrap'" in x)
    assert line.startswith("SYNTHETIC")
    assert "fitted on the strategy's data" in line
    assert "200 paths of 21 bars" in line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--stress-generator", "nope"), "neither a fitted generator nor a generator kind"),
        (("--stress-generator", "normal", "--paths", "5"), "between 100"),
    ],
)
def test_bad_options_exit_2(
    capsys: pytest.CaptureFixture[str], ws: Path, spec: Path, args: tuple[str, ...], message: str
) -> None:
    code, out, err = cli(capsys, ws, "risk", "report", str(spec), *args)
    assert code == 2
    assert message in err + out
    assert "Traceback" not in err
