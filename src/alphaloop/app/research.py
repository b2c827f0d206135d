"""Research sessions on a workspace: start, resume, summarize, spend the holdout once.

:func:`start_research` parses the goal, seals the dataset's holdout if this
is its first use, loads the search span (everything before the holdout),
stores the session and runs it (:class:`~alphaloop.research.session.SessionLoop`).
:func:`resume_research` runs a stored session on from where it stopped.
Both end the same way: the session's summary, then, when a candidate
survived the gate and the dataset's holdout is still sealed, the final
pick(s) evaluated on the holdout once, with the number of trials made
before it; the result goes into the session row and the report, never to
an agent.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alphaloop.app.research_llm import LLMOptions, guard_summary, llm_record, session_policy
from alphaloop.app.research_models import ImproverProcess, session_model, session_models
from alphaloop.app.research_workers import predict_in_worker
from alphaloop.errors import ResearchError
from alphaloop.jsonsafe import json_safe

if TYPE_CHECKING:
    from collections.abc import Callable

    from alphaloop.app.workspace import Workspace
    from alphaloop.data import Panel
    from alphaloop.research.policy import ModelInfo, Policy
    from alphaloop.research.session import BatchReport, SessionConfig

__all__ = [
    "ResearchResult",
    "min_search_bars",
    "resume_research",
    "start_research",
]

#: bars of history a signal may need before the first fold (a year of daily bars)
WARMUP_BARS = 252
#: bars of each walk-forward fold at least (a quarter of daily bars)
MIN_FOLD_BARS = 63


def min_search_bars(folds: int) -> int:
    """Bars the search span needs for ``folds`` walk-forward folds after the warm-up."""
    return WARMUP_BARS + folds * MIN_FOLD_BARS


@dataclass(frozen=True)
class ResearchResult:
    """A finished (or stopped) session: its id, summary, holdout result and report path."""

    session_id: int
    status: str
    summary: dict[str, Any]
    report: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "session_id": self.session_id,
                "status": self.status,
                "report": str(self.report) if self.report else None,
                **self.summary,
            }
        )


def _search_panel(ws: Workspace, data: str, universe: Any) -> tuple[Any, Panel]:
    """The dataset's description and its search span (the holdout sealed first)."""
    info = ws.data.info(data)
    ws.data.holdout_boundary(data)  # seals the holdout at first use
    panel = ws.data.load(data)
    # a point-in-time universe stored with the dataset: only members at each bar count
    from alphaloop.app.assets import dataset_universe

    panel, caveats, applied = dataset_universe(ws, data, panel, info.caveats)
    if applied is not None:
        info = replace(info, caveats=type(info.caveats)(caveats))
    if universe != "all":
        panel = panel.select(list(universe))
    return info, panel


def _market_regime(panel: Panel) -> dict[str, Any] | None:
    """The search span's market regimes for the policy (None when they cannot be computed)."""
    from alphaloop.errors import AlphaloopError
    from alphaloop.research.regime_state import search_regimes

    try:
        return search_regimes(panel)
    except AlphaloopError:
        return None


def _template_names() -> list[str]:
    """The registered strategy templates a new session searches (stored with it)."""
    from alphaloop.strategies import TEMPLATES

    return sorted(TEMPLATES)


def start_research(
    ws: Workspace,
    goal: str,
    data: str,
    config: SessionConfig,
    *,
    policy: Policy | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    report: Path | None = None,
    llm: LLMOptions | None = None,
    on_session: Callable[[int], None] | None = None,
) -> ResearchResult:
    """Parse ``goal``, store a new session on ``data`` and run it to its budget or time limit.

    ``config.policy == "llm"`` (and no ``policy`` given): a language model
    proposes (:func:`~alphaloop.app.research_llm.llm_policy`), with the
    response cache and settings of ``llm``. ``on_session(session_id)`` is called
    as soon as the session is stored (before its first batch), so that whoever
    runs it can say which session it is while it runs.

    Raises
    ------
    GoalError
        The goal cannot be satisfied on this dataset (before any work).
    ResearchError
        The search span is too short for the walk-forward.
    DatasetNotFoundError
    """
    from alphaloop.research.evaluate import EvaluationProtocol
    from alphaloop.research.gate import GatePolicy
    from alphaloop.research.goal import parse_goal

    info = ws.data.info(data)
    parsed = parse_goal(
        goal,
        assets=list(info.asset_ids),
        fields=list(info.fields),
        periods_per_year=float(info.market.periods_per_year or 252.0),
    )
    policy = session_policy(ws, config, policy, llm)  # bad LLM settings fail before any work
    _, panel = _search_panel(ws, data, parsed.constraints.universe)
    need = min_search_bars(config.folds)
    if panel.n_times < need:
        raise ResearchError(
            f"{data!r}: the search span has {panel.n_times} bars; a walk-forward of "
            f"{config.folds} folds needs at least {need} ({WARMUP_BARS} of warm-up and "
            f"{MIN_FOLD_BARS} per fold)",
            hint="use fewer --folds, a longer dataset, or a smaller holdout fraction",
        )
    protocol = EvaluationProtocol(
        search_end=panel.index[-1].date(),
        folds=config.folds,
        scan_points=config.scan_points,
        seed=config.seed,
        data_hash=info.content_hash,
    )
    models = session_models(ws, data, panel.index[-1])
    stored = {
        **config.model_dump(mode="json"),
        "fields": list(panel.field_names),
        "n_assets": panel.n_assets,
        "assumptions": list(parsed.assumptions),
        "protocol": protocol.model_dump(mode="json"),
        "gate": GatePolicy().model_dump(mode="json"),
        "policy": config.policy,
        "policy_name": policy.name if policy is not None else "bandit",
        "llm": llm_record(policy),
        "search_start": panel.index[0].isoformat(),
        "search_end": panel.index[-1].isoformat(),
        "template_names": _template_names() if config.templates else [],
        "market_regime": _market_regime(panel),
    }
    wants_ml = config.ml and any(k != "pure_technical" for k in parsed.constraints.kinds)
    model_note = None
    if wants_ml:
        model, model_note = session_model(ws, data, panel, config.seed)
        models = sorted({*models, model}, key=lambda m: (m.name, m.version))
    session_id = ws.strategies.create_session(
        data,
        goal,
        parsed.constraints.model_dump(mode="json"),
        stored,
        [m.ref for m in models],
    )
    if on_session is not None:
        on_session(session_id)
    if model_note is not None:
        ws.strategies.record_decisions(session_id, [model_note])
    return _run(ws, session_id, policy=policy, on_batch=on_batch, report=report, llm=llm)


def resume_research(
    ws: Workspace,
    session_id: int,
    *,
    policy: Policy | None = None,
    on_batch: Callable[[BatchReport], None] | None = None,
    report: Path | None = None,
    llm: LLMOptions | None = None,
) -> ResearchResult:
    """Run a stored session on from where it stopped (after a crash, a kill or a time limit).

    A session of the LLM policy resumes with it (``llm``: its cache and settings).

    Raises
    ------
    ResearchSessionNotFoundError
    ResearchError
        The session finished already.
    """
    session = ws.strategies.session(session_id)
    if session["status"] == "finished":
        raise ResearchError(
            f"research session {session_id} finished already",
            hint="start a new session with `alphaloop research --goal ...`",
        )
    return _run(ws, session_id, policy=policy, on_batch=on_batch, report=report, llm=llm)


def _run(
    ws: Workspace,
    session_id: int,
    *,
    policy: Policy | None,
    on_batch: Callable[[BatchReport], None] | None,
    report: Path | None,
    llm: LLMOptions | None = None,
) -> ResearchResult:
    from alphaloop.research.evaluate import EvalContext, EvaluationProtocol
    from alphaloop.research.executors import make_executor
    from alphaloop.research.gate import GatePolicy, gate_candidate, session_pbo
    from alphaloop.research.goal import Constraints
    from alphaloop.research.policy import BanditPolicy
    from alphaloop.research.session import SessionConfig, SessionLoop
    from alphaloop.research.space import classify, recipe_spec

    session = ws.strategies.session(session_id)  # ResearchSessionNotFoundError
    stored = dict(session["config"])
    if stored.get("policy") not in ("bandit", "llm"):
        stored.pop("policy", None)  # sessions stored before the LLM policy: a policy's name
    config = SessionConfig.model_validate(
        {k: stored[k] for k in SessionConfig.model_fields if k in stored}
    )
    constraints = Constraints.model_validate(session["constraints"])
    protocol = EvaluationProtocol.model_validate(stored["protocol"])
    gate_policy = GatePolicy.model_validate(stored["gate"])
    data = session["dataset"]
    info, panel = _search_panel(ws, data, constraints.universe)
    if info.content_hash != protocol.data_hash:
        raise ResearchError(
            f"dataset {data!r} changed since session {session_id} started "
            f"(content hash {info.content_hash[:12]}, session {protocol.data_hash[:12]})",
            hint="start a new session on the current data",
        )
    names = {ref.split("/")[0] for ref in session["models_start"]}

    def models() -> list[ModelInfo]:
        """The session's models and their newer versions (the improver registers them)."""
        return [m for m in session_models(ws, data, panel.index[-1]) if m.name in names]

    predictor = functools.partial(predict_in_worker, str(ws.root), ws.database_url)
    from alphaloop.app.assets import contract_panel
    from alphaloop.data.assets import InstrumentStore

    traded, lots, _ = contract_panel(ws, panel)
    ctx = EvalContext(
        panel=panel,
        info=info,
        protocol=protocol,
        predictor=predictor,
        traded=traded if lots is not None else None,
        instruments=InstrumentStore(ws.db).for_assets(panel.assets) if lots is not None else None,
    )

    def gate(result: Any, *, n_trials: int, trial_sr_var: float, pbo: float | None) -> Any:
        # regimes were measured by the worker, against the equal-weight market of the panel
        return gate_candidate(
            result,
            n_trials=n_trials,
            trial_sr_var=trial_sr_var,
            pbo=pbo,
            constraints=constraints,
            policy=gate_policy,
        )

    def to_spec(recipe: dict[str, Any]) -> Any:
        return recipe_spec(recipe, dataset=data, constraints=constraints, fields=panel.field_names)

    policy = session_policy(ws, config, policy, llm)
    ws.strategies.update_session(session_id, status="running")
    improver = ImproverProcess(ws, data, session_id, config.seed) if config.improve else None

    def after_batch(report: BatchReport) -> None:
        if improver is not None:
            improver.start()  # after the first batch: the top strategies exist
        if on_batch is not None:
            on_batch(report)

    executor = None
    try:
        executor = make_executor(
            config.executor, ctx, workers=config.workers, address=ws.settings.ray_address
        )
        loop = SessionLoop(
            ws.strategies,
            session_id,
            policy=policy or BanditPolicy(),
            executor=executor,
            protocol=protocol,
            constraints=constraints,
            config=config,
            models=models,
            gate=gate,
            pbo=session_pbo,
            to_spec=to_spec,
            classify=classify,
            on_batch=after_batch,
        )
        loop.run()
    except BaseException as exc:
        interrupted = isinstance(exc, KeyboardInterrupt)
        ws.strategies.update_session(session_id, status="interrupted" if interrupted else "failed")
        if improver is not None:
            improver.stop()  # a stopped session does not wait for its improver
        raise
    finally:
        if executor is not None:
            executor.close()
        client = getattr(policy, "client", None)
        if client is not None:
            client.close()
    results = improver.wait() if improver is not None else None
    ppy = float(info.market.periods_per_year or 252.0)
    return _finish(ws, loop, config, report, improver=results, guard=(panel.index, ppy))


def _finish(
    ws: Workspace,
    loop: Any,
    config: SessionConfig,
    report: Path | None,
    *,
    improver: dict[str, Any] | None = None,
    guard: tuple[Any, float] | None = None,
) -> ResearchResult:
    """Final PBO, summary, the memorisation guard of LLM proposals (search span only), the
    holdout once for the final pick(s), the session row, the report."""
    from alphaloop.research.summary import session_summary

    session_id = loop.session_id
    data = loop.dataset
    final_pbo = loop.final_gate()
    summary = session_summary(ws.strategies, session_id, loop.protocol_key)
    summary["final_pbo"] = final_pbo
    summary["models_end"] = [m.ref for m in session_models(ws, data, loop.protocol.search_end)]
    if improver is not None:
        summary["improver"] = improver
    if guard is not None:
        guard_summary(ws, loop, summary, guard[0], guard[1])
    summary["holdout"] = _holdout(ws, data, session_id, summary, config.picks)
    summary["session"]["status"] = "finished"
    summary = json_safe(summary)
    ws.strategies.update_session(
        session_id,
        status="finished",
        summary={k: v for k, v in summary.items() if k != "holdout"},
        holdout=summary["holdout"],
        models_end=summary["models_end"],
    )
    path = None
    if report is not None:
        from alphaloop.research.report import write_session_report

        path = write_session_report(summary, report)
    return ResearchResult(session_id, "finished", summary, path)


def _holdout(
    ws: Workspace, data: str, session_id: int, summary: dict[str, Any], picks: int
) -> dict[str, Any]:
    """Evaluate the final pick(s) on the sealed holdout once, or say why not."""
    from alphaloop.app.holdout import evaluate_holdout
    from alphaloop.backtest import StrategySpec

    survivors = summary["survivors"][:picks]
    trials = ws.strategies.n_trials(data)
    if picks == 0:
        return {"evaluated": False, "reason": "no final pick asked for (--picks 0)"}
    if not survivors:
        return {
            "evaluated": False,
            "reason": "no candidate passed the gate; the holdout was not touched",
            "trials_before": trials,
        }
    held = ws.data.holdouts.get(data)
    if held is None or held.boundary is None:
        return {"evaluated": False, "reason": f"{data!r} has no sealed holdout (fraction 0)"}
    note = f"research session {session_id}: final pick(s) by deflated Sharpe"
    if held.spent and held.note == note:
        # this session spent it and was stopped before it finished: its one result stands
        if held.results:
            return {"evaluated": True, **held.results}
        return {
            "evaluated": False,
            "reason": "this session unsealed the holdout and was stopped before its result "
            "was recorded; the holdout is spent and is not evaluated again",
            "trials_before": held.trials_before,
        }
    if held.spent:
        return {
            "evaluated": False,
            "reason": f"the holdout of {data!r} was spent before this session; "
            "its first result stands and is not evaluated again",
            "trials_before": trials,
        }
    specs = [StrategySpec.from_dict(ws.strategies.get(s["hash"]).spec) for s in survivors]
    evaluation = evaluate_holdout(ws, data, specs, note=note)
    return {"evaluated": True, **evaluation.to_dict()}
