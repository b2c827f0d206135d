"""Variation operators of genetic programming on expression trees.

Each operator takes parent tree(s), a :class:`~alphaloop.factors.mining.grammar.Grammar`
and a numpy ``Generator`` (the only source of randomness: the same state
gives the same child), and returns a tree that follows the grammar's typing
rules and limits. A draw that breaks a rule is redrawn, up to
:data:`TRIES` times; when none succeeds the first parent is returned
unchanged (trees are immutable, so it is its own copy).

``subtree_mutation``
    a random expression position gets a new random subtree that fits the
    remaining depth and size.
``crossover``
    a random expression position of the first parent gets a random subtree
    of the second.
``hoist_mutation``
    a random call is replaced by one of the calls inside it (shrinks the tree).
``point_mutation``
    one node changes in place: an operator to another of the same
    signature, a field to another field, a window to another window, a
    constant to another constant.
``constant_mutation``
    a constant or a window moves to a neighbouring value of the grammar's
    sorted set (small steps: ``Mean(x,10)`` to ``Mean(x,5)`` or ``Mean(x,20)``).

Expression positions are the nodes that hold values: the root, series
arguments and constants, not literal windows or quoted names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from alphaloop.factors.ast import Call, Const, Field, Node
from alphaloop.factors.mining.canonical import size
from alphaloop.factors.mining.grammar import Grammar, _Tables
from alphaloop.factors.operators import OPERATORS

__all__ = [
    "TRIES",
    "constant_mutation",
    "crossover",
    "hoist_mutation",
    "point_mutation",
    "subtree_mutation",
]

#: draws per variation before the parent is returned unchanged
TRIES = 8

Path = tuple[int, ...]
T = TypeVar("T")


@dataclass(frozen=True)
class _Site:
    """A node of a tree: where it is, what holds it and what it is there."""

    path: Path
    node: Node
    parent: Call | None
    role: str  # "expr" (a value), "literal" (window/lag/span), "name" (Text's quoted name)
    level: int  # 1 at the root


def _sites(tree: Node) -> list[_Site]:
    """Every node with its path, parents before children (iterative)."""
    out: list[_Site] = []
    stack: list[_Site] = [_Site((), tree, None, "expr", 1)]
    while stack:
        site = stack.pop()
        out.append(site)
        node = site.node
        if isinstance(node, Call) and node.op != "Text":
            params = OPERATORS[node.op].params
            for k in range(len(node.args) - 1, -1, -1):
                role = "expr" if params[min(k, len(params) - 1)] == "expr" else "literal"
                stack.append(_Site((*site.path, k), node.args[k], node, role, site.level + 1))
    return out


def _expr_sites(tree: Node) -> list[_Site]:
    return [s for s in _sites(tree) if s.role == "expr"]


def _replace(tree: Node, path: Path, new: Node) -> Node:
    """``tree`` with the node at ``path`` replaced by ``new`` (shares untouched subtrees)."""
    if not path:
        return new
    assert isinstance(tree, Call)
    k = path[0]
    args = list(tree.args)
    args[k] = _replace(args[k], path[1:], new)
    return Call(tree.op, tuple(args))


def _pick(rng: np.random.Generator, items: Sequence[T]) -> T:
    return items[int(rng.integers(len(items)))]


def _accept(child: Node, parent: Node, grammar: Grammar) -> bool:
    return child != parent and grammar._problem(child) is None


def subtree_mutation(tree: Node, grammar: Grammar, rng: np.random.Generator) -> Node:
    """Replace a random expression position by a new random ("grow") subtree."""
    sites = _expr_sites(tree)
    total = size(tree)
    for _ in range(TRIES):
        site = _pick(rng, sites)
        budget = grammar.max_size - (total - size(site.node))
        levels = grammar.max_depth - site.level + 1
        parent_op = None if site.parent is None else site.parent.op
        new, _n = grammar._generate(rng, parent_op, levels, budget, "grow", root=not site.path)
        child = _replace(tree, site.path, new)
        if _accept(child, tree, grammar):
            return child
    return tree


def crossover(a: Node, b: Node, grammar: Grammar, rng: np.random.Generator) -> Node:
    """Replace a random expression position of ``a`` by a random subtree of ``b``."""
    sites = _expr_sites(a)
    donors = [s.node for s in _expr_sites(b) if not isinstance(s.node, Const)]
    for _ in range(TRIES):
        site = _pick(rng, sites)
        child = _replace(a, site.path, _pick(rng, donors))
        if _accept(child, a, grammar):
            return child
    return a


def hoist_mutation(tree: Node, grammar: Grammar, rng: np.random.Generator) -> Node:
    """Replace a random call by a call nested inside it (the tree gets smaller)."""
    calls = [s for s in _expr_sites(tree) if isinstance(s.node, Call) and s.node.op != "Text"]
    for _ in range(TRIES):
        if not calls:
            break
        site = _pick(rng, calls)
        inner = [
            s.node
            for s in _expr_sites(site.node)
            if s.path and isinstance(s.node, Call) and s.node.op != "Text"
        ]
        if not inner:
            continue
        child = _replace(tree, site.path, _pick(rng, inner))
        if _accept(child, tree, grammar):
            return child
    return tree


def point_mutation(tree: Node, grammar: Grammar, rng: np.random.Generator) -> Node:
    """Change one node in place: an operator to another of the same signature, a field
    to another field, a window to another window, a constant to another constant."""
    t = grammar._tables
    sites = [s for s in _sites(tree) if s.role != "name"]
    for _ in range(TRIES):
        site = _pick(rng, sites)
        node = site.node
        new: Node | None = None
        if isinstance(node, Field) or (isinstance(node, Call) and node.op == "Text"):
            others = [leaf for leaf in t.leaves if leaf != node]
            new = _pick(rng, others) if others else None
        elif isinstance(node, Call):
            slot = t.slot.get(node.op)
            others = [op for op, s in t.slot.items() if s == slot and op != node.op]
            if others:
                op = _pick(rng, others)
                args = node.args
                if slot in ("rolling", "pairwise") and args[-1] not in t.literals[op]:
                    args = (*args[:-1], _pick(rng, t.literals[op]))
                new = Call(op, args)
        elif isinstance(node, Const):
            pool = _value_pool(site, t)
            others = [c for c in pool if c != node]
            new = _pick(rng, others) if others else None
        if new is None:
            continue
        child = _replace(tree, site.path, new)
        if _accept(child, tree, grammar):
            return child
    return tree


def constant_mutation(tree: Node, grammar: Grammar, rng: np.random.Generator) -> Node:
    """Move a constant or a window to a neighbouring value of the grammar's sorted set."""
    t = grammar._tables
    sites = [s for s in _sites(tree) if isinstance(s.node, Const) and s.parent is not None]
    for _ in range(TRIES):
        if not sites:
            break
        site = _pick(rng, sites)
        pool = _value_pool(site, t)
        if len(pool) < 2:
            continue
        assert isinstance(site.node, Const)
        values = np.array([c.value for c in pool])
        at = int(np.argmin(np.abs(values - site.node.value)))
        step = 1 if rng.integers(2) else -1
        if not 0 <= at + step < len(pool):
            step = -step
        child = _replace(tree, site.path, pool[at + step])
        if _accept(child, tree, grammar):
            return child
    return tree


def _value_pool(site: _Site, t: _Tables) -> tuple[Const, ...]:
    """The sorted literals a Const at ``site`` may take: the operator's windows or the
    grammar's constants."""
    if site.role == "literal" and site.parent is not None:
        return t.literals.get(site.parent.op, ())
    return t.constants
