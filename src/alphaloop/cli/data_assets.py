"""``alphaloop data instruments | actions | universe``: asset metadata of the workspace."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table, workspace

__all__ = [
    "actions_app",
    "futures_app",
    "instruments_app",
    "register_asset_commands",
    "universe_app",
]

instruments_app = typer.Typer(
    help="Instrument metadata: asset class, currency, multiplier, tick, lot.",
    no_args_is_help=True,
)
actions_app = typer.Typer(
    help="Corporate actions (splits, dividends) stored with a dataset, and price views.",
    no_args_is_help=True,
)
futures_app = typer.Typer(
    help="Futures: continuous contracts from individual contract series.",
    no_args_is_help=True,
)
universe_app = typer.Typer(
    help="Point-in-time universes: membership by date, applied to a dataset.",
    no_args_is_help=True,
)


def register_asset_commands(data_app: typer.Typer) -> None:
    """Add the ``instruments``, ``actions`` and ``universe`` groups under ``alphaloop data``."""
    data_app.add_typer(instruments_app, name="instruments")
    data_app.add_typer(actions_app, name="actions")
    data_app.add_typer(universe_app, name="universe")
    data_app.add_typer(futures_app, name="futures")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def _parse_day(text: str | None, option: str) -> date | None:
    from alphaloop.errors import UsageError

    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} must be a date YYYY-MM-DD, got {text!r}") from None


# ------------------------------------------------------------------ instruments
@instruments_app.command("import")
def instruments_import(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV or Parquet file, one row per symbol.")],
    as_json: JsonOpt = False,
) -> None:
    """Store instruments (symbol, asset_class, currency, multiplier, tick_size, lot_size, ...)."""
    from alphaloop.data.assets import InstrumentStore

    ws = workspace(ctx, write=True)
    items = InstrumentStore(ws.db).import_file(path)
    if as_json:
        print_json([i.model_dump(mode="json") for i in items])
        return
    kinds = sorted({i.asset_class for i in items})
    out.print(f"[green]stored[/] {len(items)} instrument(s): {', '.join(kinds)}")


@instruments_app.command("list")
def instruments_list(
    ctx: typer.Context,
    asset_class: Annotated[
        str | None,
        typer.Option("--asset-class", help="equity, etf, crypto, future or fx."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every stored instrument."""
    from alphaloop.data.assets import InstrumentStore

    ws = workspace(ctx)
    items = InstrumentStore(ws.db).list(asset_class)
    if as_json:
        print_json([i.model_dump(mode="json") for i in items])
        return
    cols = (
        Col("symbol"),
        Col("class"),
        Col("currency"),
        Col("multiplier", "right"),
        Col("tick", "right", drop=2),
        Col("lot", "right", drop=1),
        Col("min notional", "right", drop=3),
        Col("expiry", drop=1),
    )
    rows = [
        (
            i.symbol,
            i.asset_class,
            i.currency if i.base_currency is None else f"{i.base_currency}/{i.currency}",
            f"{i.multiplier:g}",
            _num(i.tick_size),
            _num(i.unit_lot),
            _num(i.min_notional),
            "" if i.expiry is None else i.expiry.isoformat(),
        )
        for i in items
    ]
    print_table(cols, rows, title=f"instruments in {ws.root}")


@instruments_app.command("show")
def instruments_show(
    ctx: typer.Context,
    symbol: Annotated[str, typer.Argument(help="The instrument's symbol.")],
    as_json: JsonOpt = False,
) -> None:
    """One instrument's metadata."""
    from alphaloop.data.assets import InstrumentStore

    item = InstrumentStore(workspace(ctx).db).get(symbol)
    if as_json:
        print_json(item.model_dump(mode="json"))
        return
    for key, value in item.model_dump(mode="json").items():
        out.print(f"{key:>14}: {'' if value is None else escape(str(value))}")


# ------------------------------------------------------------------ corporate actions
@actions_app.command("import")
def actions_import(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset the events adjust.")],
    path: Annotated[Path, typer.Argument(help="CSV or Parquet: date, symbol, kind, value.")],
    as_json: JsonOpt = False,
) -> None:
    """Store a dataset's splits and dividends (replacing those stored before)."""
    from alphaloop.data.corporate_actions import CorporateActionStore

    ws = workspace(ctx, write=True)
    assets = ws.data.load(dataset).assets
    events = CorporateActionStore(ws.db).import_file(dataset, path, known=assets)
    counts = events["kind"].value_counts().to_dict()
    if as_json:
        print_json({"dataset": dataset, "events": len(events), "by_kind": counts})
        return
    out.print(
        f"[green]stored[/] {len(events)} event(s) for {escape(dataset)}: "
        f"{counts.get('split', 0)} split(s), {counts.get('dividend', 0)} dividend(s)"
    )


@actions_app.command("list")
def actions_list(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Only events up to this date.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The events stored with a dataset."""
    from alphaloop.data.corporate_actions import CorporateActionStore

    ws = workspace(ctx)
    events = CorporateActionStore(ws.db).load(dataset, as_of=_parse_day(as_of, "--as-of"))
    if as_json:
        print_json([{**r, "date": r["date"].isoformat()} for r in events.to_dict("records")])
        return
    rows = [(r.date.isoformat(), r.symbol, r.kind, f"{r.value:g}") for r in events.itertuples()]
    print_table(
        (Col("date"), Col("symbol"), Col("kind"), Col("value", "right")),
        rows,
        title=f"corporate actions of {dataset}",
    )


@actions_app.command("view")
def actions_view(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    out_path: Annotated[Path, typer.Option("--out", help="CSV file to write (long rows).")],
    view: Annotated[
        str, typer.Option("--view", help="unadjusted, adjusted or total_return.")
    ] = "adjusted",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Use only events up to this date.")
    ] = None,
    stored: Annotated[
        str,
        typer.Option(
            "--stored", help="How the dataset's prices are stored: unadjusted or adjusted."
        ),
    ] = "unadjusted",
    as_json: JsonOpt = False,
) -> None:
    """Write a dataset's prices in a view (adjusted, unadjusted, total return) as CSV."""
    from alphaloop.app.assets import corporate_action_view
    from alphaloop.errors import UsageError
    from alphaloop.files import write_atomic

    if stored not in ("unadjusted", "adjusted"):
        raise UsageError(f"--stored must be unadjusted or adjusted, got {stored!r}")
    ws = workspace(ctx)
    panel = corporate_action_view(
        ws,
        dataset,
        view,
        as_of=_parse_day(as_of, "--as-of"),
        stored=stored,  # type: ignore[arg-type]
    )
    frame = panel.to_long()
    write_atomic(out_path, frame.to_csv(index=False))
    if as_json:
        print_json({"dataset": dataset, "view": view, "rows": len(frame), "path": str(out_path)})
        return
    out.print(f"[green]wrote[/] {len(frame):,} rows of {escape(dataset)} ({view}) to {out_path}")


# ------------------------------------------------------------------ universes
@universe_app.command("import")
def universe_import(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset the universe applies to.")],
    path: Annotated[Path, typer.Argument(help="CSV or Parquet: symbol, start, end.")],
    as_json: JsonOpt = False,
) -> None:
    """Store a point-in-time universe for a dataset; its backtests and factor scores use it."""
    from alphaloop.app.assets import dataset_universe
    from alphaloop.data.universe import UniverseStore

    ws = workspace(ctx, write=True)
    panel = ws.data.load(dataset)
    spans = UniverseStore(ws.db).import_file(dataset, path)
    _, caveats, applied = dataset_universe(ws, dataset, panel, ws.data.info(dataset).caveats)
    assert applied is not None
    summary = {
        "dataset": dataset,
        "spans": len(spans),
        "symbols": int(spans["symbol"].nunique()),
        "missing": list(applied.missing),
        "never_members": list(applied.never_members),
        "caveats": caveats,
    }
    if as_json:
        print_json(summary)
        return
    out.print(
        f"[green]stored[/] universe of {escape(dataset)}: {summary['spans']} span(s) of "
        f"{summary['symbols']} symbol(s)"
    )
    if applied.missing:
        out.print(
            f"  [yellow]warning[/] {len(applied.missing)} member(s) have no prices in the "
            f"dataset: {escape(', '.join(applied.missing[:10]))}"
        )
    if applied.never_members:
        out.print(f"  {len(applied.never_members)} asset(s) of the dataset are never members")
    for c in caveats:
        out.print(f"  caveat: {escape(c)}")


@universe_app.command("show")
def universe_show(
    ctx: typer.Context,
    dataset: Annotated[str, typer.Argument(help="The dataset.")],
    as_json: JsonOpt = False,
) -> None:
    """The membership spans stored for a dataset."""
    from alphaloop.data.universe import UniverseStore
    from alphaloop.errors import AssetDataError

    spans = UniverseStore(workspace(ctx).db).spans(dataset)
    if spans is None:
        raise AssetDataError(
            f"no universe is stored for {dataset!r}",
            hint=f"alphaloop data universe import {dataset} FILE",
        )
    rows = [
        (s.symbol, s.start.isoformat(), "" if s.end is None else s.end.isoformat())
        for s in spans.itertuples()
    ]
    if as_json:
        print_json([dict(zip(("symbol", "start", "end"), r, strict=True)) for r in rows])
        return
    print_table((Col("symbol"), Col("start"), Col("end")), rows, title=f"universe of {dataset}")


# ------------------------------------------------------------------ futures
@futures_app.command("continuous")
def futures_continuous(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="CSV or Parquet: timestamp, contract, close (+ volume, ...).")
    ],
    name: Annotated[str, typer.Option("--name", help="Dataset name of the continuous series.")],
    symbol: Annotated[str, typer.Option("--symbol", help="Its asset name, e.g. ES.")],
    roll: Annotated[
        str, typer.Option("--roll", help="calendar, volume or open_interest.")
    ] = "calendar",
    days_before: Annotated[
        int, typer.Option("--days-before", help="Calendar roll: days before expiry.")
    ] = 5,
    adjust: Annotated[
        str, typer.Option("--adjust", help="difference, ratio or none.")
    ] = "difference",
    rolls_out: Annotated[
        Path | None, typer.Option("--rolls-out", help="Write the roll schedule as CSV.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Splice contracts (expiries from stored instruments) into one dataset; list the rolls."""
    import pandas as pd

    from alphaloop.app.assets import import_continuous
    from alphaloop.data.futures import CalendarRoll, CrossoverRoll
    from alphaloop.errors import UsageError
    from alphaloop.files import write_atomic

    if roll not in ("calendar", "volume", "open_interest"):
        raise UsageError(f"--roll must be calendar, volume or open_interest, got {roll!r}")
    if adjust not in ("difference", "ratio", "none"):
        raise UsageError(f"--adjust must be difference, ratio or none, got {adjust!r}")
    rule = CalendarRoll(days_before) if roll == "calendar" else CrossoverRoll(roll)  # type: ignore[arg-type]
    ws = workspace(ctx, write=True)
    result, cc = import_continuous(ws, path, name, symbol=symbol, rule=rule, adjust=adjust)  # type: ignore[arg-type]
    rolls = cc.rolls.assign(
        decided_at=cc.rolls["decided_at"].map(lambda t: t.isoformat()),
        # a roll decided on the last bar takes effect after the end: no timestamp yet
        effective_at=cc.rolls["effective_at"].map(lambda t: None if pd.isna(t) else t.isoformat()),
    )
    if rolls_out is not None:
        write_atomic(rolls_out, rolls.to_csv(index=False))
    if as_json:
        print_json({"dataset": result.dataset.to_dict(), "rolls": rolls.to_dict("records")})
        return
    info = result.dataset
    out.print(
        f"[green]imported[/] {info.name} v{info.version}: {escape(cc.describe())}, "
        f"{info.rows:,} rows"
    )
    print_table(
        (Col("decided"), Col("effective"), Col("from"), Col("to"), Col("gap", "right")),
        [
            (r.decided_at[:10], (r.effective_at or "after the end")[:13], r.from_contract,
             r.to_contract, f"{r.gap:g}")
            for r in rolls.itertuples()
        ],
        title="roll schedule",
    )
