"""Column names of market data files: key columns, known fields and what looks like a field.

Names are compared in a normalized spelling: lower case, trimmed, with runs
of spaces, dashes and dots as one underscore and no punctuation around them
(``Adj Close`` -> ``adj_close``, ``<DATE>`` -> ``date``).
To tell whether a value column holds a field (``close``) or an asset
(``AAPL``), names are also split into words at every character that is not
a letter or digit and at lower-to-upper case changes (``BTC:adjClose`` ->
``btc``, ``adj``, ``close``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ASSET_COLUMNS",
    "FIELD_ALIASES",
    "KNOWN_FIELDS",
    "MEMBER_COLUMNS",
    "PRICE_FIELDS",
    "TIMESTAMP_COLUMNS",
    "TIME_WORDS",
    "FieldName",
    "field_name",
    "looks_like_field",
    "looks_like_time",
    "normalize_column_name",
]

#: timestamp column names, in the order of preference when several are present
TIMESTAMP_COLUMNS = (
    "timestamp",
    "datetime",
    "date",
    "time",
    "dt",
    "ts",
    "date_time",
    "time_stamp",
    "unix",
    "unix_time",
    "unix_timestamp",
)
ASSET_COLUMNS = ("asset", "symbol", "ticker", "instrument", "code", "secid", "permno")
MEMBER_COLUMNS = ("member", "in_universe", "is_member")
PRICE_FIELDS = frozenset({"open", "high", "low", "close", "adj_close", "vwap", "price"})
KNOWN_FIELDS = PRICE_FIELDS | frozenset(
    {
        "volume",
        "amount",
        "turnover",
        "factor",
        "dividend",
        "split_ratio",
        "shares",
        "market_cap",
        "open_interest",
        "trades",
    }
)
#: other spellings of known fields (in the word form, see :func:`field_name`)
FIELD_ALIASES = {
    "adjclose": "adj_close",
    "adjusted_close": "adj_close",
    "adj_close_price": "adj_close",
    "openinterest": "open_interest",
    "openint": "open_interest",
    "vol": "volume",
    "open_int": "open_interest",
    "tradecount": "trades",
    "trade_count": "trades",
    "number_of_trades": "trades",
    "num_trades": "trades",
    "dividends": "dividend",
    "stock_splits": "split_ratio",
}
#: words that appear in field names but name no asset; a column holding one is not an asset
_FIELD_WORDS = frozenset(
    {
        "open",
        "high",
        "low",
        "close",
        "adj",
        "adjusted",
        "adjclose",
        "volume",
        "vol",
        "vwap",
        "price",
        "amount",
        "turnover",
        "dividend",
        "dividends",
        "split",
        "shares",
        "cap",
        "bid",
        "ask",
        "mid",
        "last",
        "settle",
        "settlement",
        "interest",
        "openinterest",
        "trades",
        "tradecount",
        "return",
        "returns",
        "ohlc",
    }
)
#: single-letter field names; they count as fields only when three or more appear together
_LETTER_FIELDS = frozenset({"o", "h", "l", "c", "v"})
#: words that make a column a time column rather than a value column
TIME_WORDS = frozenset({"time", "date", "timestamp", "datetime", "unix", "epoch"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_FIELDS_LONGEST_FIRST = sorted(KNOWN_FIELDS | set(FIELD_ALIASES), key=len, reverse=True)


def normalize_column_name(name: str) -> str:
    """Lower-case, trimmed, with runs of spaces/dashes/dots as one underscore.

    Punctuation around the name goes too (``<DATE>`` -> ``date``, ``Vol.`` -> ``vol``).
    """
    text = re.sub(r"[\s\-.]+", "_", str(name).strip().lower()).strip("_")
    return re.sub(r"^[^\w]+|[^\w]+$", "", text) or text


def words(name: str) -> list[str]:
    """``name`` split at non-alphanumerics and case changes, as written (``BTC:adjClose``).

    ``["BTC", "adj", "Close"]``.
    """
    return [w for w in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub(" ", str(name).strip())) if w]


def _word_form(name: str) -> str:
    return "_".join(w.lower() for w in words(name))


@dataclass(frozen=True)
class FieldName:
    """A column name read as a known field, with what surrounds the field in it.

    Attributes
    ----------
    field : str
        The known field (``close``).
    rest : str
        The other words of the name as written, joined by ``_`` (``BTC`` for
        ``BTC:close``); empty when the name is the field alone.
    """

    field: str
    rest: str


def field_name(name: str) -> FieldName | None:
    """The known field a column name stands for, or None.

    A name is a field when its words are those of a known field or of one of
    its aliases (``Adj Close``, ``adjClose``), or begin or end with them
    (``BTC:open``, ``close_BTC``); in the last case ``rest`` holds the
    other words.
    """
    form = _word_form(name)
    if form in KNOWN_FIELDS:
        return FieldName(form, "")
    if form in FIELD_ALIASES:
        return FieldName(FIELD_ALIASES[form], "")
    original = words(name)
    for f in _FIELDS_LONGEST_FIRST:
        k = f.count("_") + 1  # words in the field
        if form.endswith("_" + f):
            return FieldName(FIELD_ALIASES.get(f, f), "_".join(original[:-k]))
        if form.startswith(f + "_"):
            return FieldName(FIELD_ALIASES.get(f, f), "_".join(original[k:]))
    return None


def looks_like_time(name: str) -> bool:
    """True when a column name holds a word of a time column name (``open_time``, ``Date``)."""
    return any(w.lower() in TIME_WORDS for w in words(name))


def looks_like_field(name: str, others: list[str] | tuple[str, ...] = ()) -> bool:
    """True when a column name looks like a field name rather than an asset id.

    A name looks like a field when it holds a word of a field name (``open``,
    ``adj``, ``vol``, ``bid``, ...) or, with at least two of ``others``
    (the other value columns), is one of the single letters o, h, l, c, v.
    """
    w = [x.lower() for x in words(name)]
    if any(x in _FIELD_WORDS for x in w) or field_name(name) is not None:
        return True
    if len(w) == 1 and w[0] in _LETTER_FIELDS:
        letters = {_word_form(o) for o in others} & _LETTER_FIELDS
        return len(letters | {w[0]}) >= 3
    return False
