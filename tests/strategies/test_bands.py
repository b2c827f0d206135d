"""Bollinger, RSI and Donchian templates: planted effects traded, noise not, point in time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from alphaloop.backtest import backtest_panel
from alphaloop.backtest.spec import StrategySpec
from alphaloop.backtest.vectorized import simulate
from alphaloop.data import Panel
from alphaloop.errors import SpecError
from alphaloop.strategies import Bollinger, Donchian, RelativeStrength, template_class
from alphaloop.strategies._band_kernel import band_states, band_states_py
from alphaloop.strategies.bands import _rsi_py, rolling_zscore, wilder_rsi
from tests.research.synthetic import make_info
from tests.strategies.panels import (
    build,
    half_return,
    ohlc_panel,
    ou_log_prices,
    random_walk,
    run_both,
    trending,
)

TEMPLATES = (
    Bollinger(),
    Bollinger(long_short=True, stop_z=3.5),
    RelativeStrength(),
    RelativeStrength(long_short=True, window=5, entry_rsi=20.0),
    Donchian(),
    Donchian(long_short=True, entry_window=55, exit_window=20),
)


def sharpe(result) -> float:
    equity = result.equity.to_numpy()
    r = equity[1:] / equity[:-1] - 1.0
    return float(r.mean() / r.std() * np.sqrt(252.0))


# -- indicators --------------------------------------------------------------------


def test_zscore_by_hand():
    close = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan], [6.0], [7.0], [8.0]])
    z = rolling_zscore(close, 3)
    # window (2, 3, 4): mean 3, population std sqrt(2/3)
    assert z[3, 0] == pytest.approx(1.0 / np.sqrt(2.0 / 3.0))
    assert np.isnan(z[:2, 0]).all()
    assert np.isnan(z[4:7, 0]).all()
    assert z[7, 0] == pytest.approx(z[3, 0])


def test_wilder_rsi_by_hand():
    close = np.array([[10.0], [11.0], [10.5], [11.5], [11.0]])
    rsi = wilder_rsi(close, 2)
    # first averages over changes +1, -0.5: gain 0.5, loss 0.25
    assert np.isnan(rsi[:2, 0]).all()
    assert rsi[2, 0] == pytest.approx(100.0 * 0.5 / 0.75)
    gain, loss = (0.5 + 1.0) / 2, 0.25 / 2
    assert rsi[3, 0] == pytest.approx(100.0 * gain / (gain + loss))
    gain, loss = gain / 2, (loss + 0.5) / 2
    assert rsi[4, 0] == pytest.approx(100.0 * gain / (gain + loss))


def test_rsi_kernel_matches_its_python_twin():
    rng = np.random.default_rng(4)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (300, 4)), axis=0))
    close[rng.random(close.shape) < 0.02] = np.nan
    twin = np.full(close.shape, np.nan)
    _rsi_py(close, 9, twin)
    np.testing.assert_array_equal(wilder_rsi(close, 9), twin)
    assert np.isfinite(twin).mean() > 0.5


def test_rsi_forgets_the_loaded_history_within_its_warmup():
    close = np.asarray(ohlc_panel(random_walk(900, 3, 6), 6)["close"])
    template = RelativeStrength(window=14)
    full = wilder_rsi(close, template.window)
    cut = 100
    late = wilder_rsi(close[cut:], template.window)
    settled = cut + template.warmup()
    np.testing.assert_allclose(late[settled - cut :], full[settled:], rtol=1e-9, atol=0)
    assert np.abs(late[20] - full[cut + 20]).max() > 1e-6  # before it, the start still shows


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.describe()[:30])
def test_warmup_is_the_first_row_with_a_signal(template):
    panel = ohlc_panel(random_walk(300, 3, 1), 1)
    out = build(template, panel)
    first = np.flatnonzero(np.isfinite(out.signal).any(axis=1))[0]
    if isinstance(template, RelativeStrength):
        # Wilder's smoothing: the first value at `window`, settled after the warm-up
        assert first == template.window
        assert template.warmup() > 20 * template.window
    else:
        assert first == template.warmup()


def test_state_kernel_matches_its_python_twin():
    rng = np.random.default_rng(3)
    shape = (400, 6)
    arrays = [rng.random(shape) < p for p in (0.9, 0.02, 0.1, 0.1, 0.05, 0.1, 0.1, 0.05)]
    for shorts in (False, True):
        a = np.zeros(shape, dtype=np.int8)
        b = np.zeros(shape, dtype=np.int8)
        band_states(*arrays, shorts, a)
        band_states_py(*arrays, shorts, b)
        np.testing.assert_array_equal(a, b)
        assert (a != 0).any()
        assert (a == -1).any() == shorts


def test_stop_disarms_until_the_indicator_leaves_the_entry_zone():
    # bars: enter, stop, still in the zone (no re-entry), out of the zone, back in (re-entry)
    entry = np.array([[True], [True], [True], [False], [True]])
    stop = np.array([[False], [True], [False], [False], [False]])
    no = np.zeros((5, 1), dtype=bool)
    out = np.zeros((5, 1), dtype=np.int8)
    band_states_py(~no, no, entry, no, stop, no, no, no, False, out)
    assert out[:, 0].tolist() == [1, 0, 0, 0, 1]


# -- planted effects and noise ------------------------------------------------------


@pytest.mark.parametrize("template", [Bollinger(), RelativeStrength(window=5, entry_rsi=25.0)])
@pytest.mark.parametrize("seed", [1, 2])
def test_mean_reversion_earns_on_an_ou_price(template, seed):
    panel = ohlc_panel(ou_log_prices(1000, 5, seed), seed)
    out = build(template, panel)
    result = simulate(panel, out.weights, kind="weights")  # default costs, next-open fills
    assert out.diagnostics["entries"] > 20
    assert half_return(result) > 0.02
    assert sharpe(result) > 0.5


@pytest.mark.parametrize("seed", [1, 2])
def test_donchian_earns_on_trends(seed):
    panel = ohlc_panel(trending(1000, 5, seed), seed)
    out = build(Donchian(long_short=True), panel)
    result = simulate(panel, out.weights, kind="weights", allow_short=True)
    assert half_return(result) > 0.05
    assert sharpe(result) > 0.5


@pytest.mark.parametrize("template", [Bollinger(), RelativeStrength(), Donchian()])
def test_no_consistent_edge_on_random_walks(template):
    sharpes = []
    for seed in range(10):
        panel = ohlc_panel(random_walk(750, 5, 100 + seed), seed)
        out = build(template, panel)
        sharpes.append(sharpe(simulate(panel, out.weights, kind="weights")))
    assert -0.7 < np.mean(sharpes) < 0.5, sharpes
    assert np.mean(np.array(sharpes) > 0) <= 0.8, sharpes


# -- point in time -----------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.describe()[:30])
def test_rows_up_to_t_use_bars_up_to_t(template):
    panel = ohlc_panel(ou_log_prices(400, 4, 7), 7)
    full = build(template, panel)
    for t in (60, 150, 299):
        cut = build(template, panel.iloc(slice(0, t + 1)))
        np.testing.assert_array_equal(cut.weights, full.weights[: t + 1])
        np.testing.assert_array_equal(cut.signal, full.signal[: t + 1])


def test_donchian_channel_never_holds_the_current_bar():
    panel = ohlc_panel(trending(400, 3, 4), 4)
    base = build(Donchian(long_short=True), panel)
    for t in (100, 200, 300):
        fields = {k: np.array(panel[k]) for k in panel.field_names}
        fields["high"][t] *= 1.5  # a spike in bar t's own high
        fields["low"][t] *= 0.5
        spiked = build(Donchian(long_short=True), Panel(panel.index, panel.assets, fields))
        np.testing.assert_array_equal(spiked.weights[: t + 1], base.weights[: t + 1])
        np.testing.assert_array_equal(spiked.signal[: t + 1], base.signal[: t + 1])
        assert not np.array_equal(spiked.signal[t + 1 :], base.signal[t + 1 :], equal_nan=True)


def test_donchian_enters_on_a_close_above_the_previous_highs():
    # a steady climb: each close tops every earlier high, never its own bar's high
    close = np.linspace(1.0, 2.0, 60)[:, None]
    index = pd.bdate_range("2020-01-01", periods=60, tz="UTC")
    fields = {"close": close, "open": close, "high": close * 1.001, "low": close * 0.999}
    out = build(Donchian(entry_window=5, exit_window=3), Panel(index, ["X"], fields))
    first = np.flatnonzero(np.nan_to_num(out.weights[:, 0]) > 0)[0]
    assert first == 5  # the first bar with 5 bars before it


def test_close_only_data_uses_the_close_for_channels():
    panel = ohlc_panel(trending(300, 2, 5), 5)
    close_only = Panel(panel.index, panel.assets, {"close": np.array(panel["close"])})
    out = build(Donchian(), close_only)
    assert out.diagnostics["channel_fields"].startswith("close")
    assert np.isfinite(out.weights).any()


# -- the book ----------------------------------------------------------------------


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.describe()[:30])
def test_weights_are_slots_emitted_on_changes(template):
    panel = ohlc_panel(ou_log_prices(600, 5, 3) + trending(600, 5, 3) * 0.3, 3)
    out = build(template, panel, max_leverage=0.8, max_weight=0.1)
    w = out.weights
    rows = ~np.isnan(w).all(axis=1)
    assert rows.any()
    assert (~rows).any()
    assert np.isfinite(w[rows]).all()  # full rows where a state changes
    held = np.abs(w[rows])
    assert set(np.round(np.unique(held), 12)) <= {0.0, 0.1}  # min(0.8 / 5, max_weight)
    assert (held.sum(axis=1) <= 0.8 + 1e-12).all()
    changed = np.flatnonzero(rows)
    assert (np.diff(np.sign(w[changed]), axis=0) != 0).any(axis=1).all()
    assert ((w < 0).any()) == template.shorts


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.describe()[:30])
@pytest.mark.parametrize("fills", ["next_open", "next_close"])
def test_both_engines_agree(template, fills):
    panel = ohlc_panel(ou_log_prices(500, 4, 9) + trending(500, 4, 9) * 0.2, 9)
    out = build(template, panel)
    a, b = run_both(panel, out.weights, allow_short=True, fills=fills)
    np.testing.assert_allclose(b.equity.to_numpy(), a.equity.to_numpy(), rtol=1e-9, atol=0)
    assert len(a.trades) == len(b.trades) > 0


def test_missing_closes_hold_the_state():
    log = ou_log_prices(300, 3, 2)
    panel = ohlc_panel(log, 2)
    fields = {k: np.array(panel[k]) for k in panel.field_names}
    for values in fields.values():
        values[150:153, 1] = np.nan
    gappy = Panel(panel.index, panel.assets, fields)
    out = build(Bollinger(window=10, entry_z=1.5), gappy)
    assert np.isnan(out.weights[150:153, 1]).all()
    assert np.isnan(out.signal[150:162, 1]).all()  # windows holding the gap give no z-score


# -- errors and spec integration ----------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "params", "field"),
    [
        (Bollinger, {"exit_z": 2.5}, "exit_z"),
        (Bollinger, {"exit_z": -2.0}, "exit_z"),
        (Bollinger, {"stop_z": 1.5}, "stop_z"),
        (Bollinger, {"window": 1}, "window"),
        (RelativeStrength, {"entry_rsi": 55.0}, "entry_rsi"),
        (RelativeStrength, {"entry_rsi": 40.0, "exit_rsi": 35.0}, "exit_rsi"),
        (Donchian, {"exit_window": 0}, "exit_window"),
        (Donchian, {"gross": 0.0}, "gross"),
        (Donchian, {"lookback": 20}, "lookback"),
    ],
)
def test_bad_params_are_refused(cls, params, field):
    with pytest.raises(ValidationError, match=field):
        cls(**params)


def test_shorts_need_allow_short():
    panel = ohlc_panel(ou_log_prices(100, 2, 1), 1)
    with pytest.raises(SpecError, match="allow_short"):
        build(Bollinger(long_short=True), panel, allow_short=False)
    with pytest.raises(Exception, match="allow_short"):
        StrategySpec.from_dict({"data": "d", "template": {"template": "rsi", "long_short": True}})


@pytest.mark.parametrize("name", ["bollinger", "rsi", "donchian"])
def test_registered_with_spec_defaults(name):
    cls = template_class(name)
    template = cls(long_short=True)
    defaults = template.spec_defaults()
    assert defaults["rebalance"] == {"frequency": "daily"}
    spec = StrategySpec.from_dict(
        {"data": "d", "template": template.model_dump(mode="json"), **defaults}
    )
    assert spec.template == template
    assert not spec.uses_portfolio_rule
    assert cls.PITFALLS
    assert cls.ASSUMES
    assert cls.GRID
    for param, values in cls.GRID.items():
        assert list(values) == sorted(values)
        cls(**{param: values[0]})


@pytest.mark.parametrize("name", ["bollinger", "rsi", "donchian"])
def test_backtest_panel_runs_the_template_in_both_engines(name):
    panel = ohlc_panel(ou_log_prices(700, 4, 12) + trending(700, 4, 12) * 0.3, 12)
    template = template_class(name)(long_short=True)
    spec = StrategySpec.from_dict(
        {
            "data": "synth",
            "template": template.model_dump(mode="json"),
            "start": "2013-01-02",
            **template.spec_defaults(),
        }
    )
    info = make_info(panel)
    vec = backtest_panel(spec, info, panel, "vectorized")
    evt = backtest_panel(spec, info, panel, "event")
    a, b = vec.simulation.equity.to_numpy(), evt.simulation.equity.to_numpy()
    assert len(a) == len(b) > 300
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=0)
    assert len(vec.simulation.trades) == len(evt.simulation.trades) > 10
    record = vec.assumptions["template"]
    assert record["template"] == name
    assert vec.simulation.equity.index[0] >= pd.Timestamp("2013-01-02", tz="UTC")


def test_a_book_opened_before_the_start_is_held_from_the_first_bar():
    panel = ohlc_panel(ou_log_prices(700, 4, 21), 21)
    template = Bollinger(window=10, entry_z=1.0, exit_z=-0.5)
    book = build(template, panel)
    states = np.sign(pd.DataFrame(book.weights).ffill().fillna(0.0).to_numpy())
    # a start bar where some slot is open and no state changes
    quiet = np.isnan(book.weights).all(axis=1) & (states != 0).any(axis=1)
    row = int(np.flatnonzero(quiet[300:])[0]) + 300
    spec = StrategySpec.from_dict(
        {
            "data": "synth",
            "template": template.model_dump(mode="json"),
            "start": str(panel.index[row].date()),
            "fills": "next_close",
            **template.spec_defaults(),
        }
    )
    result = backtest_panel(spec, make_info(panel), panel, "vectorized")
    first = result.simulation.trades
    assert pd.Timestamp(first["time"].iloc[0]) == panel.index[row + 1]
    held = (states[row] != 0).sum()
    exposure = np.asarray(result.simulation.gross_exposure, dtype=np.float64)
    assert exposure[1] == pytest.approx(held * 0.25, rel=0.05)
