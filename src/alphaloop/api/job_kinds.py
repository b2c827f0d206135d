"""What a background job can be: one function per kind, over the workspace, run in a worker.

Each kind is ``fn(ws, params, progress) -> dict``: the same application
calls the CLI and the MCP server make (no logic of its own here), with
``progress`` (see :mod:`alphaloop.progress`) reported to the job's record.
Parameters arrive as plain JSON (already validated by the route's request
model). The mapping is explicit so that grep finds every kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from alphaloop.progress import Progress

if TYPE_CHECKING:
    from alphaloop.app import Workspace

__all__ = ["JOB_KINDS", "JobFn", "JobProgress"]


class JobProgress(Progress, Protocol):
    """What a job reports: ``progress(step, done, total)`` (see :mod:`alphaloop.progress`)
    and ``progress.note(detail)`` for a JSON-ready summary of the work so far (a research
    session's batch: candidates evaluated, passed, rejections by reason, the best so far)."""

    def note(self, detail: dict[str, Any]) -> None: ...


JobFn = Callable[["Workspace", dict[str, Any], JobProgress], dict[str, Any]]


def _spec(params: dict[str, Any]) -> Any:
    from alphaloop.backtest import StrategySpec

    return StrategySpec.from_dict(params["spec"], source="spec")


def factor_evaluate(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Evaluate one factor expression: coverage and summary statistics."""
    from alphaloop.app import evaluate_dataset

    progress("evaluating factor", 0, 1)
    expr = params["expression"]
    result = evaluate_dataset(
        ws.data,
        {expr: expr},
        params["data"],
        start=params.get("start"),
        end=params.get("end"),
        mode=params.get("compat", "strict"),
        workspace=ws,
    )
    progress("evaluating factor", 1, 1)
    summary = result.summary()
    summary["factor"] = summary.pop("factors")[expr]
    return summary


def factor_analyze(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Analyze a factor or a library against forward returns on the search span."""
    from alphaloop.app import analyze_dataset

    result = analyze_dataset(
        ws.data,
        params["target"],
        params["data"],
        horizon=params.get("horizon", 1),
        quantiles=params.get("quantiles", 5),
        start=params.get("start"),
        end=params.get("end"),
        mode=params.get("compat", "strict"),
        library_root=ws.root,
        workspace=ws,
        progress=progress,
    )
    return result.to_dict()


def backtest(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Backtest a spec (costs on, next-bar fills unless the spec says otherwise), recorded."""
    from alphaloop.app import run_backtest
    from alphaloop.backtest import render_backtest_report

    progress("backtest", 0, 1)
    result = run_backtest(ws, _spec(params), engine=params.get("engine", "vectorized"))
    progress("backtest", 1, 1)
    doc = result.to_dict(max_trades=0)
    doc.pop("round_trips", None)
    page = Path(params["_job_dir"]) / "tearsheet.html"
    render_backtest_report(result, page)
    doc["tearsheet"] = page.name
    return doc


def validate(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Validate a spec on the search span: DSR with every trial, PBO, walk-forward, gates."""
    from alphaloop.app import validate_spec

    return validate_spec(ws, _spec(params), progress=progress).to_dict()


def research(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """A research session to its budget (progress once per batch)."""
    from alphaloop.app.research import start_research
    from alphaloop.research.session_config import SessionConfig

    config = SessionConfig(**params.get("config", {}))

    def on_batch(report: Any) -> None:
        progress.note(
            {
                "batch": report.batch,
                "evaluated": report.evaluated,
                "reused": report.reused,
                "ok": report.ok,
                "failed": report.failed,
                "passed": report.passed,
                "rejections": dict(report.rejections),
                "best": report.best,
                "elapsed_s": report.elapsed,
            }
        )
        progress("research: candidates evaluated", report.evaluated, config.budget)

    result = start_research(ws, params["goal"], params["data"], config, on_batch=on_batch)
    return result.to_dict()


def risk_report(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """A strategy's risk report (VaR/ES with their backtests, stress, contributions), recorded."""
    from alphaloop.app import risk_report as report

    progress("risk report", 0, 1)
    doc = report(
        ws,
        _spec(params),
        confidence=params.get("confidence", 0.99),
        window=params.get("window", 250),
        seed=params.get("seed", 0),
    ).to_dict()
    progress("risk report", 1, 1)
    return doc


def model_monitor(ws: Workspace, params: dict[str, Any], progress: JobProgress) -> dict[str, Any]:
    """Drift of a registered model (IC drop, feature PSI) since its training; alerts recorded."""
    from alphaloop.app import monitor_model

    progress("model monitor", 0, 1)
    result = monitor_model(ws, params["ref"], params.get("data"))
    progress("model monitor", 1, 1)
    return result.to_dict()  # type: ignore[no-any-return]


JOB_KINDS: dict[str, JobFn] = {
    "factor.evaluate": factor_evaluate,
    "factor.analyze": factor_analyze,
    "backtest": backtest,
    "validate": validate,
    "research": research,
    "risk.report": risk_report,
    "model.monitor": model_monitor,
}
"""Job kind -> its function."""
