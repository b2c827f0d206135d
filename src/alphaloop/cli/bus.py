"""``alphaloop bus``: look at the event bus's Redis streams and its dead letters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from alphaloop.cli.common import Col, JsonOpt, out, print_json, print_table

if TYPE_CHECKING:
    from alphaloop.live.bus import RedisBus

bus_app = typer.Typer(
    help="The live loop's event bus on Redis Streams: topics, groups, dead letters.",
    no_args_is_help=True,
)

UrlOpt = Annotated[
    str,
    typer.Option("--url", envvar="ALPHALOOP_BUS_URL", help="The Redis server of the bus."),
]
PrefixOpt = Annotated[str, typer.Option("--prefix", help="The bus's key prefix.")]


def _bus(url: str, prefix: str) -> RedisBus:
    from alphaloop.live.bus import RedisBus

    return RedisBus(url, prefix=prefix)


@bus_app.command("topics")
def topics_command(
    url: UrlOpt = "redis://127.0.0.1:6379/0",
    prefix: PrefixOpt = "alphaloop",
    as_json: JsonOpt = False,
) -> None:
    """Each topic's length and, per consumer group, its offset, pending entries and lag."""
    bus = _bus(url, prefix)
    infos = [bus.info(t) for t in bus.topics()]
    bus.close()
    if as_json:
        print_json(infos)
        return
    if not infos:
        out.print(f"no topics under the prefix {escape(prefix)!r}")
        return
    rows = []
    for info in infos:
        groups = info["groups"] or [None]
        for g in groups:
            rows.append(
                (
                    info["topic"],
                    f"{info['length']:,}",
                    g["group"] if g else "-",
                    str(g["pending"]) if g else "-",
                    "-" if not g or g["lag"] is None else str(g["lag"]),
                    g["offset"] if g else "-",
                )
            )
    cols = (
        Col("topic"),
        Col("entries", "right"),
        Col("group"),
        Col("pending", "right"),
        Col("lag", "right"),
        Col("offset", drop=1),
    )
    print_table(cols, rows)


@bus_app.command("dead-letters")
def dead_letters_command(
    url: UrlOpt = "redis://127.0.0.1:6379/0",
    prefix: PrefixOpt = "alphaloop",
    count: Annotated[int, typer.Option("--count", min=1, help="How many, oldest first.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Events the bus rejected or gave up on, with the reason."""
    bus = _bus(url, prefix)
    letters = bus.dead_letters(count)
    bus.close()
    if as_json:
        print_json([letter.model_dump(mode="json") for letter in letters])
        return
    if not letters:
        out.print("no dead letters")
        return
    rows = [
        (
            letter.ts.strftime("%Y-%m-%d %H:%M:%S"),
            letter.topic,
            letter.consumer or "-",
            letter.offset or "-",
            letter.reason,
        )
        for letter in letters
    ]
    cols = (Col("when"), Col("topic"), Col("group"), Col("entry", drop=1), Col("reason"))
    print_table(cols, rows)
