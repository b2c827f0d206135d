"""The static allowlist of the strategy-code sandbox: what Python strategy code may say.

:func:`check_strategy_code` parses the code with :mod:`ast` and walks every
node; anything not explicitly allowed raises
:class:`~alphaloop.sandbox.errors.SandboxViolation` naming the construct
and its line. Nothing is executed here.

Allowed
    Functions (``def``, ``lambda``; no decorators), assignment, ``if`` /
    ``for`` / ``while``, ``assert`` / ``raise``, comprehensions and generator
    expressions, f-strings, arithmetic, comparisons, subscripts and slices;
    ``import numpy as np`` and ``import math`` (both are also available
    without importing); the builtins in :data:`SAFE_BUILTINS`; the numpy
    functions and constants in :data:`NUMPY_ALLOWED`; every public name of
    :mod:`math`; public methods and attributes of values (``x.mean()``,
    ``x.shape``) except those in :data:`DENIED_ATTRIBUTES`.
Refused
    Any other import (``from`` imports included); ``class``, ``try``,
    ``with``, ``global`` / ``nonlocal``, ``async`` / ``await``, ``yield``,
    ``match`` and decorators; names and attributes starting with ``_``
    (``__class__``, ``__globals__``, ``__subclasses__``, ``__builtins__``);
    ``eval``, ``exec``, ``compile``, ``open`` (except as the name of the
    contract's open-price parameter), ``getattr`` / ``setattr`` /
    ``delattr``, ``globals``, ``locals``, ``vars``, ``__import__``,
    ``input``, ``breakpoint``, ``type``, ``object`` and every other name that
    is neither bound by the code nor allowed; frame, code and traceback
    attributes (``gi_frame``, ``f_globals``, ...); ``str.format`` (it reads
    attributes by name); numpy's file, pickle and raw-memory interfaces
    (``np.load``, ``np.save``, ``np.fromfile``, ``np.memmap``, ``np.lib``,
    ``np.ctypeslib``, ``x.tofile``, ``x.dump``, ``x.ctypes``); assigning to
    attributes of ``np`` or ``math``; ``np`` and its
    submodules used as values (``r = np.random``: their other attributes
    would bypass the numpy allowlist).
"""

from __future__ import annotations

import ast

from alphaloop.sandbox.errors import SandboxViolation

MAX_CODE_CHARS = 100_000
"""Longer strategy code is refused before parsing."""

_SAFE_BUILTINS = """
abs all any bool dict divmod enumerate filter float int isinstance len list map max min pow
range reversed round set slice sorted str sum tuple zip ArithmeticError IndexError KeyError
RuntimeError TypeError ValueError ZeroDivisionError
"""
SAFE_BUILTINS = frozenset(_SAFE_BUILTINS.split())
"""The builtins strategy code may use (the child's ``__builtins__`` holds only these)."""

_FORBIDDEN_NAMES = """
eval exec compile open getattr setattr delattr hasattr globals locals vars dir __import__
input breakpoint type object super memoryview help exit quit id print classmethod
staticmethod property __builtins__ __loader__ __spec__
"""
FORBIDDEN_NAMES = frozenset(_FORBIDDEN_NAMES.split())
"""Names refused with their own message (they are not in :data:`SAFE_BUILTINS` either)."""

_NUMPY_NAMES = """
array asarray asanyarray ascontiguousarray copy zeros ones empty full zeros_like ones_like
empty_like full_like arange linspace logspace eye identity meshgrid indices
abs absolute sign signbit copysign sqrt cbrt square exp exp2 expm1 log log1p log2 log10 power
float_power clip maximum minimum fmax fmin add subtract multiply divide true_divide
floor_divide mod fmod remainder floor ceil round around rint trunc fix negative positive
reciprocal sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh
hypot degrees radians heaviside
sum prod mean std var median min max amin amax argmin argmax ptp percentile quantile
cumsum cumprod nansum nanprod nanmean nanstd nanvar nanmedian nanmin nanmax nanargmin
nanargmax nancumsum nancumprod nanpercentile nanquantile count_nonzero all any average
reshape ravel transpose swapaxes moveaxis expand_dims squeeze concatenate stack vstack
hstack column_stack dstack split array_split tile repeat roll flip fliplr flipud
broadcast_to broadcast_arrays atleast_1d atleast_2d diff ediff1d pad where select
piecewise nonzero argwhere flatnonzero take take_along_axis put_along_axis sort argsort
lexsort partition argpartition searchsorted unique isin isnan isfinite isinf isneginf
isposinf isclose allclose array_equal nan_to_num interp convolve correlate corrcoef cov
outer inner dot vdot matmul einsum cross tensordot trace diag diagonal tril triu
logical_and logical_or logical_not logical_xor greater greater_equal less less_equal
equal not_equal bincount digitize histogram polyfit polyval floor cumulative_sum
cumulative_prod errstate finfo iinfo result_type
nan inf pi e newaxis ndarray float64 float32 int64 int32 int8 uint8 bool_ bool
linalg linalg.norm linalg.lstsq linalg.solve linalg.inv linalg.pinv linalg.det
linalg.slogdet linalg.eig linalg.eigh linalg.eigvals linalg.eigvalsh linalg.svd
linalg.qr linalg.cholesky linalg.matrix_rank linalg.LinAlgError
random random.default_rng random.Generator
fft fft.fft fft.ifft fft.rfft fft.irfft fft.fftfreq fft.rfftfreq
"""
_UFUNCS = "add subtract multiply divide maximum minimum fmax fmin logical_and logical_or"
_UFUNC_METHODS = "reduce accumulate reduceat outer"
NUMPY_ALLOWED = frozenset(
    [f"np.{name}" for name in _NUMPY_NAMES.split()]
    + [f"np.{u}.{m}" for u in _UFUNCS.split() for m in _UFUNC_METHODS.split()]
)
"""Dotted numpy names strategy code may use (``np.linalg.norm``, ``np.maximum.accumulate``);
everything else under ``np.`` is refused, file and memory interfaces first among them."""

_DENIED_ATTRIBUTES = """
format format_map mro tofile dump dumps ctypes cffi load loads save savez savez_compressed
savetxt loadtxt fromfile memmap genfromtxt fromregex lib ctypeslib f2py testing distutils
"""
DENIED_ATTRIBUTES = frozenset(_DENIED_ATTRIBUTES.split())
"""Attribute names refused on any value (file, pickle, raw memory, attribute-by-name)."""

_DENIED_PREFIXES = ("_", "gi_", "cr_", "ag_", "tb_", "f_", "co_")

_MODULE_NAMES = frozenset({"np", "math"})
_NUMPY_MODULES = frozenset({"np.linalg", "np.random", "np.fft"})  # allowed as prefixes only
_OPEN_FIELD = "open"  # the contract's open-price parameter shadows the (absent) builtin

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Module, ast.FunctionDef, ast.Return, ast.Assign, ast.AugAssign, ast.AnnAssign,
    ast.Delete, ast.For, ast.While, ast.If, ast.Break, ast.Continue, ast.Pass, ast.Expr,
    ast.Assert, ast.Raise, ast.Import, ast.alias, ast.arguments, ast.arg, ast.keyword,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.IfExp, ast.NamedExpr,
    ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice, ast.Starred,
    ast.Tuple, ast.List, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp,
    ast.GeneratorExp, ast.comprehension, ast.Lambda, ast.JoinedStr, ast.FormattedValue,
    ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop,
)  # fmt: skip

_NODE_NAMES = {
    "ClassDef": "class definition",
    "Try": "try statement",
    "TryStar": "try statement",
    "With": "with statement",
    "AsyncWith": "async with statement",
    "AsyncFunctionDef": "async function",
    "AsyncFor": "async for loop",
    "Await": "await",
    "Yield": "yield (generator function)",
    "YieldFrom": "yield from",
    "Global": "global statement",
    "Nonlocal": "nonlocal statement",
    "ImportFrom": "from-import",
    "Match": "match statement",
}


def check_strategy_code(code: str) -> ast.Module:
    """Check strategy code against the allowlist without running it.

    Parameters
    ----------
    code : str
        Python source that defines a top-level ``def signal(close, ...)``.

    Returns
    -------
    ast.Module
        The parsed module (the code passed every check).

    Raises
    ------
    SandboxViolation
        Naming the first refused construct and its 1-based line; also for a
        syntax error, code longer than :data:`MAX_CODE_CHARS` and code with
        no top-level ``signal`` function.
    """
    if len(code) > MAX_CODE_CHARS:
        raise SandboxViolation(f"code of {len(code)} characters (at most {MAX_CODE_CHARS})")
    try:
        tree = ast.parse(code, filename="<strategy>", mode="exec")
    except SyntaxError as exc:
        raise SandboxViolation(f"syntax error: {exc.msg}", line=exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SandboxViolation(f"unparsable code ({type(exc).__name__})") from None
    _Checker(tree).visit(tree)
    if not any(isinstance(s, ast.FunctionDef) and s.name == "signal" for s in tree.body):
        raise SandboxViolation(
            "no top-level function named 'signal'",
            hint="define def signal(close, high=None, low=None, volume=None, open=None)",
        )
    return tree


def _bound_names(tree: ast.Module) -> frozenset[str]:
    """Every name the code itself binds (assignment targets, parameters, functions)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
    return frozenset(names)


def _dotted(node: ast.Attribute) -> str | None:
    """``np.linalg.norm`` for a chain of attributes on a plain name, else None."""
    parts = [node.attr]
    value = node.value
    while isinstance(value, ast.Attribute):
        parts.append(value.attr)
        value = value.value
    if not isinstance(value, ast.Name):
        return None
    parts.append(value.id)
    return ".".join(reversed(parts))


class _Checker(ast.NodeVisitor):
    def __init__(self, tree: ast.Module) -> None:
        self.bound = _bound_names(tree)
        self.open_is_parameter = any(
            isinstance(n, ast.arg) and n.arg == _OPEN_FIELD for n in ast.walk(tree)
        )

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, _ALLOWED_NODES):
            name = type(node).__name__
            raise SandboxViolation(_NODE_NAMES.get(name, f"{name} node"), line=_line(node))
        super().generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            allowed = (alias.name == "numpy" and alias.asname == "np") or (
                alias.name == "math" and alias.asname in (None, "math")
            )
            if not allowed:
                shown = alias.name + (f" as {alias.asname}" if alias.asname else "")
                raise SandboxViolation(
                    f"import of {shown}",
                    line=node.lineno,
                    hint="only 'import numpy as np' and 'import math' are allowed",
                )

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.decorator_list:
            raise SandboxViolation("decorator", line=node.lineno)
        self._check_binding(node.name, node)
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg != _OPEN_FIELD:  # the contract's parameter, not the builtin
            self._check_binding(node.arg, node)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name == _OPEN_FIELD and isinstance(node.ctx, ast.Load) and self.open_is_parameter:
            return  # the builtin open does not exist in the child: this is the parameter
        if name in FORBIDDEN_NAMES or name.startswith("__"):
            raise SandboxViolation(f"name '{name}'", line=node.lineno)
        if name == "np" and isinstance(node.ctx, ast.Load):  # chains on np stop in visit_Attribute
            raise SandboxViolation("numpy module 'np' used as a value", line=node.lineno)
        if isinstance(node.ctx, ast.Store | ast.Del):
            self._check_binding(name, node)
        elif name not in self.bound and name not in SAFE_BUILTINS and name not in _MODULE_NAMES:
            raise SandboxViolation(
                f"name '{name}' (neither defined by the code nor an allowed builtin)",
                line=node.lineno,
            )

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        root = dotted.split(".", 1)[0] if dotted else None
        if root in _MODULE_NAMES and not isinstance(node.ctx, ast.Load):
            raise SandboxViolation(
                f"assigning to the module attribute '{dotted}'", line=node.lineno
            )
        if root == "np":
            if dotted in _NUMPY_MODULES:
                raise SandboxViolation(f"numpy module '{dotted}' used as a value", line=node.lineno)
            if dotted not in NUMPY_ALLOWED:
                raise SandboxViolation(f"numpy name '{dotted}'", line=node.lineno)
            return  # the whole chain is an allowed numpy name
        self.generic_visit(node)  # the leftmost offence is reported first
        attr = node.attr
        if attr.startswith(_DENIED_PREFIXES) or attr in DENIED_ATTRIBUTES:
            raise SandboxViolation(f"attribute '{attr}'", line=node.lineno)

    def _check_binding(self, name: str, node: ast.AST) -> None:
        if name in _MODULE_NAMES or name in FORBIDDEN_NAMES or name.startswith("_"):
            raise SandboxViolation(f"binding the name '{name}'", line=_line(node))


def _line(node: ast.AST) -> int | None:
    return getattr(node, "lineno", None)
