"""What a factor argument names: a library of factors, or one expression.

Commands that take "an expression or a library's name" call
:func:`resolve_factor_source` once, so the rule is the same everywhere:

1. text equal to a library's name is that library;
2. otherwise a bare name (letters, digits, ``_``, ``-``, ``.``; no ``$``, no
   parentheses) is a mistyped library name: such text can never be a valid
   expression (fields start with ``$``, operators are called with
   parentheses), so it is refused with the closest library names rather
   than with a parse error. A bare operator name (``Mean``) keeps the
   parser's message, which shows how to call it;
3. anything else is an expression, parsed here so that a syntax error
   surfaces before any data is loaded.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alphaloop.errors import AlphaloopError
from alphaloop.factors.library.registry import (
    BUILTIN,
    FactorLibrary,
    list_libraries,
    load_library_file,
)
from alphaloop.factors.operators import resolve
from alphaloop.factors.parser import parse

__all__ = ["FactorSource", "UnknownLibraryError", "resolve_factor_source"]

_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")


class UnknownLibraryError(AlphaloopError):
    """A bare name was given where a factor library or an expression was expected."""


@dataclass(frozen=True)
class FactorSource:
    """A resolved factor argument.

    Attributes
    ----------
    text : str
        As given (surrounding whitespace removed).
    library : FactorLibrary or None
        The library ``text`` names, or None when ``text`` is an expression.
    """

    text: str
    library: FactorLibrary | None = None

    @property
    def is_library(self) -> bool:
        return self.library is not None

    @property
    def expressions(self) -> dict[str, str]:
        """Factor name -> expression: the library's factors, or ``{text: text}``."""
        if self.library is not None:
            return dict(self.library.factors)
        return {self.text: self.text}


def _libraries(registry: Path | Iterable[FactorLibrary] | None) -> list[FactorLibrary]:
    if registry is None:
        return list(BUILTIN.values())
    if isinstance(registry, str | Path):
        return list_libraries(Path(registry))
    return list(registry)


def resolve_factor_source(
    text: str, registry: Path | Iterable[FactorLibrary] | None = None
) -> FactorSource:
    """Resolve ``text`` to a library (by exact name) or a parsed-and-checked expression.

    Parameters
    ----------
    text : str
        A library's name (``alpha158``) or an expression (``Mean($close, 5)``).
    registry : Path, iterable of FactorLibrary, or None
        Where libraries are looked up: a workspace root (built-in libraries
        and the workspace's ``libraries/*.yaml``), the libraries themselves,
        or None for the built-in ones only.

    Raises
    ------
    UnknownLibraryError
        ``text`` is a bare name that is no library, e.g.
        ``unknown factor library 'alpha185'; did you mean 'alpha158'? known: ...``.
    ExpressionError
        ``text`` is not a valid expression (syntax only; fields are checked
        against a dataset later).
    """
    if not isinstance(text, str):
        parse(text)  # raises: an expression must be text
    stripped = text.strip()
    if _BARE_NAME.fullmatch(stripped):
        by_name = {lib.name: lib for lib in _libraries(registry)}
        if stripped in by_name:
            return FactorSource(stripped, by_name[stripped])
        if resolve(stripped) is None:
            raise _unknown_library(stripped, list(by_name))
    else:
        named = _named_library(stripped, registry)
        if named is not None:
            return FactorSource(stripped, named)
    parse(stripped)  # raises ExpressionError with the position
    return FactorSource(stripped)


def _named_library(
    name: str, registry: Path | Iterable[FactorLibrary] | None
) -> FactorLibrary | None:
    """A library whose name is not a bare identifier (e.g. has spaces), by exact name.

    Only that library's file is read, so an expression never depends on the
    other files of the workspace being readable.
    """
    if registry is None:
        return None
    if isinstance(registry, str | Path):
        if "/" in name or "\\" in name:
            return None
        path = Path(registry) / "libraries" / f"{name}.yaml"
        if not path.is_file():
            return None
        lib = load_library_file(path)
        return lib if lib.name == name else None
    return next((lib for lib in registry if lib.name == name), None)


def _unknown_library(name: str, known: list[str]) -> UnknownLibraryError:
    lowered = {n.lower(): n for n in known}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.6)
    guess = repr(lowered[close[0]]) if close else ""
    message = f"unknown factor library {name!r}; "
    if guess:
        message += f"did you mean {guess}? "
    message += f"known: {', '.join(known) if known else 'none'}"
    return UnknownLibraryError(
        message,
        hint="`alphaloop factor library list` shows the libraries; an expression reads fields "
        "with '$' and calls operators with parentheses, e.g. Mean($close, 5) / $close",
    )
