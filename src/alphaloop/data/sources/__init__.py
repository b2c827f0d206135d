"""Online data sources: Yahoo Finance, any ccxt exchange, Alpaca market data.

A fetch asks a source for bars, one symbol at a time (every page, within the
vendor's rate limits, retried with seeded backoff), keeps each raw answer in
an on-disk cache, stamps the bars the data layer's way and imports them
through the same checks and versioned store as a file
(:mod:`~alphaloop.data.sources.fetch`). See ``docs/sources.md``.
"""

from __future__ import annotations

from alphaloop.data.sources.base import (
    BAR_FIELDS,
    INTERVALS,
    BarSource,
    FetchRequest,
    SymbolBars,
    SymbolFailure,
    parse_time,
    stamp_bars,
)
from alphaloop.data.sources.cache import ResponseCache
from alphaloop.data.sources.events import load_events, save_events
from alphaloop.data.sources.fetch import FetchOutcome, default_end, fetch_dataset
from alphaloop.data.sources.fetching import Fetcher
from alphaloop.data.sources.registry import SOURCE_NAMES, check_source_name, make_source
from alphaloop.data.sources.retry import Retrier, RetryPolicy
from alphaloop.data.sources.update import origin_of, update_dataset

__all__ = [
    "BAR_FIELDS",
    "INTERVALS",
    "SOURCE_NAMES",
    "BarSource",
    "FetchOutcome",
    "FetchRequest",
    "Fetcher",
    "ResponseCache",
    "Retrier",
    "RetryPolicy",
    "SymbolBars",
    "SymbolFailure",
    "check_source_name",
    "default_end",
    "fetch_dataset",
    "load_events",
    "make_source",
    "origin_of",
    "parse_time",
    "save_events",
    "stamp_bars",
    "update_dataset",
]
