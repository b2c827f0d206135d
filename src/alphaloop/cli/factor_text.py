"""``alphaloop factor text``: define text factors, list and show them, summarize their values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace

text_app = typer.Typer(
    help="Text factors: documents scored by a sentence-embedding model, point in time.",
    no_args_is_help=True,
)


def _describe(spec: Any) -> str:
    if spec.kind == "similarity":
        return "similarity to " + "; ".join(spec.references)
    if spec.kind == "pca":
        return f"principal component {spec.component}"
    custom = bool(spec.positive or spec.negative)
    return f"sentiment ({'own' if custom else 'default'} phrases)"


@text_app.command("add")
def text_add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="YAML file: name, kind, latency, half_life...")],
    replace: Annotated[bool, typer.Option(help="Replace a text factor of that name.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate a text factor definition and keep it in the workspace."""
    from alphaloop.app.text_factors import add_text_factor, text_factors_dir

    ws = workspace(ctx, write=True)
    spec = add_text_factor(ws, path, replace=replace)
    target = text_factors_dir(ws) / f"{spec.name}.yaml"
    if as_json:
        print_json({"name": spec.name, "kind": spec.kind, "path": str(target)})
        return
    out.print(f"added text factor {spec.name} ({spec.kind}) at {escape(str(target))}")
    out.print(f'use it in expressions as Text("{spec.name}")', markup=False)


@text_app.command("list")
def text_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The workspace's text factors."""
    from alphaloop.app.text_factors import list_text_factors

    specs = list_text_factors(workspace(ctx))
    if as_json:
        print_json([s.to_dict() for s in specs])
        return
    if not specs:
        out.print("no text factors; add one with `alphaloop factor text add SPEC.yaml`")
        return
    print_table(
        (
            Col("name"),
            Col("kind"),
            Col("latency", "right"),
            Col("half-life", "right", drop=2),
            Col("max age", "right", drop=2),
            Col("scores", drop=1),
        ),
        [
            (s.name, s.kind, s.latency, s.half_life or "-", s.max_age or "-", _describe(s))
            for s in specs
        ],
        title="text factors",
    )


@text_app.command("show")
def text_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Text factor name.")],
    as_json: JsonOpt = False,
) -> None:
    """One text factor's definition."""
    from alphaloop.app.text_factors import get_text_factor

    spec = get_text_factor(workspace(ctx), name)
    doc = spec.to_dict()
    if as_json:
        print_json(doc)
        return
    out.print(f"[bold]{spec.name}[/]: {escape(_describe(spec))}")
    if spec.description:
        out.print(escape(spec.description))
    pca_only = ("component", "refit", "min_documents")
    for key in ("latency", "half_life", "max_age", "sources", "kinds", *pca_only):
        value = doc[key]
        if key in pca_only and spec.kind != "pca":
            continue
        shown = ", ".join(value) if isinstance(value, list) else value
        out.print(f"  {key:<13} {escape(str(shown if shown not in (None, '') else '-'))}")
    if spec.kind == "sentiment":
        out.print(f"  positive      {escape('; '.join(spec.positive_phrases))}")
        out.print(f"  negative      {escape('; '.join(spec.negative_phrases))}")


@text_app.command("remove")
def text_remove(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Text factor name.")],
    as_json: JsonOpt = False,
) -> None:
    """Delete a text factor's definition (cached embeddings stay)."""
    from alphaloop.app.text_factors import remove_text_factor

    path = remove_text_factor(workspace(ctx, write=True), name)
    if as_json:
        print_json({"name": name, "removed": str(path)})
        return
    out.print(f"removed text factor {name} ({escape(str(path))})")


@text_app.command("eval")
def text_eval(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Text factor name.")],
    data: Annotated[str, typer.Option("--data", help="Dataset name (its assets and bars).")],
    start: Annotated[str | None, typer.Option(help="First timestamp summarized.")] = None,
    end: Annotated[str | None, typer.Option(help="Last timestamp used.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute a text factor on a dataset's bars and summarize its values."""
    from alphaloop.app.text_factors import text_factor_summary

    doc = text_factor_summary(workspace(ctx), name, data, start=start, end=end)
    if as_json:
        print_json(doc)
        return

    def num(v: Any) -> str:
        return "-" if v is None else f"{v:.4f}"

    out.print(
        f"[bold]{name}[/] ({doc['kind']}) on {doc['dataset']}: {doc['valid']:,} values in "
        f"{doc['cells']:,} member cells ({doc['coverage']:.1%}), "
        f"{doc['assets_with_values']} of {doc['assets']} assets"
    )
    if doc["first_value"] is None:
        out.print("no document counts on these bars (check the assets and publication times)")
        return
    out.print(f"values from {doc['first_value'][:10]} to {doc['last_value'][:10]}")
    out.print(
        f"mean {num(doc['mean'])}, std {num(doc['std'])}, "
        f"min {num(doc['min'])}, max {num(doc['max'])}"
    )
