"""Progress: long work reports each unit; bars show on a terminal only, never with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alphaloop.app import Workspace
from alphaloop.app.backtests import scan_spec
from alphaloop.app.factors import analyze_dataset
from alphaloop.app.models import train_from_spec
from alphaloop.app.validation import validate_spec
from alphaloop.backtest.spec import quick_spec
from alphaloop.models.spec import ModelSpec
from alphaloop.progress import no_progress, stage, track
from tests.cli.conftest import MODEL_SPEC, Terminal, cli_process

MOMENTUM = "Ref($close, 21) / Ref($close, 126) - 1"


class Recorder:
    """A progress callback that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, step: str, done: int, total: int | None = None) -> None:
        self.calls.append((step, done, total))

    def of(self, step: str) -> list[tuple[int, int | None]]:
        return [(d, t) for s, d, t in self.calls if s == step]


def _counts_up(calls: list[tuple[int, int | None]]) -> None:
    """From 0 (or 1) to the total, one unit at a time, the total fixed."""
    assert calls, "no report"
    done = [d for d, _ in calls]
    assert done == sorted(done)
    assert done[-1] == calls[-1][1]
    assert len({t for _, t in calls}) == 1


def test_track_and_stage_report_each_unit() -> None:
    rec = Recorder()
    assert list(track(iter("abc"), "letters", rec)) == ["a", "b", "c"]  # no len: no total
    assert rec.calls == [("letters", 0, None), ("letters", 1, None), ("letters", 2, None),
                         ("letters", 3, None)]  # fmt: skip
    report = stage(rec, "scan")
    report(2, 5)
    assert rec.calls[-1] == ("scan", 2, 5)
    assert no_progress("x", 1, 2) is None
    stage(None, "quiet")(1, 1)  # no callback: nothing to call, no error


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("progress") / "ws"
    return Workspace(root)


def test_factor_analysis_reports_each_factor(ws: Workspace) -> None:
    rec = Recorder()
    result = analyze_dataset(
        ws.data, "alpha158-close", "sp500-stocks", market=None, known=[], progress=rec
    )
    assert rec.of("evaluating 75 factor(s)") == [(0, 1), (1, 1)]
    analyzed = rec.of("analyzing factors")
    assert analyzed == [(i, 75) for i in range(76)]
    assert len(result.reports) == 75


def test_lookahead_scan_reports_each_rerun(ws: Workspace) -> None:
    rec = Recorder()
    report = scan_spec(ws, quick_spec(MOMENTUM, "sp500-stocks", fills="next_close"),
                       n_points=4, progress=rec)  # fmt: skip
    reruns = rec.of("lookahead scan: re-runs")
    _counts_up(reruns)
    assert reruns[-1][1] == 1 + len(report.checked_points) + len(report.warmups)


def test_validation_reports_its_stages(ws: Workspace) -> None:
    rec = Recorder()
    validate_spec(ws, quick_spec(MOMENTUM, "sp500-stocks", fills="next_close"), progress=rec)
    assert rec.of("validation: backtest") == [(0, 1), (1, 1)]
    family = rec.of("validation: backtesting the trial family")
    _counts_up(family)
    assert family[-1][1] >= 1
    assert rec.of("validation: statistics") == [(i, 4) for i in range(5)]
    steps = [s for s, _, _ in rec.calls]
    assert steps.index("validation: backtest") < steps.index("validation: statistics")


def test_training_reports_each_fit(ws: Workspace) -> None:
    import yaml

    rec = Recorder()
    spec = ModelSpec.from_dict({**yaml.safe_load(MODEL_SPEC), "name": "tiny-progress"})
    train_from_spec(ws, spec, progress=rec)
    assert rec.of("building features and labels") == [(0, 1), (1, 1)]
    fits = rec.of("training: fold models, then the final model")
    assert fits == [(i, 4) for i in range(5)]  # 3 folds and the final model


def test_bars_on_a_terminal_and_quiet_otherwise(research_ws: Path) -> None:
    args = ("--workspace", str(research_ws), "factor", "analyze", MOMENTUM,
            "--data", "sp500-stocks", "--market", "none", "--known", "none")  # fmt: skip
    term = Terminal(*args)
    assert term.finish() == 0
    assert "analyzing factors" in term.text  # the bar was drawn
    assert "IC " in term.text
    quiet = Terminal(*args, "--json")  # --json: no bars even on a terminal
    assert quiet.finish() == 0
    assert "analyzing factors" not in quiet.text
    assert json.loads(quiet.text)["n_factors_tested"] == 1
    piped = cli_process(*args)  # not a terminal: no bars
    assert piped.returncode == 0
    assert piped.stderr == ""
    assert "analyzing factors" not in piped.stdout
