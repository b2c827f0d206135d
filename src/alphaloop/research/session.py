"""A research session: propose, evaluate, gate and store candidates in batches, resumably.

The loop, for batch ``b`` (numbered from 0 within a session):

1. build the policy's view from the strategy database: every candidate
   evaluated under this session's evaluation protocol (earlier sessions
   first, then this session's in proposal order), with search-span numbers
   only;
2. ask the policy for ``batch_size`` proposals with the random generator
   ``default_rng([seed, b])``; turn each recipe into a spec; drop repeats;
3. store the strategies (with their genealogy) and the batch's decisions,
   with the trial count and trial-Sharpe statistics at the batch's start,
   in one transaction;
4. evaluate the candidates not evaluated before under this protocol (a
   repeat reuses the stored evaluation), storing each chunk as it ends;
5. gate the batch in proposal order: the ``i``-th new trial of the batch is
   judged with ``trials_before + i`` trials and the PBO of every candidate
   of the session so far.

Every step after 2 reads what the database holds, and the policy keeps no
state of its own, so a session killed at any point resumes by replaying:
the batch in progress is finished from its stored decisions, then the loop
goes on. With the same seed, an interrupted-and-resumed session stores the
same strategies, decisions, evaluations and verdicts as an uninterrupted
one (wall-clock fields aside). A time limit ends a session between batches,
so where it ends depends on the machine's speed; a budget does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from alphaloop.errors import ResearchError
from alphaloop.research.candidates import (
    candidate_from_records,
    combined_variance,
    failed_gates,
    finite,
    gate_value,
    models_of,
    result_from_record,
    spec_of,
    stored_status,
)
from alphaloop.research.session_config import BatchReport, SessionConfig

if TYPE_CHECKING:
    from alphaloop.backtest import StrategySpec
    from alphaloop.research.evaluate import CandidateResult, EvaluationProtocol
    from alphaloop.research.executors import Executor
    from alphaloop.research.goal import Constraints
    from alphaloop.research.policy import Candidate, ModelInfo, Policy, Proposal
    from alphaloop.research.strategy_db import DecisionRecord, EvaluationRecord, StrategyDB

__all__ = [
    "BatchReport",
    "SessionConfig",
    "SessionLoop",
    "candidate_from_records",
]


class SessionLoop:
    """Runs (or resumes) one stored session to its budget or time limit.

    Parameters
    ----------
    db : StrategyDB
    session_id : int
        A session created with :meth:`StrategyDB.create_session`.
    policy : Policy
    executor : Executor
        Evaluates specs on the search span (its context holds the panel).
    protocol : EvaluationProtocol
        The evaluation protocol; its key names the stored evaluations.
    constraints : Constraints
    config : SessionConfig
    models : sequence of ModelInfo, or a callable returning one
        Model versions the policy may use (search-span validation numbers);
        a callable is asked before each batch, so newer versions registered
        while the session runs become "upgrade" decisions.
    gate : callable
        ``gate(result, n_trials=, trial_sr_var=, pbo=) -> Verdict``: the
        session's gate with its policy, constraints and benchmark bound.
    pbo : callable
        ``pbo(returns (T, M)) -> float | None`` over the session's candidates.
    to_spec : callable
        ``to_spec(recipe) -> StrategySpec``.
    classify : callable
        ``classify(recipe) -> (kind, family, logic)``.
    on_batch : callable, optional
        Called with a :class:`BatchReport` after each batch.
    clock : callable
        Seconds (``time.monotonic``); tests pass their own.
    """

    def __init__(
        self,
        db: StrategyDB,
        session_id: int,
        *,
        policy: Policy,
        executor: Executor,
        protocol: EvaluationProtocol,
        constraints: Constraints,
        config: SessionConfig,
        models: Sequence[ModelInfo] | Callable[[], Sequence[ModelInfo]],
        gate: Callable[..., Any],
        pbo: Callable[[np.ndarray], float | None],
        to_spec: Callable[[dict[str, Any]], StrategySpec],
        classify: Callable[[dict[str, Any]], tuple[str, str, str]],
        on_batch: Callable[[BatchReport], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.session_id = session_id
        self.policy = policy
        self.executor = executor
        self.protocol = protocol
        self.protocol_key = protocol.key()
        self.constraints = constraints
        self.config = config
        self._models = models
        self.gate = gate
        self.pbo = pbo
        self.to_spec = to_spec
        self.classify = classify
        self.on_batch = on_batch
        self.clock = clock
        self.session = db.session(session_id)
        self.dataset = self.session["dataset"]
        self._started = clock()
        self._prior = self._prior_history()
        self._returns: dict[str, np.ndarray] = {}  # search-span returns of ok candidates

    # ------------------------------------------------------------ history
    def _prior_history(self) -> list[Candidate]:
        """Candidates of earlier work under this protocol (snapshot at start), in a stable order."""
        rows = self.db.protocol_history(
            self.dataset, self.protocol_key, exclude_session=self.session_id
        )
        return [candidate_from_records(s, e, None) for s, e in rows]

    def _session_rows(
        self,
    ) -> tuple[list[DecisionRecord], dict[str, Any], dict[str, EvaluationRecord]]:
        decisions = [d for d in self.db.decisions(self.session_id) if d.strategy_hash]
        hashes = sorted({d.strategy_hash for d in decisions if d.strategy_hash})
        strategies = self.db.strategies(hashes)
        evaluations = self.db.evaluations(hashes, self.protocol_key, returns=False)
        return decisions, strategies, evaluations

    def _view(self, batch: int) -> Any:
        from alphaloop.research.policy import ResearchView

        decisions, strategies, evaluations = self._session_rows()
        mine = [
            candidate_from_records(strategies[d.strategy_hash], evaluations.get(d.strategy_hash), d)
            for d in decisions
            if d.strategy_hash in strategies
        ]
        history = (*self._prior, *mine)
        return ResearchView(
            dataset=self.dataset,
            fields=tuple(self.session["config"].get("fields", ())),
            n_assets=int(self.session["config"].get("n_assets", 0)),
            constraints=self.constraints,
            history=history,
            models=tuple(self._models() if callable(self._models) else self._models),
            batch=batch,
            seen=frozenset(c.hash for c in history),
            templates=self._templates(),
            regime=self.session["config"].get("market_regime"),
        )

    def _templates(self) -> tuple[str, ...]:
        """The strategy templates the session searches: those stored at its start that are
        registered (sessions stored before templates were searched have none)."""
        from alphaloop.strategies import TEMPLATES

        names = self.session["config"].get("template_names") or ()
        return tuple(sorted(n for n in names if n in TEMPLATES))

    # ------------------------------------------------------------ the loop
    def run(self) -> BatchReport:
        """Finish the batch in progress, then run batches to the budget or the time limit."""
        report = self._finish_pending()
        while True:
            done = self._evaluated_in_session()
            if done >= self.config.budget:
                break
            if self.config.time_limit is not None and (
                self.clock() - self._started >= self.config.time_limit
            ):
                break
            batch = int(self.db.session(self.session_id)["n_batches"])
            size = min(self.config.batch_size, self.config.budget - done)
            if not self._propose(batch, size):
                break  # the policy has nothing new to propose
            report = self._complete(batch)
        return report

    def _evaluated_in_session(self) -> int:
        return sum(1 for d in self.db.decisions(self.session_id) if d.context.get("new_trial"))

    def _finish_pending(self) -> BatchReport:
        """Evaluate and gate a batch whose decisions were stored before a crash."""
        n_batches = int(self.db.session(self.session_id)["n_batches"])
        decisions = self.db.decisions(self.session_id)
        if any(d.batch == n_batches for d in decisions):
            return self._complete(n_batches)
        return self.report(n_batches - 1)

    def _propose(self, batch: int, size: int) -> bool:
        """Ask the policy for a batch; store strategies and decisions. False if none is new."""
        from alphaloop.research.strategy_db import DecisionRecord, Parentage

        view = self._view(batch)
        rng = np.random.default_rng([self.config.seed, batch])
        proposals: list[Proposal] = self.policy.propose(view, size, rng)
        n_trials = self.db.n_trials(self.dataset)
        n_sr, mean_sr, var_sr = self.db.trial_sharpe_stats(self.dataset)
        seq0 = len(self.db.decisions(self.session_id))
        records: list[DecisionRecord] = []
        chosen: set[str] = set()
        for proposal in proposals:
            try:
                spec = self.to_spec(proposal.recipe)
            except Exception as exc:  # a recipe the policy got wrong: refused, not a trial
                records.append(
                    DecisionRecord(
                        seq=seq0 + len(records),
                        batch=batch,
                        agent="strategy",
                        action=proposal.action,
                        operator=proposal.operator,
                        strategy_hash=None,
                        parents=list(proposal.parents),
                        rationale=f"{proposal.rationale} (refused: {exc})",
                        context={**proposal.context, "new_trial": False, "refused": str(exc)},
                        trials_before=n_trials,
                    )
                )
                continue
            if spec.hash in chosen:
                continue
            chosen.add(spec.hash)
            kind, family, logic = self.classify(proposal.recipe)
            parents = list(proposal.parents)
            self.db.record_strategy(
                spec,
                kind=kind,
                family=family,
                logic=logic,
                models=models_of(proposal.recipe),
                recipe=proposal.recipe,
                origin="research",
                session_id=self.session_id,
                parentage=Parentage(
                    parent=parents[0] if parents else None,
                    second_parent=parents[1] if len(parents) > 1 else None,
                    operator=proposal.operator,
                    exploration=proposal.exploration,
                )
                if parents
                else None,
            )
            stored = self.db.evaluation(spec.hash, self.protocol_key)
            records.append(
                DecisionRecord(
                    seq=seq0 + len(records),
                    batch=batch,
                    agent="strategy",
                    action=proposal.action,
                    operator=proposal.operator,
                    strategy_hash=spec.hash,
                    parents=parents,
                    rationale=proposal.rationale,
                    context={
                        **proposal.context,
                        "new_trial": stored is None,
                        "trials": {"n": n_sr, "mean_sr": mean_sr, "var_sr": var_sr},
                    },
                    trials_before=n_trials,
                )
            )
        if not chosen:
            return False
        self.db.record_decisions(self.session_id, records)
        return True

    def _complete(self, batch: int) -> BatchReport:
        """Evaluate what the batch's decisions still need, gate them, close the batch."""
        decisions = [
            d for d in self.db.decisions(self.session_id) if d.batch == batch and d.strategy_hash
        ]
        hashes = [d.strategy_hash for d in decisions]
        strategies = self.db.strategies(hashes)
        have = self.db.evaluations(hashes, self.protocol_key, returns=False)
        todo = [h for h in dict.fromkeys(hashes) if h not in have]
        chunk = max(8, 2 * self.config.workers)
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            specs = [spec_of(strategies[h]) for h in part]
            for h, result in zip(part, self.executor.map(specs), strict=True):
                self.db.record_evaluation(self._record(h, result))
        self._gate_batch(batch, decisions)
        self.db.update_session(self.session_id, n_batches=batch + 1)
        report = self.report(batch)
        if self.on_batch is not None:
            self.on_batch(report)
        return report

    def _record(self, strategy_hash: str, result: CandidateResult) -> EvaluationRecord:
        from alphaloop import __version__
        from alphaloop.research.strategy_db import EvaluationRecord

        return EvaluationRecord(
            strategy_hash=strategy_hash,
            protocol=self.protocol_key,
            status=stored_status(result),
            reason=result.reason,
            sharpe=finite(result.metrics.get("sharpe")),
            metrics=result.metrics,
            folds=result.folds,
            lookahead=result.lookahead,
            validation=None,
            passed=None if stored_status(result) in ("ok", "rejected") else False,
            returns=result.returns,
            provenance={
                "data_hash": self.protocol.data_hash,
                "code_version": __version__,
                "seed": self.config.seed,
                "protocol": self.protocol.model_dump(mode="json"),
            },
            session_id=self.session_id,
        )

    def session_returns(self, upto_batch: int | None = None) -> tuple[list[str], np.ndarray]:
        """Hashes and (T, M) search-span returns of the session's ok candidates, proposal order."""
        decisions, _, evaluations = self._session_rows()
        hashes: list[str] = []
        for d in decisions:
            if upto_batch is not None and d.batch > upto_batch:
                continue
            ev = evaluations.get(d.strategy_hash or "")
            if ev is None or ev.status != "ok" or d.strategy_hash in hashes:
                continue
            hashes.append(d.strategy_hash)
        missing = [h for h in hashes if h not in self._returns]
        if missing:
            for h, ev in self.db.evaluations(missing, self.protocol_key, returns=True).items():
                if ev.returns is not None:
                    self._returns[h] = np.asarray(ev.returns, dtype=np.float64)
        hashes = [h for h in hashes if h in self._returns]
        if not hashes:
            return [], np.empty((0, 0))
        n = min(len(self._returns[h]) for h in hashes)
        return hashes, np.column_stack([self._returns[h][-n:] for h in hashes])

    def _gate_batch(self, batch: int, decisions: list[DecisionRecord]) -> None:
        """Gate the batch's new trials in proposal order (deterministic trial counts)."""
        _, returns = self.session_returns(upto_batch=batch)
        pbo = self.pbo(returns) if returns.shape[1] >= 2 else None
        ordered = sorted((d for d in decisions if d.context.get("new_trial")), key=lambda d: d.seq)
        stored = self.db.evaluations(
            [d.strategy_hash for d in ordered], self.protocol_key, returns=True
        )
        batch_sharpes: list[float] = []
        ordinal = 0
        for d in ordered:
            ev = stored.get(d.strategy_hash)
            if ev is None:
                raise ResearchError(f"candidate {d.strategy_hash[:12]} has no stored evaluation")
            if ev.status == "refused":  # never ran: not a trial
                reason = f"refused before it ran: {ev.reason}"
                refused = {"name": "refused", "passed": False, "value": None, "threshold": None}
                gates = [{**refused, "reason": reason}]
                validation = {"passed": False, "reasons": [reason], "gates": gates}
                self.db.set_verdict(d.strategy_hash, self.protocol_key, validation, False)
                continue
            ordinal += 1
            sr = finite((ev.metrics or {}).get("sharpe_per_period"))
            if ev.status == "ok" and sr is not None:
                batch_sharpes.append(sr)
            n_trials = d.trials_before + ordinal
            if ev.status == "failed":
                crashed = {"name": "crashed", "passed": False, "value": None, "threshold": None}
                reason = f"the candidate failed while evaluated: {ev.reason}"
                validation = {
                    "passed": False,
                    "reasons": [reason],
                    "gates": [{**crashed, "reason": reason}],
                    "n_trials": n_trials,
                }
                self.db.set_verdict(d.strategy_hash, self.protocol_key, validation, False)
                continue
            var_sr = combined_variance(d.context.get("trials", {}), batch_sharpes)
            verdict = self.gate(
                result_from_record(ev), n_trials=n_trials, trial_sr_var=var_sr, pbo=pbo
            )
            validation = {**verdict.to_dict(), "n_trials": n_trials, "trial_sr_var": var_sr}
            validation["session_pbo"] = pbo
            self.db.set_verdict(d.strategy_hash, self.protocol_key, validation, verdict.passed)

    def final_gate(self) -> float | None:
        """Judge the session's survivors again, with every trial made: returns the final PBO.

        A candidate that passed its gate early was judged with the trials made
        so far; the final pick is chosen among all of them, so each survivor
        is gated again with the dataset's trial count and trial-Sharpe
        variance at the end and the PBO of every candidate of the session.
        Its stored verdict is replaced (marked ``final``).
        """
        _, returns = self.session_returns()
        pbo = self.pbo(returns) if returns.shape[1] >= 2 else None
        n_trials = self.db.n_trials(self.dataset)
        _, _, var_sr = self.db.trial_sharpe_stats(self.dataset)
        decisions = [d for d in self.db.decisions(self.session_id) if d.context.get("new_trial")]
        hashes = list(dict.fromkeys(d.strategy_hash for d in decisions if d.strategy_hash))
        stored = self.db.evaluations(hashes, self.protocol_key, returns=True)
        for h in hashes:
            ev = stored.get(h)
            if ev is None or not ev.passed:
                continue
            verdict = self.gate(
                result_from_record(ev), n_trials=n_trials, trial_sr_var=var_sr, pbo=pbo
            )
            validation = {**verdict.to_dict(), "n_trials": n_trials, "trial_sr_var": var_sr}
            validation.update(session_pbo=pbo, final=True)
            self.db.set_verdict(h, self.protocol_key, validation, verdict.passed)
        return pbo

    # ------------------------------------------------------------ reporting
    def report(self, batch: int) -> BatchReport:
        """Counts, rejections by gate and the current best, from the database."""
        decisions, strategies, evaluations = self._session_rows()
        rep = BatchReport(batch=batch, evaluated=0, reused=0, ok=0, failed=0, passed=0)
        best: tuple[float, str] | None = None
        for d in decisions:
            ev = evaluations.get(d.strategy_hash or "")
            if ev is None:
                continue
            if not d.context.get("new_trial"):
                rep.reused += 1
                continue
            if ev.status == "refused":
                rep.rejections["refused"] += 1
                continue
            rep.evaluated += 1
            if ev.status == "failed":
                rep.failed += 1
                rep.rejections["crashed"] += 1
                continue
            rep.ok += 1
            if ev.passed:
                rep.passed += 1
            for name in failed_gates(ev.validation):
                rep.rejections[name] += 1
            if ev.passed and ev.sharpe is not None and (best is None or ev.sharpe > best[0]):
                best = (ev.sharpe, d.strategy_hash)
        if best is not None:
            s = strategies[best[1]]
            ev = evaluations[best[1]]
            rep.best = {
                "hash": s.hash,
                "name": s.name,
                "family": s.family,
                "sharpe": ev.sharpe,
                "dsr": gate_value(ev.validation, "dsr"),
            }
        rep.elapsed = self.clock() - self._started
        return rep
