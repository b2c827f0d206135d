"""How to read a data file: :class:`ReadOptions`, one frozen object for every reader option.

The same object is accepted by :func:`alphaloop.data.readers.read_table`,
:meth:`DataCatalog.check_file <alphaloop.data.catalog.DataCatalog.check_file>`
and :meth:`DataCatalog.import_file <alphaloop.data.catalog.DataCatalog.import_file>`;
the options that differ from the defaults are recorded with the import
(:meth:`ReadOptions.describe`), so the file can be read again the same way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, get_args

from alphaloop.data.names import KNOWN_FIELDS, field_name
from alphaloop.errors import DataFormatError

__all__ = ["Decimal", "Layout", "ReadOptions"]

Layout = Literal["auto", "long", "single", "wide"]
Decimal = Literal[".", ","]
_LAYOUTS: tuple[str, ...] = get_args(Layout)
_DECIMALS: tuple[str, ...] = get_args(Decimal)
_NOTE_PREFIX = "read options: "


@dataclass(frozen=True)
class ReadOptions:
    """Options for reading one CSV or Parquet file. Every field has a working default.

    Parameters
    ----------
    layout : {"auto", "long", "single", "wide"}, default "auto"
        ``long``: one row per (timestamp, asset), one column per field (a file
        without an asset column holds one asset); ``single``: one asset, one
        column per field, no asset column; ``wide``: one row per timestamp,
        one column per asset, one field. ``auto`` detects it and refuses
        when it cannot tell (:class:`~alphaloop.data.layout.LayoutError`).
    field : str, default "close"
        The field a wide file holds; one of the known fields
        (:data:`~alphaloop.data.names.KNOWN_FIELDS`, aliases such as
        ``Adj Close`` accepted).
    asset : str, optional
        Asset id of a single-asset file (default: a common prefix of the
        field columns, ``BTC`` of ``BTC:close``, else the file name's stem).
    delimiter : str, optional
        CSV delimiter, one character; default: taken from the header line.
    decimal : {".", ","}, default "."
        Decimal mark of numbers written as text. With ``","`` a value
        ``1,234`` is 1.234 and ``1.234,5`` is 1234.5 (dots group thousands).
    time_column : str, optional
        The timestamp column, by its name as written or normalized
        (default: the first of ``timestamp``, ``datetime``, ``date``, ...,
        else a datetime index written by pandas).
    time_format : str, optional
        strptime-style format of the timestamps (``%d.%m.%Y %H:%M``); values
        that do not match are reported as ``unparseable_timestamp``. Default:
        ISO 8601 or a format inferred from the data.
    timezone : str, default "UTC"
        IANA zone of timestamps written without a UTC offset.
    skip_rows : int, optional
        Lines at the top of a CSV file to skip before the header line (blank
        lines count). Default (None): banner lines above the header (a URL, a
        title) are detected and skipped, and a note says so; 0 turns the
        detection off.
    """

    layout: Layout = "auto"
    field: str = "close"
    asset: str | None = None
    delimiter: str | None = None
    decimal: Decimal = "."
    time_column: str | None = None
    time_format: str | None = None
    timezone: str = "UTC"
    skip_rows: int | None = None

    def __post_init__(self) -> None:
        if self.layout not in _LAYOUTS:
            raise DataFormatError(
                f"layout {self.layout!r} is not one of {', '.join(_LAYOUTS)}",
                hint="pass --layout long, single or wide (or auto to detect it)",
            )
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise DataFormatError(
                f"delimiter {self.delimiter!r} is not a single character",
                hint="pass one character such as ';' or '|' (a tab as $'\\t' in a shell)",
            )
        if self.decimal not in _DECIMALS:
            raise DataFormatError(
                f"decimal mark {self.decimal!r} is not '.' or ','",
                hint="pass --decimal , for numbers written as 1,5",
            )
        if self.decimal == "," and self.delimiter == ",":
            raise DataFormatError(
                "the decimal mark and the delimiter are both ','",
                hint="a file with decimal commas separates its columns with ';' or a tab",
            )
        if self.skip_rows is not None and (
            isinstance(self.skip_rows, bool)
            or not isinstance(self.skip_rows, int)
            or self.skip_rows < 0
        ):
            raise DataFormatError(
                f"skip_rows {self.skip_rows!r} is not a count of lines (an integer >= 0)"
            )
        if self.time_format is not None and "%" not in self.time_format:
            raise DataFormatError(
                f"time format {self.time_format!r} has no % directive",
                hint="use strptime directives, e.g. '%d/%m/%Y %H:%M' or '%Y%m%d'",
            )
        if self.time_column is not None and not self.time_column.strip():
            raise DataFormatError("time_column is empty", hint="name the timestamp column")
        canonical = wide_field(self.field)
        if canonical is None:
            raise DataFormatError(
                f"unknown field {self.field!r}",
                hint="a wide file holds one of the known fields: "
                + ", ".join(sorted(KNOWN_FIELDS)),
            )
        if canonical != self.field:
            object.__setattr__(self, "field", canonical)

    # ----------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        """Every option, JSON-ready."""
        return asdict(self)

    def changed(self) -> dict[str, Any]:
        """The options that differ from their defaults."""
        default = ReadOptions()
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) != getattr(default, f.name)
        }

    def describe(self) -> str | None:
        """A report note with the options that differ from the defaults (None: none do).

        The note is ``read options: `` followed by a JSON object that
        :meth:`from_note` reads back.
        """
        changed = self.changed()
        return _NOTE_PREFIX + json.dumps(changed, sort_keys=True) if changed else None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReadOptions:
        """Options from a mapping such as :meth:`to_dict` returns; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DataFormatError(
                f"unknown read option(s) {unknown}", hint=f"known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    @classmethod
    def from_note(cls, notes: tuple[str, ...] | list[str]) -> ReadOptions:
        """The options recorded in a report's notes (the defaults when none are)."""
        for note in notes:
            if note.startswith(_NOTE_PREFIX):
                return cls.from_dict(json.loads(note[len(_NOTE_PREFIX) :]))
        return cls()

    @classmethod
    def merge(cls, options: ReadOptions | None, **keywords: Any) -> ReadOptions:
        """``options`` with the individual keywords of the older API applied.

        A keyword equal to its default changes nothing. With ``options``
        given, a keyword that is not at its default must agree with it.

        Raises
        ------
        DataFormatError
            A keyword and ``options`` disagree.
        """
        default = cls()
        given = {k: v for k, v in keywords.items() if v != getattr(default, k)}
        if options is None:
            return cls(**given)
        asked = cls(**given)  # validated and canonical (``Adj Close`` is ``adj_close``)
        clash = {k: v for k, v in given.items() if getattr(options, k) != getattr(asked, k)}
        if clash:
            name, value = next(iter(clash.items()))
            raise DataFormatError(
                f"{name}={value!r} disagrees with options.{name}={getattr(options, name)!r}",
                hint="pass each option once, in the ReadOptions object",
            )
        return options

    def replace(self, **changes: Any) -> ReadOptions:
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)


def wide_field(name: str) -> str | None:
    """The known field ``name`` means (``Adj Close`` -> ``adj_close``), or None."""
    found = field_name(name)
    return found.field if found is not None and not found.rest else None
