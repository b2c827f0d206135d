"""The sources by name: ``yahoo``, ``ccxt:<exchange>``, ``alpaca``, ``alpaca-trades``."""

from __future__ import annotations

from collections.abc import Mapping

from alphaloop.data.sources.alpaca import AlpacaSource
from alphaloop.data.sources.base import BarSource
from alphaloop.data.sources.ccxt_source import CcxtSource
from alphaloop.data.sources.fetching import Fetcher
from alphaloop.data.sources.yahoo import YAHOO_URL, YahooSource
from alphaloop.errors import DataSourceError

__all__ = ["SOURCE_NAMES", "check_source_name", "make_source"]

#: What ``data fetch`` accepts as SOURCE (``ccxt:`` takes any ccxt exchange id).
SOURCE_NAMES = ("yahoo", "ccxt:<exchange>", "alpaca", "alpaca-trades")


def check_source_name(name: str) -> str:
    """``name`` if it names a source (the exchange of ``ccxt:`` is checked when used)."""
    if name in ("yahoo", "alpaca", "alpaca-trades"):
        return name
    if name.startswith("ccxt:") and len(name) > len("ccxt:"):
        return name
    raise DataSourceError(f"unknown source {name!r}", hint="use one of " + ", ".join(SOURCE_NAMES))


def make_source(
    name: str,
    fetcher: Fetcher,
    *,
    base_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> BarSource:
    """The source called ``name``; ``base_url`` points it at another server."""
    check_source_name(name)
    if name == "yahoo":
        return YahooSource(fetcher, base_url or YAHOO_URL)
    if name.startswith("ccxt:"):
        return CcxtSource(name.split(":", 1)[1], fetcher, base_url)
    return AlpacaSource(fetcher, base_url, trades=name == "alpaca-trades", environ=environ)
