"""Factor mining on a workspace dataset: sessions, trial accounting, libraries, the holdout.

:func:`mine_dataset` seals the dataset's holdout if this is its first use,
loads the search span (the catalog stops before the holdout), and runs the
miner (:func:`alphaloop.factors.mining.mine`) under a session recorded in
the database. The session's key is a hash of the dataset's content, the
settings and the seed: asking for the same run again resumes it when it was
stopped (its checkpoint is in ``mining/<key>/``) or returns the recorded
result when it finished. Every distinct expression scored is added to the
dataset's account (``factor_expressions``), so later sessions adjust their
significance for the trials of earlier ones. The pool becomes a workspace
library (``--library NAME``) with provenance; :func:`evaluate_mined_holdout`
evaluates a finished session's pool on the sealed holdout, once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from alphaloop.errors import HoldoutError, MiningError, MiningSessionNotFoundError
from alphaloop.jsonsafe import json_safe
from alphaloop.store import DatasetFactorTrialsRow, FactorExpressionRow, MiningSessionRow

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from alphaloop.app.workspace import Workspace
    from alphaloop.factors.mining import MiningConfig, MiningResult
    from alphaloop.llm import LLMClient

__all__ = [
    "MiningOutcome",
    "evaluate_mined_holdout",
    "factor_trials",
    "get_mining_session",
    "list_mining_sessions",
    "mine_dataset",
]


@dataclass(frozen=True)
class MiningOutcome:
    """A mining session's id, status, summary, and where its library and report went."""

    session_id: int
    key: str
    status: str
    summary: dict[str, Any]
    library: str | None = None
    library_path: Path | None = None
    report: Path | None = None
    resumed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return json_safe(
            {
                "session_id": self.session_id,
                "key": self.key,
                "status": self.status,
                "resumed": self.resumed,
                "library": self.library,
                "library_path": str(self.library_path) if self.library_path else None,
                "report": str(self.report) if self.report else None,
                **self.summary,
            }
        )


def factor_trials(ws: Workspace, dataset: str, *, besides: int | None = None) -> int:
    """Distinct expressions miners have scored on ``dataset`` so far (one row read).

    ``besides``: leave out the expressions session ``besides`` was the first to
    score (a resumed session's own earlier trials are in its result already).
    """
    with ws.db.session() as s:
        row = s.get(DatasetFactorTrialsRow, dataset)
        total = int(row.n_expressions) if row is not None else 0
        if besides is not None and total:
            own = s.scalar(
                select(func.count())
                .select_from(FactorExpressionRow)
                .where(
                    FactorExpressionRow.dataset == dataset,
                    FactorExpressionRow.session_id == besides,
                )
            )
            total -= int(own or 0)
        return total


def _session_key(data_hash: str, config: MiningConfig) -> str:
    text = json.dumps({"config": config.replay_key(), "data": data_hash}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def mine_dataset(
    ws: Workspace,
    data: str,
    config: MiningConfig,
    *,
    library: str | None = None,
    report: str | Path | None = None,
    texts: Sequence[str] = (),
    on_generation: Callable[[dict[str, Any]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    llm: LLMClient | None = None,
    n_hypotheses: int = 5,
) -> MiningOutcome:
    """Mine factors on ``data``'s search span under a recorded session.

    Parameters
    ----------
    ws : Workspace
    data : str
        A dataset of the workspace (with ``$close``).
    config : MiningConfig
        ``prior_trials`` is filled in here from the dataset's account.
    library : str, optional
        Save the pool as this workspace library (``libraries/NAME.yaml``).
    report : path, optional
        Write an HTML report of the session there.
    texts : sequence of str
        Text factors of the workspace the grammar may use as leaves
        (``Text("NAME")``), besides the price and volume fields.
    llm : LLMClient, optional
        Ask this model for ``n_hypotheses`` factor hypotheses first
        (:mod:`alphaloop.app.mining_hypotheses`): the accepted ones enter the
        first generation (and the session's key); the summary records them
        (``hypotheses``) and measures the pool factors descending from them
        after the model's knowledge cut-off (``memorisation_guard``). When
        the model gives nothing usable the run is the offline one, and the
        summary says why.

    Raises
    ------
    MiningError
        Settings or data no run can use; a library name that is built in.
    """
    from alphaloop.factors.library import BUILTIN
    from alphaloop.factors.mining import mine

    if library is not None and library in BUILTIN:
        raise MiningError(f"{library!r} is a built-in library", hint="choose another name")
    info = ws.data.info(data)
    ws.data.holdout_boundary(data)  # seals the holdout at first use
    panel = ws.data.load(data)
    # a point-in-time universe stored with the dataset: only members are scored (its
    # membership is part of the panel's content hash, so of the session's key)
    from alphaloop.app.assets import dataset_universe

    panel, caveats, _ = dataset_universe(ws, data, panel, info.caveats)
    if texts:
        from alphaloop.app.text_factors import attach_text_fields
        from alphaloop.factors.mining import DEFAULT_FIELDS, Grammar

        panel = attach_text_fields(ws, panel, list(texts))
        base = config.grammar or Grammar(
            fields=tuple(f for f in DEFAULT_FIELDS if f in panel.field_names)
        )
        fields = (*base.fields, *(f"text:{t}" for t in texts if f"text:{t}" not in base.fields))
        config = replace(config, grammar=replace(base, fields=fields))
    if panel.n_times <= config.horizon + 1:
        raise MiningError(
            f"the search span of {data!r} has {panel.n_times} bars: too short for a "
            f"{config.horizon}-bar horizon",
            hint="use a shorter --horizon or a longer dataset",
        )
    asked = None
    if llm is not None:
        from alphaloop.app.mining_hypotheses import ask_for_hypotheses

        asked = ask_for_hypotheses(ws, data, panel, config, llm, n=n_hypotheses)
        config = replace(config, hypotheses=(*config.hypotheses, *asked.accepted))
    key = _session_key(panel.content_hash(), config)
    checkpoint = ws.root / "mining" / key / "checkpoint.json"
    with ws.db.session() as s:
        row = s.scalars(select(MiningSessionRow).where(MiningSessionRow.key == key)).first()
        resumed = row is not None
        if row is not None and row.status == "finished" and row.result is not None:
            # the same run asked for again: its recorded result (and library) stand
            session_id = row.id
            summary = dict(row.result)
            lib_name = row.library
        else:
            if row is None:
                row = MiningSessionRow(
                    key=key,
                    dataset=data,
                    config=json_safe(config.to_dict()),
                    status="running",
                    n_scored=0,
                    n_generations=0,
                )
                s.add(row)
            else:
                row.status = "running"
            s.flush()
            session_id = row.id
            summary = None
            lib_name = None
    if summary is not None:
        if library is not None and library != lib_name and summary["pool"]["members"]:
            # asked again with another library name: the recorded pool, saved under it
            _save_recorded_library(ws, key, library)
            lib_name = library
            with ws.db.session() as s:
                row = s.get(MiningSessionRow, session_id)
                assert row is not None
                row.library = library
        lib_path = ws.root / "libraries" / f"{lib_name}.yaml" if lib_name else None
        if asked is not None and "hypotheses" not in summary:
            # the model gave nothing usable: this is the recorded offline run
            summary["hypotheses"] = asked.to_dict()
        return MiningOutcome(session_id, key, "finished", summary, lib_name, lib_path, None, True)
    prior = factor_trials(ws, data, besides=session_id)
    run_config = replace(config, prior_trials=prior)
    status = "failed"
    try:
        result = mine(
            panel,
            run_config,
            checkpoint=checkpoint,
            resume=True,
            on_generation=on_generation,
            should_stop=should_stop,
        )
        status = "interrupted" if result.stopped == "interrupted" else "finished"
    except KeyboardInterrupt:
        status = "interrupted"
        _set_status(ws, session_id, status)
        raise
    except BaseException:
        _set_status(ws, session_id, status)
        raise
    summary = result.to_dict()
    summary.update({"dataset": data, "dataset_version": info.version, "caveats": caveats})
    if asked is not None:
        from alphaloop.app.mining_hypotheses import memorisation_guard

        assert llm is not None
        summary["hypotheses"] = asked.to_dict()
        summary["memorisation_guard"] = memorisation_guard(
            panel, result, llm.settings.knowledge_cutoff
        )
    _account(ws, data, session_id, result)
    if status == "finished" and result.members:
        from alphaloop.factors.mining.export import library_yaml
        from alphaloop.files import write_atomic

        # the pool as a library without a name yet: a later `--library NAME` saves it
        write_atomic(checkpoint.parent / "pool.yaml", library_yaml(result, _UNNAMED, dataset=data))
    lib_path = None
    if status == "finished" and library is not None and result.members:
        lib_path = _save_library(ws, result, library, data)
    report_path = None
    if report is not None:
        from alphaloop.app.mining_report import write_mining_report

        report_path = write_mining_report(result, summary, report, session_id=session_id)
    with ws.db.session() as s:
        row = s.get(MiningSessionRow, session_id)
        assert row is not None
        row.status = status
        row.n_scored = result.n_scored
        row.n_generations = result.n_generations
        row.result = json_safe(summary) if status == "finished" else None
        row.library = library if lib_path is not None else None
        row.finished_at = datetime.now(UTC) if status == "finished" else None
    return MiningOutcome(
        session_id,
        key,
        status,
        json_safe(summary),
        library if lib_path is not None else None,
        lib_path,
        report_path,
        resumed,
    )


def _set_status(ws: Workspace, session_id: int, status: str) -> None:
    with ws.db.session() as s:
        row = s.get(MiningSessionRow, session_id)
        if row is not None:
            row.status = status


def _account(ws: Workspace, data: str, session_id: int, result: MiningResult) -> None:
    """Add the session's distinct expressions to the dataset's account, in one transaction."""
    dialect = ws.db.engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = datetime.now(UTC)
    rows = [
        {
            "dataset": data,
            "hash": c.key,
            "expression": c.expression,
            "session_id": session_id,
            "created_at": now,
        }
        for c in result.candidates
    ]
    with ws.db.session() as s:
        for chunk in range(0, len(rows), 500):
            s.execute(
                insert(FactorExpressionRow)
                .values(rows[chunk : chunk + 500])
                .on_conflict_do_nothing(index_elements=["dataset", "hash"])
            )
        total = s.scalar(
            select(func.count())
            .select_from(FactorExpressionRow)
            .where(FactorExpressionRow.dataset == data)
        )
        row = s.get(DatasetFactorTrialsRow, data)
        if row is None:
            s.add(DatasetFactorTrialsRow(dataset=data, n_expressions=int(total), updated_at=now))
        else:
            row.n_expressions = int(total)
            row.updated_at = now


def _save_library(ws: Workspace, result: MiningResult, name: str, data: str) -> Path:
    from alphaloop.factors.mining.export import library_yaml
    from alphaloop.files import write_atomic

    target = ws.root / "libraries" / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, library_yaml(result, name, dataset=data))
    return target


_UNNAMED = "unnamed-mined-pool"


def _save_recorded_library(ws: Workspace, key: str, name: str) -> Path:
    """Save a finished session's recorded pool (``mining/<key>/pool.yaml``) as library ``name``."""
    import yaml

    from alphaloop.files import write_atomic

    source = ws.root / "mining" / key / "pool.yaml"
    try:
        doc = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MiningError(
            f"the pool of mining session {key} was not kept on disk ({source})",
            hint="run the session again with another --seed, or mine with --library first",
        ) from None
    doc["name"] = name
    target = ws.root / "libraries" / f"{name}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return target


def list_mining_sessions(ws: Workspace, dataset: str | None = None) -> list[dict[str, Any]]:
    """Mining sessions, newest first: id, key, dataset, status, trials, pool size."""
    with ws.db.session() as s:
        q = select(MiningSessionRow).order_by(MiningSessionRow.id.desc())
        if dataset is not None:
            q = q.where(MiningSessionRow.dataset == dataset)
        out = []
        for row in s.scalars(q):
            pool = (row.result or {}).get("pool") or {}
            out.append(
                {
                    "id": row.id,
                    "key": row.key,
                    "dataset": row.dataset,
                    "status": row.status,
                    "n_scored": row.n_scored,
                    "n_generations": row.n_generations,
                    "pool_size": len(pool.get("members") or []),
                    "pool_valid_ic": pool.get("valid_ic"),
                    "library": row.library,
                    "holdout_evaluated": row.holdout is not None,
                    "created_at": row.created_at.isoformat() if row.created_at else None,
                }
            )
        return out


def get_mining_session(ws: Workspace, ref: int | str) -> dict[str, Any]:
    """One session (by id or key) with its config, result and holdout evaluation."""
    with ws.db.session() as s:
        row = None
        if isinstance(ref, int) or str(ref).isdigit():
            row = s.get(MiningSessionRow, int(ref))
        if row is None:
            row = s.scalars(
                select(MiningSessionRow).where(MiningSessionRow.key == str(ref))
            ).first()
        if row is None:
            raise MiningSessionNotFoundError(
                f"no mining session {ref!r}", hint="`alphaloop factor mine-sessions` lists them"
            )
        return json_safe(
            {
                "id": row.id,
                "key": row.key,
                "dataset": row.dataset,
                "status": row.status,
                "config": row.config,
                "n_scored": row.n_scored,
                "n_generations": row.n_generations,
                "library": row.library,
                "result": row.result,
                "holdout": row.holdout,
                "created_at": row.created_at.isoformat() if row.created_at else None,
                "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            }
        )


def evaluate_mined_holdout(ws: Workspace, ref: int | str, *, note: str) -> dict[str, Any]:
    """Evaluate a finished session's pool on the dataset's sealed holdout, once.

    Unsealing spends the dataset's holdout (for every later search too) and
    records the number of trials made before it; the result is stored with
    the session and the holdout and is never fed back into a search.

    Raises
    ------
    HoldoutError
        The session is not finished, has an empty pool, or the holdout is
        spent or absent.
    """
    from alphaloop.factors.mining.holdout import score_pool_holdout

    session = get_mining_session(ws, ref)
    if session["holdout"] is not None:
        raise HoldoutError(
            f"mining session {session['id']} was evaluated on the holdout already; "
            "its result stands"
        )
    if session["status"] != "finished" or not session["result"]:
        raise HoldoutError(f"mining session {session['id']} is {session['status']}, not finished")
    members = session["result"]["pool"]["members"]
    if not members:
        raise HoldoutError(f"mining session {session['id']} found no factor: nothing to evaluate")
    data = session["dataset"]
    ws.data.holdout_boundary(data)
    trials = factor_trials(ws, data)
    key = ws.data.holdouts.unseal(
        data, note=f"mining session {session['id']}: {note}", trials_before=trials
    )
    panel = ws.data.load(data, holdout_key=key)
    from alphaloop.app.assets import dataset_universe
    from alphaloop.app.text_factors import attach_expression_texts

    panel, _, _ = dataset_universe(ws, data, panel, ())

    panel, _ = attach_expression_texts(
        ws, panel, [m["expression"] for m in members], fit_end=key.boundary
    )
    horizon = int(session["config"]["horizon"])
    weights = {m["name"]: float(m["weight"] or 0.0) for m in members}
    result = score_pool_holdout(
        panel,
        {m["name"]: m["expression"] for m in members},
        weights,
        boundary=key.boundary,
        horizon=horizon,
        n_trials=trials,
        alpha=float(session["config"].get("alpha", 0.05)),
    )
    result = json_safe({**result, "trials_before": trials, "note": note})
    ws.data.holdouts.record_results(key, {"mining_session": session["id"], **result})
    with ws.db.session() as s:
        row = s.get(MiningSessionRow, session["id"])
        assert row is not None
        row.holdout = result
    return result
