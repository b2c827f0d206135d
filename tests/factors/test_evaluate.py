"""Evaluating expressions on a Panel: semantics per mode, sharing, membership, real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.panel import Panel
from alphaloop.errors import ExpressionError
from alphaloop.factors import evaluate as evaluate_module
from alphaloop.factors.evaluate import evaluate
from alphaloop.factors.library import BUILTIN


def make_panel(n_times: int = 40, n_assets: int = 4, seed: int = 0, nan_share: float = 0.0):
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_times, n_assets)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, close.shape))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, close.shape))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, close.shape))
    volume = rng.integers(1_000, 10_000, close.shape).astype(float)
    vwap = (high + low + close) / 3
    fields = {
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
        "vwap": vwap,
    }
    if nan_share:
        mask = rng.random(close.shape) < nan_share
        fields = {k: np.where(mask, np.nan, v) for k, v in fields.items()}
    idx = pd.bdate_range("2020-01-01", periods=n_times, tz="UTC")
    return Panel(idx, [f"A{j}" for j in range(n_assets)], fields)


def frame(panel: Panel, field: str) -> pd.DataFrame:
    return panel.frame(field)


def test_hand_computed_mean_strict_and_qlib() -> None:
    idx = pd.bdate_range("2020-01-01", periods=4, tz="UTC")
    p = Panel(idx, ["A"], {"close": np.array([[1.0], [2.0], [3.0], [4.0]])})
    strict = evaluate(p, "Mean($close, 3)")["Mean($close, 3)"][:, 0]
    np.testing.assert_array_equal(strict, [np.nan, np.nan, 2.0, 3.0])
    qlib = evaluate(p, "Mean($close, 3)", mode="qlib")["Mean($close, 3)"][:, 0]
    np.testing.assert_array_equal(qlib, [1.0, 1.5, 2.0, 3.0])


@pytest.mark.parametrize(
    ("expr", "reference"),
    [
        ("Mean($close, 5) / $close", lambda c, v: c.rolling(5).mean() / c),
        ("Std($close, 10)", lambda c, v: c.rolling(10).std()),
        ("Ref($close, 2) / $close - 1", lambda c, v: c.shift(2) / c - 1),
        ("Delta($close, 3)", lambda c, v: c - c.shift(3)),
        ("Max($close, 7) - Min($close, 7)", lambda c, v: c.rolling(7).max() - c.rolling(7).min()),
        ("Corr($close, Log($volume + 1), 10)", lambda c, v: c.rolling(10).corr(np.log(v + 1))),
        (
            "Sum(Greater($close - Ref($close, 1), 0), 5)",
            lambda c, v: np.maximum(c - c.shift(1), 0).rolling(5).sum(),
        ),
        ("Abs(Log($close / Ref($close, 1)))", lambda c, v: np.abs(np.log(c / c.shift(1)))),
        ("Quantile($close, 20, 0.8)", lambda c, v: c.rolling(20).quantile(0.8)),
        ("Med($close, 9)", lambda c, v: c.rolling(9).median()),
        ("Power($close, 0.5) * Sign($close - 100)", lambda c, v: np.sqrt(c) * np.sign(c - 100)),
    ],
)
def test_strict_matches_pandas(expr: str, reference) -> None:
    p = make_panel(nan_share=0.05)
    got = evaluate(p, expr)[expr]
    want = reference(frame(p, "close"), frame(p, "volume")).to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_qlib_mode_partial_windows_and_float32_fields() -> None:
    p = make_panel()
    got = evaluate(p, "Mean($close, 5)", mode="qlib")["Mean($close, 5)"]
    c32 = frame(p, "close").astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(got, c32.rolling(5, min_periods=1).mean(), rtol=1e-12)
    assert not np.isnan(got).any()


def test_division_by_zero_and_log_of_zero() -> None:
    idx = pd.bdate_range("2020-01-01", periods=3, tz="UTC")
    p = Panel(idx, ["A"], {"close": np.array([[1.0], [0.0], [-1.0]])})
    strict = evaluate(p, ["1 / $close", "Log($close)"])
    assert np.isnan(strict["1 / $close"][1, 0])
    assert np.isnan(strict["Log($close)"][1:, 0]).all()
    qlib = evaluate(p, ["1 / $close", "Log($close)"], mode="qlib")
    assert np.isinf(qlib["1 / $close"][1, 0])
    assert qlib["Log($close)"][1, 0] == -np.inf


def test_comparisons_with_missing_operands() -> None:
    idx = pd.bdate_range("2020-01-01", periods=3, tz="UTC")
    p = Panel(idx, ["A"], {"close": np.array([[1.0], [np.nan], [3.0]])})
    expr = "$close > 2"
    np.testing.assert_array_equal(evaluate(p, expr)[expr][:, 0], [0.0, np.nan, 1.0])
    np.testing.assert_array_equal(evaluate(p, expr, mode="qlib")[expr][:, 0], [0.0, 0.0, 1.0])
    cond = "If($close > 2, 10, 20)"
    np.testing.assert_array_equal(evaluate(p, cond)[cond][:, 0], [20.0, np.nan, 10.0])
    logic = "($close > 0) & ($close < 2)"
    np.testing.assert_array_equal(evaluate(p, logic)[logic][:, 0], [1.0, np.nan, 0.0])


def test_shared_subexpressions_are_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = evaluate_module._ROLLING["Mean"]

    def counting(x, w, mp):
        calls.append(w)
        return original(x, w, mp)

    monkeypatch.setitem(evaluate_module._ROLLING, "Mean", counting)
    p = make_panel()
    exprs = {"a": "Mean($close, 5) / $close", "b": "Mean($close,5) + 1", "c": "Mean($close, 10)"}
    out = evaluate(p, exprs)
    assert sorted(calls) == [5, 10]
    np.testing.assert_allclose(out["b"] - 1, out["a"] * p["close"], rtol=1e-12)


def test_batch_equals_one_by_one() -> None:
    p = make_panel(nan_share=0.05)
    lib = BUILTIN["alpha158"].factors
    names = ["KMID", "MA5", "STD20", "CORD10", "SUMP30", "RSV5", "CNTD20", "WVMA5"]
    batch = evaluate(p, {n: lib[n] for n in names})
    for n in names:
        single = evaluate(p, {n: lib[n]})[n]
        np.testing.assert_array_equal(batch[n], single)


def test_cross_section_only_sees_members() -> None:
    idx = pd.bdate_range("2020-01-01", periods=2, tz="UTC")
    close = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    members = np.array([[True, True, False], [True, True, True]])
    p = Panel(idx, ["A", "B", "C"], {"close": close}, members)
    ranks = evaluate(p, "CsRank($close)")["CsRank($close)"]
    np.testing.assert_allclose(ranks[0], [0.5, 1.0, np.nan])
    np.testing.assert_allclose(ranks[1], [1.0, 2 / 3, 1 / 3])
    demeaned = evaluate(p, "CsDemean($close)")["CsDemean($close)"]
    np.testing.assert_allclose(demeaned[0], [-0.5, 0.5, np.nan])


def test_label_mode_and_lookahead_guard() -> None:
    p = make_panel()
    with pytest.raises(ExpressionError, match="lookahead"):
        evaluate(p, "Ref($close, -1) / $close - 1")
    label = evaluate(p, {"y": "Ref($close, -1) / $close - 1"}, label=True)["y"]
    c = frame(p, "close")
    np.testing.assert_allclose(label, (c.shift(-1) / c - 1).to_numpy(), equal_nan=True)


def test_float32_output_and_unknown_mode() -> None:
    p = make_panel()
    assert evaluate(p, "$close", dtype=np.float32)["$close"].dtype == np.float32
    with pytest.raises(ExpressionError, match="unknown evaluation mode"):
        evaluate(p, "$close", mode="fast")  # type: ignore[arg-type]


def test_constant_expression_broadcasts() -> None:
    p = make_panel()
    out = evaluate(p, "1 + 2")["1 + 2"]
    assert out.shape == p.shape
    assert (out == 3).all()


def test_strict_results_never_hold_infinities() -> None:
    p = make_panel(nan_share=0.1)
    lib = BUILTIN["alpha158"].factors
    out = evaluate(p, lib, dtype=np.float32)
    assert len(out) == 158
    for name, values in out.items():
        assert not np.isinf(values).any(), name


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> Panel:
    ws = Workspace(tmp_path_factory.mktemp("evalws") / "ws")
    return ws.data.load("sp500-ohlcv")


def test_alpha158_on_real_index_data(real: Panel) -> None:
    lib = BUILTIN["alpha158"].factors
    with pytest.raises(ExpressionError, match=r"unknown field \$vwap"):
        evaluate(real, {"VWAP0": lib["VWAP0"]})
    usable = {n: e for n, e in lib.items() if n != "VWAP0"}
    out = evaluate(real, usable)
    assert len(out) == 157
    # MA5 is the 5-day mean over the close: check one value by hand
    c = real["close"][:, 0]
    assert out["MA5"][10, 0] == pytest.approx(c[6:11].mean() / c[10])
    assert np.isnan(out["MA60"][:59, 0]).all()
    assert not np.isnan(out["MA60"][59:, 0]).any()
    # values are bounded where the definition says so
    rsv = out["RSV20"][~np.isnan(out["RSV20"])]
    assert rsv.min() >= 0
    assert rsv.max() <= 1 + 1e-9


def test_qlib_mode_series_begin_at_the_listing() -> None:
    """Before its first row an asset has no data in Qlib: no zeros from comparisons, and
    IdxMax windows start at the listing."""
    idx = pd.bdate_range("2020-01-01", periods=6, tz="UTC")
    late = np.array([np.nan, np.nan, 5.0, 7.0, 6.0, 8.0])
    early = np.array([1.0, 2.0, 3.0, 2.0, 1.0, 4.0])
    p = Panel(idx, ["E", "L"], {"close": np.column_stack([early, late])})
    out = evaluate(
        p, {"up": "Mean($close > Ref($close, 1), 3)", "imax": "IdxMax($close, 3)"}, mode="qlib"
    )
    np.testing.assert_array_equal(out["up"][:2, 1], [np.nan, np.nan])
    # L: first comparison (row 2, no previous bar) is False, row 3 up, row 4 down
    np.testing.assert_allclose(out["up"][2:5, 1], [0.0, 0.5, 1 / 3])
    # IdxMax over [5], [5, 7], [5, 7, 6] -> 1-based positions 1, 2, 2
    np.testing.assert_array_equal(out["imax"][2:5, 1], [1.0, 2.0, 2.0])
    np.testing.assert_array_equal(out["imax"][:, 0], [1.0, 2.0, 3.0, 2.0, 1.0, 3.0])


def test_qlib_mode_log_of_float32_inputs_is_taken_in_float32() -> None:
    p = make_panel()
    got = evaluate(p, "Log($volume + 1)", mode="qlib")["Log($volume + 1)"]
    v32 = p["volume"].astype(np.float32)
    np.testing.assert_array_equal(got, np.log(v32 + np.float32(1)).astype(np.float64))
    const = evaluate(p, "Log(5) + $close * 0", mode="qlib")["Log(5) + $close * 0"]
    assert const.shape == p.shape


def test_cs_neutralize_against_groups_and_a_factor() -> None:
    idx = pd.bdate_range("2020-01-01", periods=2, tz="UTC")
    close = np.array([[1.0, 3.0, 10.0, 14.0], [2.0, 2.0, 5.0, 9.0]])
    group = np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]])
    p = Panel(idx, ["A", "B", "C", "D"], {"close": close, "g": group, "size": close * 2 + 1})
    by_group = evaluate(p, "CsNeutralize($close, Group($g))")["CsNeutralize($close, Group($g))"]
    np.testing.assert_allclose(by_group, [[-1.0, 1.0, -2.0, 2.0], [0.0, 0.0, -2.0, 2.0]])
    on_size = evaluate(p, "CsNeutralize($close, $size)")["CsNeutralize($close, $size)"]
    np.testing.assert_allclose(on_size, 0.0, atol=1e-9)  # close is linear in size
    with pytest.raises(ExpressionError, match="at most one Group"):
        evaluate(p, "CsNeutralize($close, Group($g), Group($g))")
