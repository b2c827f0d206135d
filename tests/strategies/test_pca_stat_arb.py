"""PCA statistical arbitrage: finds planted OU residuals, factor-neutral, point in time.

The synthetic market: returns = a few common factors times random loadings
plus an idiosyncratic part that is an Ornstein-Uhlenbeck level's increments
on the first ``n_ou`` assets (its cumulative sum mean-reverts) and white
noise elsewhere (its cumulative sum is a random walk).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest import scan_lookahead
from alphaloop.backtest.event import EventEngine, TargetWeightsStrategy
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.errors import BacktestError
from alphaloop.execution import CostModel
from alphaloop.strategies import TEMPLATES, PcaStatArb, TemplateInputs
from alphaloop.strategies.pca_stat_arb import _run_states, _run_states_py, min_assets, refit_rows

N_OU = 10


def market(
    n_times: int = 1500,
    n_assets: int = 40,
    n_factors: int = 3,
    seed: int = 3,
    ou_b: float = 0.85,
    ou_sd: float = 0.015,
    n_ou: int = N_OU,
) -> Panel:
    """Factor returns plus OU residuals on the first ``n_ou`` assets, random walks elsewhere."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(0.0003, 0.01, (n_times, n_factors))
    loadings = np.column_stack(
        [rng.normal(1.0, 0.3, n_assets), rng.normal(0.0, 0.7, (n_assets, n_factors - 1))]
    )
    idio = rng.normal(0.0, 0.01, (n_times, n_assets))
    n_ou = min(n_ou, n_assets)
    level = np.zeros((n_times, n_ou))
    for t in range(1, n_times):
        level[t] = ou_b * level[t - 1] + rng.normal(0.0, ou_sd, n_ou)
    idio[:, :n_ou] = np.diff(level, axis=0, prepend=0.0)
    close = 50.0 * np.cumprod(1.0 + factors @ loadings.T + idio, axis=0)
    index = pd.date_range("2012-01-02", periods=n_times, freq="B", tz="UTC")
    assets = [f"A{i:02d}" for i in range(n_assets)]
    return Panel(index, assets, {"open": close, "close": close})


def inputs(panel: Panel, max_weight: float = 0.25, max_leverage: float = 2.0) -> TemplateInputs:
    close = panel["close"]
    return TemplateInputs(
        panel,
        panel.membership & np.isfinite(close),
        np.ones(panel.n_times, dtype=bool),
        max_weight=max_weight,
        max_leverage=max_leverage,
        allow_short=True,
    )


@pytest.fixture(scope="module")
def planted() -> tuple[Panel, PcaStatArb, object]:
    panel = market()
    template = PcaStatArb(n_factors=3)
    return panel, template, template.build(inputs(panel))


def test_registered_and_described() -> None:
    assert TEMPLATES["pca_stat_arb"] is PcaStatArb
    t = PcaStatArb()
    assert t.shorts
    assert t.output_kind == "weights"
    assert t.warmup() == 252 + 21 + 60
    assert t.spec_defaults()["limits"] == {
        "allow_short": True,
        "max_leverage": 2.0,
        "max_weight": 0.25,
    }
    assert t.spec_defaults()["rebalance"] == {"frequency": "daily"}
    assert set(t.GRID) <= set(PcaStatArb.model_fields)
    assert "pca_stat_arb(window=252, n_factors=5" in t.describe()


def test_planted_ou_residuals_are_traded_at_a_profit_net_of_costs(planted) -> None:
    panel, template, out = planted
    w = out.weights
    assert out.kind == "weights"
    assert w.shape == panel.shape
    assert np.isnan(w[: template.window]).all()  # nothing before the first PCA
    rows = np.isfinite(w).any(axis=1)
    assert 0 < rows.sum() < panel.n_times - template.window  # rows only where the book changes
    assert np.nansum(np.abs(w), axis=1).max() <= 2.0 + 1e-12
    assert np.nanmax(np.abs(w)) <= 0.25 + 1e-12
    assert (w[rows] < 0).any()
    assert (w[rows] > 0).any()

    res = simulate(panel, w, kind="weights", costs=CostModel(), max_leverage=2.0, allow_short=True)
    equity = res.equity.to_numpy()
    start = template.window
    assert equity[-1] > equity[start] * 1.15  # net of the default costs
    half = (start + panel.n_times) // 2
    assert equity[-1] > equity[half] * 1.05  # and in the later half on its own
    assert sum(res.costs.values()) > 0.01 * res.initial_capital

    trips = res.round_trips
    on_ou = trips["asset"].isin(panel.assets[:N_OU])
    ou_pnl, rw_pnl = trips.loc[on_ou, "pnl"].sum(), trips.loc[~on_ou, "pnl"].sum()
    assert ou_pnl > 0.2 * res.initial_capital
    assert ou_pnl > rw_pnl + 0.2 * res.initial_capital

    # the s-score is negated into the signal; its first value starts the backtest
    sig = out.signal
    assert np.isnan(sig[: template.window]).all()
    assert np.isfinite(sig[template.window]).any()
    assert np.nanmax(sig) > template.s_entry
    assert np.nanmin(sig) < -template.s_entry


def test_diagnostics_per_refit_date(planted) -> None:
    panel, template, out = planted
    refits = out.diagnostics["refits"]
    rows = refit_rows(panel.index, template.window, template.refit)
    assert [r["date"] for r in refits] == [panel.index[t].isoformat() for t in rows]
    first = refits[0]
    assert first["date"] == panel.index[template.window].isoformat()
    assert first["assets"] == 40
    assert first["factors"] == 3
    assert 0.4 < first["variance_explained"] < 0.95
    assert all(0 <= r["tradable"] <= r["assets"] for r in refits)
    # kappa per year = ln 2 / half-life (bars) * 252
    assert first["median_kappa"] == pytest.approx(np.log(2) / first["median_half_life"] * 252, 1e-3)
    assert 1 < first["median_half_life"] < template.max_half_life
    assert any("factor-neutral" in n for n in out.notes)


def reference_betas(panel: Panel, template: PcaStatArb, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Asset columns and (asset, factor) betas at bar t, recomputed from scratch."""
    close = panel["close"]
    rets = np.full(close.shape, np.nan)
    rets[1:] = close[1:] / close[:-1] - 1.0
    rows = refit_rows(panel.index, template.window, template.refit)
    start = rows[rows <= t][-1]
    block = rets[start - template.window + 1 : start + 1]
    z = (block - block.mean(axis=0)) / block.std(axis=0, ddof=1)
    values, vectors = np.linalg.eigh(np.corrcoef(z, rowvar=False))
    top = vectors[:, np.argsort(values)[::-1][: template.n_factors]]
    eigenportfolios = top / block.std(axis=0, ddof=1)[:, None]  # (asset, factor)
    sample = rets[t - template.ou_window + 1 : t + 1]
    design = np.column_stack([np.ones(len(sample)), sample @ eigenportfolios])
    coef = np.linalg.lstsq(design, sample, rcond=None)[0]
    return np.arange(panel.n_assets), coef[1:].T


def test_book_is_factor_neutral_on_decision_bars(planted) -> None:
    panel, template, out = planted
    rows = np.flatnonzero(np.isfinite(out.weights).any(axis=1))
    checked = 0
    for t in rows[:: max(1, len(rows) // 12)]:
        w = np.nan_to_num(out.weights[t])
        if not w.any():
            continue
        cols, betas = reference_betas(panel, template, int(t))
        exposure = np.abs(betas.T @ w[cols]).max()
        # the same positions all long (no hedge can cancel) carry factor risk
        unhedged = np.abs(betas.T @ np.abs(w[cols])).max()
        assert exposure < 1e-8 * unhedged, t
        checked += 1
    assert checked >= 8


def test_truncation_rows_up_to_t_unchanged(planted) -> None:
    panel, template, out = planted
    for t in (252, 274, 700, 1111):
        cut = template.build(inputs(panel.iloc(slice(0, t + 1))))
        for name in ("weights", "signal"):
            a, b = getattr(cut, name), getattr(out, name)[: t + 1]
            np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{name} at {t}")
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_lookahead_scan_is_clean_with_less_history_loaded() -> None:
    panel = market(n_times=700, n_assets=24, seed=7)
    template = PcaStatArb(n_factors=3, window=126, ou_window=40, max_half_life=15.0, refit=10)

    def outputs(p: Panel) -> dict[str, np.ndarray]:
        out = template.build(inputs(p))
        return {"weights": out.weights, "signal": out.signal}

    # warm-ups that are not multiples of refit: the refit dates must not move
    report = scan_lookahead(
        outputs,
        panel,
        n_points=4,
        decisions=np.zeros(panel.n_times, dtype=bool),
        warmups=(13, 63),
        settle=200,
        min_history=200,
    )
    assert report.clean, report.findings[:3]
    assert report.warmups == (13, 63)


def test_future_shock_does_not_move_the_past(planted) -> None:
    panel, template, out = planted
    close = panel["close"].copy()
    close[900:] *= np.linspace(1.0, 3.0, panel.n_assets)  # a huge, factor-breaking shock
    shocked = Panel(panel.index, panel.assets, {"open": close, "close": close})
    again = template.build(inputs(shocked))
    np.testing.assert_allclose(again.weights[:900], out.weights[:900], rtol=1e-9, equal_nan=True)
    assert not np.allclose(again.signal[900:960], out.signal[900:960], equal_nan=True)


def test_both_engines_agree() -> None:
    panel = market(n_times=520, n_assets=24, seed=5)
    template = PcaStatArb(window=126, ou_window=40, max_half_life=15.0, n_factors=3, refit=10)
    w = template.build(inputs(panel)).weights
    assert np.isfinite(w).any(axis=1).sum() > 20
    kw = {"costs": CostModel(), "max_leverage": 2.0, "allow_short": True}
    a = simulate(panel, w, kind="weights", **kw)
    b = EventEngine(panel, TargetWeightsStrategy(w), **kw).run()
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 50


def test_pure_noise_loses_net_of_costs() -> None:
    panel = market(n_times=1000, seed=4, n_ou=0)  # every residual a random walk
    template = PcaStatArb(n_factors=3)
    out = template.build(inputs(panel))
    assert np.isfinite(out.weights).any()  # it trades: the half-life filter passes noise
    res = simulate(panel, out.weights, costs=CostModel(), max_leverage=2.0, allow_short=True)
    equity = res.equity.to_numpy()
    assert equity[-1] < equity[template.window]


def test_missing_data_and_listings() -> None:
    panel = market(n_times=900, n_assets=30, seed=6)
    close = panel["close"].copy()
    rng = np.random.default_rng(6)
    close[rng.random(close.shape) < 0.002] = np.nan  # scattered gaps
    close[:400, 5] = np.nan  # listed late
    close[600:, 20] = np.nan  # delisted
    gappy = Panel(panel.index, panel.assets, {"open": close, "close": close})
    template = PcaStatArb(n_factors=3, window=126, refit=10, ou_window=40, max_half_life=15.0)
    out = template.build(inputs(gappy))
    w = out.weights
    assert not (np.isfinite(w) & ~np.isfinite(close)).any()  # no order without a price
    # the late asset enters once it has a full window of returns (bars 401..526)
    assert np.flatnonzero(np.nan_to_num(w[:, 5]))[0] >= 400 + 126
    assert np.flatnonzero(np.nan_to_num(w[:, 20]))[-1] < 600
    assert min(r["assets"] for r in out.diagnostics["refits"]) >= min_assets(3)
    for t in (450, 599, 700):
        cut = template.build(inputs(gappy.iloc(slice(0, t + 1))))
        np.testing.assert_allclose(cut.weights, w[: t + 1], rtol=1e-9, atol=1e-12, equal_nan=True)


def test_refit_dates_are_fixed_by_the_calendar() -> None:
    days = pd.bdate_range("2015-01-01", periods=600, tz="UTC")
    rows = refit_rows(days, 252, 21)
    assert rows[0] == 252
    assert set(np.diff(rows[1:])) == {21}  # every 21 weekdays
    assert 0 < rows[1] - rows[0] <= 21
    for cut in (5, 63, 100):  # loading less history moves no later refit date
        later = days[cut:][refit_rows(days[cut:], 252, 21)[1:]]
        assert set(later) <= set(days[rows])
    # trading days with holidays: still about every 21 bars, never two in a row
    holidays = days.delete([30, 31, 290, 291, 292, 400])
    gaps = np.diff(refit_rows(holidays, 252, 21)[1:])
    assert gaps.min() >= 18  # three holidays in one bucket
    assert gaps.max() <= 21
    months = pd.date_range("2000-01-31", periods=60, freq="ME", tz="UTC")
    assert list(months[refit_rows(months, 24, 12)].year) == [2002, 2003, 2004]  # each January
    assert len(refit_rows(days[:252], 252, 21)) == 0


def test_state_machine_kernel_matches_its_reference() -> None:
    rng = np.random.default_rng(9)
    score = rng.normal(0.0, 1.3, (400, 7))
    score[rng.random(score.shape) < 0.05] = np.nan
    may_enter = rng.random(score.shape) < 0.8
    init = np.array([0, 1, -1, 0, 1, -1, 0], dtype=np.int8)
    args = (score, may_enter, init, 1.25, 0.75, 0.5)
    fast, slow = _run_states(*args), _run_states_py(*args)
    np.testing.assert_array_equal(fast, slow)
    assert (fast == 1).any()
    assert (fast == -1).any()


def test_state_machine_bands_by_hand() -> None:
    s = np.array([0.0, 1.3, 1.0, 0.7, -1.3, -0.6, -0.4, -2.0, np.nan, -2.0, 2.0, 1.5])
    enter = np.ones(len(s), dtype=bool)
    enter[11] = False
    flat = np.zeros(1, dtype=np.int8)
    got = _run_states_py(s[:, None], enter[:, None], flat, 1.25, 0.75, 0.5)[:, 0]
    # short at 1.3, held at 1.0, closed at 0.7; long at -1.3, held at -0.6, closed at -0.4;
    # long at -2.0, closed on the missing score, reopened; flipped at 2.0 (close, then
    # short); held at 1.5 though entries are barred there
    np.testing.assert_array_equal(got, [0, -1, -1, 0, 1, 1, 0, 1, 0, 1, -1, -1])


def test_gross_is_capped_by_the_spec_leverage(planted) -> None:
    panel, template, _ = planted
    out = template.build(inputs(panel.iloc(slice(0, 500)), max_weight=1.0, max_leverage=0.5))
    w = out.weights
    assert np.nansum(np.abs(w), axis=1).max() == pytest.approx(0.5)
    assert any("capped" in n for n in out.notes)


def test_bad_input_errors_clearly() -> None:
    with pytest.raises(BacktestError, match="needs at least 8 assets; the panel has 6"):
        PcaStatArb(n_factors=3).build(inputs(market(n_times=400, n_assets=6)))
    with pytest.raises(BacktestError, match="more than window=252 bars") as err:
        PcaStatArb(n_factors=3).build(inputs(market(n_times=200)))
    assert "shorten window" in err.value.hint
    bad = [
        ({"window": 10}, "greater than or equal to 20"),
        ({"window": 50, "ou_window": 60, "max_half_life": 10}, "must not exceed window"),
        ({"window": 40, "ou_window": 30, "n_factors": 20, "max_half_life": 10}, "exceed 2 . n_f"),
        ({"ou_window": 30}, "at most ou_window / 2"),
        ({"s_exit_short": 1.5}, "below s_entry"),
        ({"variance": 0.5}, "Extra inputs"),
    ]
    for params, match in bad:
        with pytest.raises(ValidationError, match=match):
            PcaStatArb(**params)


def test_backtest_panel_runs_the_template_on_both_engines() -> None:
    from alphaloop.backtest import backtest_panel
    from tests.research.synthetic import make_info

    panel = market(n_times=700, n_assets=24, seed=8)
    spec = StrategySpec.from_dict(
        {
            "name": "pca",
            "data": "synth",
            "template": {
                "template": "pca_stat_arb",
                "n_factors": 3,
                "window": 126,
                "ou_window": 40,
                "max_half_life": 15,
                "refit": 10,
            },
            **PcaStatArb().spec_defaults(),
            "fills": "next_close",
        }
    )
    info = make_info(panel)
    a = backtest_panel(spec, info, panel, "vectorized")
    b = backtest_panel(spec, info, panel, "event")
    x, y = a.simulation.equity.to_numpy(), b.simulation.equity.to_numpy()
    np.testing.assert_allclose(y, x, rtol=1e-9, atol=0)
    assert len(a.simulation.trades) == len(b.simulation.trades) > 50
    assert a.simulation.equity.index[0] >= panel.index[126]  # starts at the first s-score
    assert x[-1] > 1.1 * x[0]  # the planted residuals pay, net of the equity preset's costs
    recorded = a.assumptions["template"]
    assert recorded["template"] == "pca_stat_arb"
    assert recorded["diagnostics"]["refits"][0]["factors"] == 3


def test_spec_takes_the_template_and_needs_shorts() -> None:
    base = {"name": "p", "data": "sp500-stocks", "template": {"template": "pca_stat_arb"}}
    spec = StrategySpec.from_dict({**base, "limits": {"allow_short": True}})
    assert isinstance(spec.template, PcaStatArb)
    from alphaloop.errors import SpecError

    with pytest.raises((SpecError, ValidationError), match="allow_short"):
        StrategySpec.from_dict(base)
