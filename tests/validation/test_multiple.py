"""Multiple-testing corrections: hand calculations, statsmodels parity, NaN handling."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from alphaloop.validation.multiple import adjust_pvalues
from alphaloop.validation.sharpe import StatisticsError

P = [0.01, 0.04, 0.03, 0.005]


def test_bonferroni_by_hand() -> None:
    result = adjust_pvalues(P, method="bonferroni")
    np.testing.assert_allclose(result.adjusted_pvalues, [0.04, 0.16, 0.12, 0.02])
    assert result.reject.tolist() == [True, False, False, True]
    assert result.n_tests == 4
    assert result.n_rejected == 2


def test_holm_by_hand() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> running max 0.06
    result = adjust_pvalues(P, method="holm")
    np.testing.assert_allclose(result.adjusted_pvalues, [0.03, 0.06, 0.06, 0.02])
    assert result.reject.tolist() == [True, False, False, True]


def test_benjamini_hochberg_by_hand() -> None:
    # p(i) * n / i: 0.02, 0.02, 0.04, 0.04; running min from the top leaves them
    result = adjust_pvalues(P, method="fdr_bh")
    np.testing.assert_allclose(result.adjusted_pvalues, [0.02, 0.04, 0.04, 0.02])
    assert result.reject.all()


def test_holm_is_never_less_powerful_than_bonferroni() -> None:
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.2, size=50)
    holm = adjust_pvalues(p, method="holm")
    bonf = adjust_pvalues(p, method="bonferroni")
    assert (holm.adjusted_pvalues <= bonf.adjusted_pvalues + 1e-15).all()
    assert holm.n_rejected >= bonf.n_rejected


@settings(max_examples=20, deadline=None)  # statsmodels' Holm calls gc.collect()
@given(
    st.lists(
        st.one_of(st.floats(0.0, 1.0), st.just(math.nan)),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(["bonferroni", "holm", "fdr_bh"]),
    st.floats(0.001, 0.5),
)
def test_matches_statsmodels_on_the_non_nan_values(
    pvalues: list[float], method: str, alpha: float
) -> None:
    p = np.array(pvalues)
    result = adjust_pvalues(p, method=method, alpha=alpha)  # type: ignore[arg-type]
    present = ~np.isnan(p)
    assert result.n_tests == int(present.sum())
    assert np.isnan(result.adjusted_pvalues[~present]).all()
    assert not result.reject[~present].any()
    if present.any():
        reject, adjusted, _, _ = multipletests(p[present], alpha=alpha, method=method)
        np.testing.assert_allclose(result.adjusted_pvalues[present], adjusted, rtol=1e-12)
        assert result.reject[present].tolist() == reject.tolist()
    finite = result.adjusted_pvalues[present]
    assert ((finite >= p[present] - 1e-15) & (finite <= 1.0)).all()


def test_nan_is_kept_and_not_counted() -> None:
    result = adjust_pvalues([0.01, math.nan, 0.04], method="bonferroni")
    assert result.n_tests == 2
    np.testing.assert_allclose(result.adjusted_pvalues, [0.02, math.nan, 0.08])
    assert result.reject.tolist() == [True, False, False]
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["adjusted_pvalues"][1] is None
    assert payload["n_tests"] == 2


def test_all_nan_and_empty() -> None:
    all_nan = adjust_pvalues([math.nan, math.nan])
    assert all_nan.n_tests == 0
    assert np.isnan(all_nan.adjusted_pvalues).all()
    assert not all_nan.reject.any()
    empty = adjust_pvalues([])
    assert empty.n_tests == 0
    assert empty.adjusted_pvalues.shape == (0,)


def test_series_names_are_kept() -> None:
    p = pd.Series([0.001, 0.2, math.nan], index=["momentum", "value", "carry"])
    result = adjust_pvalues(p, method="holm", alpha=0.05)
    frame = result.frame()
    assert list(frame.index) == ["momentum", "value", "carry"]
    assert frame.loc["momentum", "reject"]
    assert frame.loc["momentum", "adjusted_p_value"] == pytest.approx(0.002)
    assert result.to_dict()["names"] == ["momentum", "value", "carry"]


def test_result_arrays_are_read_only() -> None:
    result = adjust_pvalues(P)
    with pytest.raises(ValueError, match="read-only"):
        result.adjusted_pvalues[0] = 0.0


@pytest.mark.parametrize(
    ("pvalues", "kwargs", "message"),
    [
        ([0.1, 1.2], {}, "position 1"),
        ([-0.01], {}, "position 0"),
        ([math.inf], {}, "position 0"),
        ([0.1], {"method": "sidak"}, "unknown multiple-testing method"),
        ([0.1], {"alpha": 0.0}, "alpha must be in"),
        ([0.1], {"alpha": 1.5}, "alpha must be in"),
        ([[0.1, 0.2]], {}, "one-dimensional"),
    ],
)
def test_bad_inputs_raise(pvalues: list, kwargs: dict, message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        adjust_pvalues(pvalues, **kwargs)
