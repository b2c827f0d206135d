"""Expression trees: fields, constants and operator calls.

Nodes are frozen and hashable; equal subtrees compare equal whatever their
position in the text, which is what lets a batch of expressions compute a
shared subexpression once. ``str(node)`` is the canonical text (no spaces,
canonical operator names) used as the key of caches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Call", "Const", "Field", "Node", "Span", "Str"]


@dataclass(frozen=True)
class Span:
    """Character range ``[start, end)`` of a node in its source text."""

    start: int
    end: int


@dataclass(frozen=True)
class Node:
    """Base of expression nodes; ``span`` does not take part in equality."""

    span: Span = field(default=Span(0, 0), compare=False, repr=False, kw_only=True)

    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> list[Node]:
        """Every node of the tree, parents before children (iterative, no recursion limit)."""
        out: list[Node] = []
        stack: list[Node] = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children()))
        return out


@dataclass(frozen=True)
class Field(Node):
    """A data field such as ``$close`` (``name`` without the ``$``, lower case)."""

    name: str

    def __str__(self) -> str:
        return f"${self.name}"


@dataclass(frozen=True)
class Const(Node):
    """A numeric literal."""

    value: float

    def __str__(self) -> str:
        v = self.value
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


@dataclass(frozen=True)
class Str(Node):
    """A quoted name: the argument of ``Text("name")`` and ``Factor("name")``."""

    value: str

    def __str__(self) -> str:
        return f'"{self.value}"'


@dataclass(frozen=True)
class Call(Node):
    """An operator applied to arguments (expressions or constants).

    ``op`` is the canonical operator name (``Mean``, ``Add``, ``TsRank``...).
    """

    op: str
    args: tuple[Node, ...]

    def children(self) -> tuple[Node, ...]:
        return self.args

    def __str__(self) -> str:
        # iterative rendering so very deep trees do not hit the recursion limit
        parts: dict[int, str] = {}
        for node in reversed(self.walk()):
            if isinstance(node, Call):
                inner = ",".join(parts[id(a)] for a in node.args)
                parts[id(node)] = f"{node.op}({inner})"
            else:
                parts[id(node)] = str(node)
        return parts[id(self)]
