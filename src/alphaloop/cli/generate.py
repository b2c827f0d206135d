"""``alphaloop generate``: a natural-language idea becomes a validated, backtested spec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, out, print_json, progress_bars, workspace
from alphaloop.errors import ExitCode


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:+.2f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _line(metrics: dict[str, Any]) -> str:
    return (
        f"Sharpe {_num(metrics.get('sharpe_ratio'))}, annual return "
        f"{_pct(metrics.get('annual_return'))}, max drawdown {_pct(metrics.get('max_drawdown'))}"
    )


def _print(doc: dict[str, Any]) -> None:
    post = doc["post_cutoff"]
    if post["available"]:
        out.print(
            f"[bold]after the knowledge cut-off[/] ({post['start']} to {post['end']}, "
            f"{post['n_bars']} bars): {_line(post['metrics'])}"
        )
    else:
        out.print(f"[bold]after the knowledge cut-off:[/] no figure ({escape(post['reason'])})")
    colour = {"validated": "green", "rejected": "red"}.get(doc["status"], "red")
    out.print(
        f"[bold]{escape(doc['spec']['name'])}[/]  spec {doc['spec_hash'][:12]}  "
        f"[{colour}]{doc['status'].upper()}[/]"
    )
    src = doc["source"]
    if src["origin"] == "llm":
        out.print(f"drafted by the language model {escape(str(src['model']))}")
    else:
        out.print(f"drafted by the offline parser: {escape(str(src['reason']))}")
    if doc["signal_origin"] == "model_code":
        lines = doc["spec"]["signal"]["code"].strip().splitlines()
        out.print(
            f"signal: [bold yellow]model-written Python code[/] ({len(lines)} lines), "
            "run in the sandbox:"
        )
        for line in lines:
            out.print(f"    {escape(line)}", highlight=False)
    else:
        out.print(f"signal: {escape(doc['expression'])}")
    out.print("assumptions:")
    for note in doc["assumptions"]:
        out.print(f"  - {escape(note)}")
    look = doc["lookahead"]
    out.print(f"lookahead scan: {'clean' if look['clean'] else '[red]FUTURE DATA READ[/]'}")
    if doc["metrics"] is not None:
        out.print(f"research span: {_line(doc['metrics'])}")
        val = doc["validation"]
        out.print(
            f"validation: deflated Sharpe {_num(val.get('dsr'))} with {doc['n_trials']} "
            f"strateg{'y' if doc['n_trials'] == 1 else 'ies'} tried on the dataset, "
            f"PBO {_num(val.get('pbo'))}"
        )
        for reason in val["reasons"]:
            out.print(f"  - {escape(reason)}")
    regimes = doc["regimes"]
    if regimes:
        cells = [f"{r['regime']} {_num(r['sharpe_ratio'])}" for r in regimes["rows"] if r["n_bars"]]
        out.print("Sharpe by regime: " + ", ".join(cells))


def generate(
    ctx: typer.Context,
    intent: Annotated[str, typer.Argument(help="The strategy idea in plain words.")],
    data: Annotated[str, typer.Option("--data", help="Dataset name in the workspace.")],
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML report to this file.")
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the offline parser, never a language model.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the request and the tests.")] = 0,
    allow_code: Annotated[
        bool,
        typer.Option(
            "--allow-code",
            help="Let the model write the signal as Python code (run in the sandbox) "
            "when no template or expression says the idea.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Turn an idea into a strategy: spec, lookahead scan, backtest, validation, regimes.

    A language model drafts the strategy when ALPHALOOP_LLM_* settings are
    present; otherwise (or with --offline, or when the model fails) the
    offline parser does. Every result is also shown on the bars after the
    model's knowledge cut-off, first. With --allow-code the model may write
    the signal as Python code, which runs in the sandbox only and goes
    through the same lookahead scan and validation. Exits 0 when the
    strategy passes every validation gate, 1 when not.
    """
    from alphaloop.app.generate import generate_strategy
    from alphaloop.app.generate_draft import llm_settings_from_env

    settings = None if offline else llm_settings_from_env()
    ws = workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        result = generate_strategy(
            ws,
            intent,
            data,
            settings=settings,
            offline=offline,
            seed=seed,
            progress=progress,
            allow_code=allow_code,
        )
    doc = result.to_dict()
    if report is not None:
        from alphaloop.app.generate_report import write_generation_report

        write_generation_report(result, report)
        doc["report"] = str(report)
    if as_json:
        print_json(doc)
    else:
        _print(doc)
        if report is not None:
            out.print(f"report written to {escape(str(report))}")
    if doc["status"] != "validated":
        raise typer.Exit(ExitCode.CHECK_FAILED)
