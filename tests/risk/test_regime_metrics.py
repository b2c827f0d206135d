"""Regime-conditional metrics of a return stream."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from alphaloop.risk import (
    METRIC_COLUMNS,
    RegimeLabels,
    RiskError,
    regime_metrics,
    volatility_regimes,
)
from tests.risk.helpers import dates, planted_volatility_regimes


def test_metrics_by_hand_without_lag() -> None:
    returns = pd.Series([0.01, -0.02, 0.03, 0.01, -0.01, 0.02], index=dates(6))
    labels = pd.Series([0, 0, 1, 1, 0, -1], index=dates(6))
    table = regime_metrics(returns, labels, lag=0, periods_per_year=252)
    assert list(table.columns) == list(METRIC_COLUMNS)
    assert list(table.index) == ["0", "1", "all"]
    calm = np.array([0.01, -0.02, -0.01])
    row = table.loc["0"]
    assert row["bars"] == 3
    assert row["share_of_time"] == pytest.approx(3 / 5)
    assert row["annual_return"] == pytest.approx(np.prod(1 + calm) ** (252 / 3) - 1)
    assert row["annual_volatility"] == pytest.approx(np.std(calm, ddof=1) * math.sqrt(252))
    assert row["sharpe_ratio"] == pytest.approx(calm.mean() / np.std(calm, ddof=1) * math.sqrt(252))
    # equity 1.01, 0.9898, 0.979902: trough / peak 1.01
    assert row["max_drawdown"] == pytest.approx(0.979902 / 1.01 - 1)
    assert row["hit_rate"] == pytest.approx(1 / 3)
    assert table.loc["1", "max_drawdown"] == 0.0
    assert table.loc["all", "bars"] == 5


def test_default_lag_counts_a_bar_under_the_previous_label() -> None:
    returns = pd.Series([0.01, -0.02, 0.03, 0.01], index=dates(4))
    labels = pd.Series([0, 1, 1, 0], index=dates(4))
    table = regime_metrics(returns, labels)
    assert table.loc["0", "bars"] == 1  # bar 1 (-2%) under bar 0's label
    assert table.loc["1", "bars"] == 2  # bars 2 and 3
    assert table.loc["0", "hit_rate"] == 0.0


def test_names_come_from_the_labels_and_absent_regimes_have_rows() -> None:
    labels = RegimeLabels(
        labels=pd.Series([0, 0, 0], index=dates(3)), names=("calm", "turbulent"), method="vol"
    )
    table = regime_metrics(pd.Series([0.01, 0.02, 0.0], index=dates(3)), labels)
    assert list(table.index) == ["calm", "turbulent", "all"]
    assert table.loc["turbulent", "bars"] == 0
    assert math.isnan(table.loc["turbulent", "sharpe_ratio"])


def test_turbulent_regime_is_more_volatile_on_planted_data() -> None:
    returns, _ = planted_volatility_regimes(2000)
    regimes = volatility_regimes(returns, min_history=200)
    table = regime_metrics(returns, regimes)
    # a median split of trailing volatility, applied from the next bar: cruder than the truth
    assert (
        table.loc["turbulent", "annual_volatility"] > 1.3 * table.loc["calm", "annual_volatility"]
    )


@given(
    arrays(np.float64, 60, elements=st.floats(-0.1, 0.1)),
    arrays(np.int64, 60, elements=st.integers(-1, 2)),
    st.sampled_from([0, 1]),
)
def test_shares_sum_to_one_and_bars_add_up(values: np.ndarray, codes: np.ndarray, lag: int) -> None:
    table = regime_metrics(
        pd.Series(values, index=dates(60)),
        pd.Series(codes, index=dates(60)),
        lag=lag,
        names=("a", "b", "c"),
    )
    regimes = table.drop(index="all")
    assert regimes["bars"].sum() == table.loc["all", "bars"]
    if table.loc["all", "bars"]:
        assert regimes["share_of_time"].sum() == pytest.approx(1.0)
    assert (table["max_drawdown"].dropna() <= 0.0).all()
    assert ((table["hit_rate"].dropna() >= 0.0) & (table["hit_rate"].dropna() <= 1.0)).all()


def test_bad_inputs() -> None:
    returns = pd.Series([0.01, 0.02], index=dates(2))
    with pytest.raises(RiskError, match="labels: the index differs"):
        regime_metrics(returns, pd.Series([0, 1]))
    with pytest.raises(RiskError, match="lag: expected 0 or 1"):
        regime_metrics(returns, pd.Series([0, 1], index=dates(2)), lag=2)
    with pytest.raises(RiskError, match=r"labels: values must be -1 \.\. 0"):
        regime_metrics(returns, pd.Series([0, 1], index=dates(2)), lag=0, names=("only",))
