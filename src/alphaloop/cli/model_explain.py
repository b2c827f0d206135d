"""``alphaloop model explain``: permutation importance, SHAP and attention of a version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, out, print_json, progress_bars, workspace


def model_explain(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME/vN (or NAME for the latest version).")],
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write the explanations here: .md for Markdown, else HTML."),
    ] = None,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Compute again even if explanations are stored.")
    ] = False,
    repeats: Annotated[
        int, typer.Option("--repeats", min=1, help="Shuffles per feature and fold.")
    ] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shuffles and SHAP rows.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """What a model uses: permutation importance out of sample, SHAP, attention; stored."""
    from alphaloop.app.model_explain import explain_model
    from alphaloop.app.model_explain_report import explanation_lines, write_explanation_report

    ws = workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        explained = explain_model(
            ws, ref, recompute=recompute, n_repeats=repeats, seed=seed, progress=progress
        )
    doc = explained.to_dict()
    if report is not None:
        write_explanation_report(doc, report)
    doc["report"] = str(report) if report is not None else None
    if as_json:
        print_json(doc)
        return
    state = "computed and stored" if explained.computed else "stored (--recompute to redo)"
    out.print(f"[bold]{escape(doc['ref'])}[/] ({escape(doc['family'])}): explanations {state}")
    for line in explanation_lines(doc):
        out.print(escape(line), soft_wrap=True)
    if report is not None:
        out.print(f"report written to {escape(str(report))}")
