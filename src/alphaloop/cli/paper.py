"""``alphaloop paper``: paper trading on a replayed or live feed, and live trading
(start, resume, status, stop, report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import (
    Col,
    JsonOpt,
    SpecEndOpt,
    SpecStartOpt,
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
    from alphaloop.app import Workspace
    from alphaloop.backtest import StrategySpec

paper_app = typer.Typer(
    help="Paper trading: a strategy on a replayed or live feed, behind the governance gate, "
    "recorded bar by bar; resumable. --live trades at the venue.",
    no_args_is_help=True,
)

SessionArg = Annotated[int, typer.Argument(help="Paper session id.", min=1)]
BusOpt = Annotated[
    str | None,
    typer.Option(
        "--bus",
        envvar="ALPHALOOP_BUS_URL",
        help="Redis URL of the event bus: each bar's fills and P&L tick are published there "
        "(what `alphaloop serve --bus` streams to the dashboard), e.g. redis://127.0.0.1:6379/0.",
    ),
]
BusTopicOpt = Annotated[str, typer.Option("--bus-topic", help="The bus topic the events go to.")]
LiveOpt = Annotated[
    bool,
    typer.Option(
        "--live",
        help="Trade live at the venue of --feed (needs live keys and an approved request).",
    ),
]


def _resolve(
    ws: Workspace, target: str, data: str | None, start: str | None, end: str | None
) -> StrategySpec:
    """A spec file, or a strategy of the strategy database (hash or prefix)."""
    from alphaloop.app.specs import override_spec, resolve_spec
    from alphaloop.backtest import StrategySpec

    path = Path(target)
    if path.exists():
        spec = resolve_spec(path, start=start, end=end).spec
    elif path.suffix.lower() in (".yaml", ".yml", ".json"):
        raise UsageError(f"spec file {target} does not exist")
    else:
        record = ws.strategies.get(target)
        base = StrategySpec.from_dict(record.spec, source=f"strategy {record.hash[:12]}")
        spec = override_spec(base, source=f"strategy {record.hash[:12]}", start=start, end=end).spec
    if data is not None and data != spec.data:
        spec = StrategySpec.from_dict({**spec.model_dump(mode="json"), "data": data})
    return spec


def _line(s: dict[str, Any]) -> str:
    mode = "LIVE  " if s.get("mode") == "live" else ""
    return (
        f"{mode}paper session {s['id']}  {escape(s['name'])}  {s['feed']}  "
        f"{s.get('autonomy', '')}  {s['status']}  "
        f"bar {s['position']:,} of {s['n_bars']:,}  equity {fmt_num(s['equity'])}  "
        f"cash {fmt_num(s['cash'])}"
    )


def _print_run(doc: dict[str, Any]) -> None:
    s = doc["session"]
    if doc["resumed_at"]:
        out.print(f"resumed at bar {doc['resumed_at']:,} (restart {s['restarts']})")
    rec = doc["reconciliation"]
    if rec is not None:
        if rec["clean"]:
            out.print(f"reconciled with the broker: nothing to repair; {rec['open_orders']} open")
        else:
            out.print(
                f"reconciled with the broker: {len(rec['missed_fills'])} missed fill(s) added, "
                f"{len(rec['orders_repaired'])} order(s) repaired, positions "
                f"{'repaired' if rec['positions_repaired'] else 'agreed'}, cash difference "
                f"{fmt_num(rec['cash_difference'])}"
            )
    out.print(_line(s), soft_wrap=True)
    out.print(f"{doc['bars']:,} bar(s) processed in this run")


@paper_app.command("start")
def start(
    ctx: typer.Context,
    target: Annotated[
        str, typer.Argument(help="Strategy spec file (YAML/JSON) or strategy id (hash prefix).")
    ],
    data: Annotated[
        str | None, typer.Option("--data", help="Dataset to trade (default: the spec's).")
    ] = None,
    feed: Annotated[
        str | None,
        typer.Option(
            "--feed", help="replay:DATASET (default: the dataset), alpaca or ccxt:EXCHANGE."
        ),
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed", help="Bars per second of a replay; 0 or absent = as fast as possible."
        ),
    ] = None,
    start_date: SpecStartOpt = None,
    end_date: SpecEndOpt = None,
    autonomy: Annotated[
        str | None,
        typer.Option(
            "--autonomy",
            help="L1 signals only, L2 a person approves each order or rebalance, L3 automatic "
            "within hard limits, L4 also a loss breaker, L5 agents may change the strategy "
            "(default: ALPHALOOP_AUTONOMY, else L3).",
        ),
    ] = None,
    limits_set_by: Annotated[
        str | None,
        typer.Option(
            "--limits-set-by", help="Who set the spec's hard limits (default: the login name)."
        ),
    ] = None,
    live: LiveOpt = False,
    bus: BusOpt = None,
    bus_topic: BusTopicOpt = "events",
    detach: Annotated[
        bool, typer.Option("--detach", help="Run in a background process; print its pid.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start paper trading a strategy (or resume its unfinished session on the same feed)."""
    from alphaloop.app import detach_paper, open_paper, run_paper
    from alphaloop.app.governance import current_user

    ws = workspace(ctx, write=True)
    spec = _resolve(ws, target, data, start_date, end_date)
    if live:
        _check_live(ws, spec, feed)
    by = limits_set_by if limits_set_by is not None else current_user()
    info, new = open_paper(ws, spec, feed=feed, speed=speed, autonomy=autonomy,
                           limits_set_by=by, mode="live" if live else "paper")  # fmt: skip
    if not new:
        err.print(f"resuming paper session {info.id} ({info.state})", markup=False)
    if detach:
        if bus:  # the session's process would fail alone: the bus must answer now
            from alphaloop.live.paper_bus import connect_bus

            connect_bus(bus).close()
        pid = detach_paper(ws, info.id, bus=bus, bus_topic=bus_topic)
        doc = {"session": info.to_dict(), "pid": pid, "new": new}
        if as_json:
            print_json(doc)
            return
        out.print(f"paper session {info.id} runs in process {pid}", soft_wrap=True)
        out.print(f"follow it with `alphaloop paper status {info.id}`")
        return
    with progress_bars(as_json) as progress:
        run = run_paper(ws, info.id, progress=progress, live=live, bus=bus, bus_topic=bus_topic)
    if as_json:
        print_json({**run.to_dict(), "new": new})
        return
    _print_run(run.to_dict())


def _check_live(ws: Workspace, spec: StrategySpec, feed: str | None) -> None:
    """Refuse --live without a venue feed, live keys or an approval (exit 2, says which)."""
    from alphaloop.app.governance import current_user
    from alphaloop.app.paper_venue import LIVE_APPROVAL_TTL_S, live_approval
    from alphaloop.execution import Governance
    from alphaloop.execution.feeds import parse_feed

    name = parse_feed(feed or f"replay:{spec.data}")
    if name.is_replay:
        raise UsageError(
            "--live needs a venue feed: --feed alpaca or --feed ccxt:EXCHANGE",
            hint="a replay is paper trading only",
        )
    gov = Governance.open(ws.db, approval_ttl_s=LIVE_APPROVAL_TTL_S)
    live_approval(gov, str(name), spec.hash, live_flag=True, actor=current_user())


@paper_app.command("resume")
def resume(
    ctx: typer.Context,
    session_id: SessionArg,
    live: LiveOpt = False,
    bus: BusOpt = None,
    bus_topic: BusTopicOpt = "events",
    as_json: JsonOpt = False,
) -> None:
    """Resume a session that was stopped by a crash: reconcile, then carry on."""
    from alphaloop.app import run_paper

    ws = workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        run = run_paper(ws, session_id, progress=progress, live=live, bus=bus,
                        bus_topic=bus_topic)  # fmt: skip
    if as_json:
        print_json(run.to_dict())
        return
    _print_run(run.to_dict())


@paper_app.command("status")
def status(
    ctx: typer.Context,
    session_id: Annotated[int | None, typer.Argument(help="Paper session id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One session in detail, or the latest sessions."""
    from alphaloop.app import paper_sessions, paper_store

    ws = workspace(ctx)
    if session_id is not None:
        from alphaloop.live.decisions import decision_summary, read_decisions

        store = paper_store(ws)
        doc = store.get(session_id).to_dict()
        doc["positions"] = store.positions(session_id)
        doc["n_fills"] = store.n_fills(session_id)
        doc["gate"] = decision_summary(read_decisions(ws.db, session_id))
        if as_json:
            print_json(doc)
            return
        out.print(_line(doc), soft_wrap=True)
        out.print(f"last bar {doc['last_bar'] or '-'}; {doc['n_fills']:,} fill(s)")
        print_gate(doc["gate"])
        if doc["restarts"]:
            out.print(f"restarts: {doc['restarts']}")
        if doc["error"]:
            out.print(f"[red]error:[/] {escape(doc['error'])}")
        rows = [(a, fmt_num(q)) for a, q in sorted(doc["positions"].items())]
        if rows:
            print_table([Col("asset"), Col("shares", "right")], rows, title="positions")
        return
    docs = [s.to_dict() for s in paper_sessions(ws)]
    if as_json:
        print_json(docs)
        return
    if not docs:
        out.print("no paper sessions yet: `alphaloop paper start SPEC`")
        return
    print_table(
        [
            Col("id", "right"),
            Col("name"),
            Col("feed", drop=2),
            Col("status"),
            Col("bar", "right"),
            Col("equity", "right"),
            Col("updated", drop=1),
        ],
        [
            (
                str(d["id"]),
                d["name"],
                d["feed"],
                d["status"],
                f"{d['position']:,}/{d['n_bars']:,}",
                fmt_num(d["equity"]),
                (d["updated_at"] or "")[:19],
            )
            for d in docs
        ],
    )


def print_gate(gate: dict[str, Any]) -> None:
    """The gate's decisions in a few lines: sent, refused (by stage), waiting for approval."""
    if not gate["commands"]:
        out.print("gate: no order or rebalance yet")
        return
    stages = ", ".join(f"{k} {v}" for k, v in sorted(gate["refused_by_stage"].items()))
    out.print(
        f"gate: {gate['commands']:,} command(s): {gate['sent']:,} sent, {gate['refused']:,} "
        f"refused{f' ({stages})' if stages else ''}, {gate['held']:,} waiting for approval",
        markup=False,
    )
    for w in gate["waiting"]:
        what = f"order {w['order_id']}" if w["order_id"] is not None else "rebalance"
        out.print(
            f"  waiting: {what} (bar {w['row']}): `alphaloop approvals approve {w['approval_id']}`",
            markup=False,
        )
    for r in gate["latest_refusals"]:
        what = f"order {r['order_id']}" if r["order_id"] is not None else "rebalance"
        out.print(f"  refused: {what} (bar {r['row']}, {r['stage']}): {r['message']}",
                  markup=False)  # fmt: skip


@paper_app.command("stop")
def stop(ctx: typer.Context, session_id: SessionArg, as_json: JsonOpt = False) -> None:
    """Stop a session after its current bar (what is recorded stays)."""
    from alphaloop.app import stop_paper

    ws = workspace(ctx, write=True)
    info = stop_paper(ws, session_id)
    if as_json:
        print_json(info.to_dict())
        return
    what = "asked to stop" if info.status == "running" else info.status
    out.print(f"paper session {info.id} {what} at bar {info.position:,}")


@paper_app.command("report")
def report(
    ctx: typer.Context,
    session_id: SessionArg,
    report_path: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML comparison here.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Paper vs backtest: tracking difference per day, fills compared, daily P&L."""
    from alphaloop.app import paper_report, write_paper_report

    ws = workspace(ctx)
    rep = paper_report(ws, session_id)
    if report_path is not None:
        write_paper_report(rep, report_path)
    if as_json:
        doc = rep.to_dict()
        doc["report"] = str(report_path) if report_path else None
        print_json(doc)
        return
    out.print(_line(rep.session), soft_wrap=True)
    print_gate(rep.gate)
    verdict = (
        "[green]agrees with the backtest[/]" if rep.agrees else "[red]DIFFERS from the backtest[/]"
    )
    out.print(
        f"{verdict}: {rep.fills_matched:,} of {rep.fills_compared:,} fills match "
        f"(backtest {rep.backtest_fills_in_span:,}); max |tracking difference| per day "
        f"{rep.max_abs_tracking:.3g}"
    )
    for d in rep.fill_differences[:5]:
        out.print(f"fill {d['n']}: paper {d['paper']} vs backtest {d['backtest']}", markup=False)
    daily = rep.daily.tail(10)
    print_table(
        [Col("day"), Col("paper P&L", "right"), Col("paper ret", "right"),
         Col("backtest ret", "right"), Col("tracking diff", "right")],
        [
            (f"{day:%Y-%m-%d}", fmt_num(r.paper_pnl), f"{r.paper_return:+.4%}",
             f"{r.backtest_return:+.4%}", f"{r.tracking_difference:+.2e}")
            for day, r in daily.iterrows()
        ],
        title="last days",
    )  # fmt: skip
    if report_path is not None:
        out.print(f"report written to {escape(str(report_path))}")
