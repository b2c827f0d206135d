"""The typed grammar that mined expressions are generated in.

A :class:`Grammar` names the leaves (fields), the literal windows and
constants, and the operators, sorted by signature: ``unary`` (one series:
``Neg``, ``Abs``, ``Sign``, ``Log``, ``CsRank``...), ``binary`` (two
series, element-wise: ``Add``, ``Div``, ``Greater``...), ``rolling`` (a
series and a window, lag or span: ``Mean(x, N)``, ``Ref(x, N)``,
``EMA(x, N)``) and ``pairwise`` (two series and a window: ``Corr``,
``Cov``). A field named ``text:NAME`` is the leaf ``Text("NAME")``.

Typing rules
------------
A tree is in the grammar (:func:`is_valid`) when all of these hold:

1. Leaves are the grammar's fields; operators are the grammar's, each
   with its own number and kinds of arguments.
2. Windows, lags and spans are integer literals from ``windows``, at
   least the operator's ``min_window`` (e.g. 2 for ``Std`` and ``Corr``,
   3 for ``Skew``).
3. Constants come from ``constants`` and appear only as one argument of a
   binary operator, never both arguments, never the root, never the series
   argument of a unary, rolling, pairwise or cross-sectional operator.
4. A cross-sectional operator (``CsRank``, ``CsZScore``...) is not applied
   directly to a cross-sectional operator's output.
5. ``Log`` takes a field or ``Abs(...)`` (inputs that are positive or
   made so).
6. No call that is trivially another tree: ``Neg(Neg(x))``,
   ``Sign(Sign(x))``, ``Abs(Neg(x))``, ``Abs(Sign(x))``; ``Abs`` or ``Sign``
   of a non-negative output (``Abs``, ``CsRank``, ``Std``, ``TsRank``,
   comparisons...); a binary or pairwise call of two arguments that are
   equal or equal after :func:`~alphaloop.factors.mining.canonical.canonicalize`
   (``Sub(Add($a,$b),Add($b,$a))``).
7. At most ``max_depth`` levels (a lone field has depth 1) and
   ``max_size`` nodes (literal windows counted; see
   :func:`~alphaloop.factors.mining.canonical.size`).
8. ``str(tree)`` parses back to the same tree.

Random trees (:meth:`Grammar.random_tree`) are built top-down with every
rule enforced as they grow; the root is always an operator call. Only a
numpy ``Generator`` passed in supplies randomness, so the same generator
state gives the same trees.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any, Literal

import numpy as np

from alphaloop.errors import AlphaloopError, MiningError
from alphaloop.factors.ast import Call, Const, Field, Node, Str
from alphaloop.factors.mining.canonical import canonical_texts, depth, size
from alphaloop.factors.operators import ALIASES, OPERATORS
from alphaloop.factors.parser import MAX_DEPTH, parse

__all__ = ["Grammar", "Method", "invalid_reason", "is_valid"]

Method = Literal["grow", "full"]
Slot = Literal["unary", "binary", "rolling", "pairwise"]

#: probability that a non-root node of a "grow" tree is a leaf (when an operator would fit)
GROW_LEAF_PROB = 0.3
#: attempts before random generation gives up (a checked grammar needs a handful at most)
_ATTEMPTS = 50
_TEXT_PREFIX = "text:"
_FIELD_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_TEXT_NAME = re.compile(r"[^\"\n]*\S[^\"\n]*")
#: operators whose output is >= 0 where defined: Abs and Sign of them are trivial
NON_NEGATIVE = frozenset(
    {"Abs", "CsRank", "Std", "Var", "Mad", "Count", "Rsquare", "TsRank", "IdxMax", "IdxMin"}
    | {"Gt", "Ge", "Lt", "Le", "Eq", "Ne", "And", "Or", "Not"}
)
#: smallest tree with each kind of operator at its root (literal arguments counted)
_MIN_SIZE: dict[str, int] = {"unary": 2, "binary": 3, "rolling": 3, "pairwise": 4}


def _slot_of(name: str) -> Slot | None:
    """The grammar slot an operator's signature fits, or None (If, Quantile, Text...)."""
    spec = OPERATORS[name]
    p = spec.params
    if spec.variadic:
        return None
    if spec.kind in ("elementwise", "cross_section") and p == ("expr",):
        return "unary"
    if spec.kind == "elementwise" and p == ("expr", "expr"):
        return "binary"
    if spec.kind == "rolling" and len(p) == 2 and p[0] == "expr" and p[1] != "expr":
        return "rolling"
    if spec.kind == "rolling" and p == ("expr", "expr", "window"):
        return "pairwise"
    return None


#: operators whose literal is a lag (bars back), drawn from ``Grammar.lags``
_LAGGED = frozenset({"Ref", "Delta"})


@dataclass(frozen=True)
class _Tables:
    """What generation and checks look up, derived once from a checked grammar."""

    leaves: tuple[Node, ...]
    leaf_set: frozenset[Node]
    slot: dict[str, Slot]  # operator -> slot
    literals: dict[str, tuple[Const, ...]]  # rolling/pairwise operator -> usable windows
    constants: tuple[Const, ...]
    children: dict[str | None, tuple[tuple[str, int], ...]]  # parent -> (op, min size)


def _child_allowed(op: str, parent: str | None) -> bool:
    """Rules 4-6 for an operator call directly under ``parent`` (None: the root)."""
    if parent is None:
        return True
    if OPERATORS[parent].kind == "cross_section" and OPERATORS[op].kind == "cross_section":
        return False
    if parent == "Log":
        return op == "Abs"
    if parent in ("Abs", "Sign") and (op in NON_NEGATIVE or op == "Sign"):
        return False
    if parent == "Abs" and op == "Neg":
        return False
    return not (parent == op and parent in ("Neg", "Sign"))


@dataclass(frozen=True)
class Grammar:
    """Leaves, literals and operators of mined expressions, with size limits.

    Parameters
    ----------
    fields : tuple of str
        Panel field names, lower case, without ``$``; ``text:NAME`` stands for
        ``Text("NAME")``.
    windows : tuple of int, default (5, 10, 20, 40, 60)
        Window lengths in bars (current bar included), also the spans of
        ``EMA``.
    lags : tuple of int, default (1, 2, 5, 10, 20)
        Bars back of ``Ref`` and ``Delta`` (one-bar returns need a lag of 1,
        which as a window would be trivial).
    constants : tuple of float, default (0.5, 1.0, 2.0)
        Literals a binary operator may take as one argument.
    unary, binary, rolling, pairwise : tuple of str
        Canonical operator names of each signature (see the module docstring).
    max_depth : int, default 5
        Levels; a lone field has depth 1.
    max_size : int, default 24
        Nodes, literal window/lag arguments included.
    const_prob : float, default 0.1
        Probability that a generated binary call takes a constant as one argument.
    """

    fields: tuple[str, ...]
    windows: tuple[int, ...] = (5, 10, 20, 40, 60)
    lags: tuple[int, ...] = (1, 2, 5, 10, 20)
    constants: tuple[float, ...] = (0.5, 1.0, 2.0)
    unary: tuple[str, ...] = ("Neg", "Abs", "Sign", "Log", "CsRank", "CsZScore")
    binary: tuple[str, ...] = ("Add", "Sub", "Mul", "Div", "Greater", "Less")
    rolling: tuple[str, ...] = (
        "Mean", "Std", "Sum", "Max", "Min", "TsRank", "Delta",
        "Slope", "Skew", "IdxMax", "IdxMin", "WMA", "EMA", "Ref",
    )  # fmt: skip
    pairwise: tuple[str, ...] = ("Corr", "Cov")
    max_depth: int = 5
    max_size: int = 24
    const_prob: float = 0.1

    def __post_init__(self) -> None:
        # lists (from YAML or JSON) become tuples so the grammar stays hashable
        for name in (
            "fields", "windows", "lags", "constants", "unary", "binary", "rolling", "pairwise",
        ):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, tuple):
                value = (value,) if isinstance(value, str | int | float) else tuple(value)
                object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ checks
    def check(self) -> None:
        """Raise :class:`MiningError` when the grammar cannot produce a valid candidate
        or names something that does not exist, saying what and what to change."""
        if not self.fields:
            raise MiningError(
                "the mining grammar has no fields", hint="list panel fields, e.g. close, volume"
            )
        _no_repeats("fields", self.fields)
        for f in self.fields:
            if not isinstance(f, str):
                raise MiningError(f"grammar field {f!r} is not a name")
            if f.startswith(_TEXT_PREFIX):
                if not _TEXT_NAME.fullmatch(f[len(_TEXT_PREFIX) :]):
                    raise MiningError(f"grammar field {f!r}: the text factor name is not valid")
            elif not _FIELD_NAME.fullmatch(f):
                raise MiningError(
                    f"grammar field {f!r} is not a field name",
                    hint="lower-case letters, digits and '_', without '$' (e.g. close)",
                )
        if not isinstance(self.max_depth, int) or self.max_depth < 1:
            raise MiningError(
                f"max_depth must be an integer >= 1 (a lone field has depth 1), "
                f"got {self.max_depth!r}"
            )
        if self.max_depth > MAX_DEPTH:
            raise MiningError(
                f"max_depth {self.max_depth} is deeper than expressions may nest ({MAX_DEPTH})"
            )
        if not isinstance(self.max_size, int) or self.max_size < 1:
            raise MiningError(f"max_size must be an integer >= 1, got {self.max_size!r}")
        if not (isinstance(self.const_prob, int | float) and 0.0 <= self.const_prob <= 1.0):
            raise MiningError(f"const_prob must be in [0, 1], got {self.const_prob!r}")
        if not self.windows:
            raise MiningError("the mining grammar has no windows", hint="e.g. windows: [5, 20]")
        _no_repeats("windows", self.windows)
        for w in self.windows:
            if isinstance(w, bool) or not isinstance(w, int | np.integer) or w <= 0:
                raise MiningError(
                    f"grammar windows must be positive whole numbers of bars, got {w!r}"
                )
        if not self.lags and any(op in _LAGGED for op in self.rolling):
            raise MiningError(
                "the mining grammar has no lags for Ref and Delta", hint="e.g. lags: [1, 5]"
            )
        _no_repeats("lags", self.lags)
        for w in self.lags:
            if isinstance(w, bool) or not isinstance(w, int | np.integer) or w <= 0:
                raise MiningError(f"grammar lags must be positive whole numbers of bars, got {w!r}")
        _no_repeats("constants", self.constants)
        for c in self.constants:
            if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
                raise MiningError(f"grammar constants must be finite numbers, got {c!r}")
            try:
                same = parse(str(Const(float(c)))) == Const(float(c))
            except AlphaloopError:
                same = False
            if not same:
                raise MiningError(f"grammar constant {c!r} has no exact literal")
        for slot in ("unary", "binary", "rolling", "pairwise"):
            names = getattr(self, slot)
            _no_repeats(slot, names)
            for name in names:
                _check_operator(slot, name)
        for name in (*self.rolling, *self.pairwise):
            least = OPERATORS[name].min_window
            kind, values = ("lags", self.lags) if name in _LAGGED else ("windows", self.windows)
            if not any(w >= least for w in values):
                raise MiningError(
                    f"{name} needs a window of at least {least} bars; the grammar's {kind} "
                    f"are {', '.join(map(str, sorted(values)))}",
                    hint=f"add a window >= {least} or remove {name} from the grammar",
                )
        n_ops = len(self.unary) + len(self.binary) + len(self.rolling) + len(self.pairwise)
        if n_ops == 0:
            raise MiningError(
                "the mining grammar has no operators",
                hint="list at least one in unary, binary, rolling or pairwise",
            )
        if self.max_depth >= 2:
            smallest = min(
                _MIN_SIZE[slot]
                for slot in ("unary", "binary", "rolling", "pairwise")
                if getattr(self, slot)
            )
            if self.max_size < smallest:
                raise MiningError(
                    f"max_size {self.max_size} is too small for any operator call of this "
                    f"grammar (the smallest takes {smallest} nodes, literal windows counted)"
                )

    @cached_property
    def _tables(self) -> _Tables:
        self.check()
        leaves: list[Node] = [
            Call("Text", (Str(f[len(_TEXT_PREFIX) :]),)) if f.startswith(_TEXT_PREFIX) else Field(f)
            for f in self.fields
        ]
        slot: dict[str, Slot] = {}
        for s in ("unary", "binary", "rolling", "pairwise"):
            for name in getattr(self, s):
                slot[name] = s
        literals = {
            name: tuple(
                Const(float(w))
                for w in sorted(self.lags if name in _LAGGED else self.windows)
                if w >= OPERATORS[name].min_window
            )
            for name in (*self.rolling, *self.pairwise)
        }
        children = {
            parent: tuple(
                (op, _MIN_SIZE[s]) for op, s in slot.items() if _child_allowed(op, parent)
            )
            for parent in (None, *slot)
        }
        return _Tables(
            leaves=tuple(leaves),
            leaf_set=frozenset(leaves),
            slot=slot,
            literals=literals,
            constants=tuple(Const(float(c)) for c in sorted(self.constants)),
            children=children,
        )

    # -------------------------------------------------------------- generation
    def random_tree(
        self,
        rng: np.random.Generator,
        *,
        max_depth: int | None = None,
        method: Method = "grow",
    ) -> Node:
        """A random tree of this grammar; its root is an operator call when depth allows.

        Parameters
        ----------
        rng : numpy.random.Generator
            The only source of randomness: the same state gives the same tree.
        max_depth : int, optional
            At most this many levels (capped by the grammar's ``max_depth``);
            e.g. ramped half-and-half initialisation passes 2..max_depth.
        method : {"grow", "full"}
            ``grow``: below the root a node is a leaf with probability
            :data:`GROW_LEAF_PROB`; ``full``: leaves only at the last level,
            as far as ``max_size`` allows.

        Raises
        ------
        MiningError
            When the grammar does not pass :meth:`check`, or the method is unknown.
        """
        if method not in ("grow", "full"):
            raise MiningError(f"unknown tree generation method {method!r}; use 'grow' or 'full'")
        levels = self.max_depth if max_depth is None else min(int(max_depth), self.max_depth)
        if levels < 1:
            raise MiningError(f"max_depth must be >= 1, got {max_depth!r}")
        tables = self._tables
        for _ in range(_ATTEMPTS):
            node, _n = self._generate(rng, None, levels, self.max_size, method, root=True)
            if self._problem(node) is None:
                return node
        raise MiningError(  # pragma: no cover - a checked grammar always succeeds sooner
            f"could not generate a valid tree in {_ATTEMPTS} attempts with "
            f"{len(tables.leaves)} field(s) and max_size {self.max_size}"
        )

    def _generate(
        self,
        rng: np.random.Generator,
        parent: str | None,
        levels: int,
        budget: int,
        method: Method,
        *,
        root: bool = False,
    ) -> tuple[Node, int]:
        """A subtree (and its size) for a position under ``parent`` with at most
        ``levels`` levels and ``budget`` nodes; the caller guarantees budget >= 1."""
        t = self._tables
        ops = [op for op, least in t.children[parent] if least <= budget] if levels >= 2 else []
        if ops and (root or method == "full" or rng.random() >= GROW_LEAF_PROB):
            return self._call(rng, ops[int(rng.integers(len(ops)))], levels, budget, method)
        return t.leaves[int(rng.integers(len(t.leaves)))], 1

    def _call(
        self, rng: np.random.Generator, op: str, levels: int, budget: int, method: Method
    ) -> tuple[Node, int]:
        t = self._tables
        s = t.slot[op]
        if s == "unary":
            x, n = self._generate(rng, op, levels - 1, budget - 1, method)
            return Call(op, (x,)), n + 1
        if s == "rolling":
            lits = t.literals[op]
            lit = lits[int(rng.integers(len(lits)))]
            x, n = self._generate(rng, op, levels - 1, budget - 2, method)
            return Call(op, (x, lit)), n + 2
        if s == "binary" and t.constants and rng.random() < self.const_prob:
            c = t.constants[int(rng.integers(len(t.constants)))]
            x, n = self._generate(rng, op, levels - 1, budget - 2, method)
            return Call(op, (c, x) if rng.integers(2) else (x, c)), n + 2
        overhead = 1 if s == "binary" else 2
        room = budget - overhead  # for both series arguments, >= 2
        first_room = room - 1 if method == "grow" else max(1, room // 2)
        x, nx = self._generate(rng, op, levels - 1, first_room, method)
        y, ny = self._generate(rng, op, levels - 1, room - nx, method)
        for _ in range(3):
            if y != x:
                break
            y, ny = self._generate(rng, op, levels - 1, room - nx, method)
        pair = (y, x) if rng.integers(2) else (x, y)
        if s == "pairwise":
            lits = t.literals[op]
            pair = (*pair, lits[int(rng.integers(len(lits)))])
        return Call(op, pair), nx + ny + overhead

    # ---------------------------------------------------------------- validity
    def _problem(self, node: Node) -> str | None:
        """The first rule ``node`` breaks (rules 1-7 of the module docstring), else None."""
        t = self._tables
        if isinstance(node, Const):
            return "a constant cannot be the whole expression"
        n = size(node)
        if n > self.max_size:
            return f"{n} nodes, more than max_size {self.max_size}"
        d = depth(node)
        if d > self.max_depth:
            return f"{d} levels, more than max_depth {self.max_depth}"
        texts: dict[int, str] | None = None  # canonical texts, computed when first needed
        stack: list[tuple[Node, str | None]] = [(node, None)]
        while stack:
            x, parent = stack.pop()
            if isinstance(x, Field) or (isinstance(x, Call) and x.op == "Text"):
                if x not in t.leaf_set:
                    return f"{x} is not a field of the grammar"
                continue
            if not isinstance(x, Call):
                return f"{str(x)[:40]} is not a field of the grammar"
            s = t.slot.get(x.op)
            if s is None:
                return f"{x.op} is not an operator of the grammar"
            if not _child_allowed(x.op, parent):
                return f"{x.op}(...) directly under {parent} is not allowed"
            args = x.args
            want = {"unary": 1, "binary": 2, "rolling": 2, "pairwise": 3}[s]
            if len(args) != want:
                return f"{x.op} takes {want} arguments, got {len(args)}"
            if s in ("rolling", "pairwise"):
                if args[-1] not in t.literals[x.op] or not isinstance(args[-1], Const):
                    return f"the window of {str(x)[:40]} is not one of the grammar's windows"
                args = args[:-1]
            if s == "binary":
                consts = [a for a in args if isinstance(a, Const)]
                if len(consts) == 2:
                    return f"{str(x)[:40]} has only constant arguments"
                if consts and consts[0] not in t.constants:
                    return f"{consts[0]} is not one of the grammar's constants"
                args = tuple(a for a in args if not isinstance(a, Const))
            if len(args) == 2:
                texts = canonical_texts(node) if texts is None else texts
                if texts[id(args[0])] == texts[id(args[1])]:
                    return f"{str(x)[:40]} has two equal arguments (up to canonical form)"
            for a in args:
                if isinstance(a, Const):
                    return f"a constant cannot be the series argument of {x.op}"
                stack.append((a, x.op))
        return None

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, numbers) for YAML/JSON; :meth:`from_dict` reads it back."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("fields", "unary", "binary", "rolling", "pairwise"):
            out[name] = list(out[name])
        out["windows"] = [int(w) for w in self.windows]
        out["lags"] = [int(w) for w in self.lags]
        out["constants"] = [float(c) for c in self.constants]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Grammar:
        """A grammar from :meth:`to_dict`'s output (missing keys take their defaults).

        Raises
        ------
        MiningError
            For unknown keys or a grammar that fails :meth:`check`.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MiningError(
                f"unknown grammar key(s): {', '.join(unknown)}",
                hint=f"allowed: {', '.join(sorted(known))}",
            )
        if "fields" not in data:
            raise MiningError("a grammar needs 'fields'")
        grammar = cls(**dict(data))
        grammar.check()
        return grammar


def invalid_reason(node: Node, grammar: Grammar) -> str | None:
    """Why ``node`` is not in ``grammar`` (the first typing rule it breaks), or None."""
    problem = grammar._problem(node)
    if problem is not None:
        return problem
    try:
        back = parse(str(node))
    except AlphaloopError as exc:
        return f"its text does not parse: {exc.message}"
    if back != node:
        return f"its text parses to a different tree: {back}"
    return None


def is_valid(node: Node, grammar: Grammar) -> bool:
    """Whether ``node`` follows every typing rule of ``grammar`` (module docstring)."""
    return invalid_reason(node, grammar) is None


def _no_repeats(what: str, values: tuple[Any, ...]) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise MiningError(f"grammar {what} repeat {v!r}")
        seen.add(v)


def _check_operator(slot: str, name: str) -> None:
    if not isinstance(name, str) or name not in OPERATORS:
        hint = None
        if isinstance(name, str) and name in ALIASES:
            hint = f"use the canonical name {ALIASES[name]}"
        raise MiningError(f"unknown operator {name!r} in the grammar's {slot} operators", hint=hint)
    actual = _slot_of(name)
    if actual != slot:
        where = f"list it under {actual}" if actual else "the grammar cannot generate it"
        raise MiningError(
            f"{name} ({OPERATORS[name].signature}) is not a {slot} operator", hint=where
        )
