"""Code signals (``signal: {code: ...}``): spec validation and identity, the sandbox run on
bundled data (sp500-stocks), typed errors naming ``signal.code``, and the lookahead scan.

Every run starts real sandbox child processes; panels are cut to a few years and scans
to a few points so the module stays quick.
"""

from __future__ import annotations

import numpy as np
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest import (
    CodeLimits,
    CodeSignalError,
    StrategySpec,
    backtest_panel,
    code_signal_values,
    scan_lookahead,
    signal_values,
    target_signal_fn,
)
from alphaloop.errors import SpecError
from alphaloop.factors.evaluate import evaluate

MOMENTUM = """
def signal(close, high=None, low=None, volume=None, open=None):
    out = np.full_like(close, np.nan)
    out[20:] = close[20:] / close[:-20] - 1
    return out
"""

PEEKING = """
def signal(close, high=None, low=None, volume=None, open=None):
    ahead = np.roll(close, -1, axis=0)
    return ahead / close - 1
"""

FULL_SAMPLE = """
def signal(close):
    return (close - np.nanmean(close, axis=0)) / np.nanstd(close, axis=0)
"""

SPINNING = """
def signal(close):
    x = 0
    while True:
        x = x + 1
    return close
"""


def spec_doc(code: str, **extra: object) -> dict[str, object]:
    return {
        "name": "code-momentum",
        "data": "sp500-stocks",
        "start": "2000-01-01",
        "end": "2003-12-31",
        "signal": {"code": code},
        "portfolio": {"method": "top_k", "k": 5},
        "rebalance": {"frequency": "quarterly"},
        "fills": "next_close",
        **extra,
    }


@pytest.fixture(scope="module")
def panel(shared_workspace: Workspace):
    full = shared_workspace.data.load("sp500-stocks")
    return full.iloc(slice(2500, 3500))  # four years of 20 stocks


# ------------------------------------------------------------------ the spec
def test_a_code_signal_is_one_of_the_signal_kinds() -> None:
    spec = StrategySpec.from_dict(spec_doc(MOMENTUM))
    assert spec.signal is not None
    assert spec.signal.code == MOMENTUM
    assert "Python code" in spec.describe_signal()
    with pytest.raises(SpecError, match="exactly one of expr"):
        StrategySpec.from_dict(spec_doc(MOMENTUM) | {"signal": {"code": MOMENTUM, "expr": "$c"}})


def test_the_hash_changes_with_the_code_and_expression_hashes_do_not_move() -> None:
    a = StrategySpec.from_dict(spec_doc(MOMENTUM))
    b = StrategySpec.from_dict(spec_doc(MOMENTUM.replace("20", "60")))
    same = StrategySpec.from_dict(spec_doc(MOMENTUM) | {"name": "renamed"})
    assert a.hash != b.hash
    assert a.hash == same.hash
    expr = StrategySpec.from_dict(spec_doc("") | {"signal": {"expr": "$close"}})
    assert "code" not in expr.canonical()["signal"]  # specs written before keep their hash
    assert a.canonical()["signal"]["code"] == MOMENTUM


@pytest.mark.parametrize(
    ("code", "construct"),
    [
        ("import os\ndef signal(close):\n    return close\n", "import of os"),
        ("def signal(close):\n    f = open('/etc/passwd')\n    return close\n", "open"),
        (
            "def signal(close):\n    c = ().__class__.__base__.__subclasses__()\n    return c\n",
            "__class__",
        ),
        ("def signal(close):\n    return eval('close')\n", "eval"),
        ("def strategy(close):\n    return close\n", "no top-level function named 'signal'"),
    ],
)
def test_malicious_or_broken_code_is_refused_when_the_spec_is_read(
    code: str, construct: str
) -> None:
    with pytest.raises(SpecError) as caught:
        StrategySpec.from_dict(spec_doc(code))
    message = str(caught.value)
    assert "signal.code" in message
    assert construct in message
    assert "strategy code refused" in message


# ------------------------------------------------------------------ running it
def test_code_signal_equals_the_same_expression(panel) -> None:
    spec = StrategySpec.from_dict(spec_doc(MOMENTUM))
    got = signal_values(spec, panel)
    expected = evaluate(panel, {"m": "$close / Ref($close, 20) - 1"})["m"]
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_a_backtest_of_a_code_signal_runs_with_costs_and_next_bar_fills(
    shared_workspace: Workspace, panel
) -> None:
    spec = StrategySpec.from_dict(spec_doc(MOMENTUM))
    info = shared_workspace.data.info("sp500-stocks")
    code_result = backtest_panel(spec, info, panel)
    expr_spec = StrategySpec.from_dict(
        spec_doc("") | {"signal": {"expr": "$close / Ref($close, 20) - 1"}}
    )
    expr_result = backtest_panel(expr_spec, info, panel)
    assert code_result.metrics["cost_drag_annual"] > 0
    np.testing.assert_allclose(
        code_result.simulation.returns.to_numpy(), expr_result.simulation.returns.to_numpy()
    )


def test_a_spinning_code_is_stopped_with_a_typed_error_naming_signal_code(panel) -> None:
    limits = CodeLimits(cpu_seconds=1, wall_seconds=10)
    with pytest.raises(CodeSignalError) as caught:
        code_signal_values(SPINNING, panel, limits)
    error = caught.value
    assert error.path == "signal.code"
    assert error.reason == "SandboxLimitExceeded"
    assert error.limit in ("cpu", "wall")
    assert str(error).startswith("signal.code: ")
    assert "1000 bars x 20 assets" in str(error)
    assert "a code signal may use 1 CPU seconds" in str(error.hint)
    assert error.to_dict()["path"] == "signal.code"


def test_the_codes_own_error_comes_back_with_its_line(panel) -> None:
    code = "def signal(close):\n    x = close.shape[0]\n    return close[x + 5, 0] * close\n"
    with pytest.raises(CodeSignalError) as caught:
        code_signal_values(code, panel)
    assert caught.value.reason == "SandboxError"
    assert caught.value.line == 3
    assert "IndexError" in str(caught.value)


def test_wrong_shapes_are_output_errors(panel) -> None:
    with pytest.raises(CodeSignalError) as caught:
        code_signal_values("def signal(close):\n    return close[:, :3]\n", panel)
    assert caught.value.reason == "SandboxOutputError"
    assert "shape" in str(caught.value)


# ------------------------------------------------------------------ the lookahead scan
def _scan(spec: StrategySpec, panel):
    return scan_lookahead(
        target_signal_fn(spec, lambda cut: signal_values(spec, cut)),
        panel,
        n_points=4,
        settle=126,
        min_history=252,
        decisions=np.zeros(panel.n_times, dtype=bool),
        warmups=(63,),
    )


def test_the_scan_catches_code_that_reads_the_next_bar(panel) -> None:
    report = _scan(StrategySpec.from_dict(spec_doc(PEEKING)), panel)
    assert not report.clean
    assert "signal" in report.offending_outputs


def test_the_scan_catches_a_full_sample_normalization_in_code(panel) -> None:
    report = _scan(StrategySpec.from_dict(spec_doc(FULL_SAMPLE)), panel)
    assert not report.clean


def test_an_honest_code_signal_passes_the_scan(panel) -> None:
    report = _scan(StrategySpec.from_dict(spec_doc(MOMENTUM)), panel)
    assert report.clean, report.offending_outputs
