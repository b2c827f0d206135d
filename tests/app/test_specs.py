"""Resolving specs: the quick form, spec files with overrides, recorded runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import run_backtest
from alphaloop.app.specs import (
    QUICK_DEFAULTS,
    override_spec,
    resolve_run_spec,
    resolve_spec,
)
from alphaloop.backtest.spec import StrategySpec, quick_spec
from alphaloop.cli import main
from alphaloop.errors import SpecError

MOM = "Ref($close, 21) / Ref($close, 126) - 1"
BASE = {
    "name": "file momentum",
    "data": "sp500-stocks",
    "start": "2012-01-01",
    "end": "2013-12-31",
    "signal": {"expr": MOM},
    "portfolio": {"k": 4},
    "fills": "next_close",
}


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "mom.yaml"
    path.write_text(StrategySpec.from_dict(BASE).to_yaml())
    return path


def test_quick_form_fills_the_defaults() -> None:
    resolved = resolve_spec(None, MOM, "sp500-stocks")
    assert resolved.spec.hash == quick_spec(MOM, "sp500-stocks").hash
    assert resolved.spec.portfolio.k == QUICK_DEFAULTS["top_k"]
    assert resolved.overrides == {}
    assert resolved.overrides_line() is None
    given = resolve_spec(None, MOM, "sp500-stocks", top_k=3, fills="next_close")
    assert given.spec.hash == quick_spec(MOM, "sp500-stocks", top_k=3, fills="next_close").hash


def test_file_options_override_and_change_the_hash(spec_file: Path) -> None:
    plain = resolve_spec(spec_file)
    assert plain.spec.hash == StrategySpec.from_dict(BASE).hash
    assert plain.overrides == {}
    resolved = resolve_spec(spec_file, fills="same_close", start="2013-01-01", top_k=2)
    spec = resolved.spec
    assert spec.fills.value == "same_close"
    assert str(spec.start) == "2013-01-01"
    assert spec.portfolio.k == 2
    assert spec.name == "file momentum"
    expected = StrategySpec.from_dict(
        {**BASE, "fills": "same_close", "start": "2013-01-01", "portfolio": {"k": 2}}
    )
    assert spec.hash == expected.hash != plain.spec.hash
    line = "overrides: top_k=2, fills=same_close, start=2013-01-01"
    assert resolved.overrides_line() == line
    assert line in spec.description  # recorded with the spec


def test_an_option_given_with_its_default_value_still_overrides(spec_file: Path) -> None:
    # the file says next_close; --fills next_open is the quick form's default value
    resolved = resolve_spec(spec_file, fills="next_open", rebalance="monthly")
    assert resolved.spec.fills.value == "next_open"
    assert resolved.overrides == {"rebalance": "monthly", "fills": "next_open"}


def test_options_that_make_no_sense_with_a_file_are_refused(spec_file: Path) -> None:
    with pytest.raises(SpecError, match="not both"):
        resolve_spec(spec_file, expr=MOM)
    with pytest.raises(SpecError, match="not both"):
        resolve_spec(spec_file, data="sp500-stocks")
    long_short = StrategySpec.from_dict(
        {
            **BASE,
            "portfolio": {"method": "quantile_long_short"},
            "limits": {"allow_short": True},
        }
    )
    with pytest.raises(SpecError, match="--top-k applies to portfolio method top_k"):
        override_spec(long_short, source="ls.yaml", top_k=3)
    with pytest.raises(SpecError, match=r"--weighting best.*portfolio\.weighting: 'best'"):
        resolve_spec(spec_file, weighting="best")
    with pytest.raises(SpecError, match="is before start"):
        resolve_spec(spec_file, start="2015-01-01")
    with pytest.raises(SpecError, match="nothing to run"):
        resolve_spec(None, top_k=3)


def test_overrides_of_a_recorded_run(shared_workspace: Workspace) -> None:
    ws = shared_workspace
    result = run_backtest(ws, StrategySpec.from_dict(BASE))
    resolved = resolve_run_spec(ws, result.run_id, fills="next_open", end="2013-06-30")
    assert resolved.source == f"run {result.run_id}"
    assert resolved.spec.fills.value == "next_open"
    assert str(resolved.spec.end) == "2013-06-30"
    assert resolve_run_spec(ws, result.run_id).spec.hash == result.spec_hash
    with pytest.raises(SpecError, match="run id or --expr/--data"):
        resolve_run_spec(ws, result.run_id, expr=MOM)


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_backtest_applies_and_reports_overrides(
    capsys: pytest.CaptureFixture[str], shared_workspace: Workspace, spec_file: Path
) -> None:
    args = ("backtest", str(spec_file), "--fills", "next_open", "--start", "2013-01-01")
    code, _, err = cli(capsys, shared_workspace, *args)
    assert code == 2  # the override is applied: sp500-stocks has no open to fill at
    assert "need an 'open' field" in err
    args = ("backtest", str(spec_file), "--top-k", "3", "--start", "2013-01-01")
    code, out, err = cli(capsys, shared_workspace, *args, "--json")
    assert code == 0, err
    doc = json.loads(out)
    expected = StrategySpec.from_dict({**BASE, "start": "2013-01-01", "portfolio": {"k": 3}})
    assert doc["spec_hash"] == expected.hash
    assert doc["overrides"] == {"top_k": "3", "start": "2013-01-01"}
    assert doc["period"]["start"] >= "2013-01-01"
    recorded = shared_workspace.runs.get(doc["run_id"])["params"]["spec"]
    assert recorded["portfolio"]["k"] == 3
    assert "overrides: top_k=3, start=2013-01-01" in recorded["description"]
    code, out, err = cli(capsys, shared_workspace, *args)
    assert code == 0, err
    assert "overrides: top_k=3, start=2013-01-01" in out.splitlines()[1]


def test_cli_lookahead_takes_overrides(
    capsys: pytest.CaptureFixture[str], shared_workspace: Workspace, spec_file: Path
) -> None:
    code, out, err = cli(
        capsys, shared_workspace, "lookahead", str(spec_file), "--top-k", "20",
        "--points", "3", "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["overrides"] == {"top_k": "20"}
    assert doc["spec_hash"] == StrategySpec.from_dict({**BASE, "portfolio": {"k": 20}}).hash
    code, _, err = cli(capsys, shared_workspace, "lookahead", str(spec_file), "--top-k", "21")
    assert code == 2
    assert "portfolio.k is 21" in err
    assert "has 20 assets" in err


@pytest.mark.slow
def test_cli_validate_takes_overrides(
    capsys: pytest.CaptureFixture[str], shared_workspace: Workspace, spec_file: Path
) -> None:
    code, out, err = cli(
        capsys, shared_workspace, "validate", str(spec_file), "--rebalance", "weekly", "--json"
    )
    assert code in (0, 1), err
    doc = json.loads(out)
    assert doc["overrides"] == {"rebalance": "weekly"}
    expected = StrategySpec.from_dict({**BASE, "rebalance": {"frequency": "weekly"}})
    assert doc["spec_hash"] == expected.hash
