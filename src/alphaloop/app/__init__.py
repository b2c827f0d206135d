"""The application layer: the workspace and the use cases that compose the domains.

A use case is one thing a person (through the CLI, the Python API or the REST
service) asks for: run a backtest and record it, validate a spec, evaluate
the sealed holdout, train and register a model, evaluate and analyze factors,
run the demo. Domain packages below know nothing of the workspace; these
modules wire them to its stores.

>>> from alphaloop.app import Workspace, run_backtest      # doctest: +SKIP

Modules: :mod:`.workspace`, :mod:`.backtests`, :mod:`.validation`,
:mod:`.holdout`, :mod:`.models` (with :mod:`.model_explain`,
:mod:`.model_predict`, :mod:`.model_export`, :mod:`.model_compare`),
:mod:`.factors`, :mod:`.specs`, :mod:`.generate`, :mod:`.demo`,
:mod:`.paper` and :mod:`.paper_compare` (paper trading), :mod:`.synth`
(with :mod:`.synth_score` and :mod:`.synth_robustness`).
Only the workspace is imported eagerly; the use cases load on first use, so
``import alphaloop.app`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alphaloop.app.workspace import Workspace
from alphaloop.faces import load_public

if TYPE_CHECKING:
    from alphaloop.app.backtests import prepare, run_backtest, scan_spec, strategy_signal_fn
    from alphaloop.app.demo import run_demo
    from alphaloop.app.factors import analyze_dataset, evaluate_dataset, write_long_parquet
    from alphaloop.app.generate import generate_strategy
    from alphaloop.app.governance import governance, kill_status, set_kill
    from alphaloop.app.holdout import evaluate_holdout
    from alphaloop.app.model_compare import compare_models
    from alphaloop.app.model_explain import explain_model
    from alphaloop.app.model_export import export_model
    from alphaloop.app.model_predict import predict_model, write_predictions
    from alphaloop.app.models import (
        monitor_model,
        predict_panel,
        promote_model,
        train_from_spec,
    )
    from alphaloop.app.paper import (
        open_paper,
        paper_sessions,
        paper_store,
        run_paper,
    )
    from alphaloop.app.paper_compare import paper_report, write_paper_report
    from alphaloop.app.paper_process import detach_paper, stop_paper
    from alphaloop.app.risk_regimes import regime_report
    from alphaloop.app.risk_report import risk_report
    from alphaloop.app.specs import resolve_run_spec, resolve_spec, spec_from_run
    from alphaloop.app.synth import fit_generator, load_generator, sample_paths
    from alphaloop.app.synth_robustness import robustness_check
    from alphaloop.app.synth_score import score_generators
    from alphaloop.app.validation import validate_spec

__all__ = [
    "Workspace",
    "analyze_dataset",
    "compare_models",
    "detach_paper",
    "evaluate_dataset",
    "evaluate_holdout",
    "explain_model",
    "export_model",
    "fit_generator",
    "generate_strategy",
    "governance",
    "kill_status",
    "load_generator",
    "monitor_model",
    "open_paper",
    "paper_report",
    "paper_sessions",
    "paper_store",
    "predict_model",
    "predict_panel",
    "prepare",
    "promote_model",
    "regime_report",
    "resolve_run_spec",
    "resolve_spec",
    "risk_report",
    "robustness_check",
    "run_backtest",
    "run_demo",
    "run_paper",
    "sample_paths",
    "scan_spec",
    "score_generators",
    "set_kill",
    "spec_from_run",
    "stop_paper",
    "strategy_signal_fn",
    "train_from_spec",
    "validate_spec",
    "write_long_parquet",
    "write_paper_report",
    "write_predictions",
]

# use case -> the module that defines it (explicit, so grep finds every one)
_USE_CASES: dict[str, str] = {
    "prepare": "alphaloop.app.backtests",
    "run_backtest": "alphaloop.app.backtests",
    "scan_spec": "alphaloop.app.backtests",
    "strategy_signal_fn": "alphaloop.app.backtests",
    "run_demo": "alphaloop.app.demo",
    "analyze_dataset": "alphaloop.app.factors",
    "evaluate_dataset": "alphaloop.app.factors",
    "evaluate_holdout": "alphaloop.app.holdout",
    "generate_strategy": "alphaloop.app.generate",
    "export_model": "alphaloop.app.model_export",
    "predict_model": "alphaloop.app.model_predict",
    "write_predictions": "alphaloop.app.model_predict",
    "explain_model": "alphaloop.app.model_explain",
    "compare_models": "alphaloop.app.model_compare",
    "monitor_model": "alphaloop.app.models",
    "predict_panel": "alphaloop.app.models",
    "promote_model": "alphaloop.app.models",
    "train_from_spec": "alphaloop.app.models",
    "resolve_spec": "alphaloop.app.specs",
    "spec_from_run": "alphaloop.app.specs",
    "resolve_run_spec": "alphaloop.app.specs",
    "write_long_parquet": "alphaloop.app.factors",
    "validate_spec": "alphaloop.app.validation",
    "governance": "alphaloop.app.governance",
    "kill_status": "alphaloop.app.governance",
    "set_kill": "alphaloop.app.governance",
    "risk_report": "alphaloop.app.risk_report",
    "regime_report": "alphaloop.app.risk_regimes",
    "detach_paper": "alphaloop.app.paper_process",
    "open_paper": "alphaloop.app.paper",
    "paper_report": "alphaloop.app.paper_compare",
    "paper_sessions": "alphaloop.app.paper",
    "paper_store": "alphaloop.app.paper",
    "run_paper": "alphaloop.app.paper",
    "stop_paper": "alphaloop.app.paper_process",
    "write_paper_report": "alphaloop.app.paper_compare",
    "fit_generator": "alphaloop.app.synth",
    "load_generator": "alphaloop.app.synth",
    "sample_paths": "alphaloop.app.synth",
    "robustness_check": "alphaloop.app.synth_robustness",
    "score_generators": "alphaloop.app.synth_score",
}


def __getattr__(name: str) -> Any:
    return load_public(__name__, _USE_CASES, name)
