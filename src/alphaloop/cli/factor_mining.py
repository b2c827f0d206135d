"""``alphaloop factor mine`` and ``alphaloop factor mined``: mine factors, browse sessions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, err, fmt_num, out, print_json, print_table, workspace
from alphaloop.cli.research import parse_duration
from alphaloop.errors import UsageError

mined_app = typer.Typer(help="Mining sessions: list, show, evaluate on the holdout.")


@contextmanager
def _live(as_json: bool) -> Iterator[Callable[[dict[str, Any]], None]]:
    """One status line per generation on stderr (terminals only)."""
    import sys

    if as_json or not (sys.stdout.isatty() and err.is_terminal):
        yield lambda p: None
        return
    from rich.live import Live

    def render(p: dict[str, Any] | None) -> str:
        if p is None:
            return "mining: starting"
        return (
            f"mining: generation {p['generation']}, {p['n_scored']:,} of {p['budget']:,} "
            f"expressions scored, pool {p['pool_size']} (validation IC "
            f"{fmt_num(p['pool_valid_ic'], 4)}), {p['elapsed']:.0f} s"
        )

    with Live(render(None), console=err, transient=True, refresh_per_second=4) as live:
        yield lambda p: live.update(render(p))


def mine_command(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset name (needs $close).")],
    horizon: Annotated[int, typer.Option(help="Label horizon in bars (next-bar returns).")] = 5,
    budget: Annotated[int, typer.Option(help="Distinct expressions to score.")] = 3000,
    time_limit: Annotated[
        str | None, typer.Option("--time-limit", help="Stop after this long (90s, 5m, 1h).")
    ] = None,
    pool: Annotated[int, typer.Option(help="Factors the pool keeps at most.")] = 10,
    seed: Annotated[int, typer.Option(help="Seeds the search; same seed, same pool.")] = 0,
    population: Annotated[int, typer.Option(help="Expressions per generation.")] = 300,
    seed_expression: Annotated[
        list[str] | None,
        typer.Option(
            "--seed-expression",
            help="A hypothesis that enters the first generation (repeatable).",
        ),
    ] = None,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="A text factor the grammar may use as a leaf (repeatable)."),
    ] = None,
    library: Annotated[
        str | None,
        typer.Option(
            "--library", help="Save the pool as this workspace library (with provenance)."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML session report.")
    ] = None,
    hypotheses: Annotated[
        str,
        typer.Option(
            "--hypotheses",
            help="none, or llm: ask the ALPHALOOP_LLM_* model for hypotheses that enter "
            "the first generation.",
        ),
    ] = "none",
    hypotheses_count: Annotated[
        int,
        typer.Option(
            "--hypotheses-count", help="Hypotheses to ask the model for (1-20).", min=1, max=20
        ),
    ] = 5,
    llm_cache: Annotated[
        str,
        typer.Option(
            "--llm-cache", help="Model answers: use (cache them), replay (cache only), off."
        ),
    ] = "use",
    executor: Annotated[
        str, typer.Option(help="Where candidates are scored: local or ray.")
    ] = "local",
    workers: Annotated[
        int, typer.Option(help="Scoring processes (or Ray actors); 1 scores in process.", min=1)
    ] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Mine factors on a dataset's search span: ``alphaloop factor mine --data NAME``.

    Running the same command again resumes a stopped session (or shows the
    finished one). Exits 0 when a pool factor passes the significance gate
    after adjustment for every trial, 1 when none does.
    """
    from alphaloop.app.mining import mine_dataset
    from alphaloop.factors.mining import MiningConfig

    config = MiningConfig(
        horizon=horizon,
        budget=budget,
        time_limit=parse_duration(time_limit),
        pool=pool,
        seed=seed,
        population=population,
        seed_expressions=tuple(seed_expression or ()),
    )
    try:
        config.check()
    except Exception as exc:
        raise UsageError(str(getattr(exc, "message", exc))) from None
    if hypotheses not in ("none", "llm"):
        raise UsageError(f"--hypotheses must be none or llm, got {hypotheses!r}")
    if llm_cache not in ("use", "replay", "off"):
        raise UsageError(f"--llm-cache must be use, replay or off, got {llm_cache!r}")
    if executor not in ("local", "ray"):
        raise UsageError(f"--executor must be local or ray, got {executor!r}")
    ws = workspace(ctx, write=True)
    client = None
    if hypotheses == "llm":
        from alphaloop.app.llm_workspace import workspace_llm_client

        client = workspace_llm_client(ws, llm_cache)
    try:
        with _live(as_json) as on_generation:
            outcome = mine_dataset(
                ws,
                data,
                config,
                library=library,
                report=report,
                texts=tuple(text or ()),
                on_generation=on_generation,
                llm=client,
                n_hypotheses=hypotheses_count,
                executor=executor,
                workers=workers,
            )
    finally:
        if client is not None:
            client.close()
    doc = outcome.to_dict()
    if as_json:
        print_json(doc)
    else:
        _print_outcome(doc)
    if not doc.get("passed"):
        raise typer.Exit(1)


def _print_outcome(doc: dict[str, Any]) -> None:
    pool = doc["pool"]
    again = (
        " (recorded result of the same run)"
        if doc["resumed"] and doc["status"] == "finished"
        else ""
    )
    out.print(
        f"[bold]mining session {doc['session_id']}[/] on {escape(doc.get('dataset', ''))}: "
        f"{doc['status']}{again}, stopped by {doc['stopped']} after {doc['n_generations']} "
        f"generations"
    )
    out.print(
        f"  {doc['n_scored']:,} distinct expressions scored; significance adjusted for "
        f"{doc['n_trials']:,} trials on this dataset"
    )
    sig = pool.get("significance") or {}
    out.print(
        f"  pool: {len(pool['members'])} factors, rank IC {fmt_num(pool['train_ic'], 4)} "
        f"(training folds), {fmt_num(pool['valid_ic'], 4)} (validation folds); "
        f"t {fmt_num(sig.get('t_stat'), 3)}, adjusted p {fmt_num(sig.get('adjusted_p'), 3)}"
    )
    _print_hypotheses(doc)
    rows = [
        (
            m["name"],
            m["expression"],
            fmt_num(m["valid_ic"], 4),
            fmt_num(m["marginal"], 4),
            fmt_num((m["significance"] or {}).get("adjusted_p"), 3),
            "yes" if (m["significance"] or {}).get("passed") else "no",
        )
        for m in pool["members"]
    ]
    if rows:
        print_table(
            (
                Col("name"),
                Col("formula"),
                Col("valid IC", "right"),
                Col("marginal", "right", drop=2),
                Col("adj. p", "right"),
                Col("passes"),
            ),
            rows,
            title="pool (validation folds decide membership)",
        )
    if doc.get("library"):
        out.print(
            f"library {escape(doc['library'])}: {escape(str(doc['library_path']))} "
            f'(use as Factor("{escape(doc["library"])}/F01"))'
        )
    if doc.get("report"):
        out.print(f"report: {escape(str(doc['report']))}")
    for caveat in doc.get("caveats") or []:
        err.print(f"caveat: {caveat}", markup=False)


def _print_hypotheses(doc: dict[str, Any]) -> None:
    """The model's hypotheses; for pool factors descending from them, the IC after the
    model's knowledge cut-off first (the memorisation guard)."""
    asked = doc.get("hypotheses")
    if not asked:
        return
    out.print(
        f"  hypotheses from {escape(asked['source'])}: {len(asked['accepted'])} accepted "
        f"(scored, counted as trials), {len(asked['rejected'])} refused by the parser"
    )
    if asked.get("fallback"):
        out.print(f"  no usable hypothesis ({escape(asked['fallback'])}): the search ran alone")
    guard = doc.get("memorisation_guard") or {}
    span = guard.get("span") or {}
    members = {m["name"]: m for m in doc["pool"]["members"]}
    rows = [
        (
            name,
            fmt_num(g.get("post_cutoff_ic"), 4),
            str(g.get("n_days", 0)),
            members[name]["expression"],
            fmt_num(members[name]["valid_ic"], 4),
            fmt_num((members[name]["significance"] or {}).get("adjusted_p"), 3),
        )
        for name, g in (guard.get("factors") or {}).items()
        if name in members
    ]
    if not rows:
        return
    where = (
        f"after the cut-off {span['cutoff']}: {span['start']} .. {span['end']}"
        if span.get("start")
        else f"no post-cut-off span: {span.get('reason')}"
    )
    print_table(
        (
            Col("name"),
            Col("IC after cut-off", "right"),
            Col("days", "right"),
            Col("formula"),
            Col("valid IC", "right"),
            Col("adj. p", "right"),
        ),
        rows,
        title=f"from the model's hypotheses ({where})",
    )


@mined_app.command("list")
def mined_list(
    ctx: typer.Context,
    data: Annotated[str | None, typer.Option("--data", help="Only this dataset.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Mining sessions, newest first."""
    from alphaloop.app.mining import list_mining_sessions

    rows = list_mining_sessions(workspace(ctx), data)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no mining sessions yet: `alphaloop factor mine --data NAME` starts one")
        return
    print_table(
        (
            Col("id", "right"),
            Col("dataset"),
            Col("status"),
            Col("scored", "right"),
            Col("pool", "right"),
            Col("valid IC", "right"),
            Col("library", drop=1),
        ),
        [
            (
                str(r["id"]),
                r["dataset"],
                r["status"],
                f"{r['n_scored']:,}",
                str(r["pool_size"]),
                fmt_num(r["pool_valid_ic"], 4),
                r["library"] or "-",
            )
            for r in rows
        ],
        title="mining sessions",
    )


@mined_app.command("show")
def mined_show(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id or key.")],
    as_json: JsonOpt = False,
) -> None:
    """One mining session: settings, pool, provenance, holdout result."""
    from alphaloop.app.mining import get_mining_session

    doc = get_mining_session(workspace(ctx), session)
    if as_json:
        print_json(doc)
        return
    out.print(
        f"[bold]mining session {doc['id']}[/] ({doc['key']}) on {escape(doc['dataset'])}: "
        f"{doc['status']}, {doc['n_scored']:,} expressions scored"
    )
    if doc["result"]:
        _print_outcome(
            {**doc["result"], "session_id": doc["id"], "status": doc["status"], "resumed": False}
        )
    if doc["holdout"]:
        pool = doc["holdout"]["pool"]
        out.print(
            f"holdout ({doc['holdout']['start'][:10]} .. {doc['holdout']['end'][:10]}): pool IC "
            f"{fmt_num(pool['mean_ic'], 4)}, t {fmt_num(pool['t_stat'], 3)}, adjusted p "
            f"{fmt_num(pool['adjusted_p'], 3)} after {doc['holdout']['trials_before']:,} trials"
        )


@mined_app.command("holdout")
def mined_holdout(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id or key.")],
    note: Annotated[str, typer.Option("--note", help="Why this pool, recorded with the holdout.")],
    yes: Annotated[bool, typer.Option("--yes", help="Spend the holdout without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate a finished session's pool on the sealed holdout, once (spends it)."""
    from alphaloop.app.mining import evaluate_mined_holdout

    if not yes:
        raise UsageError(
            "evaluating on the holdout spends it for every later search of this dataset",
            hint="add --yes to go ahead",
        )
    doc = evaluate_mined_holdout(workspace(ctx, write=True), session, note=note)
    if as_json:
        print_json(doc)
        return
    pool = doc["pool"]
    out.print(
        f"holdout {doc['start'][:10]} .. {doc['end'][:10]} ({doc['rows']} bars): pool rank IC "
        f"{fmt_num(pool['mean_ic'], 4)}, t {fmt_num(pool['t_stat'], 3)}, adjusted p "
        f"{fmt_num(pool['adjusted_p'], 3)} after {doc['trials_before']:,} trials"
    )
