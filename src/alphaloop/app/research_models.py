"""The ML quant agent and the model improver on a workspace: trainer, evaluator, improver runs.

:func:`workspace_trainer` and :func:`workspace_evaluator` give the research
core (:mod:`alphaloop.research.ml_agent`, :mod:`alphaloop.research.improver`)
what it needs from a workspace; :func:`run_improver` is the background job
``alphaloop research improve`` runs, and :func:`main` the same job as a
process of its own::

    python -m alphaloop.app.research_models --home PATH --data NAME --rounds 1 --seed 0

which writes one JSON line per :class:`~alphaloop.research.improver.ImprovementResult`
to stdout and exits with an :class:`~alphaloop.errors.ExitCode`.

Data
    Both load through the catalog, so the sealed holdout is out of reach, and
    only up to the spec's ``end``: the evaluator reads nothing after it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from alphaloop.app.workspace import Workspace
from alphaloop.errors import AlphaloopError, ExitCode
from alphaloop.jsonsafe import json_safe
from alphaloop.models import ModelSpec
from alphaloop.progress import Progress

if TYPE_CHECKING:
    from alphaloop.data import Panel
    from alphaloop.research.policy import ModelInfo
    from alphaloop.research.strategy_db import DecisionRecord

__all__ = [
    "SESSION_MODEL",
    "ImproverProcess",
    "feature_families_for",
    "main",
    "model_info",
    "newest_versions",
    "run_improver",
    "session_model",
    "session_models",
    "workspace_evaluator",
    "workspace_trainer",
]


def workspace_trainer(
    ws: Workspace, *, progress: Progress | None = None
) -> Callable[[ModelSpec], Any]:
    """``trainer(spec) -> ModelVersion``: :func:`~alphaloop.app.models.train_from_spec` on ``ws``
    (trains on purged folds, registers, records the run)."""
    from alphaloop.app.models import train_from_spec

    def trainer(spec: ModelSpec) -> Any:
        return train_from_spec(ws, spec, progress=progress).version

    return trainer


def workspace_evaluator(ws: Workspace) -> Callable[[ModelSpec], pd.Series]:
    """``evaluator(spec) -> pd.Series``: per-date validation IC of the model ``spec`` describes.

    The spec's data are loaded up to its ``end`` (search span only), features
    and labels built as for training, and the model cross-validated on the
    spec's purged folds (:func:`alphaloop.models.train`); the result is the
    Pearson IC of each test fold's out-of-sample predictions with the
    forward return, per decision date (NaN dates dropped). No model is
    registered and no run recorded.
    """
    from alphaloop.app.models import check_model_spec, spec_learning_data, train_spec
    from alphaloop.factors import information_coefficient
    from alphaloop.models.metrics import MIN_ASSETS

    def evaluator(spec: ModelSpec) -> pd.Series:
        data = spec_learning_data(ws, spec, check_model_spec(ws, spec))
        result = train_spec(data, spec)
        ic = information_coefficient(
            data.to_panel(result.oos_predictions),
            data.to_panel(data.forward_return),
            "pearson",
            index=data.panel_index,
            min_assets=min(MIN_ASSETS, max(2, len(data.assets))),
        )
        return ic.dropna().rename("ic")

    return evaluator


def feature_families_for(ws: Workspace, data: str) -> list[str]:
    """Factor libraries whose fields all exist in dataset ``data`` (built-in, then the
    workspace's)."""
    from alphaloop.factors import list_libraries

    fields = set(ws.data.info(data).fields)
    return [lib.name for lib in list_libraries(ws.root) if set(lib.fields) <= fields]


def newest_versions(ws: Workspace, data: str, limit: int) -> list[str]:
    """The newest version of each model name trained on ``data``, best validation IC first."""
    newest: dict[str, Any] = {}
    for v in ws.models.list():
        if v.dataset == data and v.stage != "archived":
            newest[v.name] = v  # list() is ordered by name then version
    ranked = sorted(
        newest.values(),
        key=lambda v: (v.metrics.get("ic") is not None, v.metrics.get("ic") or 0.0, v.id),
        reverse=True,
    )
    return [v.ref for v in ranked[:limit]]


def _candidates(
    ws: Workspace, data: str, refs: Sequence[str] | None, top: int, session_id: int | None
) -> list[str]:
    from alphaloop.research.improver import pick_models_for_improvement

    if refs:
        return [ws.models.get(r).ref for r in refs]
    strategies = getattr(ws, "strategies", None)
    if strategies is not None and hasattr(strategies, "top"):
        kwargs: dict[str, Any] = {"dataset": data}
        if session_id is not None:
            kwargs["session_id"] = session_id
        rows = strategies.top("sharpe", 10 * max(top, 1), **kwargs)
        picked = pick_models_for_improvement(rows, ws.models)[:top]
        if picked:
            return picked
    return newest_versions(ws, data, top)


def run_improver(
    ws: Workspace,
    data: str,
    *,
    rounds: int = 1,
    refs: Sequence[str] | None = None,
    top: int = 3,
    seed: int = 0,
    progress: Progress | None = None,
    session_id: int | None = None,
    margin: float = 0.005,
    alpha: float = 0.05,
    max_proposals: int = 4,
    feature_families: Sequence[str] | None = None,
    families: Sequence[str] | None = None,
    on_result: Callable[[Any], None] | None = None,
    ideas: Callable[[Any], Any] | None = None,
) -> list[Any]:
    """Improve the models the best strategies on ``data`` use, ``rounds`` times.

    Models: ``refs`` when given; else those used by the strategy database's
    top strategies on ``data`` (newest version of each, at most ``top``),
    when the workspace has a strategy database; else the newest versions
    trained on ``data``, best validation IC first. Each round tries each
    model once (:meth:`~alphaloop.research.improver.ModelImprover.improve`
    with ``attempt=round``); a model improved in a round is followed by its
    new version in the next. Feature changes use ``feature_families``
    (default: every library whose fields ``data`` has), family changes
    ``families`` (default lightgbm, xgboost, ridge). ``ideas`` is an idea
    source (:mod:`alphaloop.research.model_ideas`, e.g.
    :func:`~alphaloop.research.model_ideas.llm_ideas`) asked before the
    offline proposals.

    Returns
    -------
    list of ImprovementResult
        In the order run; ``on_result`` hears of each as it is done.
    """
    from alphaloop.research.improver import ModelImprover
    from alphaloop.research.model_proposals import DEFAULT_FAMILIES

    improver = ModelImprover(
        ws.models,
        workspace_trainer(ws, progress=progress),
        workspace_evaluator(ws),
        margin=margin,
        alpha=alpha,
        seed=seed,
        max_proposals=max_proposals,
        feature_families=(
            feature_families_for(ws, data) if feature_families is None else feature_families
        ),
        families=DEFAULT_FAMILIES if families is None else families,
        library_root=ws.root,
        ideas=ideas,
    )
    current = _candidates(ws, data, refs, top, session_id)
    results = []
    for round_ in range(rounds):
        for i, ref in enumerate(current):
            if progress is not None:
                progress(f"improving models, round {round_ + 1}", i, len(current))
            result = improver.improve(ref, attempt=round_)
            results.append(result)
            if on_result is not None:
                on_result(result)
            if result.new_ref is not None:
                current[i] = result.new_ref
    return results


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m alphaloop.app.research_models",
        description="Improve the models the best strategies of a dataset use (one JSON line "
        "per model tried).",
    )
    p.add_argument("--home", required=True, help="workspace root")
    p.add_argument("--data", required=True, help="dataset name")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=3, help="models to improve")
    p.add_argument("--ref", action="append", dest="refs", help="a model to improve (repeatable)")
    p.add_argument("--session", type=int, default=None, help="top strategies of this session")
    p.add_argument("--max-proposals", type=int, default=4)
    p.add_argument(
        "--feature-family",
        action="append",
        dest="feature_families",
        help="a factor library feature changes may use (repeatable; default: all that fit)",
    )
    p.add_argument(
        "--family",
        action="append",
        dest="families",
        help="an estimator family a family change may use (repeatable)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run :func:`run_improver` from the command line; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return int(ExitCode.OK if exc.code in (0, None) else ExitCode.BAD_INPUT)

    def emit(result: Any) -> None:
        sys.stdout.write(json.dumps(json_safe(result.to_dict()), sort_keys=True) + "\n")
        sys.stdout.flush()

    try:
        ws = Workspace(args.home, create=False)
        try:
            ws.data.info(args.data)
            run_improver(
                ws,
                args.data,
                rounds=args.rounds,
                refs=args.refs,
                top=args.top,
                seed=args.seed,
                session_id=args.session,
                max_proposals=args.max_proposals,
                feature_families=args.feature_families,
                families=args.families,
                on_result=emit,
            )
        finally:
            ws.close()
    except AlphaloopError as exc:
        sys.stderr.write(json.dumps(exc.to_dict()) + "\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.BROKEN_PIPE)
    except Exception as exc:  # a bug: report it as one line and the internal exit code
        sys.stderr.write(json.dumps({"type": type(exc).__name__, "message": str(exc)}) + "\n")
        return int(ExitCode.INTERNAL)
    return int(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in tests
    raise SystemExit(main())


# ------------------------------------------------------------------ sessions
def session_models(ws: Workspace, data: str, search_end: Any) -> list[ModelInfo]:
    """Registered model versions on ``data`` whose labels end inside the search span."""
    out = []
    end = pd.Timestamp(search_end)
    for v in ws.models.list():
        if v.dataset != data:
            continue
        label_end = pd.Timestamp(v.label_end or v.train_end)
        if label_end.tzinfo is not None and end.tzinfo is None:
            end = end.tz_localize(label_end.tzinfo)
        if label_end >= end:
            continue
        out.append(model_info(v))
    return sorted(out, key=lambda m: (m.name, m.version))


def model_info(v: Any) -> ModelInfo:
    """What a policy may know of a model version: its identity and validation IC."""
    from alphaloop.research.policy import ModelInfo

    ic = (v.metrics or {}).get("ic")
    return ModelInfo(
        ref=v.ref,
        name=v.name,
        version=v.version,
        kind=v.family or "",
        feature_family=v.feature_family or "",
        valid_ic=float(ic) if ic is not None else None,
    )


#: the model a session asks the ML quant agent for: fast, installed with the base package
SESSION_MODEL = {"feature_family": "alpha158-close-core", "family": "ridge", "horizon": 5}


def session_model(
    ws: Workspace, data: str, panel: Panel, seed: int
) -> tuple[ModelInfo, DecisionRecord]:
    """The model hybrid and ML candidates use: found or trained by the ML quant agent.

    It is trained on the first half of the search span (labels included), so
    its candidates are backtested on the second half only.
    """
    from alphaloop.research.ml_agent import MLQuantAgent, ModelRequirements
    from alphaloop.research.strategy_db import DecisionRecord

    train_end = panel.index[len(panel.index) // 2].date()
    req = ModelRequirements(
        dataset=data, train_end=train_end, seed=seed, n_splits=3, **SESSION_MODEL
    )
    agent = MLQuantAgent(ws.models, workspace_trainer(ws))
    version, created = agent.get_or_create_model(req)
    ic = (version.metrics or {}).get("ic")
    info = model_info(version)
    verb = "trained and registered" if created else "reused"
    note = DecisionRecord(
        seq=0,
        batch=-1,
        agent="ml_quant",
        action="model",
        operator="train" if created else "reuse",
        strategy_hash=None,
        parents=[],
        rationale=f"{verb} {version.ref} ({req.family} on {req.feature_family}, "
        f"{req.horizon}-bar forward returns, data before {train_end}; validation IC "
        f"{'n/a' if ic is None else format(ic, '.4f')}) for hybrid and ML candidates",
        context={"new_trial": False, "requirements": req.model_dump(mode="json")},
        trials_before=ws.strategies.n_trials(data),
    )
    return info, note


class ImproverProcess:
    """The model improver in its own process, started once, waited for at the session's end."""

    def __init__(self, ws: Workspace, data: str, session_id: int, seed: int) -> None:
        self.args = [
            sys.executable,
            "-m",
            "alphaloop.app.research_models",
            "--home",
            str(ws.root),
            "--data",
            data,
            "--session",
            str(session_id),
            "--seed",
            str(seed),
        ]
        self.env = {**os.environ, "ALPHALOOP_DATABASE_URL": ws.database_url}
        if ws.settings.database_schema:
            self.env["ALPHALOOP_DATABASE_SCHEMA"] = ws.settings.database_schema
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        if self.proc is None:
            self.proc = subprocess.Popen(
                self.args,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=self.env,
            )

    def stop(self) -> None:
        """End the process now (the session stopped); what it registered stays registered."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def wait(self, timeout: float = 1800.0) -> dict[str, Any]:
        """Its results (one per model tried) and exit code; killed after ``timeout`` seconds."""
        if self.proc is None:
            return {"started": False}
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            stdout, stderr = self.proc.communicate()
        results = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        return {
            "started": True,
            "exit_code": self.proc.returncode,
            "results": results,
            "registered": [r["new_ref"] for r in results if r.get("new_ref")],
            "error": stderr.strip()[-2000:] or None,
        }
