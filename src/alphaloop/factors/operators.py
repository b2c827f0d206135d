"""The operators of the expression language: names, arguments, kinds.

Argument kinds
--------------
``expr``
    any expression (a field, a constant, a call).
``window``
    a positive integer literal: the number of bars in a rolling window,
    the current bar included.
``lag``
    a non-zero integer literal: ``Ref(x, 1)`` is the previous bar's value;
    a negative lag reads the future and is refused outside labels.
``quantile``
    a literal in [0, 1].
``span``
    ``EMA``'s smoothing: an integer span N >= 1 (alpha = 2 / (N + 1)) or,
    as in Qlib, a literal in (0, 1) taken as alpha itself.
``by``
    a neutralization target of ``CsNeutralize``: an expression (regressed
    out) or ``Group(expr)`` (group means removed).
``name``
    a quoted name: ``Text("earnings_tone")`` reads a text factor the
    workspace defines (its values are attached to the panel as the field
    ``text:earnings_tone``); ``Factor("library/name")`` stands for a library
    factor's expression and is replaced by it when the text is parsed.

Qlib's ``Rank`` is a time-series percentile rank; it is accepted as an alias
of ``TsRank``. The cross-sectional rank is ``CsRank``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ALIASES",
    "BINARY_SYMBOLS",
    "OPERATORS",
    "UNARY_SYMBOLS",
    "OpSpec",
    "operator_listing",
    "resolve",
]

Kind = Literal["elementwise", "rolling", "cross_section", "marker", "external", "reference"]


_DEFAULT_ARG_NAMES: dict[str, str] = {
    "window": "N",
    "lag": "N",
    "quantile": "q",
    "span": "N",
    "by": "by",
    "name": "name",
}
_EXPR_NAMES = ("x", "y", "z")


@dataclass(frozen=True)
class OpSpec:
    """One operator: canonical name, kind, argument kinds, and a one-line meaning.

    ``params`` is what the parser checks a call against (one kind per
    argument); ``variadic`` means the last kind may repeat (at least once).
    ``arg_names`` are the names shown in the signature, one per parameter;
    by default ``x, y, z`` for expressions in order and ``N`` / ``q`` / ``by``
    for literals. The signature is generated from ``params`` and
    ``arg_names``, so the listing cannot disagree with what the parser
    accepts.
    """

    name: str
    kind: Kind
    params: tuple[str, ...]
    doc: str
    variadic: bool = False
    min_window: int = 1
    arg_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.arg_names:
            names: list[str] = []
            n_expr = 0
            for kind in self.params:
                if kind == "expr":
                    names.append(_EXPR_NAMES[n_expr])
                    n_expr += 1
                else:
                    names.append(_DEFAULT_ARG_NAMES[kind])
            object.__setattr__(self, "arg_names", tuple(names))
        if len(self.arg_names) != len(self.params):
            raise ValueError(
                f"operator {self.name}: {len(self.arg_names)} argument names for "
                f"{len(self.params)} parameters"
            )

    @property
    def min_args(self) -> int:
        """Fewest arguments a call takes."""
        return len(self.params)

    @property
    def max_args(self) -> int | None:
        """Most arguments a call takes (None: no limit, the operator is variadic)."""
        return None if self.variadic else len(self.params)

    @property
    def signature(self) -> str:
        """``Name(arg, ...)`` with one name per parameter (``...`` when variadic)."""
        args = list(self.arg_names)
        if self.variadic:
            args.append("...")
        return f"{self.name}({', '.join(args)})"


def _ops() -> dict[str, OpSpec]:
    e, w = "expr", "window"
    specs = [
        # arithmetic, comparison and logic (also written with symbols)
        OpSpec("Add", "elementwise", (e, e), "x + y"),
        OpSpec("Sub", "elementwise", (e, e), "x - y"),
        OpSpec("Mul", "elementwise", (e, e), "x * y"),
        OpSpec("Div", "elementwise", (e, e), "x / y"),
        OpSpec("Neg", "elementwise", (e,), "-x"),
        OpSpec("Gt", "elementwise", (e, e), "x > y as 1/0"),
        OpSpec("Ge", "elementwise", (e, e), "x >= y as 1/0"),
        OpSpec("Lt", "elementwise", (e, e), "x < y as 1/0"),
        OpSpec("Le", "elementwise", (e, e), "x <= y as 1/0"),
        OpSpec("Eq", "elementwise", (e, e), "x == y as 1/0"),
        OpSpec("Ne", "elementwise", (e, e), "x != y as 1/0"),
        OpSpec("And", "elementwise", (e, e), "x & y: 1 when both are non-zero"),
        OpSpec("Or", "elementwise", (e, e), "x | y: 1 when either is non-zero"),
        OpSpec("Not", "elementwise", (e,), "~x: 1 when x is zero"),
        OpSpec(
            "If",
            "elementwise",
            (e, e, e),
            "x where cond is non-zero, else y",
            arg_names=("cond", "x", "y"),
        ),
        OpSpec("Abs", "elementwise", (e,), "absolute value"),
        OpSpec("Sign", "elementwise", (e,), "-1, 0 or 1"),
        OpSpec("Log", "elementwise", (e,), "natural logarithm"),
        OpSpec("Power", "elementwise", (e, e), "x raised to y"),
        OpSpec("Greater", "elementwise", (e, e), "element-wise maximum of x and y"),
        OpSpec("Less", "elementwise", (e, e), "element-wise minimum of x and y"),
        # time series, per asset
        OpSpec("Ref", "rolling", (e, "lag"), "value N bars ago (N < 0: the future)"),
        OpSpec("Mean", "rolling", (e, w), "rolling mean"),
        OpSpec("Sum", "rolling", (e, w), "rolling sum"),
        OpSpec("Std", "rolling", (e, w), "rolling standard deviation (ddof=1)", min_window=2),
        OpSpec("Var", "rolling", (e, w), "rolling variance (ddof=1)", min_window=2),
        OpSpec("Skew", "rolling", (e, w), "rolling skewness (bias-corrected)", min_window=3),
        OpSpec("Kurt", "rolling", (e, w), "rolling excess kurtosis (bias-corrected)", min_window=4),
        OpSpec("Max", "rolling", (e, w), "rolling maximum"),
        OpSpec("Min", "rolling", (e, w), "rolling minimum"),
        OpSpec("IdxMax", "rolling", (e, w), "bars since the rolling maximum (0 = this bar)"),
        OpSpec("IdxMin", "rolling", (e, w), "bars since the rolling minimum (0 = this bar)"),
        OpSpec("Quantile", "rolling", (e, w, "quantile"), "rolling quantile (linear)"),
        OpSpec("Med", "rolling", (e, w), "rolling median"),
        OpSpec("Mad", "rolling", (e, w), "rolling mean absolute deviation from the mean"),
        OpSpec("TsRank", "rolling", (e, w), "percentile rank of this bar within the window"),
        OpSpec("Count", "rolling", (e, w), "number of non-missing values in the window"),
        OpSpec("Delta", "rolling", (e, w), "x minus its value N bars ago"),
        OpSpec("Slope", "rolling", (e, w), "OLS slope of the window on time"),
        OpSpec(
            "Rsquare", "rolling", (e, w), "R-squared of the window's OLS fit on time", min_window=2
        ),
        OpSpec("Resi", "rolling", (e, w), "residual of this bar in the window's OLS fit on time"),
        OpSpec("WMA", "rolling", (e, w), "linearly weighted mean (newest weighs most)"),
        OpSpec("EMA", "rolling", (e, "span"), "exponential moving average"),
        OpSpec("Corr", "rolling", (e, e, w), "rolling correlation of x and y", min_window=2),
        OpSpec("Cov", "rolling", (e, e, w), "rolling covariance of x and y (ddof=1)", min_window=2),
        # cross-sectional, per timestamp over the universe's members
        OpSpec("CsRank", "cross_section", (e,), "percentile rank across assets, in (0, 1]"),
        OpSpec("CsZScore", "cross_section", (e,), "(x - mean) / std across assets (ddof=0)"),
        OpSpec("CsDemean", "cross_section", (e,), "x minus its mean across assets"),
        OpSpec(
            "CsNeutralize",
            "cross_section",
            (e, "by"),
            "residual of x after removing Group(g) means and regressing on other expressions",
            variadic=True,
            arg_names=("x", "by"),
        ),
        OpSpec(
            "Group",
            "marker",
            (e,),
            "marks g as group labels; only as a target of CsNeutralize (group means removed)",
            arg_names=("g",),
        ),
        # values from outside the price panel, and references to library factors
        OpSpec(
            "Text",
            "external",
            ("name",),
            'a text factor of the workspace, e.g. Text("earnings_tone") (see docs/text-factors.md)',
        ),
        OpSpec(
            "Factor",
            "reference",
            ("name",),
            'a library factor by name, e.g. Factor("alpha158/ROC20"); replaced by its expression',
        ),
    ]
    return {s.name: s for s in specs}


OPERATORS: dict[str, OpSpec] = _ops()

#: other spellings accepted, mapped to canonical names
ALIASES: dict[str, str] = {"Rank": "TsRank"}

#: infix symbols and the operators they stand for
BINARY_SYMBOLS: dict[str, str] = {
    "+": "Add",
    "-": "Sub",
    "*": "Mul",
    "/": "Div",
    ">": "Gt",
    ">=": "Ge",
    "<": "Lt",
    "<=": "Le",
    "==": "Eq",
    "!=": "Ne",
    "&": "And",
    "|": "Or",
}

#: prefix symbols and the operators they stand for (a prefix ``+`` is dropped)
UNARY_SYMBOLS: dict[str, str] = {"-": "Neg", "~": "Not"}


def resolve(name: str) -> OpSpec | None:
    """The operator spec for ``name`` or an alias of it (case-sensitive), else None."""
    return OPERATORS.get(ALIASES.get(name, name))


def operator_listing() -> list[dict[str, object]]:
    """Every operator the parser accepts, as rows for a listing (``factor operators``).

    Generated from :data:`OPERATORS`, the table the parser checks calls
    against, so the listing cannot drift from it. Each row has ``name``,
    ``kind``, ``signature``, ``min_args``, ``max_args`` (None when
    variadic), ``doc``, ``aliases`` (other names accepted) and ``symbols``
    (infix or prefix symbols written for it, e.g. ``+`` for ``Add``).
    ``Group`` is listed with kind ``marker``: it is accepted only as a
    target of ``CsNeutralize``. ``Text`` has kind ``external`` (values from
    the workspace's documents) and ``Factor`` kind ``reference`` (a library
    factor, expanded when parsed).
    """
    aliases: dict[str, list[str]] = {}
    for alias, canonical in ALIASES.items():
        aliases.setdefault(canonical, []).append(alias)
    symbols: dict[str, list[str]] = {}
    for table in (BINARY_SYMBOLS, UNARY_SYMBOLS):
        for symbol, canonical in table.items():
            symbols.setdefault(canonical, []).append(symbol)
    return [
        {
            "name": spec.name,
            "kind": spec.kind,
            "signature": spec.signature,
            "min_args": spec.min_args,
            "max_args": spec.max_args,
            "doc": spec.doc,
            "aliases": sorted(aliases.get(spec.name, [])),
            "symbols": symbols.get(spec.name, []),
        }
        for spec in OPERATORS.values()
    ]
