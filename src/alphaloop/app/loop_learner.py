"""The live loop's learning hook: a learning cycle worked out outside the bar's
transaction, recorded inside it.

A bar of the loop is one database transaction that holds the write lock
(:meth:`~alphaloop.store.Database.atomic`). Training a model inside it would make
every other writer wait for the training, a person's ``alphaloop kill`` among
them. So a learning bar is done in two parts (:class:`LoopLearner`):

- :meth:`~LoopLearner.prepare`, before the bar's transaction opens: the cycle is
  worked out from the committed records (:func:`~alphaloop.app.learning.plan_learning_cycle`:
  shadow evaluation, drift monitoring, training; a retrained model's artifact is
  staged under ``models/.staging/<tag>-...``, nothing is written to the database);
- :meth:`~LoopLearner.record`, inside it: the cycle's rows (drift alerts, the new
  version and its training run, promotion or archiving, audit entries) and the
  artifact's move into ``models/<name>/v<N>`` commit with the bar's checkpoint.

:meth:`~LoopLearner.fresh` tells whether the model's versions are still those the
plan was made from (a person may have promoted one meanwhile); the loop checks it
first thing in the bar's transaction and works the plan out again when they are not.
A plan that turns out stale at recording (a concurrent writer on PostgreSQL) is
worked out again inside the transaction: slower, never wrong.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alphaloop.app.learning import (
    LearningPlan,
    StaleLearningPlan,
    _registry_state,
    plan_learning_cycle,
    record_learning_cycle,
)
from alphaloop.app.workspace import Workspace
from alphaloop.live.learning import LearningPolicy

__all__ = ["LoopLearner", "staging_tag"]


def staging_tag(run: str) -> str:
    """The mark of the staging directories a run's learning cycles leave (``loop.<run>``)."""
    return f"loop.{run}"


class LoopLearner:
    """Learning cycles of model ``model`` for a loop run (see the module docstring).

    Parameters
    ----------
    ws : Workspace
    model : str
        The model name (with a production version).
    policy : LearningPolicy
    actor : str
        Who the audit entries name.
    tag : str
        Marks staged artifacts (:func:`staging_tag`).
    """

    def __init__(self, ws: Workspace, model: str, policy: LearningPolicy, *, actor: str,
                 tag: str) -> None:  # fmt: skip
        self.ws, self.model, self.policy, self.actor, self.tag = ws, model, policy, actor, tag

    def prepare(self, at: pd.Timestamp) -> LearningPlan:
        """Work the cycle at ``at`` out (training included); writes nothing."""
        return plan_learning_cycle(self.ws, self.model, as_of=at, policy=self.policy,
                                   actor=self.actor, tag=self.tag)  # fmt: skip

    def fresh(self, plan: LearningPlan) -> bool:
        """Whether the model's versions and stages are still those ``plan`` was made from."""
        return _registry_state(self.ws, self.model) == plan.registry

    def discard(self, plan: LearningPlan) -> None:
        """Remove what an unrecorded ``plan`` staged."""
        plan.discard()

    def record(self, plan: LearningPlan) -> tuple[list[Any], dict[str, Any]]:
        """Record ``plan`` (in the caller's transaction); returns the events to publish
        (a ``ModelReleased`` on a promotion) and the cycle's record for the checkpoint."""
        from alphaloop.live.bus.catalog import ModelRelease, ModelReleased

        try:
            try:
                cycle = record_learning_cycle(self.ws, plan)
            except StaleLearningPlan:
                plan.discard()
                plan = self.prepare(plan.cycle.as_of)
                cycle = record_learning_cycle(self.ws, plan)
        finally:
            plan.discard()
        events = []
        if cycle.action == "promoted" and cycle.candidate:
            new = self.ws.models.get(cycle.candidate)
            old = self.ws.models.get(cycle.incumbent)
            events.append(ModelReleased(payload=ModelRelease(
                model=new.name, version=new.version, previous=old.version,
                reason="; ".join(cycle.promotion.reasons if cycle.promotion else ())),
                source="live-loop"))  # fmt: skip
        record = {"at": str(cycle.as_of.date()), "action": cycle.action,
                  "incumbent": cycle.incumbent, "candidate": cycle.candidate}  # fmt: skip
        if cycle.retrain is not None:
            record["reasons"] = list(cycle.retrain.reasons)
        return events, record
