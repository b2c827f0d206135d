"""Library factors as building blocks: ``Factor("library/name")`` inside an expression.

The parser replaces a reference by the referenced factor's own tree, so an
expression that uses a mined or hand-written library factor is evaluated,
cached and hashed exactly like the expression written out in full (equal
trees share one evaluation).

Names
-----
``Factor("library/name")``
    the factor ``name`` of the library ``library`` (always unambiguous);
``Factor("name")``
    the factor ``name`` of whichever library has it, when every library
    that has a factor of that name gives it the same formula.

Which libraries are visible is the *reference source* of the current
context: the built-in libraries by default; a workspace adds its own
(``libraries/*.yaml``) while it is open (:func:`use_references`,
:func:`set_references`). References may nest (a mined factor built on
another); a cycle is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING

from alphaloop.errors import ExpressionError

if TYPE_CHECKING:
    from alphaloop.factors.library.registry import FactorLibrary

__all__ = [
    "ReferenceSource",
    "lookup_reference",
    "reference_table",
    "reset_references",
    "set_references",
    "use_references",
]

#: a table ``name -> formula`` or a function building one when a reference is parsed
ReferenceSource = Mapping[str, str] | Callable[[], Mapping[str, str]]

_SOURCE: ContextVar[ReferenceSource | None] = ContextVar(
    "alphaloop_factor_references", default=None
)
_AMBIGUOUS = "\x00ambiguous\x00"


def reference_table(libraries: Iterable[FactorLibrary]) -> dict[str, str]:
    """``library/name`` and unambiguous bare ``name`` -> formula, for the given libraries.

    A bare name that two libraries give different formulas is kept out (a
    reference to it is refused with both qualified names).
    """
    table: dict[str, str] = {}
    bare: dict[str, str] = {}
    for lib in libraries:
        for name, text in lib.factors.items():
            table[f"{lib.name}/{name}"] = text
            seen = bare.get(name)
            bare[name] = text if seen in (None, text) else _AMBIGUOUS
    for name, text in bare.items():
        table.setdefault(name, text)
    return table


def _builtin_table() -> dict[str, str]:
    from alphaloop.factors.library.registry import BUILTIN

    return reference_table(BUILTIN.values())


def set_references(source: ReferenceSource | None) -> Token[ReferenceSource | None]:
    """Make ``source`` the reference source of the current context; None: built-ins only."""
    return _SOURCE.set(source)


def reset_references(token: Token[ReferenceSource | None]) -> None:
    """Restore the reference source that was current before :func:`set_references`."""
    _SOURCE.reset(token)


@contextmanager
def use_references(source: ReferenceSource | None) -> Iterator[None]:
    """Within the block, ``Factor("...")`` resolves against ``source``."""
    token = set_references(source)
    try:
        yield
    finally:
        reset_references(token)


def _current_table() -> Mapping[str, str]:
    source = _SOURCE.get()
    if source is None:
        return _builtin_table()
    return source() if callable(source) else source


def lookup_reference(name: str) -> str:
    """The formula ``Factor(name)`` stands for.

    Raises
    ------
    ExpressionError
        No library has such a factor, or a bare name two libraries define
        differently.
    """
    table = _current_table()
    text = table.get(name)
    if text is not None and text != _AMBIGUOUS:
        return text
    if text == _AMBIGUOUS or (text is None and "/" not in name):
        owners = sorted(k for k in table if "/" in k and k.split("/", 1)[1] == name)
        if len(owners) > 1:
            raise ExpressionError(
                f"Factor({name!r}) is ambiguous: {', '.join(owners)} differ",
                hint=f'name the library: Factor("{owners[0]}")',
            )
    import difflib

    keys = [k for k in table if table[k] != _AMBIGUOUS]
    close = difflib.get_close_matches(name, keys, n=3, cutoff=0.6)
    hint = (
        f"did you mean {' or '.join(close)}? " if close else ""
    ) + "`alphaloop factor library list` shows the libraries; a reference is library/name"
    raise ExpressionError(f"no library factor named {name!r}", hint=hint)
