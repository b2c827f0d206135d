"""Checks that need a context: which fields exist, whether the future may be read.

A negative lag (``Ref(x, -k)``) reads ``k`` bars ahead. That is what a label
(the forward return a model learns) must do, and what a feature or a signal
must never do: outside labels it is refused with an error that names the
lookahead. Labels are asked for explicitly (``label=True``).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass

from alphaloop.errors import ExpressionError
from alphaloop.factors.ast import Call, Const, Field, Node, Str
from alphaloop.factors.operators import OPERATORS
from alphaloop.factors.parser import parse

__all__ = [
    "TEXT_PREFIX",
    "Expression",
    "compile_expression",
    "future_references",
    "lookahead",
    "text_field",
    "text_names",
    "validate",
    "warmup",
]

#: panel fields that hold a text factor's values are named ``text:NAME``
TEXT_PREFIX = "text:"


@dataclass(frozen=True)
class Expression:
    """A parsed and validated expression with its source text.

    Attributes
    ----------
    text : str
        As written.
    node : Node
        The tree; ``str(node)`` is the canonical form.
    label : bool
        Whether future references were allowed.
    """

    text: str
    node: Node
    label: bool = False

    @property
    def canonical(self) -> str:
        return str(self.node)

    @property
    def fields(self) -> tuple[str, ...]:
        """Fields the expression reads, sorted."""
        return tuple(sorted({n.name for n in self.node.walk() if isinstance(n, Field)}))

    @property
    def texts(self) -> tuple[str, ...]:
        """Text factors the expression reads (``Text("NAME")``), sorted."""
        return text_names(self.node)

    @property
    def warmup(self) -> int:
        return warmup(self.node)


def compile_expression(
    text: str, *, fields: Collection[str] | None = None, label: bool = False
) -> Expression:
    """Parse ``text`` and validate it against ``fields`` (if given) and the lookahead rule."""
    node = parse(text)
    validate(node, text=text, fields=fields, label=label)
    return Expression(text, node, label)


def validate(
    node: Node, *, text: str = "", fields: Collection[str] | None = None, label: bool = False
) -> None:
    """Raise :class:`ExpressionError` for unknown fields or, unless ``label``, lookahead."""
    known = None if fields is None else {f.lower() for f in fields}
    ahead = {} if label else {id(n): k for n, k in future_references(node)}
    for n in node.walk():
        if isinstance(n, Field) and known is not None and n.name not in known:
            close = difflib.get_close_matches(n.name, sorted(known), n=1)
            hint = f"did you mean ${close[0]}? " if close else ""
            hint += f"the data has {', '.join('$' + f for f in sorted(known))}"
            raise ExpressionError(f"unknown field ${n.name}", text, n.span.start, hint=hint)
        if isinstance(n, Call) and n.op == "Text" and known is not None:
            name = text_field(n)
            if name.lower() not in known:
                attached = sorted(f[len(TEXT_PREFIX) :] for f in known if f.startswith(TEXT_PREFIX))
                raise ExpressionError(
                    f"{n}: no text factor {name[len(TEXT_PREFIX) :]!r} is attached to this data",
                    text,
                    n.span.start,
                    hint=(f"attached: {', '.join(attached)}; " if attached else "")
                    + "define text factors with `alphaloop factor text add` and run the "
                    "expression on a workspace dataset (docs/text-factors.md)",
                )
        k = ahead.get(id(n))
        if k is not None:
            raise ExpressionError(
                f"lookahead: {str(n)[:60]} reads {k} bar{'s' if k > 1 else ''} into the "
                "future; future references are allowed only in labels",
                text,
                n.span.start,
                hint="evaluate it as a label (label=True, or --label on the command line)",
            )


def text_field(call: Call) -> str:
    """The panel field ``Text("NAME")`` reads: ``text:NAME``."""
    arg = call.args[0]
    assert isinstance(arg, Str)
    return f"{TEXT_PREFIX}{arg.value}"


def text_names(node: Node) -> tuple[str, ...]:
    """The text factors an expression reads (``Text("NAME")``), sorted, without duplicates."""
    return tuple(sorted({text_field(n)[len(TEXT_PREFIX) :] for n in node.walk() if _is_text(n)}))


def _is_text(n: Node) -> bool:
    return isinstance(n, Call) and n.op == "Text"


def future_references(node: Node) -> list[tuple[Call, int]]:
    """Every ``Ref(x, -k)`` in the tree with the ``k`` bars it reads ahead, outermost first.

    These are the only calls that read the future; their spans point at the
    text as written (``text[call.span.start:call.span.end]``).
    """
    out: list[tuple[Call, int]] = []
    for n in node.walk():
        if isinstance(n, Call) and n.op == "Ref":
            lag = n.args[1]
            if isinstance(lag, Const) and lag.value < 0:
                out.append((n, int(-lag.value)))
    return out


def lookahead(node: Node) -> int:
    """How many bars into the future the expression reads (0 if none); nested reads add up."""
    return _accumulate(node, future=True)


def warmup(node: Node) -> int:
    """Bars of history needed before the first complete value (default window semantics).

    A window of ``N`` bars needs ``N - 1`` bars before the current one;
    ``Ref(x, k)`` and ``Delta(x, k)`` need ``k``; ``EMA`` counts its span.
    Nested operators add up.
    """
    return _accumulate(node, future=False)


def _accumulate(node: Node, *, future: bool) -> int:
    need: dict[int, int] = {}
    for n in reversed(node.walk()):
        below = max((need[id(c)] for c in n.children()), default=0)
        need[id(n)] = below + (_reach(n, future) if isinstance(n, Call) else 0)
    return need[id(node)]


def _reach(n: Call, future: bool) -> int:
    spec = OPERATORS[n.op]
    if spec.kind != "rolling":
        return 0
    for kind, arg in zip(spec.params, n.args, strict=False):
        if not isinstance(arg, Const):
            continue
        v = arg.value
        if kind == "lag":
            return max(0, int(-v)) if future else max(0, int(v))
        if future:
            continue
        if kind == "window":
            return int(v) if n.op == "Delta" else int(v) - 1
        if kind == "span":
            return int(v) - 1 if v >= 1 else 0
    return 0
