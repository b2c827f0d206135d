"""Composite signals against plain-numpy references, point in time; exits in target weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest.composite import (
    RIDGE,
    cross_sectional_rank,
    min_history,
    signal_expressions,
    signal_models,
    signal_values,
)
from alphaloop.backtest.lookahead import scan_lookahead
from alphaloop.backtest.portfolio import target_weights
from alphaloop.backtest.runner import target_signal_fn
from alphaloop.backtest.spec import Exits, Limits, PortfolioRule, StrategySpec, library_factor
from alphaloop.data import Panel
from alphaloop.errors import BacktestError, SpecError

MOM = "$close / Ref($close, 10) - 1"
VOL = "Std($close / Ref($close, 1) - 1, 15)"


def make_panel(n_times: int = 420, n_assets: int = 7, seed: int = 3) -> Panel:
    rng = np.random.default_rng(seed)
    # a persistent drift per asset, so momentum has an IC to find
    drift = rng.normal(0, 0.002, n_assets)
    rets = drift + rng.normal(0, 0.012, (n_times, n_assets))
    close = 50 * np.exp(np.cumsum(rets, axis=0))
    close[:40, 2] = np.nan  # listed late
    membership = np.ones_like(close, dtype=bool)
    membership[200:230, 4] = False  # out of the index for a while
    index = pd.date_range("2001-01-01", periods=n_times, freq="B", tz="UTC")
    fields = {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close}
    return Panel(index, [f"A{j}" for j in range(n_assets)], fields, membership)


def composite(combine: str = "equal", **over: object) -> StrategySpec:
    signal = {
        "components": [
            {"expr": MOM},
            {"factor": "ROC5", "sign": -1},
            {"expr": VOL, "normalize": "zscore", "sign": -1},
        ],
        "combine": combine,
        "window": 60,
        "horizon": 2,
        **over,
    }
    return StrategySpec.from_dict({"data": "synthetic", "signal": signal})


# ------------------------------------------------------------------ references
def ref_rank01(row: np.ndarray) -> np.ndarray:
    """(r - 1) / (n - 1) with average ranks; 0.5 alone."""
    out = np.full(row.shape, np.nan)
    ok = np.isfinite(row)
    n = int(ok.sum())
    if n == 0:
        return out
    v = row[ok]
    ranks = np.array([(v < x).sum() + ((v == x).sum() + 1) / 2 for x in v])
    out[ok] = (ranks - 1) / (n - 1) if n > 1 else 0.5
    return out


def ref_components(spec: StrategySpec, panel: Panel) -> np.ndarray:
    from alphaloop.factors.evaluate import evaluate

    close = np.asarray(panel["close"])
    eligible = panel.membership & np.isfinite(close)
    out = []
    for c in spec.signal.components or ():
        text = c.expr if c.expr is not None else library_factor(str(c.factor))
        x = np.where(eligible, evaluate(panel, {"x": text})["x"], np.nan)
        z = np.full(x.shape, np.nan)
        for t in range(x.shape[0]):
            ok = np.isfinite(x[t])
            if not ok.any():
                continue
            if c.normalize == "rank":
                z[t] = ref_rank01(x[t]) - 0.5
            else:
                sd = x[t, ok].std()
                z[t, ok] = (x[t, ok] - x[t, ok].mean()) / sd if sd > 0 else 0.0
        out.append(z * c.sign)
    return np.stack(out)


def ref_fwd(panel: Panel, h: int) -> np.ndarray:
    close = np.asarray(panel["close"])
    fwd = np.full(close.shape, np.nan)
    fwd[:-h] = close[h:] / close[:-h] - 1
    fwd[~(panel.membership & np.isfinite(close))] = np.nan
    return fwd


def ref_stat(z: np.ndarray, fwd: np.ndarray, kind: str) -> float:
    ok = np.isfinite(z) & np.isfinite(fwd)
    if ok.sum() < 3:
        return np.nan
    ra, rb = ref_rank01(np.where(ok, z, np.nan))[ok], ref_rank01(np.where(ok, fwd, np.nan))[ok]
    if kind == "ic":
        if ra.std() == 0 or rb.std() == 0:
            return np.nan
        return float(np.corrcoef(ra, rb)[0, 1])
    c = ra - ra.mean()
    return float((c * fwd[ok]).sum() / np.abs(c).sum())


def ref_weights(z: np.ndarray, fwd: np.ndarray, spec: StrategySpec) -> np.ndarray:
    sig = spec.signal
    k, n_times = z.shape[0], z.shape[1]
    w = np.full((n_times, k), 1.0 / k)
    if sig.combine == "equal":
        return w
    kind = "ic" if sig.combine == "ic" else "fr"
    stat = np.array([[ref_stat(z[i, s], fwd[s], kind) for i in range(k)] for s in range(n_times)])
    need = min_history(sig.window, k)
    for t in range(n_times):
        lo, hi = max(0, t - sig.horizon - sig.window + 1), t - sig.horizon
        if hi < 0:
            continue
        win = stat[lo : hi + 1]
        if kind == "ic":
            cnt = np.isfinite(win).sum(axis=0)
            if (cnt < need).any():
                continue
            m = np.nanmean(win, axis=0)
        else:
            win = win[np.isfinite(win).all(axis=1)]
            if len(win) < need:
                continue
            cov = np.cov(win, rowvar=False, ddof=1)
            cov += RIDGE * np.trace(cov) / k * np.eye(k)
            m = np.linalg.solve(cov, win.mean(axis=0))
        if np.abs(m).sum() > 0:
            w[t] = m / np.abs(m).sum()
    return w


def reference_signal(spec: StrategySpec, panel: Panel) -> np.ndarray:
    z = ref_components(spec, panel)
    w = ref_weights(z, ref_fwd(panel, spec.signal.horizon), spec)
    out = np.full(z.shape[1:], np.nan)
    for t in range(z.shape[1]):
        for j in range(z.shape[2]):
            have = np.isfinite(z[:, t, j])
            if have.any():
                out[t, j] = (w[t, have] * z[have, t, j]).sum() / np.abs(w[t, have]).sum()
    return np.stack([ref_rank01(row) for row in out])


# ------------------------------------------------------------------ values
def test_normalization_by_hand() -> None:
    x = np.array([[3.0, 1.0, 2.0, np.nan], [5.0, 5.0, 1.0, 7.0], [np.nan, 4.0, np.nan, np.nan]])
    ok = np.ones_like(x, dtype=bool)
    ok[1, 3] = False  # not eligible: left out of the cross-section
    np.testing.assert_array_equal(
        cross_sectional_rank(x, ok),
        [[1.0, 0.0, 0.5, np.nan], [0.75, 0.75, 0.0, np.nan], [np.nan, 0.5, np.nan, np.nan]],
    )
    panel = make_panel()
    spec = composite()
    z = ref_components(spec, panel)
    # rank components are centred ranks in [-0.5, 0.5]; z-scores have mean 0, std 1 per bar
    assert np.nanmin(z[0]) == -0.5
    assert np.nanmax(z[0]) == 0.5
    rows = np.isfinite(z[2]).sum(axis=1) > 2
    np.testing.assert_allclose(np.nanmean(z[2][rows], axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(np.nanstd(z[2][rows], axis=1), 1, rtol=1e-12)


@pytest.mark.parametrize("combine", ["equal", "ic", "mean_variance"])
def test_each_combine_matches_the_reference(combine: str) -> None:
    panel = make_panel()
    spec = composite(combine)
    got = signal_values(spec, panel)
    want = reference_signal(spec, panel)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.nanmin(got) == 0.0
    assert np.nanmax(got) == 1.0
    close = np.asarray(panel["close"])
    assert np.isnan(got[~(panel.membership & np.isfinite(close))]).all()


def test_ic_weights_differ_from_equal_after_enough_history() -> None:
    panel = make_panel()
    eq = signal_values(composite("equal"), panel)
    ic = signal_values(composite("ic"), panel)
    need = min_history(60, 3) + 2 + 15  # history, horizon, the longest warm-up
    assert not np.allclose(eq[need + 50 :], ic[need + 50 :], equal_nan=True)


def test_model_combiner_and_model_components() -> None:
    panel = make_panel()
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(panel.n_times, panel.n_assets))
    spec = composite("model", combiner="combo/v2")
    spec = spec.replace(
        signal={
            **spec.signal.model_dump(),
            "components": [{"expr": MOM}, {"model": "m/v1", "normalize": "zscore"}],
        }
    )
    assert signal_models(spec) == ["m/v1", "combo/v2"]
    assert signal_expressions(spec) == [MOM]
    got = signal_values(spec, panel, model_values={"m/v1": pred, "combo/v2": pred * 3})
    close = np.asarray(panel["close"])
    masked = np.where(panel.membership & np.isfinite(close), pred, np.nan)
    np.testing.assert_allclose(got, np.stack([ref_rank01(r) for r in masked]), atol=1e-12)
    with pytest.raises(BacktestError, match="combo/v2"):
        signal_values(spec, panel, model_values={"m/v1": pred})
    with pytest.raises(BacktestError, match="shape"):
        signal_values(spec, panel, model_values={"m/v1": pred[:-1], "combo/v2": pred})


def test_plain_signals_keep_their_values() -> None:
    panel = make_panel()
    from alphaloop.factors.evaluate import evaluate

    spec = StrategySpec.from_dict({"data": "x", "signal": {"expr": MOM}})
    np.testing.assert_array_equal(signal_values(spec, panel), evaluate(panel, {"m": MOM})["m"])
    model = StrategySpec.from_dict({"data": "x", "signal": {"model": "m/v3"}})
    pred = np.ones((panel.n_times, panel.n_assets))
    assert signal_values(model, panel, model_values={"m/v3": pred}) is not None
    assert signal_models(model) == ["m/v3"]
    assert signal_expressions(model) == []


@pytest.mark.parametrize("combine", ["ic", "mean_variance"])
def test_values_do_not_change_when_later_data_is_removed(combine: str) -> None:
    panel = make_panel()
    spec = composite(combine)
    full = signal_values(spec, panel)
    for k in (150, 233, 301, panel.n_times - 3):
        cut = signal_values(spec, panel.iloc(slice(0, k + 1)))
        np.testing.assert_array_equal(cut, full[: k + 1])


def test_the_scan_passes_a_composite_and_catches_a_peeking_component() -> None:
    panel = make_panel(n_times=700)
    spec = composite("ic")
    clean = scan_lookahead(
        target_signal_fn(spec, lambda p: signal_values(spec, p)),
        panel,
        n_points=6,
        settle=252,
        min_history=120,
        warmups=(63,),
    )
    assert clean.clean, clean.summary()

    peek = spec.replace(
        signal={
            **spec.signal.model_dump(),
            "components": [{"expr": MOM}, {"model": "peek/v1"}],
        }
    )

    def peeking(p: Panel) -> np.ndarray:
        close = np.asarray(p["close"])
        tomorrow = np.full(close.shape, np.nan)
        tomorrow[:-1] = close[1:] / close[:-1]  # next bar's return: known only tomorrow
        return signal_values(peek, p, model_values={"peek/v1": tomorrow})

    report = scan_lookahead(
        target_signal_fn(peek, peeking), panel, n_points=6, min_history=120, warmups=()
    )
    assert not report.clean
    assert "signal" in report.offending_outputs


# ------------------------------------------------------------------ exits
def exits_case(n_times: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four assets; the leader changes every bar (A, B, C, D, A, ...)."""
    signal = np.zeros((n_times, 4))
    for t in range(n_times):
        signal[t] = [3.0, 2.0, 1.0, 0.0]
        signal[t] = np.roll(signal[t], t % 4)
    close = np.full((n_times, 4), 10.0)
    return signal, close, np.ones((n_times, 4), dtype=bool)


def test_hold_bars_keeps_positions_until_old_enough() -> None:
    signal, close, ok = exits_case()
    rule, limits = PortfolioRule(k=1), Limits()
    every = np.ones(len(signal), dtype=bool)
    plain = target_weights(signal, close, ok, rule, limits, every)
    held = target_weights(signal, close, ok, rule, limits, every, exits=Exits(hold_bars=3))
    leader = lambda w: np.argmax(w, axis=1)  # noqa: E731
    assert list(leader(plain)) == [t % 4 for t in range(12)]
    # entered at 0, kept at 1 and 2, dropped at 3 (age 3) for the leader of bar 3; and so on
    assert list(leader(held)) == [0, 0, 0, 3, 3, 3, 2, 2, 2, 1, 1, 1]
    # an asset that leaves the universe is not kept
    gone = ok.copy()
    gone[1:, 0] = False
    w = target_weights(signal, close, gone, rule, limits, every, exits=Exits(hold_bars=3))
    assert w[1, 0] == 0
    assert w[1].sum() == 1


def test_hold_bars_in_long_short_legs() -> None:
    signal, close, ok = exits_case()
    rule = PortfolioRule(method="quantile_long_short", quantile=0.25)
    limits = Limits(allow_short=True)
    every = np.ones(len(signal), dtype=bool)
    w = target_weights(signal, close, ok, rule, limits, every, exits=Exits(hold_bars=2))
    np.testing.assert_allclose(np.abs(w).sum(axis=1), 1.0)
    assert (w[0] == [0.5, 0, 0, -0.5]).all()
    assert (w[1] == [0.5, 0, 0, -0.5]).all()  # both legs kept one more bar
    assert (w[2] == [0, -0.5, 0.5, 0]).all()


def test_exit_on_flip_closes_between_rebalances() -> None:
    _, close, ok = exits_case()
    signal = np.tile([3.0, 2.0, 1.0, 0.0], (12, 1))
    signal[1] = [2, 3, 1, 0]  # A second of four: rank 2/3, kept
    signal[2:8] = [1, 3, 2, 0]  # third: rank 1/3, below the median
    signal[10:] = [0, 3, 2, 1]
    rule, limits = PortfolioRule(k=1), Limits()
    first = np.zeros(len(signal), dtype=bool)
    first[[0, 8]] = True
    w = target_weights(signal, close, ok, rule, limits, first, exits=Exits(exit_on_flip=True))
    assert w[0, 0] == 1.0
    # bar 1: A ranks 2nd of 4 (2/3 >= 0.5), bar 2: 3rd (1/3 < 0.5): closed there only
    assert np.isnan(w[1]).all()
    assert w[2, 0] == 0
    assert np.isnan(w[2, 1:]).all()
    assert np.isnan(w[3:8]).all()
    assert w[8, 0] == 1.0
    assert w[10, 0] == 0
    off = target_weights(signal, close, ok, rule, limits, first)
    assert np.isnan(off[1:8]).all()


@pytest.mark.parametrize("method", ["top_k", "quantile_long_short"])
def test_exits_run_the_same_on_both_engines(method: str) -> None:
    from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
    from alphaloop.backtest.vectorized import simulate
    from alphaloop.execution import CostModel

    panel = make_panel(n_times=260)
    spec = composite("ic")
    sig = signal_values(spec, panel)
    close = np.asarray(panel["close"])
    every = np.arange(panel.n_times) % 5 == 0
    rule = PortfolioRule(k=2) if method == "top_k" else PortfolioRule(method=method, quantile=0.3)
    limits = Limits(allow_short=method != "top_k")
    ok = panel.membership & np.isfinite(close)
    exits = Exits(hold_bars=8, exit_on_flip=True)
    w = target_weights(sig, close, ok, rule, limits, every, exits=exits)
    assert (np.isfinite(w) & ~every[:, None]).any()  # some flip exits between rebalances
    settings = {"costs": CostModel(), "allow_short": limits.allow_short}
    a = simulate(panel, w, kind="weights", **settings)
    b = EventEngine(panel, TargetWeightsStrategy(w), **settings).run()
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9)
    assert len(a.trades) == len(b.trades) > 0


# ------------------------------------------------------------------ spec
def test_spec_errors() -> None:
    comps = [{"factor": "ROC20"}, {"expr": MOM}]
    bad = [
        ({"expr": MOM, "components": comps}, "exactly one of expr"),
        ({"expr": MOM, "model": "m/v1"}, "exactly one of expr"),
        ({"components": [{"factor": "ROC21"}, {"expr": MOM}]}, "unknown library factor 'ROC21'"),
        ({"components": [{"factor": "ROC20", "expr": MOM}, {"expr": MOM}]}, "exactly one of"),
        ({"components": comps, "combine": "model"}, "needs combiner"),
        ({"components": comps, "combiner": "c/v1"}, "combine: model only"),
        ({"components": comps[:1]}, "at least 2"),
        ({"expr": MOM, "combine": "ic"}, "composite signals"),
        ({"components": [{"expr": MOM, "sign": 2}, {"expr": MOM}]}, "sign"),
    ]
    for signal, match in bad:
        with pytest.raises(SpecError, match=match):
            StrategySpec.from_dict({"data": "x", "signal": signal})
    with pytest.raises(SpecError, match="hold_bars"):
        StrategySpec.from_dict({"data": "x", "signal": {"expr": MOM}, "exits": {"hold_bars": -1}})


def test_describe_names_the_parts() -> None:
    text = composite("ic").signal.describe()
    assert text.startswith("composite of 3 (IC weights over 60 bars)")
    assert "factor ROC5" in text
    assert f"-{VOL!r}" in text
