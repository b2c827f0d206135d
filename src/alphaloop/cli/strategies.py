"""``alphaloop strategies``: the strategy database (read-only).

Every strategy tried in the workspace (by hand, by validation or by a
research session), its evaluations, its ancestry, the research sessions, and
which kinds of strategy have been explored least. Nothing here writes.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.tree import Tree

from alphaloop.cli.common import Col, JsonOpt, fmt_num, out, print_json, print_table, workspace

if TYPE_CHECKING:
    from alphaloop.research.strategy_records import EvaluationRecord

strategies_app = typer.Typer(
    help="The strategy database: best, recent, one in full, genealogy, sessions, coverage.",
    no_args_is_help=True,
)

SHORT = 12  # hex digits of a strategy hash shown in tables
DataFilter = Annotated[str | None, typer.Option("--data", help="Only strategies on this dataset.")]
#: metrics `show` prints (when the evaluation has them; --json has every one)
KEY_METRICS = (
    "sharpe_ratio",
    "sharpe_per_period",
    "annual_return",
    "annual_volatility",
    "max_drawdown",
    "sortino_ratio",
    "turnover",
    "n_round_trips",
    "years",
    "n_periods",
)
LimitOpt = Annotated[int, typer.Option("--limit", help="How many rows.", min=1)]


def _rows_table(rows: list[dict[str, Any]], title: str) -> None:
    cols = (
        Col("strategy"),
        Col("name", drop=2),
        Col("dataset", drop=3),
        Col("kind", drop=4),
        Col("family", drop=5),
        Col("status"),
        Col("Sharpe", "right"),
        Col("passed", drop=1),
        Col("session", "right", drop=6),
    )
    body = [
        (
            r["hash"][:SHORT],
            r["name"],
            r["dataset"],
            r["kind"],
            r["family"],
            r["status"] or "-",
            fmt_num(r["sharpe"], 3),
            fmt_num(r["passed"]),
            fmt_num(r["session_id"]),
        )
        for r in rows
    ]
    print_table(cols, body, title=title)


@strategies_app.command("top")
def strategies_top(
    ctx: typer.Context,
    metric: Annotated[
        str,
        typer.Option("--metric", help="sharpe (annualized), or a metric name, e.g. sortino_ratio."),
    ] = "sharpe",
    limit: LimitOpt = 10,
    data: DataFilter = None,
    session: Annotated[int | None, typer.Option("--session", help="Only this session's.")] = None,
    passed: Annotated[
        bool, typer.Option("--passed", help="Only strategies that passed the validation gate.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """The best evaluated strategies by a metric, highest first (search-span numbers)."""
    ws = workspace(ctx)
    rows = ws.strategies.top(
        metric, limit, dataset=data, session_id=session, passed=True if passed else None
    )
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no evaluated strategy matches", markup=False)
        return
    _rows_table(rows, f"best by {metric} (`alphaloop strategies show HASH` for one in full)")
    if data is not None:
        out.print(f"strategies tried on {data}: {ws.strategies.n_trials(data):,}", markup=False)


@strategies_app.command("recent")
def strategies_recent(
    ctx: typer.Context, limit: LimitOpt = 20, data: DataFilter = None, as_json: JsonOpt = False
) -> None:
    """The latest evaluations, any outcome, newest first."""
    rows = workspace(ctx).strategies.recent(limit, dataset=data)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no strategy evaluated yet", markup=False)
        return
    _rows_table(rows, "recent evaluations (newest first)")


@strategies_app.command("by-model")
def strategies_by_model(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="A model version, NAME/vN.")],
    as_json: JsonOpt = False,
) -> None:
    """Strategies whose signal uses the model version REF, with their evaluations."""
    rows = workspace(ctx).strategies.by_model(ref)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print(f"no strategy uses {ref}", markup=False)
        return
    _rows_table(rows, f"strategies using {ref}")


def _evaluation_doc(ev: EvaluationRecord) -> dict[str, Any]:
    doc = asdict(ev)
    returns = doc.pop("returns")
    doc["n_returns"] = None if returns is None else len(returns)
    return doc


@strategies_app.command("show")
def strategies_show(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Strategy hash or a unique prefix (>= 6 hex).")],
    as_json: JsonOpt = False,
) -> None:
    """One strategy in full: spec, classification, models, parents, every evaluation."""
    db = workspace(ctx).strategies
    record = db.get(ref)
    parentage = db.parentage(record.hash)
    evaluations = [_evaluation_doc(e) for e in db.strategy_evaluations(record.hash)]
    doc = {
        **asdict(record),
        "parents": asdict(parentage) if parentage is not None else None,
        "evaluations": evaluations,
    }
    if as_json:
        print_json(doc)
        return
    out.print(f"[bold]{escape(record.name)}[/] {record.hash}")
    out.print(
        f"dataset {escape(record.dataset)}; {record.kind}, family {escape(record.family)}, "
        f"logic {escape(record.logic)}; origin {record.origin}"
        + (f", session {record.session_id}" if record.session_id is not None else "")
    )
    out.print(f"models: {escape(', '.join(record.models)) or 'none'}")
    out.print(f"strategy: {escape(_describe_spec(record.spec))}", soft_wrap=True)
    if parentage is not None:
        parents = [p[:SHORT] for p in (parentage.parent, parentage.second_parent) if p]
        out.print(
            f"made by {escape(parentage.operator)} from {', '.join(parents) or '-'}; "
            f"explored {escape(json.dumps(parentage.exploration, sort_keys=True))}"
        )
    if not evaluations:
        out.print("evaluations: none (not a trial yet)")
    for e in evaluations:
        line = f"evaluation {escape(e['protocol'])}: [bold]{e['status']}[/]"
        line += f", Sharpe {fmt_num(e['sharpe'], 3)}"
        if e["passed"] is not None:
            line += ", passed the gate" if e["passed"] else ", failed the gate"
        out.print(line)
        if e["reason"]:
            out.print(f"  reason: {escape(e['reason'])}")
        numbers = {k: v for k, v in e["metrics"].items() if isinstance(v, int | float)}
        shown = {k: numbers[k] for k in KEY_METRICS if k in numbers} or numbers
        if shown:
            text = ", ".join(f"{k} {fmt_num(v)}" for k, v in shown.items())
            out.print(f"  metrics: {escape(text)}", soft_wrap=True)
        for reason in (e["validation"] or {}).get("reasons", []):
            out.print(f"  verdict: {escape(str(reason))}", soft_wrap=True)
    out.print("spec:")
    text = json.dumps(record.spec, indent=2, default=str, ensure_ascii=False)
    out.print("\n".join(f"  {line}" for line in text.splitlines()), markup=False)


def _describe_spec(spec: dict[str, Any]) -> str:
    """The stored spec's signal or template in one line (its name if it no longer validates)."""
    from alphaloop.backtest import StrategySpec
    from alphaloop.errors import SpecError

    try:
        return StrategySpec.from_dict(dict(spec)).describe_signal()
    except SpecError:
        return str(spec.get("name", "?"))


def _label(node: dict[str, Any]) -> str:
    name = escape(node["name"]) if node["name"] is not None else "[dim](not in this database)[/]"
    how = f" [dim]{escape(node['operator'])}[/]" if node["operator"] else ""
    more = " [dim]...[/]" if node["more"] else ""
    return f"{node['hash'][:SHORT]} {name}  Sharpe {fmt_num(node['sharpe'], 3)}{how}{more}"


def _grow(tree: Tree, node: dict[str, Any]) -> None:
    for parent in node["parents"]:
        _grow(tree.add(_label(parent)), parent)


@strategies_app.command("genealogy")
def strategies_genealogy(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Strategy hash or a unique prefix (>= 6 hex).")],
    depth: Annotated[int, typer.Option("--depth", help="Generations to go up.", min=0)] = 3,
    as_json: JsonOpt = False,
) -> None:
    """A strategy and its ancestors (parent and second parent), as a tree."""
    doc = workspace(ctx).strategies.genealogy(ref, depth)
    if as_json:
        print_json(doc)
        return
    tree = Tree(_label(doc))
    _grow(tree, doc)
    out.print(tree)


@strategies_app.command("sessions")
def strategies_sessions(ctx: typer.Context, limit: LimitOpt = 20, as_json: JsonOpt = False) -> None:
    """Research sessions, newest first."""
    rows = workspace(ctx).strategies.sessions(limit)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no research session yet", markup=False)
        return
    cols = (
        Col("id", "right"),
        Col("dataset"),
        Col("status"),
        Col("batches", "right", drop=2),
        Col("evaluated", "right"),
        Col("started", drop=1),
        Col("goal", drop=3),
    )
    body = [
        (
            str(r["id"]),
            r["dataset"],
            r["status"],
            fmt_num(r["n_batches"]),
            fmt_num(r["n_evaluations"]),
            (r["created_at"] or "")[:19].replace("T", " "),
            r["goal"],
        )
        for r in rows
    ]
    print_table(cols, body, title="research sessions (newest first)")


@strategies_app.command("underexplored")
def strategies_underexplored(
    ctx: typer.Context, data: DataFilter = None, as_json: JsonOpt = False
) -> None:
    """Kinds of strategy (kind, family, logic) by how few have been evaluated."""
    rows = workspace(ctx).strategies.underexplored(data)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no strategy evaluated yet", markup=False)
        return
    cols = (
        Col("kind"),
        Col("family"),
        Col("logic"),
        Col("evaluated", "right"),
        Col("mean Sharpe", "right"),
        Col("passed", "right"),
    )
    body = [
        (r["kind"], r["family"], r["logic"], fmt_num(r["n"]), fmt_num(r["mean_sharpe"], 3),
         fmt_num(r["n_passed"]))
        for r in rows
    ]  # fmt: skip
    print_table(cols, body, title="coverage (fewest evaluated first)")
