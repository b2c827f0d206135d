"""Walk-forward OOS/IS Sharpe ratio: hand values and the IS <= 0 convention."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alphaloop.validation.sharpe import StatisticsError
from alphaloop.validation.walkforward import oos_is_ratio


def test_ratio_of_means() -> None:
    assert oos_is_ratio([1.0, 2.0, 3.0], [0.5, 1.0, 1.5]) == pytest.approx(0.5)
    # a ratio of means, not a mean of ratios (0.1 IS would dominate that)
    assert oos_is_ratio([0.1, 1.9], [1.0, 0.0]) == pytest.approx(0.5)


def test_reversal_is_negative() -> None:
    assert oos_is_ratio([1.0, 1.0], [-0.5, -0.5]) == pytest.approx(-0.5)


def test_no_in_sample_edge_gives_nan() -> None:
    assert math.isnan(oos_is_ratio([0.0, 0.0], [1.0, 1.0]))
    assert math.isnan(oos_is_ratio([-1.0, 0.5], [1.0, 1.0]))


def test_folds_with_nan_are_dropped() -> None:
    assert oos_is_ratio([1.0, np.nan, 2.0], [0.3, 5.0, 0.6]) == pytest.approx(0.3)
    assert math.isnan(oos_is_ratio([np.nan], [1.0]))


def test_bad_inputs_raise() -> None:
    with pytest.raises(StatisticsError, match="one value per fold"):
        oos_is_ratio([1.0, 2.0], [1.0])
    with pytest.raises(StatisticsError, match="infinity"):
        oos_is_ratio([1.0, math.inf], [1.0, 1.0])
