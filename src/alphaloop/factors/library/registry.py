"""Finding libraries: built-in ones, and YAML files in a workspace's ``libraries/``."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from alphaloop.errors import AlphaloopError, ExpressionError
from alphaloop.factors.ast import Field
from alphaloop.factors.library.alpha158 import alpha158, alpha360
from alphaloop.factors.parser import parse
from alphaloop.factors.validate import future_references
from alphaloop.files import write_atomic

__all__ = [
    "BUILTIN",
    "FactorLibrary",
    "check_no_lookahead",
    "get_library",
    "list_libraries",
    "load_library_file",
    "save_library",
]


@dataclass(frozen=True)
class FactorLibrary:
    """A named set of factors (name -> expression text)."""

    name: str
    description: str
    factors: dict[str, str]
    source: str = "built-in"
    notes: tuple[str, ...] = field(default_factory=tuple)
    provenance: dict | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        """Every data field the library's formulas read."""
        names: set[str] = set()
        for text in self.factors.values():
            names.update(n.name for n in parse(text).walk() if isinstance(n, Field))
        return tuple(sorted(names))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "count": len(self.factors),
            "fields": list(self.fields),
            "notes": list(self.notes),
            "factors": dict(self.factors),
            "provenance": self.provenance,
        }


def _close_only(factors: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, text in factors.items():
        fields = {n.name for n in parse(text).walk() if isinstance(n, Field)}
        if fields == {"close"}:
            out[name] = text
    return out


_A158 = alpha158()
#: the close-only Alpha158 features of ``alpha158-close-core``
CLOSE_CORE = (
    "ROC5",
    "ROC20",
    "ROC60",
    "MA5",
    "MA20",
    "MA60",
    "STD20",
    "STD60",
    "RSQR20",
    "RSQR60",
    "RANK20",
    "CNTP20",
)
_A360 = alpha360()
BUILTIN: dict[str, FactorLibrary] = {
    lib.name: lib
    for lib in (
        FactorLibrary(
            "alpha158",
            "the 158 Alpha158 features: candlestick, price ratios and 29 rolling "
            "families over 5, 10, 20, 30 and 60 bars (needs open, high, low, close, vwap, "
            "volume)",
            _A158,
            notes=("RANK uses Rank, an alias of TsRank (a time-series percentile rank)",),
        ),
        FactorLibrary(
            "alpha158-close",
            "the Alpha158 features that need only $close (for close-only datasets)",
            _close_only(_A158),
        ),
        FactorLibrary(
            "alpha158-close-core",
            "twelve close-only Alpha158 features (rate of change, moving average, volatility "
            "and trend quality over 5 to 60 bars, position in the 20-bar range, up days): "
            "a fast default for models a research session trains",
            {name: _A158[name] for name in CLOSE_CORE},
        ),
        FactorLibrary(
            "alpha360",
            "the last 60 bars of open, high, low, close, vwap divided by today's close, "
            "and volume divided by today's volume",
            _A360,
        ),
        FactorLibrary(
            "alpha360-close",
            "the last 60 closes divided by today's close",
            _close_only(_A360),
        ),
    )
}


def library_dir(root: Path) -> Path:
    return Path(root) / "libraries"


def load_library_file(path: str | Path) -> FactorLibrary:
    """Read and validate a YAML library file."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AlphaloopError(f"{p}: no such file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise AlphaloopError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(doc, dict):
        raise AlphaloopError(f"{p}: expected a mapping with 'name' and 'factors'")
    unknown = set(doc) - {"name", "description", "factors", "provenance"}
    if unknown:
        raise AlphaloopError(
            f"{p}: unknown key(s) {sorted(unknown)}",
            hint="allowed: name, description, factors, provenance",
        )
    provenance = doc.get("provenance")
    if provenance is not None and not isinstance(provenance, dict):
        raise AlphaloopError(f"{p}: 'provenance' must be a mapping")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AlphaloopError(f"{p}: 'name' must be a non-empty string")
    factors = doc.get("factors")
    if not isinstance(factors, dict) or not factors:
        raise AlphaloopError(f"{p}: 'factors' must map factor names to formulas")
    clean: dict[str, str] = {}
    for fname, text in factors.items():
        if not isinstance(text, str | int | float):
            raise AlphaloopError(f"{p}: factor {fname!r} must be a formula string")
        try:
            parse(str(text))
        except ExpressionError as exc:
            raise ExpressionError(f"{p}: factor {fname!r}: {exc.message}", hint=exc.hint) from exc
        clean[str(fname)] = str(text)
    return FactorLibrary(
        name.strip(), str(doc.get("description", "")), clean, source=str(p), provenance=provenance
    )


def check_no_lookahead(lib: FactorLibrary, where: str | None = None) -> None:
    """Refuse a library whose factors read the future (``Ref(x, -k)``).

    A library holds features: every value must be known at its bar. The
    error names the factor and quotes the offending sub-expression as written,
    with its column.

    Raises
    ------
    ExpressionError
    """
    origin = where if where is not None else lib.source
    for fname, text in lib.factors.items():
        refs = future_references(parse(text))
        if not refs:
            continue
        call, k = refs[0]
        written = text[call.span.start : call.span.end]
        raise ExpressionError(
            f"{origin}: factor {fname!r} reads the future: {written} looks {k} bar"
            f"{'s' if k > 1 else ''} ahead; a library's factors must be known at their bar",
            text,
            call.span.start,
            hint="use a positive lag (Ref($close, 1) is the previous bar); a label that reads "
            "the future is evaluated with --label, not kept in a library",
        )


def save_library(root: Path, source: str | Path) -> FactorLibrary:
    """Validate a YAML library and copy it into the workspace (atomically).

    Besides the checks of :func:`load_library_file`, a library whose
    factors read the future is refused here (see :func:`check_no_lookahead`).
    """
    lib = load_library_file(source)
    check_no_lookahead(lib, str(source))
    if lib.name in BUILTIN:
        raise AlphaloopError(f"{lib.name!r} is a built-in library", hint="choose another name")
    target_dir = library_dir(root)
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{lib.name}.yaml"
    doc: dict = {"name": lib.name, "description": lib.description, "factors": lib.factors}
    if lib.provenance is not None:
        doc["provenance"] = lib.provenance
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    write_atomic(target, text)
    return FactorLibrary(
        lib.name, lib.description, lib.factors, source=str(target), provenance=lib.provenance
    )


def list_libraries(root: Path | None = None) -> list[FactorLibrary]:
    """Built-in libraries, then the workspace's, by name."""
    libs = list(BUILTIN.values())
    if root is not None and library_dir(root).is_dir():
        libs.extend(load_library_file(p) for p in sorted(library_dir(root).glob("*.yaml")))
    return libs


def get_library(name: str, root: Path | None = None) -> FactorLibrary:
    """A library by name (built-in or in the workspace)."""
    for lib in list_libraries(root):
        if lib.name == name:
            return lib
    names = [lib.name for lib in list_libraries(root)]
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=1, cutoff=0.6)
    guess = [n for n in names if close and n.lower() == close[0]]
    hint = (f"did you mean {guess[0]!r}? " if guess else "") + f"libraries: {names}"
    raise AlphaloopError(f"no factor library named {name!r}", hint=hint)
