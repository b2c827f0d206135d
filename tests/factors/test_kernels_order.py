"""rolling_quantile/median/rank: hand-computed cases, pandas parity, Qlib Rank."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import percentileofscore

from alphaloop.factors import kernels
from tests.factors.test_kernels_common import assert_close, panels, windows

NAN = np.nan


def qlib_rank(a: np.ndarray) -> float:
    """Qlib 0.9.7 ``Rank``'s fallback (the definition pandas' rolling rank also meets)."""
    if np.isnan(a[-1]):
        return NAN
    a1 = a[~np.isnan(a)]
    return float(percentileofscore(a1, a1[-1]) / 100)


def test_order_statistics_by_hand() -> None:
    x = np.array([[3.0], [1.0], [2.0], [NAN], [2.0]])
    np.testing.assert_array_equal(kernels.rolling_median(x, 3, 3)[:, 0], [NAN, NAN, 2, NAN, NAN])
    np.testing.assert_array_equal(kernels.rolling_median(x, 3, 2)[:, 0], [NAN, 2, 2, 1.5, 2])
    np.testing.assert_array_equal(
        kernels.rolling_quantile(x, 3, 1, 0.25)[:, 0], [3, 1.5, 1.5, 1.25, 2]
    )
    np.testing.assert_array_equal(kernels.rolling_quantile(x, 3, 1, 1.0)[:, 0], [3, 3, 3, 2, 2])
    # ranks: [3] -> 1; [3,1] -> 1/2; [3,1,2] -> 2/3; current NaN -> NaN; [2,nan,2] ties -> 3/4
    np.testing.assert_array_equal(kernels.rolling_rank(x, 3, 1)[:, 0], [1, 0.5, 2 / 3, NAN, 0.75])


@settings(deadline=None, max_examples=60)
@given(x=panels(), wm=windows(), q=st.floats(0.0, 1.0))
def test_quantile_and_median_match_pandas(x: np.ndarray, wm: tuple[int, int], q: float) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    expected = rolling.quantile(q).to_numpy()
    assert_close(kernels.rolling_quantile(x, window, min_periods, q), expected, 1e-15, 0)
    assert_close(kernels.rolling_median(x, window, min_periods), rolling.median().to_numpy(), 0, 0)


@settings(deadline=None, max_examples=60)
@given(x=panels(), wm=windows())
def test_rank_matches_qlib(x: np.ndarray, wm: tuple[int, int]) -> None:
    window, min_periods = wm
    rolling = pd.DataFrame(x).rolling(window, min_periods=min_periods)
    ours = kernels.rolling_rank(x, window, min_periods)
    assert_close(ours, rolling.apply(qlib_rank, raw=True).to_numpy(), 1e-14, 0)
    # what Qlib 0.9.7 actually runs on pandas >= 1.4
    assert_close(ours, rolling.rank(pct=True).to_numpy(), 1e-14, 0)
