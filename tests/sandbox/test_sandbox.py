"""The strategy-code sandbox: parity with plain numpy, the static allowlist, the child's
own defences with the static check switched off, resource limits and output checks.

Every test starts real child processes; limits are kept short so the module stays fast.
"""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from alphaloop import sandbox
from alphaloop.sandbox import (
    SandboxError,
    SandboxInputError,
    SandboxLimitExceeded,
    SandboxOutputError,
    SandboxViolation,
    check_strategy_code,
    run_strategy_code,
)
from alphaloop.sandbox.run import _run_unchecked as run_unchecked

FAST = {"cpu_seconds": 2, "memory_mb": 256, "wall_seconds": 10}

MOMENTUM = '''
import numpy as np
import math


def signal(
    close: np.ndarray,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    volume: np.ndarray | None = None,
    open: np.ndarray | None = None,
) -> np.ndarray:
    """20-bar momentum, ranked across assets into weights that sum to zero."""
    lookback = 20
    mom = np.full_like(close, np.nan)
    mom[lookback:] = np.log(close[lookback:] / close[:-lookback]) / math.sqrt(lookback)
    ranks = np.argsort(np.argsort(mom, axis=1), axis=1).astype(float)
    centred = ranks - np.nanmean(ranks, axis=1, keepdims=True)
    weights = centred / np.nansum(np.abs(centred), axis=1, keepdims=True)
    weights[:lookback] = np.nan
    return weights
'''


@pytest.fixture(scope="module")
def panel() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    close = 100 * np.cumprod(1 + rng.normal(0.0, 0.01, (120, 5)), axis=0)
    open_ = close * (1 + rng.normal(0.0, 0.002, close.shape))
    return {"close": close, "open": open_}


def direct(code: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The same code run in this process (trusted here: it is the test's own text)."""
    namespace: dict[str, object] = {"np": np, "math": math}
    exec(compile(code, "<direct>", "exec"), namespace)
    close = inputs["close"].copy()
    rest = {k: v.copy() for k, v in inputs.items() if k != "close"}
    return np.asarray(namespace["signal"](close, **rest), dtype=np.float64)


# --- parity and the contract ---------------------------------------------------------------


def test_momentum_matches_the_same_numpy_code_run_directly(panel):
    result = run_strategy_code(MOMENTUM, panel, **FAST)
    expected = direct(MOMENTUM, panel)
    assert result.dtype == np.float64
    assert result.shape == panel["close"].shape
    np.testing.assert_array_equal(result, expected)  # bit for bit, NaN where NaN
    assert np.isnan(result[:20]).all()
    assert np.isfinite(result[20:]).all()
    np.testing.assert_allclose(np.nansum(result[20:], axis=1), 0.0, atol=1e-12)


WIDE_NUMPY = """
def signal(close, high=None, low=None, volume=None, open=None):
    r = np.nan_to_num(np.diff(np.log(close), axis=0, prepend=np.nan))
    t = np.arange(close.shape[0], dtype=float)
    slope = np.polyfit(t, r, 1)[0]
    hist, edges = np.histogram(r, bins=10)
    q = np.nanpercentile(close, [10, 90], axis=0) + np.nanquantile(close, 0.5)
    c = np.corrcoef(r.T)
    design = np.column_stack([t, np.ones_like(t)])
    beta = np.linalg.lstsq(design, close, rcond=None)[0]
    spec = np.abs(np.fft.rfft(r, axis=0))
    noise = np.random.default_rng(3).normal(size=close.shape)
    extra = sum(math.sqrt(abs(x)) for x in [1.0, 4.0]) + (lambda x: x * 2)(1.0)
    level = np.maximum.accumulate(close, axis=0) - np.median(close)
    scale = {k: v for k, v in zip(["a", "b"], [np.linalg.eigh(c)[0].sum(), spec.sum()])}
    pieces = [slope.sum(), hist.sum(), q.sum(), beta.sum(), scale["a"], scale["b"], extra]
    rank = np.argsort(np.argsort(close + 1e-9 * noise, axis=1), axis=1) / (close.shape[1] - 1)
    return np.clip(rank, 0, 1) + 1e-12 * (level + sum(pieces))
"""


def test_common_numpy_runs_under_the_audit_hook(panel):
    """Fitting, histograms, quantiles, linalg, fft and random run without an audited event."""
    result = run_strategy_code(WIDE_NUMPY, {"close": panel["close"]}, **FAST)
    np.testing.assert_array_equal(result, direct(WIDE_NUMPY, {"close": panel["close"]}))


def test_optional_fields_arrive_by_keyword_and_missing_ones_are_none(panel):
    code = (
        "def signal(close, high=None, low=None, volume=None, open=None):\n"
        "    assert high is None and volume is None\n"
        "    return close / open - 1\n"
    )
    result = run_strategy_code(code, panel, **FAST)
    np.testing.assert_array_equal(result, panel["close"] / panel["open"] - 1)


def test_bool_output_is_cast_and_nan_is_kept(panel):
    code = (
        "def signal(close):\n"
        "    out = (close > np.nanmedian(close, axis=1, keepdims=True)).astype(float)\n"
        "    out[0] = np.nan\n"
        "    return out\n"
    )
    result = run_strategy_code(code, {"close": panel["close"]}, **FAST)
    assert np.isnan(result[0]).all()
    assert set(np.unique(result[1:])) <= {0.0, 1.0}


# --- the static allowlist ------------------------------------------------------------------

ESCAPES = {
    "import os": ("import os\ndef signal(close):\n    return close\n", "import of os"),
    "import sys": ("import sys\ndef signal(close):\n    return close\n", "import of sys"),
    "import subprocess": (
        "def signal(close):\n    import subprocess\n    return close\n",
        "import of subprocess",
    ),
    "import socket": ("import socket\ndef signal(close):\n    return close\n", "import of socket"),
    "from-import": ("from os import system\ndef signal(close):\n    return close\n", "from-import"),
    "numpy under another name": (
        "import numpy as n\ndef signal(close):\n    return close\n",
        "import of numpy as n",
    ),
    "__import__": ("def signal(close):\n    __import__('os')\n    return close\n", "__import__"),
    "subclass walk": (
        "def signal(close):\n    return ().__class__.__base__.__subclasses__()\n",
        "attribute '__class__'",
    ),
    "function globals": (
        "def signal(close):\n    return signal.__globals__\n",
        "attribute '__globals__'",
    ),
    "open /etc/passwd": ("def signal(close):\n    return open('/etc/passwd').read()\n", "'open'"),
    "eval": ("def signal(close):\n    return eval('close')\n", "name 'eval'"),
    "exec": ("def signal(close):\n    exec('x = 1')\n    return close\n", "name 'exec'"),
    "compile": ("def signal(close):\n    compile('1', 'f', 'eval')\n", "name 'compile'"),
    "getattr trick": (
        "def signal(close):\n    return getattr(close, '__cl' + 'ass__')\n",
        "name 'getattr'",
    ),
    "setattr": ("def signal(close):\n    setattr(np, 'x', 1)\n", "name 'setattr'"),
    "globals()": ("def signal(close):\n    return globals()['__builtins__']\n", "name 'globals'"),
    "vars()": ("def signal(close):\n    return vars()\n", "name 'vars'"),
    "type()": ("def signal(close):\n    return type(close)\n", "name 'type'"),
    "np.load": ("def signal(close):\n    return np.load('/etc/passwd')\n", "'np.load'"),
    "np.save": ("def signal(close):\n    np.save('/tmp/x.npy', close)\n", "'np.save'"),
    "np.fromfile": (
        "def signal(close):\n    return np.fromfile('/etc/passwd', dtype=np.uint8)\n",
        "'np.fromfile'",
    ),
    "np.memmap": ("def signal(close):\n    return np.memmap('/tmp/m', mode='w+')\n", "'np.memmap'"),
    "np.lib": (
        "def signal(close):\n    return np.lib.format.open_memmap('/tmp/m')\n",
        "np.lib.format.open_memmap",
    ),
    "np.ctypeslib": ("def signal(close):\n    return np.ctypeslib.as_array(0)\n", "np.ctypeslib"),
    "tofile (writing a file)": (
        "def signal(close):\n    close.tofile('/tmp/out.bin')\n    return close\n",
        "attribute 'tofile'",
    ),
    "ctypes pointer": ("def signal(close):\n    return close.ctypes.data\n", "attribute 'ctypes'"),
    "f-string attribute": (
        "def signal(close):\n    s = f'{close.__class__}'\n    return close\n",
        "attribute '__class__'",
    ),
    "str.format attribute": (
        "def signal(close):\n    s = '{0.__class__}'.format(close)\n    return close\n",
        "attribute 'format'",
    ),
    "generator frame walk": (
        "def signal(close):\n    g = (x for x in ())\n    return g.gi_frame.f_back.f_globals\n",
        "attribute 'gi_frame'",
    ),
    "numpy module as a value": (
        "def signal(close):\n    n = np\n    return n.frombuffer(b'')\n",
        "numpy module 'np' used as a value",
    ),
    "numpy submodule as a value": (
        "def signal(close):\n    r = np.random\n    return r.mtrand\n",
        "numpy module 'np.random' used as a value",
    ),
    "monkeypatching numpy": (
        "np.asarray = list\ndef signal(close):\n    return close\n",
        "assigning to the module attribute 'np.asarray'",
    ),
    "class": ("class A:\n    pass\ndef signal(close):\n    return close\n", "class definition"),
    "with": (
        "def signal(close):\n    with close as f:\n        return f\n",
        "with statement",
    ),
    "try": (
        "def signal(close):\n    try:\n        return close\n    except Exception:\n"
        "        return close\n",
        "try statement",
    ),
    "global": ("def signal(close):\n    global np\n    return close\n", "global statement"),
    "async": ("async def signal(close):\n    return close\n", "async function"),
    "decorator": ("@np.vectorize\ndef signal(close):\n    return close\n", "decorator"),
    "yield": ("def signal(close):\n    yield close\n", "yield"),
    "breakpoint": ("def signal(close):\n    breakpoint()\n    return close\n", "name 'breakpoint'"),
    "input": ("def signal(close):\n    return input()\n", "name 'input'"),
    "print to the reply pipe": ("def signal(close):\n    print('x')\n", "name 'print'"),
    "undefined os": ("def signal(close):\n    os.system('id')\n", "name 'os'"),
    "rebinding np": ("np = 1\ndef signal(close):\n    return close\n", "binding the name 'np'"),
    "dunder module attribute": ("def signal(close):\n    return math.__loader__\n", "'__loader__'"),
    "fork bomb": (
        "import os\ndef signal(close):\n    while True:\n        os.fork()\n",
        "import of os",
    ),
    "no signal": (
        "def strategy(close):\n    return close\n",
        "no top-level function named 'signal'",
    ),
    "syntax error": ("def signal(close)\n    return close\n", "syntax error"),
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_static_check_refuses_escape_attempts_with_the_reason(name, panel):
    code, reason = ESCAPES[name]
    with pytest.raises(SandboxViolation) as caught:
        run_strategy_code(code, {"close": panel["close"]}, **FAST)
    assert reason in caught.value.construct
    if name not in ("no signal",):
        assert caught.value.line is not None
        assert caught.value.line >= 1


def test_static_check_names_the_line():
    code = "def signal(close):\n    x = close * 2\n    return x.__class__\n"
    with pytest.raises(SandboxViolation, match="at line 3"):
        check_strategy_code(code)


def test_open_is_allowed_as_the_contract_parameter_only():
    check_strategy_code("def signal(close, open=None):\n    return close - open\n")
    with pytest.raises(SandboxViolation, match="'open'"):
        check_strategy_code("def signal(close):\n    return open('/etc/passwd')\n")


# --- the child's own defences (static check off) --------------------------------------------

FIND_CLASS = """
def find(name):
    kind = ().__class__.__class__
    todo = [().__class__.__base__]
    while todo:
        c = todo.pop()
        if c.__name__ == name:
            return c
        todo.extend(kind.__subclasses__(c))


def os_module():
    return find('_wrap_close').__init__.__globals__['sys'].modules['os']

"""

DYNAMIC = {
    "read /etc/passwd through FileIO": (
        "def signal(close):\n    return find('FileIO')('/etc/passwd').read()\n",
        "open",
    ),
    "read /etc/passwd through os.open": (
        "def signal(close):\n    return os_module().open('/etc/passwd', 0)\n",
        "open",
    ),
    "np.save": ("def signal(close):\n    np.save('/tmp/sandbox-probe.npy', close)\n", "open"),
    "os.system": ("def signal(close):\n    return os_module().system('id')\n", "os.system"),
    "os.fork": ("def signal(close):\n    return os_module().fork()\n", "os.fork"),
    "os.execv": (
        "def signal(close):\n    return os_module().execv('/bin/sh', ['sh'])\n",
        "os.exec",
    ),
    "import socket by the builtins of a stdlib module": (
        "def signal(close):\n"
        "    b = find('_wrap_close').__init__.__globals__['__builtins__']\n"
        "    return b['__import__']('socket')\n",
        "import",
    ),
    "import subprocess": (
        "def signal(close):\n"
        "    sys = find('_wrap_close').__init__.__globals__['sys']\n"
        "    return sys.modules['importlib'].import_module('subprocess')\n",
        "open",  # importlib reads the module's file before its own import event
    ),
    "frame walk": (
        "def signal(close):\n    return (x for x in ()).gi_frame\n",
        "object.__getattr__",
    ),
}


@pytest.mark.parametrize("name", list(DYNAMIC))
def test_child_audit_hook_refuses_what_the_static_check_would(name, panel, tmp_path):
    code, event = DYNAMIC[name]
    with pytest.raises(SandboxViolation) as caught:
        run_unchecked(FIND_CLASS + code, {"close": panel["close"]}, **FAST)
    assert f"audit event '{event}" in caught.value.construct


def test_child_builtins_lack_the_dangerous_ones(panel):
    for call in ("open('/etc/passwd')", "eval('1')", "getattr(close, 'shape')"):
        code = f"def signal(close):\n    return {call}\n"
        with pytest.raises(SandboxError) as caught:
            run_unchecked(code, {"close": panel["close"]}, **FAST)
        assert caught.value.error_type == "NameError"
    code = "import os\ndef signal(close):\n    return close\n"
    with pytest.raises(SandboxError, match="import of os is not allowed"):
        run_unchecked(code, {"close": panel["close"]}, **FAST)


def test_child_cannot_create_any_descriptor(panel):
    """RLIMIT_NOFILE=3: no file, pipe or socket even through an unaudited call."""
    code = FIND_CLASS + "def signal(close):\n    return os_module().pipe()\n"
    with pytest.raises(SandboxError, match="Too many open files") as caught:
        run_unchecked(code, {"close": panel["close"]}, **FAST)
    assert caught.value.error_type == "OSError"


def test_child_does_not_inherit_the_environment(panel, monkeypatch):
    monkeypatch.setenv("ALPHALOOP_SANDBOX_PROBE_KEY", "secret")
    code = FIND_CLASS + (
        "def signal(close):\n"
        "    seen = 'ALPHALOOP_SANDBOX_PROBE_KEY' in os_module().environ\n"
        "    return close * 0 + (1.0 if seen else 0.0)\n"
    )
    result = run_unchecked(code, {"close": panel["close"]}, **FAST)
    assert (result == 0.0).all()


def test_numpy_file_calls_without_an_audit_event_still_fail(panel, tmp_path):
    """np.fromfile and ndarray.tofile open files below the audit hook: the limits stop them."""
    target = tmp_path / "out.bin"
    code = f"def signal(close):\n    close.tofile({str(target)!r})\n    return close\n"
    with pytest.raises(SandboxError):
        run_unchecked(code, {"close": panel["close"]}, **FAST)
    assert not target.exists()
    code = "def signal(close):\n    return np.fromfile('/etc/passwd', dtype=np.uint8)\n"
    with pytest.raises(SandboxError, match="fromfile"):
        run_unchecked(code, {"close": panel["close"]}, **FAST)


# --- limits ------------------------------------------------------------------------------------


def test_cpu_loop_hits_the_cpu_limit(panel):
    code = "def signal(close):\n    x = 0\n    while True:\n        x += 1\n"
    with pytest.raises(SandboxLimitExceeded) as caught:
        run_strategy_code(code, {"close": panel["close"]}, cpu_seconds=1, wall_seconds=20)
    assert caught.value.limit == "cpu"


def test_wall_clock_limit_kills_the_process(panel):
    code = "def signal(close):\n    x = 0\n    while True:\n        x += 1\n"
    with pytest.raises(SandboxLimitExceeded) as caught:
        run_strategy_code(code, {"close": panel["close"]}, cpu_seconds=30, wall_seconds=1)
    assert caught.value.limit == "wall"


@pytest.mark.parametrize(
    "body",
    ["return np.ones((20000, 20000))", "return [0.0] * 10**9", "return np.empty((10**6, 10**5))"],
)
def test_huge_allocation_hits_the_memory_limit(body, panel):
    code = f"def signal(close):\n    {body}\n"
    with pytest.raises(SandboxLimitExceeded) as caught:
        run_strategy_code(code, {"close": panel["close"]}, memory_mb=64, cpu_seconds=5)
    assert caught.value.limit == "memory"


# --- errors and outputs ------------------------------------------------------------------------


def test_user_exception_reports_type_message_and_line_without_our_traceback(panel):
    code = (
        "def signal(close):\n    x = close\n    raise ValueError('no data for ' + str(x.shape))\n"
    )
    with pytest.raises(SandboxError) as caught:
        run_strategy_code(code, {"close": panel["close"]}, **FAST)
    error = caught.value
    assert type(error) is SandboxError
    assert error.error_type == "ValueError"
    assert error.line == 3
    assert "no data for (120, 5)" in str(error)
    assert "Traceback" not in str(error)
    assert "child.py" not in str(error)


def test_runaway_recursion_is_a_strategy_error(panel):
    code = "def f(n):\n    return f(n + 1)\ndef signal(close):\n    return f(0)\n"
    with pytest.raises(SandboxError) as caught:
        run_strategy_code(code, {"close": panel["close"]}, **FAST)
    assert caught.value.error_type == "RecursionError"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("return close[1:]", "shape"),
        ("return 1.0", "shape"),
        ("return close / 0.0", "infinite"),
        ("return np.full(close.shape, 'a')", "dtype"),
        ("return [[1.0], [1.0, 2.0]]", "numpy cannot read"),
    ],
)
def test_bad_outputs_are_refused(body, match, panel):
    with pytest.raises(SandboxOutputError, match=match):
        run_strategy_code(f"def signal(close):\n    {body}\n", {"close": panel["close"]}, **FAST)


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ({"high": np.ones((3, 2))}, "'close'"),
        ({"close": np.ones(3)}, "2-D"),
        ({"close": np.ones((3, 2)), "low": np.ones((2, 2))}, "'low'"),
        ({"close": np.ones((3, 2)), "vwap": np.ones((3, 2))}, "unknown input fields"),
        ({"close": np.array([["a", "b"]])}, "not numeric"),
    ],
)
def test_bad_inputs_are_refused_before_any_process_starts(inputs, match):
    with pytest.raises(SandboxInputError, match=match):
        run_strategy_code("def signal(close):\n    return close\n", inputs)


def test_sandbox_modules_import_only_numpy_stdlib_and_foundations():
    """The child imports no alphaloop at all; the parent only the errors foundation."""
    allowed_alphaloop = {
        "alphaloop.errors",
        "alphaloop.sandbox.allowlist",
        "alphaloop.sandbox.errors",
        "alphaloop.sandbox.run",
    }
    for path in sorted(Path(sandbox.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "alphaloop":
                    assert path.name != "child.py", f"{path.name} imports {name}"
                    assert name in allowed_alphaloop, f"{path.name} imports {name}"
                else:
                    assert top in sys.stdlib_module_names or top == "numpy", (path.name, name)


def test_alphaloop_llm_re_exports_the_same_sandbox() -> None:
    """The sandbox moved below the backtest layer; the old import paths keep working."""
    from alphaloop import llm
    from alphaloop.llm import sandbox as old_run
    from alphaloop.llm import sandbox_ast as old_ast
    from alphaloop.llm import sandbox_errors as old_errors

    assert llm.run_strategy_code is run_strategy_code is old_run.run_strategy_code
    assert llm.check_strategy_code is check_strategy_code is old_ast.check_strategy_code
    assert llm.SandboxViolation is SandboxViolation is old_errors.SandboxViolation
    assert old_ast.NUMPY_ALLOWED is sandbox.NUMPY_ALLOWED
