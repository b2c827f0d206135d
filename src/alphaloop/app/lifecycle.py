"""The strategy lifecycle of a workspace: promote, demote, retire and review, with their gates.

Promotion to ``shadow`` needs the strategy's latest validation verdict to
have passed (``alphaloop validate`` or a research session's gate). Promotion
to ``live`` needs, in the current risk mode's thresholds
(:class:`~alphaloop.execution.policy.LifecycleThresholds`):

1. **shadow period**: a paper session of the strategy's spec, started after
   it entered ``shadow``, with at least ``min_shadow_bars`` bars recorded;
2. **tracking**: that session's largest absolute daily tracking difference
   against the event backtest of the same spec (``paper report``) at most
   ``max_tracking_difference``;
3. **DSR**: the deflated Sharpe ratio of the validated returns with the
   dataset's trial count now, at least ``min_dsr``;
4. **approval**, as the autonomy level requires: L1 (signals only) never
   goes live; L2 to L4 need a person's approval (a request in the approval
   queue, ``alphaloop approvals approve ID``); L5 promotes by itself.

A policy that blocks the strategy refuses any promotion, and so does a
latest verdict that failed (a revalidation stops a shadow strategy too). The
approval is asked for only when every other gate passes. Every transition and every
refused promotion is audited with its inputs. :func:`review` demotes or
retires a shadow or live strategy on drawdown, decay of its Sharpe ratio
(or a given IC) against the validation's, or a policy block.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from alphaloop.app.lifecycle_inputs import (
    deflated_now,
    latest_verdict,
    session_health,
    shadow_sessions,
)
from alphaloop.app.policy import policy_store
from alphaloop.errors import AlphaloopError
from alphaloop.execution.audit_log import AuditLog
from alphaloop.execution.autonomy import AutonomyLevel, autonomy_level
from alphaloop.execution.policy import LifecycleThresholds, Policy
from alphaloop.live.lifecycle import (
    GateCheck,
    HealthDecision,
    LifecycleEvent,
    LifecycleState,
    PromotionRefusedError,
    next_state,
    review_health,
)
from alphaloop.live.lifecycle_store import LifecycleStore, TransitionRecord

if TYPE_CHECKING:
    from alphaloop.app.workspace import Workspace

__all__ = ["demote", "lifecycle_list", "lifecycle_store", "promote", "retire", "review"]

#: seconds a promotion's approval request stays open
APPROVAL_TTL_S = 86_400.0


def lifecycle_store(ws: Workspace) -> LifecycleStore:
    """The lifecycle states and transitions of ``ws``'s database."""
    return LifecycleStore(ws.db, AuditLog(ws.db))


def _state(value: LifecycleState | str) -> LifecycleState:
    try:
        return LifecycleState(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(s.value for s in LifecycleState)
        raise AlphaloopError(f"unknown lifecycle state {value!r}",
                             hint=f"allowed: {allowed}") from None  # fmt: skip


def lifecycle_list(ws: Workspace, states: list[str] | None = None) -> list[dict[str, Any]]:
    """Strategies that entered the lifecycle (of ``states``), newest change first."""
    items = lifecycle_store(ws).list([_state(s) for s in states] if states else None)
    names = ws.strategies.strategies([i.strategy_hash for i in items])
    return [
        {**i.to_dict(), "name": names[i.strategy_hash].name if i.strategy_hash in names else "?",
         "dataset": names[i.strategy_hash].dataset if i.strategy_hash in names else "?"}
        for i in items
    ]  # fmt: skip


# ---------------------------------------------------------------- gates
def _policy_gate(policy: Policy, strategy: str) -> GateCheck:
    block = policy.strategy_block(strategy)
    return GateCheck(
        "policy",
        block is None,
        policy.mode.value,
        None,
        block or f"the policy (mode {policy.mode.value}) allows the strategy",
    )


def _validation_gate(verdict: dict[str, Any] | None) -> GateCheck:
    if verdict is None:
        return GateCheck(
            "validation",
            False,
            None,
            True,
            "the strategy was never validated (run `alphaloop validate`)",
        )
    why = "; ".join(str(r) for r in verdict["reasons"][:3])
    if verdict["passed"]:
        return GateCheck(
            "validation", True, True, True, f"the validation verdict ({verdict['source']}) passed"
        )
    return GateCheck(
        "validation",
        False,
        False,
        True,
        f"the validation verdict ({verdict['source']}) failed: {why}",
    )


def _shadow_gates(
    ws: Workspace, strategy: str, since: datetime | None, th: LifecycleThresholds,
    session_id: int | None,
) -> tuple[list[GateCheck], dict[str, Any]]:  # fmt: skip
    from alphaloop.app.paper_compare import paper_report

    sessions = shadow_sessions(ws, strategy, since)
    inputs: dict[str, Any] = {"shadow_sessions": sessions}
    if session_id is not None:
        chosen = next((x for x in sessions if x["id"] == session_id), None)
        if chosen is None:
            raise AlphaloopError(
                f"paper session {session_id} does not shadow strategy {strategy[:12]} since it "
                "entered shadow", hint="see `alphaloop paper status`")  # fmt: skip
    else:
        chosen = max(sessions, key=lambda x: (x["bars"], x["id"]), default=None)
    if chosen is None:
        gate = GateCheck("shadow_period", False, 0, th.min_shadow_bars,
                         "no paper session of the strategy since it entered shadow "
                         "(`alphaloop paper start ID`)")  # fmt: skip
        return [
            gate,
            GateCheck(
                "tracking",
                False,
                None,
                th.max_tracking_difference,
                "no shadow session to compare with the backtest",
            ),
        ], inputs
    inputs["session"] = chosen["id"]
    bars = chosen["bars"]
    period = GateCheck("shadow_period", bars >= th.min_shadow_bars, bars, th.min_shadow_bars,
                       f"{bars} bars of shadow trading in paper session {chosen['id']} "
                       f"(at least {th.min_shadow_bars} needed)")  # fmt: skip
    report = paper_report(ws, chosen["id"])
    td = report.max_abs_tracking
    inputs["tracking"] = {"max_abs_tracking_difference": td, "days": len(report.daily),
                          "fills_compared": report.fills_compared,
                          "fills_matched": report.fills_matched}  # fmt: skip
    tracking = GateCheck("tracking", len(report.daily) > 0 and td <= th.max_tracking_difference,
                         td, th.max_tracking_difference,
                         f"largest daily tracking difference {td:.3g} over {len(report.daily)} "
                         f"days (at most {th.max_tracking_difference:g})")  # fmt: skip
    return [period, tracking], inputs


def _dsr_gate(dsr: dict[str, Any], th: LifecycleThresholds) -> GateCheck:
    value = dsr.get("dsr")
    counted = f"{dsr['n_trials']} trials on the dataset"
    if dsr.get("effective_trials") is not None:
        counted += f", {dsr['effective_trials']:.3g} effective"
    if value is None:
        return GateCheck(
            "dsr",
            False,
            None,
            th.min_dsr,
            f"deflated Sharpe ratio not measurable: {dsr.get('problem')}",
        )
    return GateCheck("dsr", value >= th.min_dsr, value, th.min_dsr,
                     f"deflated Sharpe ratio {value:.3f} with {counted} "
                     f"(at least {th.min_dsr:g})")  # fmt: skip


def _approval_gate(
    ws: Workspace, level: AutonomyLevel, strategy: str, name: str, session: int | None,
    actor: str,
) -> tuple[GateCheck, dict[str, Any]]:  # fmt: skip
    from alphaloop.execution.approvals import ApprovalQueue, order_fingerprint

    if level is AutonomyLevel.L1:
        return GateCheck(
            "approval",
            False,
            level.value,
            "L2",
            "autonomy L1 sends no order: a strategy cannot go live",
        ), {}
    if level is AutonomyLevel.L5:
        return GateCheck(
            "approval",
            True,
            level.value,
            "L5",
            "autonomy L5: the system promotes by itself (audited)",
        ), {}
    fields = {"order_id": 0, "asset": name, "side": "promote", "quantity": 1.0,
              "type": "lifecycle", "time_in_force": "-", "limit_price": None,
              "stop_price": None, "trail_fraction": None,
              "session": f"paper {session}" if session is not None else "",
              "strategy": strategy, "to": LifecycleState.LIVE.value}  # fmt: skip
    digest = order_fingerprint(fields)
    queue = ApprovalQueue(ws.db, AuditLog(ws.db), ttl_s=APPROVAL_TTL_S)
    mine = [a for a in queue.list() if a.order_hash == digest]
    approved = next((a for a in mine if a.status == "approved"), None)
    if approved is not None:
        queue.consume(approved.id, fields, actor=actor)
        return GateCheck("approval", True, approved.id, level.value,
                         f"approved by {approved.decided_by} (request {approved.id})"), {
            "approval": approved.id, "approved_by": approved.decided_by}  # fmt: skip
    pending = next((a for a in mine if a.status == "pending"), None)
    if pending is None:
        pending = queue.request(fields, actor=actor)
    return GateCheck("approval", False, pending.id, level.value,
                     f"autonomy {level.value} needs a person's approval: request "
                     f"{pending.id} waits (`alphaloop approvals approve {pending.id}`)"), {
        "approval": pending.id}  # fmt: skip


# ------------------------------------------------------------- commands
def promote(
    ws: Workspace,
    ref: str,
    to: LifecycleState | str,
    *,
    actor: str,
    reason: str = "",
    autonomy: AutonomyLevel | str = "L2",
    session_id: int | None = None,
) -> TransitionRecord:
    """Promote strategy ``ref`` (hash or prefix) to ``to`` once every gate passes.

    Raises
    ------
    LifecycleError
        ``to`` is not the next stage (e.g. backtest straight to live, or retired).
    PromotionRefusedError
        A gate failed (audited as ``lifecycle.refused`` with every gate).
    """
    rec = ws.strategies.get(ref)
    store = lifecycle_store(ws)
    current = store.get(rec.hash)
    target = next_state(rec.hash, current.state, LifecycleEvent.PROMOTE, _state(to))
    level = autonomy_level(autonomy)
    policy = policy_store(ws).current(refresh=True)
    th = policy.thresholds
    verdict = latest_verdict(ws, rec.hash)
    inputs: dict[str, Any] = {"policy_version": policy.version, "mode": policy.mode.value,
                              "thresholds": th.model_dump(), "autonomy": level.value,
                              "verdict": None if verdict is None else {
                                  k: verdict[k] for k in ("passed", "source", "at")}}  # fmt: skip
    # the latest verdict counts at both steps: a failed revalidation stops a shadow strategy
    gates = [_policy_gate(policy, rec.hash), _validation_gate(verdict)]
    session = None
    if target is LifecycleState.LIVE:
        more, extra = _shadow_gates(ws, rec.hash, current.since, th, session_id)
        gates += more
        inputs.update(extra)
        session = extra.get("session")
        dsr = (deflated_now(ws, rec.hash, rec.dataset, verdict) if verdict is not None
               else {"dsr": None, "n_trials": ws.strategies.n_trials(rec.dataset),
                     "problem": "the strategy was never validated"})  # fmt: skip
        inputs["dsr"] = dsr
        gates.append(_dsr_gate(dsr, th))
        if all(g.passed for g in gates):
            gate, extra = _approval_gate(ws, level, rec.hash, rec.name, session, actor)
            gates.append(gate)
            inputs.update(extra)
    inputs["gates"] = [g.to_dict() for g in gates]
    if not all(g.passed for g in gates):
        refused = PromotionRefusedError(rec.hash, current.state, target, gates)
        store.record_refusal(refused, actor=actor, inputs=inputs)
        raise refused
    why = reason.strip() or f"every gate passed for {target.value}"
    return store.apply(rec.hash, LifecycleEvent.PROMOTE, expected=current.state, to=target,
                       actor=actor, reason=why, inputs=inputs,
                       paper_session_id=session)  # fmt: skip


def _move(ws: Workspace, ref: str, event: LifecycleEvent, *, actor: str, reason: str,
          inputs: dict[str, Any] | None = None) -> TransitionRecord:  # fmt: skip
    rec = ws.strategies.get(ref)
    store = lifecycle_store(ws)
    current = store.get(rec.hash)
    next_state(rec.hash, current.state, event)
    return store.apply(rec.hash, event, expected=current.state, actor=actor, reason=reason,
                       inputs=inputs)  # fmt: skip


def demote(ws: Workspace, ref: str, *, actor: str, reason: str) -> TransitionRecord:
    """Demote a live strategy to shadow, or a shadow one to backtest (a reason required)."""
    return _move(ws, ref, LifecycleEvent.DEMOTE, actor=actor, reason=reason,
                 inputs={"by_hand": True})  # fmt: skip


def retire(ws: Workspace, ref: str, *, actor: str, reason: str) -> TransitionRecord:
    """Retire a strategy for good (a reason required)."""
    return _move(ws, ref, LifecycleEvent.RETIRE, actor=actor, reason=reason,
                 inputs={"by_hand": True})  # fmt: skip


def review(
    ws: Workspace,
    ref: str,
    *,
    actor: str = "system",
    ic: float | None = None,
    apply: bool = True,
) -> tuple[HealthDecision | None, TransitionRecord | None]:
    """Check a shadow or live strategy's health; demote or retire it when it calls for it.

    Reads the drawdown and Sharpe ratio of the paper session that shadows it
    (the one it went live with; for a shadow strategy that never went live,
    its longest session since it entered shadow; the Sharpe ratio annualized
    with the validated backtest's periods per year), the validation's Sharpe
    ratio (and IC when ``ic`` is given) and the policy.
    ``apply=False`` only says what it would do.
    """
    rec = ws.strategies.get(ref)
    current = lifecycle_store(ws).get(rec.hash)
    policy = policy_store(ws).current(refresh=True)
    verdict = latest_verdict(ws, rec.hash) or {}
    stats = verdict.get("stats") or {}
    ev = ws.strategies.evaluation(rec.hash, verdict.get("protocol", "backtest"))
    ppy = float((ev.metrics if ev else {}).get("periods_per_year") or 252.0)
    session = current.paper_session_id
    if session is None and current.state is LifecycleState.SHADOW:
        found = shadow_sessions(ws, rec.hash, current.since)
        session = max(found, key=lambda x: (x["bars"], x["id"]))["id"] if found else None
    health = session_health(ws, session, ppy) if session is not None else {}
    perm = stats.get("permutation") or {}
    decision = review_health(
        current.state, policy.thresholds, drawdown=health.get("drawdown"),
        sharpe=health.get("sharpe"),
        validation_sharpe=stats.get("sharpe_ratio", ev.sharpe if ev else None),
        ic=ic, validation_ic=perm.get("observed_rank_ic"),
        policy_block=policy.strategy_block(rec.hash),
    )  # fmt: skip
    if decision is None or not apply:
        return decision, None
    inputs = {**decision.inputs, "health": health, "policy_version": policy.version,
              "mode": policy.mode.value}  # fmt: skip
    record = lifecycle_store(ws).apply(rec.hash, decision.event, expected=current.state,
                                       actor=actor, reason="; ".join(decision.reasons),
                                       inputs=inputs)  # fmt: skip
    return decision, record
