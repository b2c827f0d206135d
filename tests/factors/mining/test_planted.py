"""Planted-alpha panels: shapes, determinism, and the planted factor's IC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from alphaloop.errors import MiningError
from alphaloop.factors.evaluate import evaluate
from alphaloop.factors.mining.planted import (
    PLANTED_EXPRESSIONS,
    _factor_at,
    daily_rank_ic,
    next_bar_label,
    planted_ic,
    planted_panel,
)

FIELDS = ("open", "high", "low", "close", "volume")
ALPHAS = ("corr_close_volume", "volatility_rank")


def test_same_seed_same_panel_other_seed_other_panel() -> None:
    a = planted_panel(alpha="volatility_rank", seed=3)
    b = planted_panel(alpha="volatility_rank", seed=3)
    c = planted_panel(alpha="volatility_rank", seed=4)
    assert a.panel.equals(b.panel)
    assert not np.allclose(a.panel["close"], c.panel["close"])


def test_shape_calendar_fields_and_metadata() -> None:
    pp = planted_panel(n_times=300, n_assets=25, alpha="corr_close_volume", horizon=3, seed=1)
    panel = pp.panel
    assert panel.shape == (300, 25)
    assert set(panel.field_names) == set(FIELDS)
    assert str(panel.index.tz) == "UTC"
    assert panel.index[0] == pd.Timestamp("2015-01-02", tz="UTC")
    assert bool(np.all(panel.index.day_of_week < 5))
    assert bool(panel.membership.all())
    assert pp.expression == "Corr($close, $volume, 10)"
    assert (pp.horizon, pp.seed, pp.strength, pp.alpha) == (3, 1, 0.1, "corr_close_volume")
    assert planted_panel(alpha="none").expression is None


@pytest.mark.parametrize("alpha", [*ALPHAS, "none"])
def test_prices_finite_positive_and_consistent_volumes_positive(alpha: str) -> None:
    panel = planted_panel(alpha=alpha, seed=2).panel
    o, h, lo, c, v = (panel[f] for f in FIELDS)
    for x in (o, h, lo, c, v):
        assert bool(np.all(np.isfinite(x)))
        assert bool(np.all(x > 0))
    assert bool(np.all(h >= np.maximum(o, c)))
    assert bool(np.all(lo <= np.minimum(o, c)))
    assert bool(np.all(v == np.rint(v)))
    starts = c[0]
    assert starts.max() / starts.min() > 5  # levels differ across assets
    # Corr(close, volume, 10) has cross-sectional dispersion on every full row
    corr = evaluate(panel, "Corr($close, $volume, 10)")["Corr($close, $volume, 10)"]
    assert float(np.nanstd(corr[20:], axis=1).min()) > 0.1


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_factor_ic_is_in_a_sensible_range(alpha: str, seed: int) -> None:
    pp = planted_panel(alpha=alpha, seed=seed, strength=0.1)
    assert 0.05 <= planted_ic(pp) <= 0.2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_signal_panel_has_ic_near_zero(seed: int) -> None:
    pp = planted_panel(alpha="none", seed=seed)
    for expression in PLANTED_EXPRESSIONS.values():
        if expression is not None:
            assert abs(planted_ic(pp, expression=expression)) < 0.04


def test_stronger_plant_gives_higher_ic() -> None:
    weak = planted_panel(alpha="corr_close_volume", seed=5, strength=0.05)
    strong = planted_panel(alpha="corr_close_volume", seed=5, strength=0.3)
    assert planted_ic(strong) > planted_ic(weak) + 0.1


@pytest.mark.parametrize("alpha", ALPHAS)
def test_factor_by_construction_ranks_like_the_evaluator(alpha: str) -> None:
    pp = planted_panel(n_times=120, n_assets=12, alpha=alpha, seed=7)
    assert pp.expression is not None
    ours = evaluate(pp.panel, {"f": pp.expression})["f"]
    log_close = np.log(pp.panel["close"])
    for s in (25, 60, 119):
        built = _factor_at(alpha, log_close, pp.panel["volume"], s, 10 if "corr" in alpha else 20)
        np.testing.assert_array_equal(rankdata(built), rankdata(ours[s]))


def test_rows_restrict_the_mean() -> None:
    pp = planted_panel(alpha="corr_close_volume", seed=0)
    values = evaluate(pp.panel, {"f": pp.expression})["f"]  # type: ignore[dict-item]
    daily = daily_rank_ic(values, next_bar_label(pp.panel["close"], pp.horizon))
    assert planted_ic(pp, slice(100, 400)) == pytest.approx(float(np.nanmean(daily[100:400])))
    assert planted_ic(pp, np.arange(500, 700)) == pytest.approx(float(np.nanmean(daily[500:700])))


def test_next_bar_label_by_hand() -> None:
    close = np.array([[10.0, 1.0], [11.0, 2.0], [12.0, -1.0], [13.0, 4.0], [14.0, 5.0]])
    label = next_bar_label(close, 2)
    np.testing.assert_allclose(label[0], [13.0 / 11.0 - 1.0, 1.0])
    assert np.isnan(label[1, 1])  # entry price not positive
    assert label[1, 0] == pytest.approx(14.0 / 12.0 - 1.0)
    assert bool(np.all(np.isnan(label[2:])))


def test_daily_rank_ic_matches_scipy_and_skips_thin_rows() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 8))
    label = values + rng.normal(size=(3, 8))
    values[0, 2] = values[0, 5]  # a tie
    label[1, :5] = np.nan  # 3 valid pairs: below min_assets
    ic = daily_rank_ic(values, label)
    assert ic[0] == pytest.approx(spearmanr(values[0], label[0]).statistic)
    assert np.isnan(ic[1])
    assert ic[2] == pytest.approx(spearmanr(values[2], label[2]).statistic)


def test_errors_say_what_is_wrong() -> None:
    with pytest.raises(MiningError, match="unknown planted alpha 'momentum'"):
        planted_panel(alpha="momentum")  # type: ignore[arg-type]
    with pytest.raises(MiningError, match="too short"):
        planted_panel(n_times=50)
    with pytest.raises(MiningError, match="at least 5 assets"):
        planted_panel(n_assets=3)
    with pytest.raises(MiningError, match="strength"):
        planted_panel(strength=1.0)
    with pytest.raises(MiningError, match="no planted factor"):
        planted_ic(planted_panel(alpha="none"))
