"""Autonomous research: the strategy database, agents, sessions and executors.

Agents explore the strategy space from what the strategy database holds:
the strategy agent proposes candidates (exploit, explore, upgrade), the ML
quant agent finds or trains the models they use, and the model improver
proposes better model versions in the background. A session evaluates each
candidate on the search span only (lookahead scan, walk-forward backtest,
validation gate with every trial counted) and stores it. This package is a
pure core: it takes Panels, specs and repositories; :mod:`alphaloop.app.research`
wires it to a workspace.
"""

from __future__ import annotations

from typing import Any

from alphaloop.faces import load_public

#: public name -> module that defines it
_HOME: dict[str, str] = {
    "CandidateResult": "alphaloop.research.evaluate",
    "EvalContext": "alphaloop.research.evaluate",
    "EvaluationProtocol": "alphaloop.research.evaluate",
    "Predictor": "alphaloop.research.evaluate",
    "evaluate_candidate": "alphaloop.research.evaluate",
    "fold_bounds": "alphaloop.research.evaluate",
    "signal_of": "alphaloop.research.evaluate",
    "Executor": "alphaloop.research.executors",
    "LocalExecutor": "alphaloop.research.executors",
    "RayExecutor": "alphaloop.research.executors",
    "make_executor": "alphaloop.research.executors",
    "GatePolicy": "alphaloop.research.gate",
    "gate_candidate": "alphaloop.research.gate",
    "session_pbo": "alphaloop.research.gate",
    "CandidateScanFn": "alphaloop.research.scan",
    "scan_candidate": "alphaloop.research.scan",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    return load_public(__name__, _HOME, name)
