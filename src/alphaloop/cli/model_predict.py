"""``alphaloop model predict`` and ``alphaloop model export``: a model's predictions and
its ONNX graph, to take elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, fmt_num, out, print_json, workspace

__all__ = ["model_export", "model_predict"]


def model_predict(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME/vN (or NAME, NAME@stage).")],
    data: Annotated[str, typer.Option("--data", help="Dataset to predict on.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--out", help="Parquet file to write.", show_default=False)
    ],
    version: Annotated[
        int | None, typer.Option("--version", help="Dataset version (default: current).")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First decision date kept (YYYY-MM-DD).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last date loaded and predicted (YYYY-MM-DD).")
    ] = None,
    in_sample: Annotated[
        bool,
        typer.Option(
            "--in-sample",
            help="Also keep decisions inside the model's training span, labelled in_sample.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Point-in-time predictions (time, asset, prediction, in_sample) to Parquet.

    Rows inside the model's training span (decisions up to its label end) are
    left out unless --in-sample is given.
    """
    from alphaloop.app.model_predict import predict_model, write_predictions

    ws = workspace(ctx)
    predictions = predict_model(
        ws, ref, data, version=version, start=start, end=end, in_sample=in_sample
    )
    path = write_predictions(predictions, output)
    doc = {**predictions.to_dict(), "path": str(path)}
    if as_json:
        print_json(doc)
        return
    out.print(
        f"wrote {fmt_num(doc['n_rows'])} predictions of [bold]{escape(doc['model'])}[/] on "
        f"{escape(doc['dataset'])} v{doc['dataset_version']} ({fmt_num(doc['n_assets'])} assets, "
        f"{doc['first_time'][:10]} .. {doc['last_time'][:10]}) to {escape(str(path))}"
    )
    boundary = doc["in_sample_end"][:10]
    if in_sample:
        out.print(
            f"{fmt_num(doc['n_in_sample'])} rows at or before {boundary} are in sample "
            "(column in_sample)"
        )
    elif doc["dropped_in_sample"]:
        out.print(
            f"left out {fmt_num(doc['dropped_in_sample'])} in-sample rows (decisions at or "
            f"before {boundary}); --in-sample keeps them, labelled"
        )


def model_export(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="NAME/vN (or NAME, NAME@stage).")],
    output: Annotated[Path, typer.Option("--out", help="ONNX file to write.", show_default=False)],
    as_json: JsonOpt = False,
) -> None:
    """Export a model to ONNX (plus a sidecar JSON), after a parity check on real rows.

    Accepted when max |onnx - native| <= 1e-5 * max(1, RMS of native predictions)
    on rows of the model's dataset; otherwise nothing is written.
    """
    from alphaloop.app.model_export import export_model

    exported = export_model(workspace(ctx), ref, output)
    doc = exported.to_dict()
    if as_json:
        print_json(doc)
        return
    parity = doc["parity"]
    shape = ", ".join("batch" if d is None else str(d) for d in doc["input_shape"])
    out.print(
        f"wrote [bold]{escape(doc['model'])}[/] ({doc['family']}, {doc['task']}) to "
        f"{escape(str(exported.path))}, opset {doc['opset']}, input {doc['input_name']} "
        f"({shape}) float32"
    )
    out.print(f"sidecar {escape(str(exported.sidecar_path))}: feature names, shapes, versions")
    out.print(
        f"parity on {fmt_num(parity['n_rows'])} rows: max |onnx - native| "
        f"{parity['max_abs_diff']:.2e} <= {parity['tolerance']:.2e}"
    )
