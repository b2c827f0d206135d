"""``alphaloop research``: autonomous research sessions (start, resume, improve models)."""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    err,
    fmt_num,
    out,
    print_json,
    print_table,
    progress_bars,
    workspace,
)
from alphaloop.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from alphaloop.research.session import BatchReport

research_app = typer.Typer(
    help="Autonomous research: agents search, validate and store strategies for a goal.",
    invoke_without_command=True,
)

LLMCacheOpt = Annotated[
    str,
    typer.Option(
        "--llm-cache",
        help="LLM answers: use (cache, else call), replay (cache only, no network) or off.",
    ),
]
LLMCacheFileOpt = Annotated[
    Path | None,
    typer.Option("--llm-cache-file", help="Response cache file (default: in the workspace)."),
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr)?\s*$")
_UNITS = {None: 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}


def parse_duration(text: str | None) -> float | None:
    """``"90"``, ``"90s"``, ``"5m"``, ``"1.5h"`` -> seconds; None stays None."""
    if text is None:
        return None
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(
            f"--time-limit {text!r} is not a positive duration",
            hint="write seconds (90), or with a unit: 90s, 5m, 1.5h",
        )
    return float(m.group(1)) * _UNITS[m.group(2)]


@contextmanager
def _live(as_json: bool, budget: int) -> Iterator[Callable[[BatchReport], None]]:
    """A live panel on stderr (terminals only): counts, rejections by reason, the current best."""
    if as_json or not (sys.stdout.isatty() and err.is_terminal):
        yield lambda report: None
        return
    from rich.live import Live
    from rich.table import Table

    def render(r: BatchReport | None) -> Table:
        t = Table(show_header=False, box=None, pad_edge=False, title="research session")
        if r is None:
            t.add_row("starting", "")
            return t
        t.add_row("batch", str(r.batch + 1))
        t.add_row("evaluated", f"{r.evaluated} of {budget} ({r.failed} crashed, {r.reused} reused)")
        t.add_row("passed the gate", str(r.passed))
        rejected = ", ".join(f"{k} {v}" for k, v in r.rejections.most_common(6)) or "-"
        t.add_row("rejected by", rejected)
        if r.best:
            t.add_row(
                "current best",
                f"{r.best['name']} ({r.best['family']}): Sharpe {fmt_num(r.best['sharpe'], 3)}, "
                f"DSR {fmt_num(r.best['dsr'], 3)}",
            )
        rate = r.evaluated / r.elapsed * 60 if r.elapsed > 0 else 0.0
        t.add_row("speed", f"{rate:,.0f} candidates/min")
        return t

    with Live(render(None), console=err, transient=True, refresh_per_second=4) as live:
        yield lambda report: live.update(render(report))


def _print_summary(doc: dict[str, Any]) -> None:
    s = doc["session"]
    c = doc["counts"]
    out.print(f"[bold]research session {s['id']}[/] on {escape(s['dataset'])}: {escape(s['goal'])}")
    for line in doc.get("assumptions") or []:
        out.print(f"  assumed: {escape(line)}")
    out.print(
        f"{c['evaluated']} candidates evaluated ({c['failed']} crashed), "
        f"{doc['n_survivors']} passed the gate; {c['trials_on_dataset']} trials on "
        f"{escape(s['dataset'])} in all "
        "(every Sharpe below is from the search span, judged with that many trials)"
    )
    if doc["by_kind"]:
        print_table(
            (
                Col("kind"),
                Col("n", "right"),
                Col("crashed", "right"),
                Col("passed", "right"),
                Col("mean Sharpe", "right"),
                Col("best Sharpe", "right"),
            ),
            [
                (
                    r["kind"],
                    r["n"],
                    r["failed"],
                    r["passed"],
                    fmt_num(r["mean_sharpe"], 3),
                    fmt_num(r["best_sharpe"], 3),
                )
                for r in doc["by_kind"]
            ],
            title="candidates by type (search span)",
        )
    funnel = " -> ".join(f"{r['gate']} {r['left']}" for r in doc["funnel"])
    out.print(f"funnel: {escape(funnel)}")
    out.print(
        f"models: {len(doc['models_start'])} at start, {len(doc['models_end'])} at end"
        + (f"; session PBO {fmt_num(doc.get('final_pbo'), 3)}" if doc.get("final_pbo") else "")
    )
    _print_guard(doc.get("llm"))
    if doc["survivors"]:
        print_table(
            (
                Col("hash"),
                Col("name"),
                Col("kind", drop=2),
                Col("Sharpe", "right"),
                Col("DSR", "right"),
                Col("PBO", "right"),
                Col("regimes", "right", drop=1),
                Col("trials", "right"),
            ),
            [
                (
                    r["hash"][:12],
                    r["name"],
                    r["kind"],
                    fmt_num(r["sharpe"], 3),
                    fmt_num(r["dsr"], 3),
                    fmt_num(r["pbo"], 3),
                    fmt_num(r["regime_share"], 2),
                    r["n_trials"],
                )
                for r in doc["survivors"][:5]
            ],
            title="top survivors (search span; `alphaloop strategies show HASH` for one)",
        )
    h = doc.get("holdout") or {}
    if h.get("evaluated"):
        for row in h.get("strategies", []):
            m = row.get("metrics", {})
            out.print(
                f"[bold]sealed holdout[/] ({escape(row['start'][:10])} to "
                f"{escape(row['end'][:10])}, "
                f"evaluated once after {h['trials_before']} trials): {escape(row['name'])} "
                f"Sharpe {fmt_num(m.get('sharpe_ratio'), 3)}, "
                f"annual return {fmt_num(m.get('annual_return'), 3)}, "
                f"max drawdown {fmt_num(m.get('max_drawdown'), 3)}"
            )
    elif h:
        out.print(f"sealed holdout: not evaluated: {escape(h.get('reason', ''))}")
    if doc.get("report"):
        out.print(f"report written to {escape(doc['report'])}")


def _print_guard(guard: dict[str, Any] | None) -> None:
    """The memorisation guard: LLM-proposed candidates, post-cut-off figures first."""
    if not guard:
        return
    from alphaloop.research.llm_guard import guard_rows

    line, rows = guard_rows(guard)
    origins = ", ".join(f"{k} {v}" for k, v in (guard.get("origins") or {}).items())
    out.print(f"proposals by origin: {escape(origins or 'none')}")
    out.print(escape(line))
    if rows:
        print_table(
            (
                Col("name"),
                Col("hash"),
                Col("post-cut-off Sharpe", "right"),
                Col("post-cut-off return", "right", drop=2),
                Col("bars", "right", drop=1),
                Col("search Sharpe", "right"),
                Col("passed"),
            ),
            [tuple(r) for r in rows[:10]],
            title="LLM-proposed candidates (post-cut-off span first; search span only)",
        )


@research_app.callback()
def research(
    ctx: typer.Context,
    goal: Annotated[str | None, typer.Option("--goal", help="What to look for, in words.")] = None,
    data: Annotated[str | None, typer.Option("--data", help="Dataset name.")] = None,
    budget: Annotated[int, typer.Option(help="Candidates to evaluate.")] = 200,
    time_limit: Annotated[
        str | None, typer.Option("--time-limit", help="Stop after this long (90s, 5m, 1h).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Evaluation processes (or Ray actors).")] = 2,
    executor: Annotated[str, typer.Option(help="local or ray.")] = "local",
    seed: Annotated[int, typer.Option(help="Seeds the search; same seed, same session.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Proposals per batch.")] = 32,
    picks: Annotated[
        int, typer.Option(help="Final picks evaluated once on the sealed holdout (0: none).")
    ] = 1,
    ml: Annotated[
        bool,
        typer.Option("--ml/--no-ml", help="Let hybrid and ML candidates in (the goal permitting)."),
    ] = True,
    improve: Annotated[
        bool,
        typer.Option("--improve", help="Run the model improver alongside, in its own process."),
    ] = False,
    templates: Annotated[
        bool,
        typer.Option(
            "--templates/--no-templates",
            help="Search the strategy templates (pairs, momentum, ...) as families too.",
        ),
    ] = True,
    policy: Annotated[
        str,
        typer.Option(
            "--policy", help="Who proposes: bandit (offline) or llm (ALPHALOOP_LLM_* model)."
        ),
    ] = "bandit",
    llm_cache: LLMCacheOpt = "use",
    llm_cache_file: LLMCacheFileOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML session report.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Start a research session: ``alphaloop research --goal TEXT --data NAME``.

    Exits 0 when at least one candidate passed the gate, 1 when none did.
    """
    if ctx.invoked_subcommand is not None:
        return
    if goal is None or data is None:
        raise UsageError(
            "a research session needs --goal and --data",
            hint='e.g. alphaloop research --goal "robust long-only momentum" --data sp500-stocks',
        )
    from pydantic import ValidationError

    from alphaloop.app.research import start_research
    from alphaloop.research.session import SessionConfig
    from alphaloop.specfile import describe_validation_error

    try:
        config = SessionConfig(
            budget=budget,
            time_limit=parse_duration(time_limit),
            batch_size=batch_size,
            workers=workers,
            executor=executor,  # type: ignore[arg-type]
            seed=seed,
            picks=picks,
            ml=ml,
            improve=improve,
            templates=templates,
            policy=policy,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        raise UsageError(describe_validation_error(exc, SessionConfig)) from None
    options = _llm_options(llm_cache, llm_cache_file)
    ws = workspace(ctx, write=True)
    with _live(as_json, budget) as on_batch:
        result = start_research(
            ws, goal, data, config, on_batch=on_batch, report=report, llm=options
        )
    _done(result.to_dict(), as_json)


def _llm_options(cache: str, path: Path | None) -> Any:
    from alphaloop.app.research_llm import LLMOptions
    from alphaloop.llm import CACHE_MODES

    if cache not in CACHE_MODES:
        raise UsageError(
            f"--llm-cache {cache!r} is not a cache mode", hint=f"use {', '.join(CACHE_MODES)}"
        )
    return LLMOptions(cache=cache, cache_path=path)


def _done(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(doc)
    else:
        _print_summary(doc)
    if not doc["n_survivors"]:
        raise typer.Exit(1)


@research_app.command("resume")
def resume(
    ctx: typer.Context,
    session: Annotated[
        int, typer.Argument(help="Session id (see `alphaloop strategies sessions`).")
    ],
    llm_cache: LLMCacheOpt = "use",
    llm_cache_file: LLMCacheFileOpt = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML session report.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Continue a session after a crash, a kill or a time limit; nothing is evaluated twice."""
    from alphaloop.app.research import resume_research

    options = _llm_options(llm_cache, llm_cache_file)
    ws = workspace(ctx, write=True)
    budget = int((ws.strategies.session(session)["config"] or {}).get("budget", 0))
    with _live(as_json, budget) as on_batch:
        result = resume_research(ws, session, on_batch=on_batch, report=report, llm=options)
    _done(result.to_dict(), as_json)


@research_app.command("improve")
def improve(
    ctx: typer.Context,
    data: Annotated[str, typer.Option("--data", help="Dataset whose models to improve.")],
    rounds: Annotated[int, typer.Option(help="Rounds of proposals per model.", min=1)] = 1,
    top: Annotated[int, typer.Option(help="Models of the top strategies to improve.", min=1)] = 3,
    ref: Annotated[
        list[str] | None, typer.Option("--ref", help="A model version to improve (repeatable).")
    ] = None,
    session: Annotated[
        int | None, typer.Option("--session", help="Take the models of this session's top.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the proposals and the training.")] = 0,
    ideas: Annotated[
        str,
        typer.Option(
            "--ideas",
            help="offline, or llm: ask the ALPHALOOP_LLM_* model for the changes to try.",
        ),
    ] = "offline",
    llm_cache: Annotated[
        str,
        typer.Option(
            "--llm-cache", help="Model answers: use (cache them), replay (cache only), off."
        ),
    ] = "use",
    as_json: JsonOpt = False,
) -> None:
    """Propose better versions of the models the best strategies use; register only real wins.

    Each proposal (features, hyperparameters, model family) is evaluated on
    validation folds inside the search span and registered as a new version
    only when a paired test on per-date IC says it beats the current one by
    the margin. Exits 0 when a new version was registered, 1 when none was.
    """
    from alphaloop.app.research_models import run_improver

    if ideas not in ("offline", "llm"):
        raise UsageError(f"--ideas must be offline or llm, got {ideas!r}")
    if llm_cache not in ("use", "replay", "off"):
        raise UsageError(f"--llm-cache must be use, replay or off, got {llm_cache!r}")
    ws = workspace(ctx, write=True)
    ws.data.info(data)
    client = source = None
    if ideas == "llm":
        from alphaloop.app.llm_workspace import workspace_llm_client
        from alphaloop.research.model_ideas import llm_ideas

        client = workspace_llm_client(ws, llm_cache)
        source = llm_ideas(client, seed=seed)
    try:
        with progress_bars(as_json) as progress:
            results = run_improver(
                ws,
                data,
                rounds=rounds,
                refs=ref,
                top=top,
                seed=seed,
                session_id=session,
                progress=progress,
                ideas=source,
            )
    finally:
        if client is not None:
            client.close()
    docs = [r.to_dict() for r in results]
    if as_json:
        print_json(docs)
    else:
        if not docs:
            out.print(f"no model to improve on {escape(data)}", markup=False)
        for d in docs:
            new = d.get("new_ref")
            verdict = f"registered [green]{escape(new)}[/]" if new else "kept"
            out.print(f"{escape(str(d.get('ref')))}: {verdict}")
            record = d.get("ideas")
            if record:
                out.print(
                    f"  ideas from {escape(str(record.get('source')))}: "
                    f"{len(record.get('accepted') or [])} tried, "
                    f"{len(record.get('rejected') or [])} refused"
                    + (
                        f"; offline proposals used ({escape(str(record['fallback']))})"
                        if record.get("used") == "offline"
                        else ""
                    )
                )
            for p in d.get("proposals", []):
                cmp = p.get("comparison") or {}
                result = (
                    f"error {p['error']}"
                    if p.get("error")
                    else f"Wilcoxon p {fmt_num((cmp.get('wilcoxon') or {}).get('p_value'), 3)}, "
                    f"mean IC gain {fmt_num(cmp.get('mean_diff'), 4)}"
                )
                out.print(f"  - {escape(str(p.get('description', '')))}: {escape(result)}")
    if not any(d.get("new_ref") for d in docs):
        raise typer.Exit(1)
