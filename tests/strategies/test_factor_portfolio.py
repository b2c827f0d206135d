"""The factor portfolio template: neutrality exact, planted factor traded, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest import backtest_panel
from alphaloop.backtest.portfolio import rebalance_rows
from alphaloop.backtest.spec import Rebalance, StrategySpec
from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.data.bundled import bundled_file
from alphaloop.errors import BacktestError, SpecError
from alphaloop.strategies import FactorPortfolio, template_class
from alphaloop.strategies._factor_kernel import factor_rows, factor_rows_py
from alphaloop.strategies.factor_portfolio import SP500_SECTORS
from tests.research.synthetic import make_info
from tests.strategies.panels import build, half_return, run_both

N_ASSETS = 20
GROUPS = {f"A{j:02d}": f"g{j % 4}" for j in range(N_ASSETS)}


def factor_panel(seed: int, *, beta: float = 0.003, n_times: int = 800) -> tuple[Panel, np.ndarray]:
    """A panel and a persistent score known at bar t's close that moves the return after t.

    Groups (``GROUPS``) carry their own score offsets and return shocks, so a
    book that is not group neutral takes group bets.
    """
    rng = np.random.default_rng(seed)
    score = np.zeros((n_times, N_ASSETS))
    for t in range(1, n_times):
        score[t] = 0.97 * score[t - 1] + np.sqrt(1 - 0.97**2) * rng.standard_normal(N_ASSETS)
    group = np.array([j % 4 for j in range(N_ASSETS)])
    score += np.array([-1.0, -0.3, 0.3, 1.0])[group]
    shocks = rng.normal(0.0, 0.01, (n_times, 4))[:, group]
    rets = 0.012 * rng.standard_normal((n_times, N_ASSETS)) + shocks
    rets[1:] += beta * (score[:-1] - score[:-1].mean(axis=1, keepdims=True))
    close = 40.0 * np.cumprod(1.0 + rets, axis=0)
    open_ = np.vstack([close[:1], close[:-1]])
    index = pd.bdate_range("2015-01-02", periods=n_times, tz="UTC")
    fields = {"open": open_, "close": close, "volume": np.full(close.shape, 5e6)}
    signal = score.copy()
    signal[:20] = np.nan  # a warm-up
    return Panel(index, list(GROUPS), fields), signal


def weekly(panel: Panel) -> np.ndarray:
    return rebalance_rows(panel.index, Rebalance(frequency="weekly"))


def group_net(weights: np.ndarray, groups: dict[str, str], assets: list[str]) -> np.ndarray:
    names = sorted(set(groups.values()))
    return np.stack(
        [weights[:, [groups.get(a) == g for a in assets]].sum(axis=1) for g in names], axis=1
    )


# -- the book ----------------------------------------------------------------------


@pytest.mark.parametrize("weighting", ["equal", "signal"])
def test_group_neutral_rows_are_exactly_neutral_per_group(weighting):
    panel, signal = factor_panel(1)
    signal[300:, 0] = np.nan  # group g0 keeps 4 assets from bar 300
    groups = dict(GROUPS)
    groups["A03"] = "lonely"  # a group of one: never held
    del groups["A07"]  # in no group: never held
    template = FactorPortfolio(
        neutral="groups", groups=groups, weighting=weighting, quantile=0.25, gross=1.5
    )
    out = build(template, panel, signal=signal, rebalance=weekly(panel), max_leverage=2.0)
    rows = np.flatnonzero(~np.isnan(out.weights).all(axis=1))
    w = out.weights[rows]
    assert rows.size > 100
    assert np.isfinite(w).all()
    np.testing.assert_allclose(group_net(w, groups, panel.assets), 0.0, atol=1e-15)
    np.testing.assert_allclose(np.abs(w).sum(axis=1), 1.5, rtol=1e-12)
    assert (w[:, 3] == 0).all()
    assert (w[:, 7] == 0).all()
    # every group of >= 2 assets has one long and one short (quantile 0.25 of 4 or 5 is 1)
    for g in ("g0", "g1", "g2", "g3"):
        cols = [groups.get(a) == g for a in panel.assets]
        assert ((w[:, cols] > 0).sum(axis=1) == 1).all()
        assert ((w[:, cols] < 0).sum(axis=1) == 1).all()
    assert out.diagnostics["unmapped_assets"] == ["A07"]


def test_market_neutral_long_only_and_caps():
    panel, signal = factor_panel(2)
    kw = {"signal": signal, "rebalance": weekly(panel)}
    w = build(FactorPortfolio(quantile=0.2), panel, **kw).weights
    rows = ~np.isnan(w).all(axis=1)
    np.testing.assert_allclose(w[rows].sum(axis=1), 0.0, atol=1e-15)
    assert ((w[rows] > 0).sum(axis=1) == 4).all()  # 20% of 20 assets
    np.testing.assert_allclose(w[rows][w[rows] > 0], 0.125)
    longs = build(FactorPortfolio(long_short=False, neutral="none"), panel, **kw).weights
    assert (longs[rows] >= 0).all()
    np.testing.assert_allclose(longs[rows].sum(axis=1), 1.0)
    capped = build(
        FactorPortfolio(neutral="groups", groups=GROUPS, weighting="signal", quantile=0.4),
        panel,
        max_weight=0.08,
        **kw,
    ).weights
    assert np.nanmax(np.abs(capped)) <= 0.08 + 1e-15
    np.testing.assert_allclose(group_net(capped[rows], GROUPS, panel.assets), 0.0, atol=1e-15)


def test_signal_weights_grow_with_distance_from_the_median():
    panel, signal = factor_panel(3)
    out = build(
        FactorPortfolio(weighting="signal", quantile=0.5),
        panel,
        signal=signal,
        rebalance=weekly(panel),
    )
    t = np.flatnonzero(~np.isnan(out.weights).all(axis=1))[5]
    s, w = signal[t], out.weights[t]
    distance = np.abs(s - np.median(s))
    for leg in (w > 0, w < 0):
        np.testing.assert_allclose(np.abs(w[leg]) / distance[leg], 0.5 / distance[leg].sum())


def test_kernel_matches_its_python_twin():
    rng = np.random.default_rng(8)
    signal = rng.standard_normal((60, 15))
    ok = rng.random((60, 15)) < 0.85
    rows = np.flatnonzero(rng.random(60) < 0.5)
    group_of = rng.integers(-1, 4, 15)
    for neutral, long_short, by_signal in [(0, True, True), (1, True, False), (2, True, True),
                                           (0, False, True)]:  # fmt: skip
        a, b = np.full((60, 15), np.nan), np.full((60, 15), np.nan)
        args = (signal, ok, rows, group_of, 4, 0.3, long_short, neutral, by_signal, 1.0, 0.2)
        factor_rows(*args, a)
        factor_rows_py(*args, b)
        np.testing.assert_array_equal(a, b)


# -- planted factor, point in time, engines -----------------------------------------


@pytest.mark.parametrize("neutral", ["market", "groups"])
def test_planted_factor_earns(neutral):
    panel, signal = factor_panel(4)
    groups = GROUPS if neutral == "groups" else None
    out = build(
        FactorPortfolio(neutral=neutral, groups=groups),
        panel,
        signal=signal,
        rebalance=weekly(panel),
    )
    result = simulate(panel, out.weights, kind="weights", allow_short=True)  # default costs
    assert half_return(result) > 0.05
    # the same book on a signal that knows nothing: no such result
    noise = np.random.default_rng(0).standard_normal(signal.shape)
    blind = build(
        FactorPortfolio(neutral=neutral, groups=groups),
        panel,
        signal=noise,
        rebalance=weekly(panel),
    )
    blind_result = simulate(panel, blind.weights, kind="weights", allow_short=True)
    assert half_return(blind_result) < half_return(result) - 0.05


def test_group_neutral_book_sheds_the_group_bet():
    panel, signal = factor_panel(5, beta=0.0)
    kw = {"signal": signal, "rebalance": weekly(panel)}
    plain = build(FactorPortfolio(neutral="market"), panel, **kw).weights
    neutral = build(FactorPortfolio(neutral="groups", groups=GROUPS), panel, **kw).weights
    rows = ~np.isnan(plain).all(axis=1)
    # the score's group offsets make the plain book long g3 and short g0
    assert group_net(plain[rows], GROUPS, panel.assets)[:, 3].mean() > 0.2
    assert np.abs(group_net(neutral[rows], GROUPS, panel.assets)).max() < 1e-15


def test_rows_up_to_t_use_bars_up_to_t():
    panel, signal = factor_panel(6, n_times=300)
    template = FactorPortfolio(neutral="groups", groups=GROUPS, weighting="signal")
    full = build(template, panel, signal=signal, rebalance=weekly(panel))
    for t in (40, 150, 260):
        cut_panel = panel.iloc(slice(0, t + 1))
        cut = build(template, cut_panel, signal=signal[: t + 1], rebalance=weekly(cut_panel))
        np.testing.assert_array_equal(cut.weights, full.weights[: t + 1])
        np.testing.assert_array_equal(cut.signal, full.signal[: t + 1])


@pytest.mark.parametrize(
    "template",
    [
        FactorPortfolio(),
        FactorPortfolio(neutral="groups", groups=GROUPS, weighting="signal"),
        FactorPortfolio(long_short=False, neutral="none", quantile=0.3),
    ],
    ids=["market", "groups", "long-only"],
)
def test_both_engines_agree(template):
    panel, signal = factor_panel(7, n_times=400)
    out = build(template, panel, signal=signal, rebalance=weekly(panel))
    a, b = run_both(panel, out.weights, allow_short=True)
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 0


# -- errors, spec integration, bundled groups ---------------------------------------


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"neutral": "groups"}, "needs groups"),
        ({"long_short": False}, "needs long_short"),
        ({"groups": {"A": "x"}}, "only read with neutral: groups"),
        ({"neutral": "groups", "groups": {}}, "empty"),
        ({"neutral": "groups", "groups": "nasdaq-sectors"}, "groups"),
        ({"quantile": 0.6}, "quantile"),
        ({"weighting": "inverse_volatility"}, "weighting"),
    ],
)
def test_bad_params_are_refused(params, match):
    with pytest.raises(ValidationError, match=match):
        FactorPortfolio(**params)


def test_build_errors():
    panel, signal = factor_panel(1, n_times=60)
    with pytest.raises(SpecError, match="signal"):
        build(FactorPortfolio(), panel)
    with pytest.raises(SpecError, match="allow_short"):
        build(FactorPortfolio(), panel, signal=signal, allow_short=False)
    with pytest.raises(BacktestError, match="none of the dataset's assets"):
        build(FactorPortfolio(neutral="groups", groups={"ZZZ": "x"}), panel, signal=signal)


def test_spec_takes_the_template_with_its_signal():
    template = template_class("factor_portfolio")(neutral="groups", groups="sp500-sectors")
    defaults = template.spec_defaults()
    spec = StrategySpec.from_dict(
        {
            "data": "sp500-stocks",
            "template": template.model_dump(mode="json"),
            "benchmark": "factor-etfs:MTUM",
            **defaults,
        }
    )
    assert spec.template == template
    assert spec.signal is not None
    with pytest.raises(SpecError, match="reads the spec"):
        StrategySpec.from_dict(
            {
                "data": "d",
                "template": {"template": "factor_portfolio"},
                "limits": defaults["limits"],
            }
        )


def test_sp500_sectors_cover_the_bundled_stocks():
    path = bundled_file("skfolio", "datasets/data/sp500_dataset.csv.gz")
    tickers = set(pd.read_csv(path, nrows=1).columns) - {"Date"}
    assert tickers == set(SP500_SECTORS)
    sizes = pd.Series(SP500_SECTORS).value_counts()
    assert sizes["health_care"] == 5
    assert sizes["industrials"] == 1  # GE alone: left out of a group-neutral book


@pytest.mark.parametrize("neutral", ["market", "groups"])
def test_backtest_panel_runs_the_template_in_both_engines(neutral):
    panel, signal = factor_panel(9, n_times=500)
    fields = {k: np.asarray(panel[k]) for k in panel.field_names}
    fields["score"] = signal
    panel = Panel(panel.index, panel.assets, fields)
    template = FactorPortfolio(neutral=neutral, groups=GROUPS if neutral == "groups" else None)
    spec = StrategySpec.from_dict(
        {
            "data": "synth",
            "signal": {"expr": "$score"},
            "template": template.model_dump(mode="json"),
            "rebalance": {"frequency": "weekly"},
            "limits": {"allow_short": True},
        }
    )
    info = make_info(panel)
    vec = backtest_panel(spec, info, panel, "vectorized")
    evt = backtest_panel(spec, info, panel, "event")
    a, b = vec.simulation.equity.to_numpy(), evt.simulation.equity.to_numpy()
    assert len(a) == len(b) > 400
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=0)
    assert a[-1] > a[0]  # the planted score pays
    assert vec.assumptions["template"]["template"] == "factor_portfolio"
    # the traded book is the template's: gross 1 once the first rebalance has filled
    gross = np.asarray(vec.simulation.gross_exposure, dtype=np.float64)
    assert 0.9 < np.median(gross[10:]) < 1.1
