"""The lookahead scan: planted lookahead is caught with its output and timestamp; clean passes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.backtest.lookahead import (
    DEFAULT_WARMUPS,
    LookaheadReport,
    expression_signal_fn,
    scan_lookahead,
    truncation_rows,
)
from alphaloop.data.panel import Panel
from alphaloop.errors import BacktestError, ExpressionError


@pytest.fixture(scope="module")
def panel(shared_workspace: Workspace) -> Panel:
    """20 large-cap stocks, daily close, 1990-2022 (8313 rows)."""
    return shared_workspace.data.load("sp500-stocks")


DENSE = {"max_decision_points": 20}
"""For leaks on every bar, which any truncation point catches: about 40 re-runs instead of
about 500. Sparse leaks and the default coverage are tested in test_lookahead_coverage.py."""


def _rows(panel: Panel, **kw: int) -> np.ndarray:
    """The truncation rows the scan uses with default settings (or ``kw``)."""
    args = {"n_points": 20, "min_history": 252, "seed": 0} | kw
    return truncation_rows(panel.n_times, args["n_points"], args["min_history"], args["seed"])


def _top_k(score: np.ndarray, k: int = 5) -> np.ndarray:
    """Equal weights 1/k on the k highest scores of each row; rows without k scores hold cash."""
    filled = np.where(np.isnan(score), -np.inf, score)
    order = np.argsort(-filled, axis=1, kind="stable")[:, :k]
    weights = np.zeros_like(score)
    np.put_along_axis(weights, order, 1.0 / k, axis=1)
    weights[np.isfinite(score).sum(axis=1) < k] = 0.0
    return weights


def _only_offender(report: LookaheadReport, name: str) -> None:
    assert not report.clean
    assert report.offending_outputs == (name,)
    assert report.findings
    assert {f.output for f in report.findings} == {name}


# ------------------------------------------------------------------ planted lookahead


def test_shifted_future_return_is_caught_at_first_truncation_point(panel: Panel) -> None:
    def future_return(p: Panel) -> dict[str, np.ndarray]:
        close = p.frame("close")
        return {"fwd": (close.shift(-1) / close - 1).to_numpy()}

    report = scan_lookahead(future_return, panel)
    _only_offender(report, "fwd")
    k = int(_rows(panel)[0])
    first = report.first_offence["fwd"]
    assert first.kind == "truncation"
    assert first.timestamp == panel.index[k] == report.checked_points[0]
    assert first.asset == panel.assets[0]
    close = panel["close"]
    assert first.full_value == pytest.approx(close[k + 1, 0] / close[k, 0] - 1)
    assert np.isnan(first.rerun_value)
    assert first.rerun_start == panel.index[0]
    assert first.rerun_end == panel.index[k]
    # one row per truncation point and asset reads the future; the shift is the same
    # whatever history is loaded, so the warm-up test has nothing to say
    n_points = len(report.checked_points)
    assert report.counts["fwd"] == {"truncation": n_points * panel.n_assets, "warmup": 0}


def test_future_reference_through_the_factor_engine_is_caught(panel: Panel) -> None:
    with pytest.raises(ExpressionError, match="lookahead"):
        expression_signal_fn("Ref($close, -1) / $close - 1")
    fn = expression_signal_fn({"label": "Ref($close, -1) / $close - 1"}, label=True)
    report = scan_lookahead(fn, panel, **DENSE)
    _only_offender(report, "label")
    assert report.first_offence["label"].timestamp == panel.index[_rows(panel)[0]]


def test_centered_rolling_window_is_caught(panel: Panel) -> None:
    def centered(p: Panel) -> dict[str, np.ndarray]:
        close = p.frame("close")
        return {"smooth": close.rolling(21, center=True).mean().to_numpy()}

    report = scan_lookahead(centered, panel, tail=5, **DENSE)
    _only_offender(report, "smooth")
    k = int(_rows(panel)[0])
    first = report.first_offence["smooth"]
    # a centered window reads 10 bars ahead: every compared row of the tail differs
    assert first.timestamp == panel.index[k - 4]
    assert np.isnan(first.rerun_value)
    assert np.isfinite(first.full_value)


def test_full_sample_z_scoring_is_caught_by_both_tests(panel: Panel) -> None:
    def zscored(p: Panel) -> dict[str, np.ndarray]:
        r = np.full(p.shape, np.nan)
        r[1:] = np.log(p["close"][1:] / p["close"][:-1])
        return {"z": (r - np.nanmean(r, axis=0)) / np.nanstd(r, axis=0)}

    report = scan_lookahead(zscored, panel, **DENSE)
    _only_offender(report, "z")
    counts = report.counts["z"]
    assert counts["truncation"] > 0
    assert counts["warmup"] > 0
    first = report.first_offence["z"]
    assert first.kind == "truncation"
    assert first.timestamp == panel.index[_rows(panel)[0] - 4]
    assert first.full_value != pytest.approx(first.rerun_value, rel=1e-6)


def test_label_used_as_a_feature_is_caught_in_signal_and_weights(panel: Panel) -> None:
    def peeks(p: Panel) -> dict[str, np.ndarray]:
        close = p.frame("close")
        forward_5d = (close.shift(-5) / close - 1).to_numpy()
        return {"feature": forward_5d, "weights": _top_k(forward_5d)}

    report = scan_lookahead(peeks, panel, **DENSE)
    assert not report.clean
    assert report.offending_outputs == ("feature", "weights")
    k = int(_rows(panel)[0])
    assert report.first_offence["feature"].timestamp == panel.index[k - 4]
    assert report.first_offence["weights"].timestamp == panel.index[k - 4]
    assert report.counts["weights"]["warmup"] == 0


def test_leak_in_one_asset_names_that_asset(panel: Panel) -> None:
    def leaky_msft(p: Panel) -> dict[str, np.ndarray]:
        out = p.frame("close").pct_change(fill_method=None)
        out["MSFT"] = out["MSFT"].shift(-1)
        return {"ret": out.to_numpy()}

    report = scan_lookahead(leaky_msft, panel, **DENSE)
    _only_offender(report, "ret")
    assert {f.asset for f in report.findings} == {"MSFT"}
    assert report.counts["ret"]["truncation"] == len(report.checked_points)


def test_expanding_mean_is_caught_by_the_warmup_test_only(panel: Panel) -> None:
    def expanding(p: Panel) -> dict[str, np.ndarray]:
        return {"anchor": p.frame("close").expanding().mean().to_numpy()}

    report = scan_lookahead(expanding, panel, **DENSE)
    _only_offender(report, "anchor")
    assert report.counts["anchor"]["truncation"] == 0
    first = report.first_offence["anchor"]
    assert first.kind == "warmup"
    # the smallest cut removes 63 rows; comparison starts settle=252 rows later
    assert first.timestamp == panel.index[DEFAULT_WARMUPS[0] + 252]
    assert first.rerun_start == panel.index[DEFAULT_WARMUPS[0]]
    assert "depends on loaded history" in report.summary()


# ------------------------------------------------------------------ clean strategies


def test_clean_expressions_pass(panel: Panel) -> None:
    fn = expression_signal_fn(
        {
            "momentum": "$close / Ref($close, 20) - 1",
            "ma_ratio": "Mean($close, 10) / Mean($close, 50)",
            "momentum_rank": "CsRank($close / Ref($close, 20) - 1)",
            "ema_gap": "EMA($close, 20) / $close - 1",
        }
    )
    assert fn.warmup == 49
    report = scan_lookahead(fn, panel)
    assert report.clean, report.summary()
    assert report.findings == []
    assert report.outputs == ("momentum", "ma_ratio", "momentum_rank", "ema_gap")
    assert report.warmups == DEFAULT_WARMUPS
    # every bar is a decision bar: 8060 in reach, thinned to one in 17 (500 at most), plus
    # the 20 spread points
    assert report.decision_bars == panel.n_times - 2 - 252 + 1 == 8060
    assert report.decision_stride == 17
    picked = set(range(252, panel.n_times - 1, 17)) | {panel.n_times - 2}
    checked = {panel.index.get_loc(t) for t in report.checked_points}
    assert checked == picked | set(_rows(panel).tolist())
    assert report.decision_bars_checked == len(checked)
    assert report.coverage_horizon == 17
    assert report.summary().startswith("lookahead scan: clean")


def test_qlib_mode_adjusted_ema_passes(panel: Panel) -> None:
    fn = expression_signal_fn({"ema": "EMA($close, 20)", "mean": "Mean($close, 10)"}, mode="qlib")
    assert scan_lookahead(fn, panel).clean


def test_long_ema_needs_a_longer_settle(panel: Panel) -> None:
    fn = expression_signal_fn({"ema60": "EMA($close, 60)"})
    strict = scan_lookahead(fn, panel, **DENSE)
    # a 60-bar EMA still remembers the cut after 252 bars (about 2e-4 of the gap) ...
    assert strict.counts["ema60"]["truncation"] == 0
    assert strict.counts["ema60"]["warmup"] > 0
    # ... and has forgotten it after 10.4 * (60 + 1) = 635 bars
    assert scan_lookahead(fn, panel, settle=640, **DENSE).clean


def test_top_k_weights_from_momentum_rank_pass(panel: Panel) -> None:
    def momentum_top5(p: Panel) -> dict[str, np.ndarray]:
        close = p.frame("close")
        momentum = (close / close.shift(252) - close / close.shift(21)).to_numpy()
        rank = pd.DataFrame(momentum).rank(axis=1, pct=True).to_numpy()
        return {"rank": rank, "weights": _top_k(rank), "long": momentum > 0}

    report = scan_lookahead(momentum_top5, panel)
    assert report.clean, report.summary()


def test_nan_and_infinite_outputs_compare_equal(panel: Panel) -> None:
    def constant(p: Panel) -> dict[str, np.ndarray]:
        return {"nan": np.full(p.shape, np.nan), "inf": np.full(p.shape, np.inf)}

    assert scan_lookahead(constant, panel).clean


# ------------------------------------------------------------------ the report


def test_report_is_json_safe_ordered_and_capped(panel: Panel) -> None:
    def two_leaks(p: Panel) -> dict[str, np.ndarray]:
        close = p.frame("close")
        return {
            "b_fwd": (close.shift(-1) / close - 1).to_numpy(),
            "a_mean": (close - close.mean()).to_numpy(),
        }

    report = scan_lookahead(two_leaks, panel, max_findings=7, **DENSE)
    assert report.outputs == ("b_fwd", "a_mean")
    assert [f.output for f in report.findings] == ["b_fwd"] * 7 + ["a_mean"] * 7
    for name in report.outputs:
        mine = [f for f in report.findings if f.output == name]
        keys = [(f.timestamp, panel.asset_index(f.asset)) for f in mine]
        assert keys == sorted(keys)
        assert sum(report.counts[name].values()) > len(mine)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["clean"] is False
    assert data["offending_outputs"] == ["b_fwd", "a_mean"]
    first = data["first_offence"]["b_fwd"]
    assert first["timestamp"] == panel.index[_rows(panel)[0]].isoformat()
    assert first["rerun_value"] is None  # NaN
    assert pd.Timestamp(data["checked_points"][0]) == report.checked_points[0]
    assert data["settle"] == 252
    text = report.summary()
    assert "LOOKAHEAD in 2 of 2" in text
    assert f"b_fwd: future data from {report.checked_points[0]:%Y-%m-%d}" in text


def test_truncation_rows_are_deterministic_and_spread() -> None:
    rows = truncation_rows(1000, 20, 100, seed=0)
    assert rows.tolist() == truncation_rows(1000, 20, 100, seed=0).tolist()
    assert rows.tolist() != truncation_rows(1000, 20, 100, seed=1).tolist()
    assert len(set(rows.tolist())) == 20
    assert rows[0] == 100
    assert rows[-1] == 998  # the last row but one: the last is the full run
    assert np.all(np.diff(rows) > 0)
    assert truncation_rows(22, 20, 1).tolist() == list(range(1, 21))


def test_progress_is_reported_per_run(panel: Panel) -> None:
    calls: list[tuple[int, int]] = []
    fn = expression_signal_fn("$close / Ref($close, 5) - 1")
    none = np.zeros(panel.n_times, dtype=bool)  # no decision bars: the 4 spread points only
    scan_lookahead(
        fn,
        panel,
        n_points=4,
        warmups=[10],
        decisions=none,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(i, 6) for i in range(1, 7)]


def test_default_warmups_are_skipped_on_a_short_panel(panel: Panel) -> None:
    short = panel.iloc(slice(0, 300))
    fn = expression_signal_fn("Mean($close, 5)")
    report = scan_lookahead(fn, short, min_history=50)
    assert report.clean
    assert report.warmups == ()
    assert "warm-up test skipped" in report.summary()


# ------------------------------------------------------------------ bad input


def test_panel_too_short_for_the_points(panel: Panel) -> None:
    fn = expression_signal_fn("$close")
    with pytest.raises(BacktestError, match=r"270 rows; 20 truncation points .* at least 273"):
        scan_lookahead(fn, panel.iloc(slice(0, 270)), min_history=252)


def test_wrong_shape_names_the_output_and_shapes(panel: Panel) -> None:
    def transposed(p: Panel) -> dict[str, np.ndarray]:
        return {"ok": p["close"], "bad": p["close"].T}

    with pytest.raises(BacktestError, match=r"'bad' has shape \(20, 8313\).*\(8313, 20\)"):
        scan_lookahead(transposed, panel)

    def trimmed_on_reruns(p: Panel) -> dict[str, np.ndarray]:
        return {"x": p["close"] if p.n_times == panel.n_times else p["close"][:-1]}

    with pytest.raises(BacktestError, match=r"'x' has shape .* truncated at"):
        scan_lookahead(trimmed_on_reruns, panel)


@pytest.mark.parametrize(
    ("setting", "match"),
    [
        ({"rtol": float("nan")}, "rtol must be a finite number"),
        ({"atol": float("inf")}, "atol must be a finite number"),
        ({"rtol": -1.0}, "rtol must be a finite number"),
        ({"n_points": 0}, "n_points must be an integer >= 1"),
        ({"settle": -1}, "settle must be an integer >= 0"),
        ({"tail": 0}, "tail must be an integer >= 1"),
        ({"warmups": [0]}, "warmups must be integers >= 1"),
        ({"warmups": [8100]}, "leaves no row of the 8313-row panel"),
    ],
)
def test_bad_settings_raise(panel: Panel, setting: dict, match: str) -> None:
    fn = expression_signal_fn("$close")
    with pytest.raises(BacktestError, match=match):
        scan_lookahead(fn, panel, **setting)


def test_bad_signal_functions_raise(panel: Panel) -> None:
    with pytest.raises(BacktestError, match="returned ndarray"):
        scan_lookahead(lambda p: p["close"], panel)  # type: ignore[arg-type,return-value]
    with pytest.raises(BacktestError, match="no outputs"):
        scan_lookahead(lambda p: {}, panel)
    with pytest.raises(BacktestError, match="dtype object"):
        scan_lookahead(lambda p: {"s": np.full(p.shape, "x", dtype=object)}, panel)

    def grows(p: Panel) -> dict[str, np.ndarray]:
        out = {"a": p["close"]}
        if p.n_times < panel.n_times:
            out["b"] = p["close"]
        return out

    with pytest.raises(BacktestError, match=r"different outputs .* unexpected \['b'\]"):
        scan_lookahead(grows, panel)

    def fails_when_short(p: Panel) -> dict[str, np.ndarray]:
        if p.n_times < panel.n_times:
            raise ValueError("needs the whole sample")
        return {"a": p["close"]}

    with pytest.raises(BacktestError, match="failed on the panel truncated at") as info:
        scan_lookahead(fails_when_short, panel)
    assert isinstance(info.value.__cause__, ValueError)
