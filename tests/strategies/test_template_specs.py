"""A spec with a template: what it must and must not carry, its identity, its book's checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.backtest import StrategySpec, backtest_panel, build_book
from alphaloop.data import Panel
from alphaloop.errors import BacktestError, SpecError
from alphaloop.strategies import CrossSectionalMomentum, TemplateOutput, TemplateParams
from tests.research.synthetic import make_info

XS = {"template": "xs_momentum", "lookback": 126, "skip": 21}


def spec(**fields: object) -> StrategySpec:
    return StrategySpec.from_dict({"data": "synth", **fields})


def panel(n_times: int = 400, n_assets: int = 6, seed: int = 0) -> Panel:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2015-01-01", periods=n_times, freq="B", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_times, n_assets)), axis=0))
    return Panel(index, [f"A{j}" for j in range(n_assets)], {"close": close})


def test_a_spec_needs_a_signal_or_a_template() -> None:
    with pytest.raises(SpecError, match=r"needs a signal .* or a template"):
        spec()
    with pytest.raises(SpecError, match="makes its own signal; remove signal"):
        spec(template=XS, signal={"expr": "$close"})
    with pytest.raises(SpecError, match="xs_momentum"):
        spec(template={"template": "nope"})
    assert spec(template=XS).describe_signal() == "xs_momentum(lookback=126, skip=21)"


def test_template_fields_are_part_of_the_identity_and_old_hashes_stay() -> None:
    a, b = spec(template=XS), spec(template={**XS, "lookback": 63})
    assert a.hash != b.hash
    plain = spec(signal={"expr": "$close"})
    assert "template" not in plain.canonical()
    assert "drift" not in plain.canonical()["rebalance"]
    assert spec(signal={"expr": "$close"}, rebalance={"drift": 0.05}).hash != plain.hash
    assert StrategySpec.from_dict(a.model_dump(mode="json")).hash == a.hash


def test_neighbours_step_along_the_grid() -> None:
    names = {n.describe() for n in CrossSectionalMomentum(lookback=126, skip=21).neighbours()}
    assert names == {
        "xs_momentum(lookback=63, skip=21)",
        "xs_momentum(lookback=189, skip=21)",
        "xs_momentum(lookback=126, skip=5)",
    }
    # a variant that fails validation (skip above lookback) is left out
    assert all(
        n.skip < n.lookback for n in CrossSectionalMomentum(lookback=63, skip=21).neighbours()
    )


def test_the_cross_sectional_momentum_score_skips_the_recent_bars() -> None:
    p = panel()
    signal, out = build_book(spec(template=XS), p, None, periods_per_year=252)
    close = p["close"]
    t = 300
    assert out is not None
    assert out.kind == "signal"
    assert signal[t, 2] == pytest.approx(close[t - 21, 2] / close[t - 126, 2] - 1)
    assert np.isnan(signal[125]).all()
    assert np.isfinite(signal[126]).all()


class _BadShape(TemplateParams):
    template: str = "bad"

    def build(self, inputs):
        return TemplateOutput(kind="weights", signal=np.zeros((3, 3)), weights=np.zeros((3, 3)))


def test_a_book_that_does_not_fit_the_panel_is_refused() -> None:
    s = spec(template=XS).model_copy(update={"template": _BadShape()})
    with pytest.raises(BacktestError, match=r"returned signal of shape \(3, 3\)"):
        build_book(s, panel(), None, periods_per_year=252)


def test_backtest_panel_runs_a_template_in_both_engines() -> None:
    p = panel(n_times=600)
    s = spec(template=XS, portfolio={"method": "top_k", "k": 2}, fills="next_close")
    vec = backtest_panel(s, make_info(p), p, "vectorized")
    evt = backtest_panel(s, make_info(p), p, "event")
    np.testing.assert_allclose(vec.simulation.equity, evt.simulation.equity, rtol=1e-12)
    assert vec.simulation.equity.index[0] == p.index[126]


def test_a_book_building_template_refuses_portfolio_fields_it_would_ignore() -> None:
    mm = {"template": "market_making"}
    shorts = {"allow_short": True}
    assert spec(template=mm, limits=shorts).uses_portfolio_rule is False
    with pytest.raises(SpecError, match="builds its own book; portfolio applies to signals only"):
        spec(template=mm, limits=shorts, portfolio={"method": "top_k", "k": 3})
    with pytest.raises(SpecError, match="exits applies to signals only"):
        spec(template=mm, limits=shorts, exits={"hold_bars": 3})
