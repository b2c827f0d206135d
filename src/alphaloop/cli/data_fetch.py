"""``alphaloop data fetch`` and ``alphaloop data update``: datasets from online sources."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape

from alphaloop.cli.common import JsonOpt, err, fmt_date, out, print_json, progress_bars, workspace
from alphaloop.errors import ExitCode

__all__ = ["register_fetch"]

OfflineOpt = Annotated[
    bool, typer.Option("--offline", help="Use only cached answers; never touch the network.")
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option("--base-url", help="Ask this server instead of the vendor's (a proxy, a mirror)."),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the retries' jitter.")]


def data_fetch(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="yahoo, ccxt:<exchange> (ccxt:binance), alpaca or alpaca-trades.")
    ],
    symbols: Annotated[
        str, typer.Argument(help="Symbols, comma-separated: AAPL,MSFT or BTC/USDT.")
    ],
    start: Annotated[
        str, typer.Option("--start", help="First date (YYYY-MM-DD or ISO time, UTC).")
    ],
    end: Annotated[
        str | None,
        typer.Option("--end", help="End, exclusive (default: now, floored to the interval)."),
    ] = None,
    interval: Annotated[str, typer.Option(help="1m, 5m, 15m, 30m, 1h or 1d.")] = "1d",
    name: Annotated[
        str | None, typer.Option("--name", help="Dataset name (default: the source and symbols).")
    ] = None,
    raw: Annotated[
        bool,
        typer.Option("--raw", help="Prices as traded (default: split- and dividend-adjusted)."),
    ] = False,
    offline: OfflineOpt = False,
    base_url: BaseUrlOpt = None,
    repair: Annotated[bool, typer.Option(help="Apply the documented repairs.")] = False,
    asset_class: Annotated[
        str | None,
        typer.Option(
            "--asset-class",
            help="equities, fx, crypto or other (default: read from the timestamps).",
        ),
    ] = None,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Fetch bars from an online source and store them as a dataset version.

    The bars go through the same quality checks and versioned store as
    `data import`. A symbol that fails is left out and reported (exit 1); the
    others are imported.
    """
    from alphaloop.app.sources import fetch
    from alphaloop.data.sources import RetryPolicy

    ws = workspace(ctx, write=True)
    symbol_list = [s.strip() for s in symbols.split(",")]
    dataset = name or _default_name(source, symbol_list, interval)
    with progress_bars(as_json) as progress:
        outcome = fetch(
            ws,
            source,
            symbol_list,
            dataset,
            start=start,
            end=end,
            interval=interval,
            adjusted=not raw,
            offline=offline,
            base_url=base_url,
            repair=repair,
            asset_class=asset_class,
            retry=RetryPolicy(seed=seed),
            progress=progress,
        )
    _report(outcome, as_json, verb="fetched")


def data_update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A dataset made by `data fetch`.")],
    end: Annotated[
        str | None,
        typer.Option("--end", help="End, exclusive (default: now, floored to the interval)."),
    ] = None,
    offline: OfflineOpt = False,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Ask this server (default: the one the fetch used)."),
    ] = None,
    repair: Annotated[bool, typer.Option(help="Apply the documented repairs.")] = False,
    seed: SeedOpt = 0,
    as_json: JsonOpt = False,
) -> None:
    """Add the bars since a fetched dataset's last bar, as a new version."""
    from alphaloop.app.sources import update
    from alphaloop.data.sources import RetryPolicy

    ws = workspace(ctx, write=True)
    with progress_bars(as_json) as progress:
        outcome = update(
            ws,
            name,
            end=end,
            offline=offline,
            base_url=base_url,
            repair=repair,
            retry=RetryPolicy(seed=seed),
            progress=progress,
        )
    _report(outcome, as_json, verb="updated", name=name)


def _default_name(source: str, symbols: list[str], interval: str) -> str:
    import re

    base = source.replace(":", "-") + "-" + "-".join(symbols[:3])
    if len(symbols) > 3:
        base += f"-and-{len(symbols) - 3}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{base}-{interval}")[:100]


def _report(outcome: Any, as_json: bool, *, verb: str, name: str = "") -> None:
    if as_json:
        print_json(outcome.to_dict())
    elif outcome.up_to_date:
        out.print(f"{escape(name)} is up to date: no bar after its last one")
    else:
        info = outcome.dataset
        out.print(
            f"[green]{verb}[/] {escape(info.name)} v{info.version}: {info.assets} assets, "
            f"{info.rows:,} rows ({outcome.new_bars:,} new), "
            f"{fmt_date(info.start)} .. {fmt_date(info.end)}, {info.frequency}"
        )
        out.print(f"  source: {escape(info.source)}")
        out.print(f"  market: {escape(info.market.describe())}")
        if outcome.events:
            out.print(f"  {outcome.events} split/dividend event(s) saved with the version")
        result = outcome.result
        if result is not None:
            for w in (result.final_report or result.report).warnings:
                for i, line in enumerate(w.lines(max_locations=3)):
                    text = escape(line.strip())
                    out.print(f"  [yellow]{text}[/]" if i == 0 else f"    {text}")
            if result.holdout_notice:
                out.print(f"  [bold]{escape(result.holdout_notice)}[/]")
    if not as_json:
        for note in outcome.notes:
            err.print(f"note: {note}", markup=False, soft_wrap=True)
        for failure in outcome.failures:
            err.print(f"failed: {failure.symbol}: {failure.reason}", markup=False, soft_wrap=True)
    if outcome.failures:
        raise typer.Exit(ExitCode.CHECK_FAILED)


def register_fetch(data_app: typer.Typer) -> None:
    """Add ``fetch`` and ``update`` to the ``data`` command group."""
    data_app.command("fetch")(data_fetch)
    data_app.command("update")(data_update)
