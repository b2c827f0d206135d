"""Use case: one cycle of the continuous learning manager for one model name.

At ``as_of`` (now, or a date when replaying history) the cycle reads the model's
dataset up to that date only, then:

1. if a candidate is in shadow, judges it (:func:`alphaloop.live.learning.promotion_check`)
   on the per-date rank IC of both versions over the bars since the candidate's data
   ended, and promotes it to production or archives it;
2. otherwise checks whether the production version is due for retraining
   (:func:`alphaloop.live.learning.retrain_check`: age, schedule, drift alerts of the
   model monitor, change of the dataset's volatility regime) and, if so, retrains it
   from its own recipe on data up to ``as_of``; the new version enters shadow as a
   candidate.

Every cycle and every action is appended to the audit log: ``learning.cycle``,
``model.retrained``, ``learning.judged`` (the comparison) and the registry's
``model.promoted`` (to production or archived). The dataset's sealed
holdout is never read: a cycle past the seal reads up to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from alphaloop.app.models import (
    load_recipe,
    monitor_panel,
    predict_panel,
    promote_model,
    recipe_learning_data,
)
from alphaloop.app.workspace import Workspace
from alphaloop.data.panel import Panel
from alphaloop.errors import AlphaloopError
from alphaloop.live.learning import (
    LearningError,
    LearningPolicy,
    PromotionCheck,
    RetrainCheck,
    promotion_check,
    retrain_check,
)

__all__ = [
    "LearningCycle",
    "LearningPlan",
    "StaleLearningPlan",
    "learning_cycle",
    "plan_learning_cycle",
    "record_learning_cycle",
    "shadow_ic",
]

ACTOR = "learning-manager"


@dataclass(frozen=True)
class LearningCycle:
    """What one cycle saw and did.

    ``action`` is ``"none"``, ``"retrained"`` (``new_version`` entered shadow),
    ``"shadowing"`` (a candidate is not ready to judge), ``"promoted"`` or
    ``"archived"`` (the candidate's fate).
    """

    name: str
    as_of: pd.Timestamp
    incumbent: str
    candidate: str | None
    action: str
    retrain: RetrainCheck | None = None
    promotion: PromotionCheck | None = None
    new_version: str | None = None
    drift_alerts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form of every field (``as_of`` in ISO format)."""
        return {
            "name": self.name,
            "as_of": self.as_of.isoformat(),
            "incumbent": self.incumbent,
            "candidate": self.candidate,
            "action": self.action,
            "retrain": None if self.retrain is None else self.retrain.to_dict(),
            "promotion": None if self.promotion is None else self.promotion.to_dict(),
            "new_version": self.new_version,
            "drift_alerts": list(self.drift_alerts),
            "notes": list(self.notes),
        }


def shadow_ic(ws: Workspace, ref: str, panel: Panel, after: pd.Timestamp) -> pd.Series:
    """Per-date rank IC of model ``ref`` on ``panel``'s dates after ``after`` whose
    forward returns are complete within the panel (later dates are left out)."""
    from alphaloop.models.metrics import prediction_ic_series

    _, recipe = load_recipe(ws, ref)
    pred_panel, _ = predict_panel(ws, ref, panel)
    data = recipe_learning_data(ws, panel, recipe)
    ic = prediction_ic_series(data, pred_panel[data.rows, data.cols], "spearman")
    return ic[ic.index > after].dropna()


def _regime_at(panel: Panel, when: pd.Timestamp) -> str | None:
    from alphaloop.risk.market_index import equal_weight_returns
    from alphaloop.risk.regimes import volatility_regimes

    returns = equal_weight_returns(panel.frame("close"), panel.membership)
    returns = returns[returns.index <= when]
    if len(returns) < 300:
        return None
    labels = volatility_regimes(returns)
    return labels.name_of(labels.current) if labels.current >= 0 else None


class StaleLearningPlan(AlphaloopError):  # noqa: N818 - a condition, not a failure of ours
    """The registry changed between a cycle's plan and its recording (a person promoted or
    trained a version of the model meanwhile): the plan must be made again."""


@dataclass
class LearningPlan:
    """A learning cycle worked out from the committed records, not yet recorded.

    Made by :func:`plan_learning_cycle` outside any long transaction (training and
    shadow evaluation happen here); :func:`record_learning_cycle` writes it.
    ``registry`` is the model's versions and stages the plan was made from.
    """

    cycle: LearningCycle
    registry: tuple[tuple[str, str], ...]
    actor: str
    fitted: Any = None  # FittedModel of a retraining
    retrain_note: dict[str, Any] | None = None
    report: Any = None  # DriftReport to record
    judged: tuple[str, str, dict[str, Any]] | None = None  # candidate, stage, check

    def discard(self) -> None:
        """Remove a staged artifact this plan holds (a plan never recorded)."""
        if self.fitted is not None:
            self.fitted.discard()


def _registry_state(ws: Workspace, name: str) -> tuple[tuple[str, str], ...]:
    return tuple((v.ref, v.stage) for v in ws.models.list(name=name))


def plan_learning_cycle(
    ws: Workspace,
    name: str,
    *,
    as_of: Any = None,
    policy: LearningPolicy | None = None,
    retrain: bool = True,
    actor: str = ACTOR,
    tag: str = "",
) -> LearningPlan:
    """Work out one learning cycle for model ``name`` at ``as_of`` without recording it:
    read, judge, monitor and (when due) train. Arguments as for :func:`learning_cycle`;
    ``tag`` marks a retrained model's staged artifact
    (:meth:`~alphaloop.models.registry.ModelRegistry.drop_staged`).

    Raises
    ------
    LearningError
        No production version of ``name``; ``as_of`` before its data ends.
    """
    from alphaloop.app.model_fit import fit_from_spec
    from alphaloop.models.spec import ModelSpec

    policy = policy or LearningPolicy()
    registry = _registry_state(ws, name)
    production = ws.models.list(name=name, stage="production")
    if not production:
        raise LearningError(
            f"model {name!r} has no production version for the learning manager to look after",
            hint=f"alphaloop model promote {name}/vN --stage production",
        )
    incumbent = max(production, key=lambda v: v.version)
    _, recipe = load_recipe(ws, incumbent.ref)
    full = ws.data.load(incumbent.dataset)
    now = full.index[-1] if as_of is None else _utc(as_of)
    panel = full.slice(None, now)
    notes = []
    if full.sealed_end is not None and now >= full.sealed_end.boundary:
        notes.append(f"read up to the sealed holdout from {full.sealed_end.boundary:%Y-%m-%d}")
    candidates = [
        v for v in ws.models.list(name=name, stage="candidate") if v.version > incumbent.version
    ]
    if candidates:
        cand = max(candidates, key=lambda v: v.version)
        start = _utc(cand.label_end or cand.train_end)
        action, judged = "shadowing", None
        if (now - start) < pd.Timedelta(days=policy.shadow_days):
            check = promotion_check(policy, as_of=now, shadow_start=start)
        else:
            check = promotion_check(
                policy,
                as_of=now,
                shadow_start=start,
                incumbent_ic=shadow_ic(ws, incumbent.ref, panel, start),
                candidate_ic=shadow_ic(ws, cand.ref, panel, start),
                step=int(recipe["label"].get("horizon", 1)),
            )
            action = "promoted" if check.promote else "archived"
            judged = (cand.ref, "production" if check.promote else "archived", check.to_dict())
        cycle = LearningCycle(
            name, now, incumbent.ref, cand.ref, action, promotion=check, notes=tuple(notes)
        )
        return LearningPlan(cycle, registry, actor, judged=judged)

    data_end = _utc(incumbent.label_end or incumbent.train_end)
    if now < data_end:
        raise LearningError(
            f"as_of {now:%Y-%m-%d} is before {incumbent.ref}'s data ends ({data_end:%Y-%m-%d})"
        )
    alerts: tuple[str, ...] = ()
    report = None
    try:
        report = monitor_panel(ws, incumbent.ref, panel, record=False)
        alerts = tuple(a.message for a in report.alerts)
    except AlphaloopError as exc:  # e.g. no labelled bars yet since the data ended
        notes.append(f"monitor skipped: {exc.message}")
    check = retrain_check(
        policy,
        as_of=now,
        data_end=data_end,
        drift_alerts=alerts,
        bars_since=int((panel.index > data_end).sum()),
        regime_then=_regime_at(panel, data_end),
        regime_now=_regime_at(panel, now),
    )
    fitted = None
    if check.due and retrain:
        spec = ModelSpec.model_validate(
            {
                **recipe["spec"],
                "end": now.date().isoformat(),
                "supersedes": incumbent.ref,
                "note": "retrained by the learning manager: " + "; ".join(check.reasons),
            }
        )
        fitted = fit_from_spec(ws, spec, tag=tag)
    cycle = LearningCycle(
        name,
        now,
        incumbent.ref,
        None,
        "none",
        retrain=check,
        drift_alerts=alerts,
        notes=tuple(notes),
    )
    return LearningPlan(cycle, registry, actor, fitted=fitted,
                        retrain_note={"from": incumbent.ref, **check.to_dict()},
                        report=report)  # fmt: skip


def record_learning_cycle(ws: Workspace, plan: LearningPlan) -> LearningCycle:
    """Write ``plan``: drift alerts, the retrained version and its training run, the
    candidate's promotion or archiving, and the audit entries (``learning.judged``,
    ``model.retrained``, ``learning.cycle``). A handful of rows and one directory
    rename; run it inside the caller's :meth:`~alphaloop.store.Database.atomic`
    block for all or nothing.

    Raises
    ------
    StaleLearningPlan
        The model's versions or stages are no longer those the plan was made from
        (nothing is written; the plan's staged artifact is kept for the caller to
        discard).
    """
    from dataclasses import replace

    from alphaloop.app.model_fit import record_fitted
    from alphaloop.execution.audit_log import AuditLog
    from alphaloop.models import record_alerts

    cycle = plan.cycle
    if _registry_state(ws, cycle.name) != plan.registry:
        raise StaleLearningPlan(
            f"the versions of model {cycle.name!r} changed since the learning cycle at "
            f"{cycle.as_of:%Y-%m-%d} was worked out",
            hint="work the cycle out again",
        )
    audit = AuditLog(ws.db)
    if plan.judged is not None:
        ref, stage, check = plan.judged
        audit.append(plan.actor, "learning.judged", ref, check)
        reasons = cycle.promotion.reasons if cycle.promotion is not None else ()
        promote_model(ws, ref, stage, note="; ".join(reasons), actor=plan.actor)
    if plan.report is not None:
        record_alerts(ws.db, cycle.incumbent, plan.report)
    if plan.fitted is not None:
        new_ref = record_fitted(ws, plan.fitted).version.ref
        cycle = replace(cycle, candidate=new_ref, new_version=new_ref, action="retrained")
        audit.append(plan.actor, "model.retrained", new_ref, dict(plan.retrain_note or {}))
    audit.append(plan.actor, "learning.cycle", cycle.name, cycle.to_dict())
    return cycle


def learning_cycle(
    ws: Workspace,
    name: str,
    *,
    as_of: Any = None,
    policy: LearningPolicy | None = None,
    retrain: bool = True,
    actor: str = ACTOR,
) -> LearningCycle:
    """Run one learning cycle for model ``name`` at ``as_of`` (default: the data's end).

    The cycle is worked out first (:func:`plan_learning_cycle`: reading, judging,
    training), then recorded in one short transaction (:func:`record_learning_cycle`);
    when the model's versions changed in between, it is worked out again.

    Parameters
    ----------
    ws : Workspace
    name : str
        A model name with a production version (the incumbent).
    as_of : timestamp-like, optional
        The last bar the cycle may read.
    policy : LearningPolicy, optional
    retrain : bool, default True
        False: report whether retraining is due without training.
    actor : str
        Who the audit entries name.

    Raises
    ------
    LearningError
        No production version of ``name``; ``as_of`` before its data ends.
    """
    for attempt in range(_ATTEMPTS):
        plan = plan_learning_cycle(ws, name, as_of=as_of, policy=policy, retrain=retrain,
                                   actor=actor)  # fmt: skip
        try:
            with ws.db.atomic():
                return record_learning_cycle(ws, plan)
        except StaleLearningPlan:
            if attempt == _ATTEMPTS - 1:
                raise
        finally:
            plan.discard()
    raise AssertionError("unreachable")  # pragma: no cover


#: how many times a cycle is worked out again when the registry changed meanwhile
_ATTEMPTS = 3


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
