"""Which factors of a library can run on a dataset, and what is left out.

A library such as Alpha158 reads fields a dataset may lack (most OHLCV files
have no ``$vwap``). Rather than fail on the first such factor,
:func:`select_factors` keeps the factors whose fields all exist and lists
the others with the fields they need, so every result can say
"1 factor skipped: needs $vwap (not in dataset)".

A missing field can instead be approximated, on request only, by a
documented proxy (:data:`FIELD_PROXIES`): ``$vwap`` by the typical price
``($high + $low + $close) / 3``. A proxied factor is not the published one;
the selection names every proxied factor and a caveat says so wherever its
results appear.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alphaloop.errors import AlphaloopError
from alphaloop.factors.ast import Field
from alphaloop.factors.lexer import tokenize
from alphaloop.factors.parser import parse

__all__ = [
    "FIELD_PROXIES",
    "FactorSelection",
    "FieldProxy",
    "select_factors",
    "substitute_fields",
]


@dataclass(frozen=True)
class FieldProxy:
    """An approximation of a missing field by an expression of other fields.

    Attributes
    ----------
    field : str
        The field approximated (without ``$``).
    formula : str
        The expression used in its place.
    description : str
        What the approximation is and how it differs from the real field.
    """

    field: str
    formula: str
    description: str

    @property
    def needs(self) -> tuple[str, ...]:
        """Fields the proxy itself reads."""
        return tuple(sorted({n.name for n in parse(self.formula).walk() if isinstance(n, Field)}))

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "formula": self.formula, "description": self.description}


#: Proxies that may be asked for by field name. Never applied by default.
FIELD_PROXIES: dict[str, FieldProxy] = {
    "vwap": FieldProxy(
        "vwap",
        "($high+$low+$close)/3",
        "typical price (high + low + close) / 3, a proxy for the volume-weighted average "
        "price; the true vwap weighs every trade by its volume",
    ),
}


def substitute_fields(text: str, replacements: Mapping[str, str]) -> str:
    """``text`` with every field named in ``replacements`` replaced by ``(formula)``.

    Works on tokens, so ``$vwap`` is replaced but ``$vwap2`` is not; the rest
    of the text is kept as written.
    """
    out: list[str] = []
    last = 0
    for tok in tokenize(text):
        if tok.kind == "FIELD" and tok.text[1:].lower() in replacements:
            out.append(text[last : tok.pos])
            out.append(f"({replacements[tok.text[1:].lower()]})")
            last = tok.pos + len(tok.text)
    out.append(text[last:])
    return "".join(out)


@dataclass(frozen=True)
class FactorSelection:
    """The factors of a library that run on a dataset, and those left out.

    Attributes
    ----------
    library : str
        The library's name.
    factors : dict of str to str
        Runnable factors, name -> expression, in the library's order (a
        proxied factor's expression has ``(proxy formula)`` written in place
        of the field).
    skipped : dict of str to tuple of str
        Left-out factors -> the fields they need that the dataset lacks.
    proxied : dict of str to tuple of str
        Factors computed with a proxy -> the fields approximated.
    proxies : dict of str to FieldProxy
        The proxies used, by field.
    """

    library: str
    factors: dict[str, str]
    skipped: dict[str, tuple[str, ...]] = field(default_factory=dict)
    proxied: dict[str, tuple[str, ...]] = field(default_factory=dict)
    proxies: dict[str, FieldProxy] = field(default_factory=dict)

    def skipped_summary(self) -> list[str]:
        """One line per set of missing fields, most factors first.

        e.g. ``"12 factors skipped: need $vwap (not in dataset)"``.
        """
        groups: dict[tuple[str, ...], int] = {}
        for need in self.skipped.values():
            groups[need] = groups.get(need, 0) + 1
        lines = []
        for need, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0])):
            fields = ", ".join(f"${f}" for f in need)
            lines.append(
                f"{n} factor{'s' if n != 1 else ''} skipped: need{'s' if n == 1 else ''} "
                f"{fields} (not in dataset)"
            )
        return lines

    def proxy_caveats(self) -> list[str]:
        """One caveat per proxied field, naming the factors computed with it."""
        out = []
        for name, proxy in self.proxies.items():
            users = [f for f, fields in self.proxied.items() if name in fields]
            shown = ", ".join(users[:8]) + (f" and {len(users) - 8} more" if len(users) > 8 else "")
            out.append(
                f"proxy: ${name} is not in the dataset; {len(users)} factor"
                f"{'s' if len(users) != 1 else ''} ({shown}) use {proxy.formula} instead, the "
                f"{proxy.description}; their values are not those of the published definitions"
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "n_factors": len(self.factors) + len(self.skipped),
            "n_run": len(self.factors),
            "skipped": {name: [f"${f}" for f in need] for name, need in self.skipped.items()},
            "skipped_summary": self.skipped_summary(),
            "proxied": {name: [f"${f}" for f in fields] for name, fields in self.proxied.items()},
            "proxies": {name: p.to_dict() for name, p in self.proxies.items()},
        }


def select_factors(
    factors: Mapping[str, str],
    fields: Collection[str],
    *,
    proxies: Iterable[str] = (),
    library: str = "",
) -> FactorSelection:
    """Keep the factors whose fields the dataset has; list the rest.

    Parameters
    ----------
    factors : mapping of str to str
        Name -> expression (a library's factors).
    fields : collection of str
        The dataset's fields (case-insensitive, without ``$``).
    proxies : iterable of str, default=()
        Fields to approximate by their :data:`FIELD_PROXIES` entry when
        missing (opt-in; e.g. ``("vwap",)``). A proxy whose own fields are
        missing is not used.
    library : str
        The library's name, for messages.

    Raises
    ------
    AlphaloopError
        For an unknown proxy name, or when no factor can run.
    """
    have = {f.lower() for f in fields}
    wanted: dict[str, FieldProxy] = {}
    for name in proxies:
        key = name.lower().lstrip("$")
        if key not in FIELD_PROXIES:
            raise AlphaloopError(
                f"no proxy for field {name!r}",
                hint=f"proxies exist for: {', '.join('$' + k for k in FIELD_PROXIES)}",
            )
        proxy = FIELD_PROXIES[key]
        if key not in have and set(proxy.needs) <= have:
            wanted[key] = proxy
    formulas = {k: p.formula for k, p in wanted.items()}
    runnable: dict[str, str] = {}
    skipped: dict[str, tuple[str, ...]] = {}
    proxied: dict[str, tuple[str, ...]] = {}
    for name, text in factors.items():
        node = parse(text)
        missing = sorted({n.name for n in node.walk() if isinstance(n, Field)} - have)
        if not missing:
            runnable[name] = text
        elif set(missing) <= set(formulas):
            runnable[name] = substitute_fields(text, formulas)
            proxied[name] = tuple(missing)
        else:
            skipped[name] = tuple(missing)
    used = {f for fields_ in proxied.values() for f in fields_}
    selection = FactorSelection(
        library, runnable, skipped, proxied, {k: p for k, p in wanted.items() if k in used}
    )
    if not runnable:
        label = f"library {library!r}" if library else "the library"
        raise AlphaloopError(
            f"no factor of {label} can run on this dataset: "
            + "; ".join(selection.skipped_summary()),
            hint=f"the dataset has {', '.join('$' + f for f in sorted(have)) or 'no fields'}",
        )
    return selection
