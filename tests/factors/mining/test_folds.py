"""Fold plans of the miner: contiguous blocks, purged training rows, and the next-bar label."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alphaloop.errors import MiningError
from alphaloop.factors.mining.folds import FoldPlan, make_folds, next_bar_label


def test_blocks_cover_the_labelled_rows_and_validation_comes_last() -> None:
    plan = make_folds(1000, 5, warmup=20, n_folds=5, n_valid=2)
    # labelled rows [20, 994): 974 rows -> blocks of 195, 195, 195, 195, 194
    assert plan.valid == ((605, 800), (800, 994))
    assert plan.train[:2] == ((20, 215), (215, 410))
    # the last training block [410, 605) loses its last h + 1 = 6 rows
    assert plan.train[2] == (410, 599)
    assert plan.horizon == 5
    assert plan.end == 994


@given(
    n_times=st.integers(200, 2000),
    horizon=st.integers(1, 20),
    warmup=st.integers(0, 50),
    n_folds=st.integers(2, 6),
    data=st.data(),
)
def test_no_training_label_window_reaches_a_validation_row(
    n_times: int, horizon: int, warmup: int, n_folds: int, data: st.DataObject
) -> None:
    n_valid = data.draw(st.integers(1, n_folds - 1))
    try:
        plan = make_folds(n_times, horizon, warmup=warmup, n_folds=n_folds, n_valid=n_valid)
    except MiningError:
        return
    train, valid = plan.train_rows(), plan.valid_rows()
    assert train.size
    assert valid.size
    assert len(plan.valid) == n_valid
    assert len(plan.train) == n_folds - n_valid
    for t in train:
        window = np.arange(t + 1, t + 2 + horizon)  # bars t+1 .. t+1+h
        assert not np.isin(window, valid).any()
    # the purge is tight: the row right after the last training row would reach validation
    assert train[-1] + 2 + horizon >= valid[0]
    # every validation row has a label (its window ends inside the data)
    assert valid[-1] + 1 + horizon <= n_times - 1
    assert train[0] == warmup


def test_plan_round_trips_through_json() -> None:
    plan = make_folds(500, 3, warmup=10, n_folds=4, n_valid=1)
    data = json.loads(json.dumps(plan.to_dict()))
    assert FoldPlan.from_dict(data) == plan
    assert data["train"][0] == [10, plan.train[0][1]]


def test_a_horizon_longer_than_the_data_is_refused_with_the_numbers() -> None:
    with pytest.raises(MiningError) as info:
        make_folds(100, 150)
    message = str(info.value)
    assert "100 bars" in message
    assert "horizon 150" in message
    assert "min_rows=20" in message


def test_folds_shorter_than_min_rows_are_refused() -> None:
    # 200 bars, h=5: 194 labelled rows, folds of 39 or 38 rows, the purged one 39 - 6 = 33 < 35
    make_folds(200, 5, min_rows=33)
    with pytest.raises(MiningError, match="shortest fold of 33 rows"):
        make_folds(200, 5, min_rows=35)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n_times": 500, "horizon": 0}, "horizon must be at least 1"),
        ({"n_times": 500, "horizon": 5, "n_folds": 1}, "n_folds"),
        ({"n_times": 500, "horizon": 5, "n_valid": 5}, "n_valid"),
        ({"n_times": 500, "horizon": 5, "warmup": -1}, "warmup"),
    ],
)
def test_invalid_arguments_say_what(kwargs: dict[str, int], words: str) -> None:
    with pytest.raises(MiningError, match=words):
        make_folds(**kwargs)


def test_overlapping_or_empty_plans_are_refused() -> None:
    with pytest.raises(MiningError):
        FoldPlan(horizon=1, train=((0, 10),), valid=((5, 20),))
    with pytest.raises(MiningError):
        FoldPlan(horizon=1, train=(), valid=((5, 20),))
    with pytest.raises(MiningError, match="horizon"):
        FoldPlan(horizon=0, train=((0, 10),), valid=((12, 20),))
    with pytest.raises(MiningError, match="not a fold plan"):
        FoldPlan.from_dict({"horizon": 1})


def test_next_bar_label_by_hand() -> None:
    close = np.array(
        [
            [10.0, 20.0],
            [11.0, 0.0],
            [12.0, 21.0],
            [15.0, np.nan],
            [18.0, 24.0],
            [9.0, 30.0],
        ]
    )
    label = next_bar_label(close, 2)
    expected = np.full((6, 2), np.nan)
    # row t: close[t+3] / close[t+1] - 1
    expected[0] = [15.0 / 11.0 - 1.0, np.nan]  # close[1] of asset 1 is 0: missing
    expected[1] = [18.0 / 12.0 - 1.0, 24.0 / 21.0 - 1.0]
    expected[2] = [9.0 / 15.0 - 1.0, np.nan]  # close[3] of asset 1 is NaN
    # rows 3, 4, 5 (the last h + 1 = 3) have no label
    np.testing.assert_allclose(label, expected, rtol=0, atol=1e-15)
    assert np.isnan(label[-3:]).all()


def test_next_bar_label_of_short_data_is_all_missing() -> None:
    assert np.isnan(next_bar_label(np.ones((3, 2)), 2)).all()
    with pytest.raises(MiningError):
        next_bar_label(np.ones((3, 2)), 0)
    with pytest.raises(MiningError):
        next_bar_label(np.ones(3), 1)
