"""Parity with alphalens-reloaded on bundled data (sp500-stocks, 20-day momentum).

alphalens builds its forward returns as ``prices.ffill().pct_change(h).shift(-h)``
and keeps a (date, asset) row only when the factor and *every* requested
horizon's return exist. The bundled prices have no gaps, so the forward
returns are identical to ours; the only difference is that alphalens, asked
for horizons (1, 5), also drops the last 4 dates where the 1-period return
exists but the 5-period one does not. Every comparison is therefore made on
the dates both sides have.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.factors.analysis import (
    assign_quantiles,
    factor_rank_autocorrelation,
    forward_returns,
    information_coefficient,
    quantile_returns,
    quantile_turnover,
    usable_mask,
)

al_utils = pytest.importorskip("alphalens.utils")
al_perf = pytest.importorskip("alphalens.performance")

# alphalens-reloaded 0.5.1 uses pandas APIs that pandas 3.1 deprecates
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:alphalens")

TOL = 1e-10
HORIZONS = {1: "1D", 5: "5D"}


@dataclass
class Case:
    factor: np.ndarray
    close: np.ndarray
    index: pd.DatetimeIndex
    factor_data: pd.DataFrame  # alphalens's clean factor and forward returns
    their_ic: pd.DataFrame  # alphalens's rank IC per date, one column per horizon

    def ours(self, horizon: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fwd = forward_returns(self.close, horizon)
        mask = usable_mask(self.factor, fwd, min_assets=5)
        return fwd, mask, assign_quantiles(self.factor, 5, mask=mask)

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.factor_data.index.get_level_values("date").unique())


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    ws = Workspace(tmp_path_factory.mktemp("parity") / "ws")
    panel = ws.data.load("sp500-stocks", start="2015-01-01")
    ws.close()
    prices = panel.frame("close").rename_axis(index="date", columns="asset")
    momentum = prices / prices.shift(20) - 1.0
    stacked = momentum.stack().rename_axis(["date", "asset"])
    factor_data = al_utils.get_clean_factor_and_forward_returns(
        stacked,
        prices,
        periods=tuple(HORIZONS),
        quantiles=5,
        filter_zscore=None,  # its z-score filter uses the whole sample (lookahead)
        max_loss=1.0,  # keep every date; we compare on common dates
    )
    their_ic = al_perf.factor_information_coefficient(factor_data)
    return Case(momentum.to_numpy(), prices.to_numpy(), panel.index, factor_data, their_ic)


def _common(a: pd.Series, b: pd.Series) -> pd.Index:
    common = a.dropna().index.intersection(b.dropna().index)
    assert len(common) > 1900  # 2015-2022 daily, minus warm-up and the end
    return common


@pytest.mark.parametrize("horizon", list(HORIZONS))
def test_rank_ic_per_date_equals_alphalens(case: Case, horizon: int):
    theirs = case.their_ic[HORIZONS[horizon]]
    fwd, mask, _ = case.ours(horizon)
    ours = information_coefficient(case.factor, fwd, "spearman", index=case.index, membership=mask)
    common = _common(theirs, ours)
    assert len(common) == theirs.notna().sum()  # no date of theirs is missing from ours
    assert np.abs(ours[common] - theirs[common]).max() < TOL


@pytest.mark.parametrize("horizon", list(HORIZONS))
def test_quantile_labels_equal_alphalens(case: Case, horizon: int):
    _, _, labels = case.ours(horizon)
    theirs = (
        case.factor_data["factor_quantile"]
        .unstack()
        .reindex(index=case.dates)
        .to_numpy(dtype=float)
    )
    rows = case.index.get_indexer(case.dates)
    assert np.array_equal(labels[rows], theirs)


@pytest.mark.parametrize("horizon", list(HORIZONS))
def test_mean_return_by_quantile_equals_alphalens(case: Case, horizon: int):
    col = HORIZONS[horizon]
    by_date, _ = al_perf.mean_return_by_quantile(case.factor_data, by_date=True, demeaned=False)
    overall, _ = al_perf.mean_return_by_quantile(case.factor_data, demeaned=False)
    fwd, _, labels = case.ours(horizon)
    qr = quantile_returns(labels, fwd, quantiles=5, horizon=horizon, index=case.index)
    theirs = by_date[col].unstack("factor_quantile")
    ours = qr.by_period.loc[case.dates]
    assert np.abs(ours.to_numpy() - theirs.reindex(case.dates).to_numpy()).max() < TOL
    # averaged over alphalens's dates, the overall means agree too
    assert np.abs(ours.mean().to_numpy() - overall[col].to_numpy()).max() < TOL


def test_full_sample_means_differ_only_by_alphalens_dropping_the_last_dates(case: Case):
    overall, _ = al_perf.mean_return_by_quantile(case.factor_data, demeaned=False)
    fwd, _, labels = case.ours(1)
    qr = quantile_returns(labels, fwd, quantiles=5, index=case.index)
    extra = qr.by_period.dropna().index.difference(case.dates)
    assert len(extra) == 4  # 1-period returns exist there, 5-period ones do not
    assert not np.allclose(qr.mean.to_numpy(), overall["1D"].to_numpy(), rtol=0, atol=TOL)


@pytest.mark.parametrize("horizon", list(HORIZONS))
@pytest.mark.parametrize("lag", [1, 5])
def test_factor_rank_autocorrelation_equals_alphalens(case: Case, horizon: int, lag: int):
    theirs = al_perf.factor_rank_autocorrelation(case.factor_data, period=lag)
    _, mask, _ = case.ours(horizon)
    ours = factor_rank_autocorrelation(case.factor, lag=lag, mask=mask, index=case.index)
    common = _common(theirs, ours)
    assert np.abs(ours[common] - theirs[common]).max() < TOL


@pytest.mark.parametrize("quantile", [1, 3, 5])
@pytest.mark.parametrize("lag", [1, 5])
def test_quantile_turnover_equals_alphalens(case: Case, quantile: int, lag: int):
    theirs = al_perf.quantile_turnover(case.factor_data["factor_quantile"], quantile, period=lag)
    _, _, labels = case.ours(5)
    ours = quantile_turnover(labels, quantile, lag=lag, index=case.index)
    common = _common(theirs, ours)
    assert len(common) == theirs.notna().sum()
    assert np.abs(ours[common] - theirs[common]).max() < TOL
