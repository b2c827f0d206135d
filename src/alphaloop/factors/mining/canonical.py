"""Canonical forms of expression trees: one text per meaning, so each is scored once.

:func:`canonicalize` rewrites a tree into an equivalent one (same values
under strict evaluation, missing values included) by these rules, applied
bottom-up:

- arguments of commutative operators (``Add``, ``Mul``, ``Greater``,
  ``Less``, ``Corr``, ``Cov``) are sorted by their canonical text;
- ``Neg(Neg(x)) -> x``, ``Abs(Abs(x)) -> Abs(x)``, ``Abs(Neg(x)) -> Abs(x)``,
  ``Sign(Sign(x)) -> Sign(x)``, ``CsRank(CsRank(x)) -> CsRank(x)``;
- element-wise calls whose arguments are all constants are folded into one
  constant (left alone when the result is not finite: strict evaluation
  gives NaN there, which has no literal).

Element-wise results are equal to the last bit (IEEE addition, products,
maxima and minima are commutative); ``Corr`` and ``Cov`` of swapped
arguments agree to rounding (the kernels are symmetric up to the order of
one product). Every node is visited once and the canonical text of each
subtree is built once, from its children's texts, so a call costs time
linear in the size of the tree (times its depth for the texts).

:func:`size` counts nodes, literal window and lag arguments included;
``Text("name")`` is one leaf (its quoted name is not counted). :func:`depth`
is 1 for a lone field.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable

import numpy as np

from alphaloop.factors.ast import Call, Const, Node, Str

__all__ = ["COMMUTATIVE", "canonical_texts", "canonicalize", "depth", "expression_hash", "size"]

#: operators whose arguments may be swapped without changing the value
COMMUTATIVE = frozenset({"Add", "Mul", "Greater", "Less", "Corr", "Cov"})

_FOLD: dict[str, Callable[..., float]] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": np.true_divide,
    "Neg": np.negative,
    "Abs": np.abs,
    "Sign": np.sign,
    "Log": np.log,
    "Power": np.power,
    "Greater": np.maximum,
    "Less": np.minimum,
    "Gt": np.greater,
    "Ge": np.greater_equal,
    "Lt": np.less,
    "Le": np.less_equal,
    "Eq": np.equal,
    "Ne": np.not_equal,
}


def size(node: Node) -> int:
    """Number of nodes: calls, fields, constants and literal window/lag arguments.

    ``Text("name")`` counts as one node (a leaf); e.g. ``Mean($close,5)`` has size 3.
    """
    return sum(1 for n in node.walk() if not isinstance(n, Str))


def depth(node: Node) -> int:
    """Levels of the tree: 1 for a field or a constant, ``Mean($close,5)`` has depth 2."""
    levels: dict[int, int] = {}
    for n in reversed(node.walk()):
        kids = [levels[id(c)] for c in n.children() if not isinstance(c, Str)]
        levels[id(n)] = 1 + max(kids, default=0)
    return levels[id(node)]


def canonicalize(node: Node) -> Node:
    """An equivalent tree in canonical form (see the module docstring); idempotent."""
    return _Canonicalizer().run(node)


def canonical_texts(node: Node) -> dict[int, str]:
    """The canonical text of every subtree of ``node``, keyed by the subtree's ``id``.

    One pass (as :func:`canonicalize`); the ids are those of the nodes of
    ``node`` itself, valid while ``node`` is alive.
    """
    c = _Canonicalizer()
    done = c.run_all(node)
    return {key: c.text[id(built)] for key, built in done.items()}


def expression_hash(node: Node) -> str:
    """SHA-256 hex digest of the canonical text: equal for trees that only differ by
    the rewrites of :func:`canonicalize` (e.g. ``Add($a,$b)`` and ``Add($b,$a)``)."""
    return hashlib.sha256(str(canonicalize(node)).encode()).hexdigest()


class _Canonicalizer:
    """One pass over a tree; ``text`` holds the canonical text of every node built."""

    def __init__(self) -> None:
        self.text: dict[int, str] = {}
        self.keep: list[Node] = []  # keeps built nodes alive so their ids stay unique

    def run(self, root: Node) -> Node:
        return self.run_all(root)[id(root)]

    def run_all(self, root: Node) -> dict[int, Node]:
        """The canonical tree of every subtree of ``root``, keyed by the subtree's id."""
        done: dict[int, Node] = {}
        for n in reversed(root.walk()):
            if isinstance(n, Call):
                done[id(n)] = self.make(n.op, tuple(done[id(a)] for a in n.args))
            else:
                done[id(n)] = self.leaf(n)
        return done

    def leaf(self, n: Node) -> Node:
        self.text[id(n)] = str(n)
        self.keep.append(n)
        return n

    def make(self, op: str, args: tuple[Node, ...]) -> Node:
        """The canonical call of ``op`` on canonical ``args``."""
        values = [float(a.value) for a in args if isinstance(a, Const)]
        if op in _FOLD and len(values) == len(args):
            with np.errstate(all="ignore"):
                value = float(_FOLD[op](*values))
            if math.isfinite(value):
                return self.leaf(Const(value))
        first = args[0] if args else None
        if isinstance(first, Call) and len(args) == 1:
            inner = first.op
            if op == "Neg" and inner == "Neg":
                return first.args[0]
            if op == inner and op in ("Abs", "Sign", "CsRank"):
                return first
            if op == "Abs" and inner == "Neg":
                return self.make("Abs", first.args)
        if op in COMMUTATIVE:
            exprs = sorted(args[:2], key=lambda a: self.text[id(a)])
            args = (*exprs, *args[2:])
        node = Call(op, args)
        self.text[id(node)] = f"{op}({','.join(self.text[id(a)] for a in args)})"
        self.keep.append(node)
        return node
