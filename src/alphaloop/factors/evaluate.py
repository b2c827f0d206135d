"""Evaluate a batch of expressions on a Panel, each shared subexpression once.

Modes
-----
``strict`` (default)
    A rolling value is NaN until its window holds ``N`` valid values;
    comparisons and logic with a missing operand are missing; division by
    zero, ``Log`` of non-positive numbers and overflow give NaN, never
    infinity; ``IdxMax``/``IdxMin`` count bars since the extreme (0 = this
    bar); ``EMA`` is recursive (``adjust=False``) and NaN until ``N``
    values; ``WMA`` is the weighted mean with weights 1..n (newest n).
``qlib``
    Reproduces Qlib 0.9.7 for users migrating formulas: fields are rounded
    to float32 as Qlib stores them; windows may be partial
    (``min_periods=1``); element-wise results of float32 inputs are rounded
    to float32, as pandas keeps float32 series in float32 (rolling
    statistics return float64); an asset's series begins at its first row
    with data (nothing exists before a listing); comparisons treat a missing
    operand as false and
    logic treats it as true (NumPy's bool of NaN); infinities are kept;
    ``IdxMax``/``IdxMin`` are 1-based positions from the window's start;
    ``EMA`` is pandas' ``ewm(span=N, min_periods=1).mean()`` (adjusted);
    ``WMA`` is Qlib's ``nanmean(w * x)`` with weights normalized to sum to
    one; ``Corr`` and ``Rsquare`` are NaN where a rolling standard deviation
    is within 2e-5 of zero. The full list is in docs/factors.md.

Cross-sectional operators only see the universe's members at each timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from alphaloop.data import Panel
from alphaloop.errors import ExpressionError
from alphaloop.factors import kernels as k
from alphaloop.factors.ast import Call, Const, Field, Node, Str
from alphaloop.factors.operators import OPERATORS
from alphaloop.factors.validate import Expression, compile_expression, text_field

__all__ = ["Mode", "evaluate", "evaluate_nodes"]

Mode = Literal["strict", "qlib"]
Value = np.ndarray | float


def evaluate(
    panel: Panel,
    expressions: Mapping[str, str | Expression] | Sequence[str | Expression] | str,
    *,
    mode: Mode = "strict",
    label: bool = False,
    dtype: type = np.float64,
) -> dict[str, np.ndarray]:
    """Evaluate expressions on ``panel``.

    Parameters
    ----------
    panel : Panel
    expressions : str, sequence or mapping
        Expression texts (or compiled :class:`Expression`); a mapping gives
        them names, otherwise each result is keyed by its text.
    mode : {"strict", "qlib"}
    label : bool, default False
        Allow future references (``Ref(x, -k)``): for labels only.
    dtype : numpy dtype, default float64
        Of the returned arrays (float32 halves the memory of large batches).

    Returns
    -------
    dict of str to ndarray
        One (time, asset) array per expression, in the order given.
    """
    if mode not in ("strict", "qlib"):
        raise ExpressionError(f"unknown evaluation mode {mode!r}; use 'strict' or 'qlib'")
    if isinstance(expressions, str | Expression):
        expressions = [expressions]
    items = (
        list(expressions.items())
        if isinstance(expressions, Mapping)
        else [(e if isinstance(e, str) else e.text, e) for e in expressions]
    )
    compiled = {
        name: e
        if isinstance(e, Expression)
        else compile_expression(e, fields=panel.field_names, label=label)
        for name, e in items
    }
    for name, e in compiled.items():
        if isinstance(e, Expression) and not label and e.label:
            raise ExpressionError(f"{name!r} was compiled as a label; pass label=True")
    nodes = {name: e.node for name, e in compiled.items()}
    return evaluate_nodes(panel, nodes, mode=mode, dtype=dtype)


def evaluate_nodes(
    panel: Panel, nodes: Mapping[str, Node], *, mode: Mode = "strict", dtype: type = np.float64
) -> dict[str, np.ndarray]:
    """Evaluate validated trees; each distinct subtree is computed once and freed after use."""
    order: list[Node] = []
    seen: set[Node] = set()
    uses: dict[Node, int] = {}
    for root in nodes.values():
        for n in reversed(root.walk()):
            if n not in seen:
                seen.add(n)
                order.append(n)
                for c in _data_children(n):
                    uses[c] = uses.get(c, 0) + 1
    roots = set(nodes.values())
    ev = _Evaluator(panel, mode)
    values: dict[Node, Value] = {}
    owned: set[Node] = set()  # arrays this evaluation allocated (never a panel's own field)
    results: dict[Node, np.ndarray] = {}
    for n in order:
        kids = _data_children(n)
        # a child whose last use is this node lends its buffer to the result
        spare = next(
            (values[c] for c in kids if c in owned and c not in roots and uses[c] == kids.count(c)),
            None,
        )
        value = ev.compute(n, [values[c] for c in kids], spare)
        values[n] = value
        if (
            isinstance(value, np.ndarray)
            and value.flags.writeable  # a panel's own arrays are read-only
            and all(value is not values.get(c) for c in kids)
        ):
            owned.add(n)
        for c in kids:
            uses[c] -= 1
            if uses[c] == 0:
                if c in roots:
                    results[c] = _as_result(values[c], panel.shape, dtype)
                del values[c]
                owned.discard(c)
        if n in roots and uses.get(n, 0) == 0:
            # convert as soon as possible: keeps one float64 copy alive, not one per root
            results[n] = _as_result(values.pop(n), panel.shape, dtype)
            owned.discard(n)
    return {name: results[root] for name, root in nodes.items()}


def _as_result(v: Value, shape: tuple[int, int], dtype: type) -> np.ndarray:
    if np.isscalar(v):
        return np.full(shape, v, dtype=dtype)
    arr = np.asarray(v)
    if arr.dtype == dtype and arr.flags.writeable:
        return arr
    return arr.astype(dtype)


def _listing_starts(panel: Panel) -> np.ndarray:
    """Per asset, the first row where it is a member with any field present."""
    present = np.zeros(panel.shape, dtype=bool)
    for name in panel.field_names:
        present |= ~np.isnan(panel.field(name))
    present &= panel.membership
    starts = np.argmax(present, axis=0)
    starts[~present.any(axis=0)] = 0
    return starts


def _data_children(n: Node) -> tuple[Node, ...]:
    """Children that are evaluated as data (literal windows, lags and quantiles are not)."""
    if not isinstance(n, Call):
        return ()
    spec = OPERATORS[n.op]
    if spec.kind in ("external", "reference"):
        return ()
    if spec.kind != "rolling":
        return n.args
    return tuple(a for a, kind in zip(n.args, spec.params, strict=False) if kind == "expr")


class _Evaluator:
    def __init__(self, panel: Panel, mode: Mode) -> None:
        self.panel = panel
        self.qlib = mode == "qlib"
        self.shape = panel.shape
        self.members = panel.membership
        self.spare: np.ndarray | None = None
        self.single: dict[Node, bool] = {}  # qlib mode: values that Qlib holds as float32
        self.starts = _listing_starts(panel) if self.qlib else None

    def compute(self, n: Node, args: list[Value], spare: np.ndarray | None = None) -> Value:
        """Value of ``n`` from its children's values; ``spare`` may be overwritten."""
        if isinstance(n, Const):
            return float(n.value)
        if isinstance(n, Field):
            # one asset-major copy per field: the kernels walk one asset at a time
            x = self.panel.field(n.name)
            if self.qlib:
                x = x.astype(np.float32)
                self.single[n] = True
            return np.asfortranarray(x, dtype=np.float64)
        if isinstance(n, Str):  # the name argument of Text: not a value
            return float("nan")
        assert isinstance(n, Call)
        if n.op == "Text":
            x = self.panel.field(text_field(n))
            return np.asfortranarray(x, dtype=np.float64)
        if n.op == "Factor":  # pragma: no cover - the parser expands references
            raise ExpressionError(f"{n} was not expanded into its library factor")
        self.spare = spare if spare is not None and spare.dtype == np.float64 else None
        with np.errstate(all="ignore"):
            value = self.call(n, args)
        if self.qlib:
            value = self.track_single(n, value)
            value = self.before_listing(value)
        return value

    def before_listing(self, value: Value) -> Value:
        """Qlib's series of an asset start at its first row: nothing exists before it."""
        starts = self.starts
        if starts is None or not starts.any() or np.isscalar(value):
            return value
        out = np.asarray(value, dtype=np.float64)
        if not out.flags.writeable:
            out = out.copy()
        for j in np.flatnonzero(starts):
            out[: starts[j], j] = np.nan
        return out

    def all_single(self, n: Call) -> bool:
        return all(isinstance(c, Const) or self.single.get(c, False) for c in _data_children(n))

    def track_single(self, n: Call, value: Value) -> Value:
        """Qlib computes on float32 series: element-wise results of float32 inputs stay
        float32 (pandas keeps the dtype), rolling statistics come back as float64."""
        single = n.op in _KEEPS_DTYPE and self.all_single(n)
        self.single[n] = single
        if single and isinstance(value, np.ndarray) and value.dtype == np.float64:
            rounded = value.astype(np.float32)
            if value.flags.writeable:
                value[...] = rounded
            else:
                value = rounded.astype(np.float64)
        return value

    def array(self, v: Value) -> np.ndarray:
        if np.isscalar(v):
            return np.full(self.shape, float(v), order="F")
        return np.asarray(v, dtype=np.float64)

    def finite(self, v: Value) -> Value:
        """Strict mode never produces infinities: they become NaN."""
        if self.qlib or np.isscalar(v):
            return v
        out = np.asarray(v, dtype=np.float64)
        inf = np.isinf(out)
        if inf.any():
            out[inf] = np.nan
        return out

    # ---------------------------------------------------------------- dispatch
    def call(self, n: Call, a: list[Value]) -> Value:
        op = n.op
        if op in _ARITH:
            fn = _ARITH[op]
            both_scalar = all(np.isscalar(v) for v in a)
            out = None if both_scalar else self.spare
            if out is not None and out.shape != self.shape:
                out = None
            res = fn(*a, out=out) if out is not None else fn(*a)
            return self.finite(res)
        if op in _COMPARE:
            return self.compare(_COMPARE[op], a[0], a[1])
        if op in ("And", "Or", "Not", "If"):
            return self.logic(op, a)
        arrays = not all(np.isscalar(v) for v in a)
        if op in ("Log", "Power") and self.qlib and arrays and self.all_single(n):
            # Qlib takes these of float32 series in float32 arithmetic
            args32 = [np.float32(v) if np.isscalar(v) else np.asarray(v, np.float32) for v in a]
            fn = np.log if op == "Log" else np.power
            return np.asarray(fn(*args32), dtype=np.float64)
        if op == "Log":
            spare = self.spare if self.spare is not None and not np.isscalar(a[0]) else None
            return self.finite(np.log(a[0], out=spare) if spare is not None else np.log(a[0]))
        if op == "Power":
            return self.finite(np.power(a[0], a[1]))
        if op in ("CsRank", "CsZScore", "CsDemean", "CsNeutralize"):
            return self.cross_section(n, a)
        if op == "Group":
            return a[0]
        return self.rolling(n, a)

    def compare(self, fn: np.ufunc, x: Value, y: Value) -> Value:
        out = np.asarray(fn(x, y), dtype=np.float64)
        if not self.qlib:
            missing = np.isnan(x) | np.isnan(y)
            if np.ndim(missing):
                out[missing] = np.nan
            elif missing:
                return np.nan
        return out if out.ndim else float(out)

    def logic(self, op: str, a: list[Value]) -> Value:
        if self.qlib:
            b = [np.asarray(v).astype(bool) for v in a]
            if op == "If":
                return np.where(b[0], a[1], a[2]).astype(np.float64)
            res = {"And": lambda: b[0] & b[1], "Or": lambda: b[0] | b[1], "Not": lambda: ~b[0]}
            return np.asarray(res[op](), dtype=np.float64)
        missing = np.isnan(a[0]) if op in ("Not", "If") else np.isnan(a[0]) | np.isnan(a[1])
        truth = [np.asarray(v) != 0 for v in a]
        if op == "If":
            out = np.where(truth[0], a[1], a[2]).astype(np.float64)
        elif op == "Not":
            out = (~truth[0]).astype(np.float64)
        else:
            out = (truth[0] & truth[1] if op == "And" else truth[0] | truth[1]).astype(np.float64)
        out = np.array(out, dtype=np.float64, ndmin=2) if np.ndim(out) else out
        if np.ndim(missing) and np.ndim(out):
            out[np.broadcast_to(missing, out.shape)] = np.nan
        elif np.ndim(out) == 0 and bool(missing):
            return np.nan
        return out

    def cross_section(self, n: Call, a: list[Value]) -> Value:
        # cross sections walk one timestamp at a time: time-major order
        x = np.ascontiguousarray(np.where(self.members, self.array(a[0]), np.nan))
        if n.op == "CsRank":
            return k.cs_rank(x)
        if n.op == "CsZScore":
            return k.cs_zscore(x)
        if n.op == "CsDemean":
            return k.cs_demean(x)
        groups, factors = None, []
        for arg, value in zip(n.args[1:], a[1:], strict=True):
            if isinstance(arg, Call) and arg.op == "Group":
                if groups is not None:
                    raise ExpressionError("CsNeutralize takes at most one Group(...) target")
                g = self.array(value)
                groups = np.where(np.isnan(g), -1, g).astype(np.int64)
            else:
                factors.append(np.where(self.members, self.array(value), np.nan))
        return k.cs_neutralize(x, groups=groups, factors=factors or None)

    def rolling(self, n: Call, a: list[Value]) -> Value:
        op = n.op
        lit = [arg.value for arg in n.args if isinstance(arg, Const)]
        x = self.array(a[0])
        if op == "Ref":
            return k.shift(x, int(lit[-1]))
        if op == "EMA":
            span = lit[-1]
            mp = 1 if self.qlib else (int(span) if span >= 1 else 1)
            if span < 1:
                return k.ewm_mean(x, alpha=span, min_periods=mp, adjust=self.qlib)
            return k.ewm_mean(x, span=int(span), min_periods=mp, adjust=self.qlib)
        w = int(lit[0])
        mp = 1 if self.qlib else w
        if op == "Delta":
            return x - k.shift(x, w)
        if op in ("Corr", "Cov"):
            y = self.array(a[1])
            if op == "Cov":
                return k.rolling_cov(x, y, w, mp)
            return k.rolling_corr(x, y, w, mp, qlib=self.qlib)
        if op == "Quantile":
            return k.rolling_quantile(x, w, mp, lit[1])
        if op in ("IdxMax", "IdxMin"):
            fn = k.rolling_argmax if op == "IdxMax" else k.rolling_argmin
            if not self.qlib or self.starts is None or not self.starts.any():
                return fn(x, w, mp, qlib=self.qlib)
            # Qlib's windows begin at the listing: run each listing cohort from its start
            out = np.full(self.shape, np.nan, order="F")
            for start in np.unique(self.starts):
                cols = np.flatnonzero(self.starts == start)
                out[start:, cols] = fn(x[start:, cols], w, mp, qlib=True)
            return out
        if op in ("Slope", "Rsquare", "Resi"):
            fn = {"Slope": k.rolling_slope, "Rsquare": k.rolling_rsquare, "Resi": k.rolling_resi}
            return fn[op](x, w, mp, qlib=self.qlib)
        if op == "WMA":
            return k.rolling_wma(x, w, mp, qlib=self.qlib)
        return _ROLLING[op](x, w, mp)


_ARITH = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": np.true_divide,
    "Neg": np.negative,
    "Abs": np.abs,
    "Sign": np.sign,
    "Greater": np.maximum,
    "Less": np.minimum,
}
#: operators whose result Qlib (pandas) keeps in float32 when every input is float32
_KEEPS_DTYPE = frozenset(
    {
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Neg",
        "Abs",
        "Sign",
        "Greater",
        "Less",
        "Log",
        "Power",
        "If",
        "Ref",
        "Delta",
    }
)
_COMPARE = {
    "Gt": np.greater,
    "Ge": np.greater_equal,
    "Lt": np.less,
    "Le": np.less_equal,
    "Eq": np.equal,
    "Ne": np.not_equal,
}
_ROLLING = {
    "Mean": k.rolling_mean,
    "Sum": k.rolling_sum,
    "Std": k.rolling_std,
    "Var": k.rolling_var,
    "Skew": k.rolling_skew,
    "Kurt": k.rolling_kurt,
    "Max": k.rolling_max,
    "Min": k.rolling_min,
    "Med": k.rolling_median,
    "Mad": k.rolling_mad,
    "TsRank": k.rolling_rank,
    "Count": k.rolling_count,
}
