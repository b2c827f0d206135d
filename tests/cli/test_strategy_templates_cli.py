"""``alphaloop strategy templates`` and ``strategy new``: the catalog, the written spec, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from alphaloop.backtest import load_spec
from alphaloop.strategies import TEMPLATES
from tests.cli.conftest import cli


@pytest.fixture(scope="module")
def bundled_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from alphaloop.app import Workspace

    root = tmp_path_factory.mktemp("templates") / "ws"
    with Workspace(root) as ws:
        ws.data.ensure_bundled()
    return root


def test_templates_lists_every_template_with_its_parameters(
    capsys: pytest.CaptureFixture[str], bundled_ws: Path
) -> None:
    code, out, err = cli(capsys, bundled_ws, "strategy", "templates", "--json")
    assert code == 0, err
    catalog = {t["name"]: t for t in json.loads(out)["templates"]}
    assert set(catalog) == set(TEMPLATES)
    xs = catalog["xs_momentum"]
    assert {p["name"] for p in xs["parameters"]} == {"lookback", "skip"}
    assert xs["output"] == "signal"
    assert xs["assumes"]
    assert xs["pitfalls"]
    lookback = next(p for p in xs["parameters"] if p["name"] == "lookback")
    assert lookback["default"] == 252
    assert 126 in lookback["grid"]
    code, out, _ = cli(capsys, bundled_ws, "strategy", "templates", "--verbose")
    assert code == 0
    assert "xs_momentum" in out
    assert "pitfall:" in out


def test_new_writes_a_spec_that_backtests(
    capsys: pytest.CaptureFixture[str], bundled_ws: Path, tmp_path: Path
) -> None:
    path = tmp_path / "mom.yaml"
    code, out, err = cli(
        capsys, bundled_ws, "strategy", "new", "xs_momentum", "--data", "sp500-stocks",
        "--set", "lookback=126", "--set", "portfolio.k=4", "--set", "rebalance.frequency=weekly",
        "--out", str(path),
    )  # fmt: skip
    assert code == 0, err
    assert f"wrote {path}" in out
    text = path.read_text()
    assert text.startswith("# Cross-sectional momentum")
    spec = load_spec(path)
    assert spec.template is not None
    assert spec.template.lookback == 126
    assert spec.portfolio.k == 4
    assert spec.rebalance.frequency == "weekly"
    assert spec.fills.value == "next_close"  # sp500-stocks has no opens
    assert yaml.safe_load(text)["template"]["template"] == "xs_momentum"
    code, out, err = cli(capsys, bundled_ws, "backtest", str(path), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["spec_hash"] == spec.hash
    assert result["assumptions"]["template"]["template"] == "xs_momentum"


def test_new_refuses_bad_input_and_keeps_an_existing_file(
    capsys: pytest.CaptureFixture[str], bundled_ws: Path, tmp_path: Path
) -> None:
    path = tmp_path / "kept.yaml"
    path.write_text("mine\n")
    base = ("strategy", "new", "xs_momentum", "--data", "sp500-stocks", "--out", str(path))
    code, _, err = cli(capsys, bundled_ws, *base)
    assert code == 2
    assert "exists; not overwriting" in err
    assert "Traceback" not in err
    assert path.read_text() == "mine\n"
    cases = {
        ("--set", "bogus=1"): "neither a parameter of template xs_momentum",
        ("--set", "lookback"): "is not key=value",
        ("--set", "skip=300"): "skip (300) must be below lookback (252)",
        ("--set", "lookback=-4"): "lookback",
    }
    for extra, message in cases.items():
        code, _, err = cli(capsys, bundled_ws, *base, "--force", *extra)
        assert code == 2, (extra, err)
        assert message in err, (extra, err)
        assert path.read_text() == "mine\n"
    code, _, err = cli(
        capsys, bundled_ws, "strategy", "new", "nope", "--data", "sp500-stocks", "--out", str(path)
    )
    assert code == 2
    assert "unknown strategy template 'nope'" in err
    code, _, err = cli(
        capsys, bundled_ws, "strategy", "new", "xs_momentum", "--data", "absent", "--out",
        str(tmp_path / "x.yaml"),
    )  # fmt: skip
    assert code == 2
    assert "absent" in err
