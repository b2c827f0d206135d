"""The pairs template: a planted pair traded, noise left alone, point in time, engines agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest import backtest_panel, scan_lookahead
from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.errors import BacktestError, SpecError
from alphaloop.execution import CostModel
from alphaloop.strategies import TEMPLATES, PairsTrading, TemplateInputs, TemplateOutput
from alphaloop.strategies import cointegration as coint_module
from alphaloop.strategies.spreads import band_states, formation_rows, kalman_hedge
from tests.research.synthetic import make_info

SMALL = {"formation": 126, "trade_period": 63}


def make_panel(seed: int, n_times: int = 900, n_assets: int = 12, planted: bool = True) -> Panel:
    """Random walks (1.5% a day); with ``planted``, A01 = 0.2 + A00 + an AR(1) spread (0.7)."""
    rng = np.random.default_rng(seed)
    logp = np.log(50.0) + np.cumsum(0.015 * rng.standard_normal((n_times, n_assets)), axis=0)
    if planted:
        spread = np.zeros(n_times)
        for t in range(1, n_times):
            spread[t] = 0.7 * spread[t - 1] + 0.012 * rng.standard_normal()
        logp[:, 1] = 0.2 + logp[:, 0] + spread
    close = np.exp(logp)
    open_ = close * np.exp(0.002 * rng.standard_normal(close.shape))
    index = pd.bdate_range("2015-01-05", periods=n_times, tz="UTC")
    return Panel(index, [f"A{j:02d}" for j in range(n_assets)], {"open": open_, "close": close})


def build(tpl: PairsTrading, panel: Panel, *, max_leverage: float = 2.0) -> TemplateOutput:
    close = np.asarray(panel["close"])
    inputs = TemplateInputs(
        panel, np.isfinite(close), np.ones(panel.n_times, dtype=bool),
        max_weight=0.5, max_leverage=max_leverage, allow_short=True,
    )  # fmt: skip
    return tpl.build(inputs)


def run_both(panel: Panel, weights: np.ndarray, **kw: Any) -> tuple[Any, Any]:
    settings = {"allow_short": True, "max_leverage": 2.0, "costs": CostModel(), **kw}
    a = simulate(panel, weights, kind="weights", **settings)
    b = EventEngine(panel, TargetWeightsStrategy(weights), **settings).run()
    return a, b


def pairs_of(out: TemplateOutput) -> list[list[tuple[str, str]]]:
    return [[(p["y"], p["x"]) for p in f["pairs"]] for f in out.diagnostics["formations"]]


# ------------------------------------------------------------------ planted pair and noise
@pytest.mark.parametrize("hedge", ["ols", "kalman"])
def test_planted_pair_is_selected_and_traded_at_a_profit_net_of_costs(hedge: str) -> None:
    panel = make_panel(1)
    out = build(PairsTrading(hedge=hedge, max_pairs=1), panel)
    chosen = pairs_of(out)
    rows = formation_rows(panel.index, panel.frequency, 252, 126)
    assert len(chosen) == len(rows) == 5  # 126-weekday blocks after the first 252 bars
    assert sum(p == [("A00", "A01")] for p in chosen) >= 4
    assert all(p in ([], [("A00", "A01")]) for p in chosen)
    w = out.weights
    traded = np.flatnonzero(np.nan_to_num(np.abs(w)).sum(axis=0) > 0)
    assert traded.tolist() == [0, 1]
    assert out.diagnostics["entries"] >= 10
    a, b = run_both(panel, w)
    first = rows[0]
    eq = a.equity.to_numpy()
    assert eq[first] == pytest.approx(1e6)  # nothing before the first formation date
    assert eq[-1] / eq[first] - 1.0 > 0.03  # default costs, next-open fills
    assert sum(a.costs.values()) > 0
    np.testing.assert_allclose(b.equity.to_numpy(), eq, rtol=1e-9, atol=0)


def test_dollar_legs_are_equal_and_opposite_and_signal_marks_the_legs() -> None:
    panel = make_panel(1)
    out = build(PairsTrading(max_pairs=2, gross=1.0), panel)
    rows = np.flatnonzero(np.isfinite(out.weights[:, 0]) & (out.weights[:, 0] != 0))
    assert rows.size
    np.testing.assert_array_equal(out.weights[rows, 0], -out.weights[rows, 1])
    assert set(np.abs(out.weights[rows, 0])) == {0.25}  # gross 1 / 2 pairs / 2 legs
    sig = out.signal
    active = np.isfinite(sig[:, 0]) & (sig[:, 0] != 0)
    np.testing.assert_array_equal(sig[active, 0], -sig[active, 1])
    # short the spread (y down, x up) where its z-score is high: y's score is -z
    opened = rows[out.weights[rows, 0] < 0]
    assert (sig[opened, 0] <= -2.0).all()


def test_independent_walks_give_few_or_no_pairs() -> None:
    selected, raw, formations = 0, 0, 0
    for seed in range(4):
        panel = make_panel(seed, planted=False, n_assets=25)
        out = build(PairsTrading(min_corr=-1.0, **SMALL), panel)
        selected += sum(len(p) for p in pairs_of(out))
        formations += len(out.diagnostics["formations"])
        assert all(f["n_adjusted_over"] == 300 for f in out.diagnostics["formations"])
        unadjusted = build(PairsTrading(min_corr=-1.0, correction="none", **SMALL), panel)
        raw += sum(f["n_significant"] for f in unadjusted.diagnostics["formations"])
    assert formations >= 40
    # BH at 5% over 300 pairs: a formation finds any pair about 5% of the time
    assert selected <= 0.15 * formations
    assert raw >= 0.02 * 300 * formations  # without the adjustment, about 5% of all pairs


# ------------------------------------------------------------------ point in time
def test_selection_never_sees_rows_after_the_formation_date(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    panel = make_panel(2)
    logp = np.log(np.asarray(panel["close"]))
    seen: list[np.ndarray] = []
    real = coint_module.screen_pairs

    def spy(log_prices: np.ndarray, **kw: Any) -> Any:
        seen.append(np.array(log_prices))
        return real(log_prices, **kw)

    monkeypatch.setattr(coint_module, "screen_pairs", spy)
    split = 600  # the test span starts here
    tpl = PairsTrading(**SMALL)
    build(tpl, panel)
    rows = formation_rows(panel.index, panel.frequency, 126, 63)
    assert len(seen) == len(rows) >= 10
    for f, window in zip(rows, seen, strict=True):
        # each window is exactly the trailing formation rows ending at its date
        last = int(np.flatnonzero((logp == window[-1]).all(axis=1))[-1])
        assert last == f
        np.testing.assert_array_equal(window, logp[f - 125 : f + 1])
        if f < split:
            assert last < split
    assert sum(f < split for f in rows) >= 5


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"hedge": "kalman", "legs": "beta"},
        {"zscore_window": 40, "legs": "beta", "max_hold": 10},
        {"method": "johansen"},
    ],
)
def test_rows_up_to_t_do_not_change_when_the_panel_is_cut_after_t(params: dict) -> None:
    panel = make_panel(3, n_times=700)
    tpl = PairsTrading(**SMALL, **params)
    full = build(tpl, panel)
    assert full.diagnostics["entries"] > 0
    for t in (200, 331, 452, 515, 698):
        cut = build(tpl, panel.iloc(slice(0, t + 1)))
        np.testing.assert_array_equal(cut.weights, full.weights[: t + 1])
        np.testing.assert_array_equal(cut.signal, full.signal[: t + 1])


def test_book_does_not_depend_on_how_much_history_was_loaded() -> None:
    panel = make_panel(4, n_times=700)
    tpl = PairsTrading(**SMALL)
    full = build(tpl, panel)
    for s in (20, 63, 100):
        short = build(tpl, panel.iloc(slice(s, None)))
        rows = formation_rows(panel.index[s:], panel.frequency, 126, 63)
        r0 = int(rows[0])  # from the first formation the shorter panel has, the same book
        np.testing.assert_array_equal(short.weights[r0:], full.weights[s + r0 :])
        assert r0 <= tpl.warmup()


def test_lookahead_scan_is_clean_with_the_templates_warmup_as_settle() -> None:
    panel = make_panel(9, n_times=800)
    tpl = PairsTrading(hedge="kalman", **SMALL)

    def outputs(p: Panel) -> dict[str, np.ndarray]:
        out = build(tpl, p)
        return {"weights": out.weights, "signal": out.signal}

    report = scan_lookahead(
        outputs, panel, settle=tpl.warmup(), n_points=6, max_decision_points=12, warmups=(63, 252)
    )
    assert report.clean, report.findings[:3]
    assert report.warmups == (63, 252)


def test_kalman_hedge_uses_bars_up_to_t_and_tracks_a_moving_beta() -> None:
    rng = np.random.default_rng(5)
    n = 600
    x = np.cumsum(0.02 * rng.standard_normal(n))
    true_beta = np.linspace(0.9, 1.2, n)
    y = 0.3 + true_beta * x + 0.005 * rng.standard_normal(n)
    beta, icpt, z = kalman_hedge(y, x, 1e-2, 0.005**2)
    for t in (100, 350, 599):
        b2, i2, z2 = kalman_hedge(y[: t + 1], x[: t + 1], 1e-2, 0.005**2)
        np.testing.assert_array_equal(b2, beta[: t + 1])
        np.testing.assert_array_equal(i2, icpt[: t + 1])
        np.testing.assert_array_equal(z2, z[: t + 1])
    # a change after t leaves t's estimate alone
    y_late = y.copy()
    y_late[400:] += 1.0
    b3, _, _ = kalman_hedge(y_late, x, 1e-2, 0.005**2)
    np.testing.assert_array_equal(b3[:400], beta[:400])
    assert np.abs(beta[200:] - true_beta[200:]).max() < 0.15  # it lags a moving beta
    assert beta[-1] - beta[200] > 0.1
    assert abs(np.std(z[100:]) - 1.0) < 0.3  # standardized prediction errors


def test_band_states_by_hand() -> None:
    z = np.array([0.0, 2.1, 1.0, 0.4, -2.5, -3.0, -4.2, -2.6, 0.0, 2.2, 2.3, 2.4, 1.9, 2.0, np.nan])
    counts = dict.fromkeys(("entries", "exits", "stops", "timeouts", "missing"), 0)
    state, beta_at = band_states(z, np.full(z.size, 1.5), 2.0, 0.5, 4.0, 0, False, counts)
    # short at 2.1, exit at 0.4, long at -2.5, stopped at -4.2: nothing more this period
    assert state.tolist() == [0, -1, -1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert counts == {"entries": 2, "exits": 1, "stops": 1, "timeouts": 0, "missing": 0}
    assert beta_at.tolist() == [0, 1.5, 1.5, 0, 1.5, 1.5] + [0.0] * 9
    counts = dict.fromkeys(counts, 0)
    state, _ = band_states(z[8:], np.full(7, 1.5), 2.0, 0.5, 4.0, 2, False, counts)
    # short at 2.2, timed out two bars later, back in at 2.0 after |z| fell below 2,
    # closed by the missing value
    assert state.tolist() == [0, -1, -1, 0, 0, -1, 0]
    assert counts == {"entries": 2, "exits": 0, "stops": 0, "timeouts": 1, "missing": 1}
    state, _ = band_states(z[:3], np.full(3, -0.5), 2.0, 0.5, 4.0, 0, True, counts)
    assert not state.any()  # beta legs need a positive hedge ratio


# ------------------------------------------------------------------ engines
@pytest.mark.parametrize(
    ("params", "fills"),
    [
        ({}, "next_open"),
        ({"hedge": "kalman", "legs": "beta"}, "next_close"),
        ({"max_hold": 5}, "next_open"),
    ],
)
def test_both_engines_agree(params: dict, fills: str) -> None:
    panel = make_panel(6, n_times=600)
    out = build(PairsTrading(**SMALL, **params), panel)
    assert np.isfinite(out.weights).any()
    a, b = run_both(panel, out.weights, fills=fills, costs=CostModel(borrow_bps_annual=300.0))
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 4


@pytest.mark.parametrize("hedge", ["ols", "kalman"])
def test_a_pairs_spec_runs_through_backtest_panel_on_both_engines(hedge: str) -> None:
    panel = make_panel(1)
    spec = StrategySpec.from_dict(
        {
            "name": "pairs",
            "data": "synth",
            "template": {"template": "pairs", "hedge": hedge, "max_pairs": 1},
            "rebalance": {"frequency": "daily"},
            "limits": {"allow_short": True, "max_leverage": 2.0, "max_weight": 0.5},
        }
    )
    info = make_info(panel)
    a = backtest_panel(spec, info, panel, engine="vectorized")
    b = backtest_panel(spec, info, panel, engine="event")
    x, y = a.simulation.equity.to_numpy(), b.simulation.equity.to_numpy()
    np.testing.assert_allclose(y, x, rtol=1e-9, atol=0)
    assert len(a.simulation.trades) == len(b.simulation.trades) > 10
    # the backtest starts at the first formation date; the planted pair pays net of costs
    first = formation_rows(panel.index, panel.frequency, 252, 126)[0]
    assert a.simulation.equity.index[0] == panel.index[first]
    assert x[-1] / x[0] - 1.0 > 0.03
    template = a.assumptions["template"]
    assert template["template"] == "pairs"
    pairs = [p for f in template["diagnostics"]["formations"] for p in f["pairs"]]
    assert {(p["y"], p["x"]) for p in pairs} == {("A00", "A01")}


def test_weights_respect_limits_and_emit_only_changes() -> None:
    panel = make_panel(7)
    tpl = PairsTrading(legs="beta", gross=3.0, max_pairs=1)
    close = np.asarray(panel["close"])
    inputs = TemplateInputs(
        panel, np.isfinite(close), np.ones(panel.n_times, dtype=bool),
        max_weight=0.4, max_leverage=1.5, allow_short=True,
    )  # fmt: skip
    w = tpl.build(inputs).weights
    assert np.nanmax(np.abs(w)) <= 0.4 + 1e-15
    assert np.nansum(np.abs(w), axis=1).max() <= 1.5 + 1e-12
    rows = formation_rows(panel.index, panel.frequency, 252, 126)
    assert np.isfinite(w[rows]).all()  # formation rows carry the whole book
    between = np.setdiff1d(np.arange(rows[0], panel.n_times), rows)
    emitted = np.isfinite(w[between]).sum(axis=1)
    assert set(emitted.tolist()) <= {0, 2}  # between formations: a pair's two legs, or nothing
    assert (emitted == 0).mean() > 0.5
    assert np.isnan(w[: rows[0]]).all()


# ------------------------------------------------------------------ spec and errors
def test_spec_takes_the_template_and_bad_parameters_say_which() -> None:
    assert TEMPLATES["pairs"] is PairsTrading
    base = {"name": "p", "data": "synth", "limits": {"allow_short": True, "max_leverage": 2.0}}
    spec = StrategySpec.from_dict({**base, "template": {"template": "pairs", "formation": 189}})
    assert isinstance(spec.template, PairsTrading)
    assert spec.template.formation == 189
    assert spec.template.warmup() == 189 + 126
    bad = [
        ({"entry": 0.4, "exit": 0.5}, "exit < entry < stop"),
        ({"stop": 1.5}, "exit < entry < stop"),
        ({"formation": 10}, "formation"),
        ({"hedge": "rls"}, "hedge"),
        ({"correction": "sidak"}, "correction"),
        ({"min_half_life": 50, "max_half_life": 20}, "min_half_life"),
        ({"zscore_window": 400}, "zscore_window"),
        ({"lookback": 5}, "lookback"),
    ]
    for params, words in bad:
        with pytest.raises(SpecError, match=words):
            StrategySpec.from_dict({**base, "template": {"template": "pairs", **params}})
    with pytest.raises(SpecError, match="allow_short"):
        StrategySpec.from_dict({**base, "limits": {}, "template": {"template": "pairs"}})


def test_data_problems_are_clear_errors() -> None:
    panel = make_panel(8, n_times=300, n_assets=3)
    close = np.asarray(panel["close"])
    inputs = TemplateInputs(panel, np.isfinite(close), np.ones(300, dtype=bool), allow_short=False)
    with pytest.raises(SpecError, match="allow_short"):
        PairsTrading().build(inputs)
    one = Panel(panel.index, ["A00"], {"close": close[:, :1]})
    with pytest.raises(BacktestError, match="at least 2 assets"):
        build(PairsTrading(), one)
    # too short for a formation window: no book, no error
    out = build(PairsTrading(), panel.iloc(slice(0, 200)))
    assert np.isnan(out.weights).all()
    assert out.diagnostics["formations"] == []


def test_describe_and_defaults() -> None:
    tpl = PairsTrading()
    assert tpl.shorts
    assert tpl.output_kind == "weights"
    assert tpl.spec_defaults()["limits"]["allow_short"] is True
    assert "formation=252" in tpl.describe()
    assert set(PairsTrading.GRID) <= set(PairsTrading.model_fields)
    for values in PairsTrading.GRID.values():
        assert list(values) == sorted(values)
