"""Purged, embargoed splitters: no training label overlaps a test period, parity with peers."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold, TimeSeriesSplit, cross_val_score

from alphaloop.errors import AlphaloopError
from alphaloop.validation.splits import (
    CombinatorialPurgedCV,
    PurgedKFold,
    SplitError,
    WalkForward,
)

DAY = pd.Timedelta(days=1)


def _numeric_t1(n: int, horizon: int) -> pd.Series:
    """Labels starting at 0, 1, ..., n - 1 and ending ``horizon`` steps later."""
    starts = np.arange(n, dtype=float)
    return pd.Series(starts + horizon, index=starts)


def _daily_t1(n: int, horizon_days: int) -> pd.Series:
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.Series(dates + horizon_days * DAY, index=dates)


def _pairs(cv: object, x: object) -> list[tuple[list[int], list[int]]]:
    return [(train.tolist(), test.tolist()) for train, test in cv.split(x)]  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- hand cases


def test_purged_kfold_purges_both_sides_and_embargoes_after() -> None:
    t1 = _numeric_t1(10, horizon=2)
    x = np.zeros((10, 1))
    # fold 2 tests rows 4-5: period [4, 7]; rows 2-3 end inside it, rows 6-7 start inside it
    assert _pairs(PurgedKFold(5, t1=t1), x)[2] == ([0, 1, 8, 9], [4, 5])
    # embargo 0.1 of 10 rows: the first row starting after 7 (row 8) is dropped too
    assert _pairs(PurgedKFold(5, t1=t1, embargo=0.1), x)[2] == ([0, 1, 9], [4, 5])
    # a fraction is rounded up: 0.01 of 10 rows still embargoes one row
    assert _pairs(PurgedKFold(5, t1=t1, embargo=0.01), x)[2] == ([0, 1, 9], [4, 5])


def test_purged_kfold_duration_embargo() -> None:
    t1 = _daily_t1(12, horizon_days=1)
    x = pd.DataFrame({"f": np.arange(12.0)}, index=t1.index)
    cv = PurgedKFold(3, t1=t1, embargo=pd.Timedelta(days=2))
    # fold 0 tests rows 0-3 (Jan 1-4), period ends Jan 5: row 4 purged, rows 5-6 (Jan 6-7)
    # start within two days after it
    assert _pairs(cv, x)[0] == ([7, 8, 9, 10, 11], [0, 1, 2, 3])


def test_without_t1_purged_kfold_is_kfold() -> None:
    x = np.zeros((23, 2))
    assert _pairs(PurgedKFold(4), x) == _pairs(KFold(4), x)


def test_panel_rows_sharing_a_timestamp_are_purged() -> None:
    dates = pd.DatetimeIndex(np.repeat(pd.date_range("2024-01-01", periods=3), 3))
    x = pd.DataFrame({"f": np.arange(9.0)}, index=dates)
    # fold 0 is rows 0-4 (Jan 1 and part of Jan 2); row 5 is also Jan 2, so it is purged
    assert _pairs(PurgedKFold(2), x)[0] == ([6, 7, 8], [0, 1, 2, 3, 4])


def test_walk_forward_expanding_and_rolling() -> None:
    t1 = _numeric_t1(10, horizon=1)
    x = np.zeros((10, 1))
    # tests [4, 5, 6] then [7, 8, 9]; row 3 ends at 4 = the test start, so it is purged
    assert _pairs(WalkForward(2, test_size=3, t1=t1), x) == [
        ([0, 1, 2], [4, 5, 6]),
        ([0, 1, 2, 3, 4, 5], [7, 8, 9]),
    ]
    assert _pairs(WalkForward(2, train_size=2, test_size=3, t1=t1), x)[0] == ([2], [4, 5, 6])
    # embargo 0.2 = 2 rows before the test: labels must end before row 2's start
    assert _pairs(WalkForward(2, test_size=3, t1=t1, embargo=0.2), x)[0] == ([0], [4, 5, 6])


def test_walk_forward_duration_embargo() -> None:
    t1 = _daily_t1(10, horizon_days=1)
    cv = WalkForward(1, test_size=3, t1=t1, embargo=pd.Timedelta(days=3))
    # test starts Jan 8; labels must end before Jan 5 (rows 0-2 end Jan 2-4)
    assert _pairs(cv, np.zeros((10, 1))) == [([0, 1, 2], [7, 8, 9])]


def test_cpcv_purges_around_each_test_block() -> None:
    t1 = _numeric_t1(12, horizon=1)
    cv = CombinatorialPurgedCV(4, 2, t1=t1)
    splits = _pairs(cv, np.zeros((12, 1)))
    assert len(splits) == cv.get_n_splits() == 6
    # split 1 tests groups 0 and 2: blocks [0, 3] and [6, 9]; rows 3, 5 and 9 touch them
    assert splits[1] == ([4, 10, 11], [0, 1, 2, 6, 7, 8])
    # adjacent test groups 1 and 2 form one block [3, 9]: rows 2 and 9 touch it
    assert splits[3] == ([0, 1, 10, 11], [3, 4, 5, 6, 7, 8])


def test_cpcv_backtest_paths_by_hand() -> None:
    cv = CombinatorialPurgedCV(4, 2)
    assert cv.n_paths == 3
    assert cv.test_groups().tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    assert cv.backtest_paths().tolist() == [[0, 0, 1, 2], [1, 3, 3, 4], [2, 4, 5, 5]]


def test_assemble_paths_places_each_split_once_per_path() -> None:
    cv = CombinatorialPurgedCV(4, 2)
    x = np.zeros((10, 1))  # groups of 3, 3, 2, 2 rows
    tests = [test for _, test in cv.split(x)]
    predictions = [np.full(len(test), float(s)) for s, test in enumerate(tests)]
    paths = cv.assemble_paths(predictions)
    assert paths.shape == (3, 10)
    assert paths[0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 2, 2]
    assert paths[2].tolist() == [2, 2, 2, 4, 4, 4, 5, 5, 5, 5]
    # trailing dimensions (e.g. one return per asset) are kept
    wide = cv.assemble_paths([np.stack([p, -p], axis=1) for p in predictions])
    assert wide.shape == (3, 10, 2)
    np.testing.assert_array_equal(wide[..., 1], -paths)
    with pytest.raises(SplitError, match="one per split"):
        cv.assemble_paths(predictions[:-1])
    with pytest.raises(SplitError, match="split 0 has 5 predictions but 4 test rows"):
        cv.assemble_paths([p[:-1] for p in predictions])
    with pytest.raises(SplitError, match="do not fit the CPCV layout"):
        cv.assemble_paths([p[:-1] for p in predictions[:-1]] + [predictions[-1]])


def test_t1_aligned_on_x_timestamps() -> None:
    t1 = _daily_t1(30, horizon_days=2)
    x = pd.DataFrame({"f": np.arange(20.0)}, index=t1.index[5:25])
    by_time = _pairs(PurgedKFold(4, t1=t1), x)
    by_position = _pairs(PurgedKFold(4, t1=t1.iloc[5:25]), x.to_numpy())
    assert by_time == by_position


def test_time_zone_aware_labels() -> None:
    naive = _daily_t1(20, horizon_days=2)
    aware = pd.Series(naive.dt.tz_localize("UTC").to_numpy(), index=naive.index.tz_localize("UTC"))
    x = pd.DataFrame({"f": np.arange(20.0)}, index=aware.index)
    cv = PurgedKFold(4, t1=aware, embargo=DAY)
    assert _pairs(cv, x) == _pairs(PurgedKFold(4, t1=naive, embargo=DAY), x.to_numpy())


def test_repr_summarises_t1() -> None:
    cv = WalkForward(3, t1=_numeric_t1(5, 1))
    assert repr(cv) == (
        "WalkForward(n_splits=3, train_size=None, test_size=None, "
        "t1=<5 label end times>, embargo=0.0, gap=0)"
    )


# ----------------------------------------------------------------------------- errors


def _bad(kind: str) -> tuple[object, object]:
    """A splitter and data that together are wrong in the way ``kind`` names."""
    t1 = _numeric_t1(10, 2)
    x = np.zeros((10, 1))
    cases: dict[str, tuple[object, object]] = {
        "t1 shorter than X": (PurgedKFold(2, t1=t1.iloc[:8]), x),
        "t1 before its start": (PurgedKFold(2, t1=t1.where(t1.index != 3, 1.0)), x),
        "unsorted index": (PurgedKFold(2, t1=t1.iloc[::-1]), x),
        "missing end": (PurgedKFold(2, t1=t1.where(t1.index != 3)), x),
        "n_splits > n_obs": (PurgedKFold(11), x),
        "n_groups > n_obs": (CombinatorialPurgedCV(11, 2), x),
        "walk-forward too long": (WalkForward(5, test_size=2), x),
        "duration without times": (PurgedKFold(2, embargo=DAY), x),
        "X timestamps missing from t1": (
            PurgedKFold(2, t1=_daily_t1(10, 1)),
            pd.DataFrame({"f": x[:, 0]}, index=pd.date_range("2024-02-01", periods=10)),
        ),
        "no training rows left": (PurgedKFold(2, t1=_numeric_t1(10, 9)), x),
        "time zones differ": (
            PurgedKFold(2, t1=_daily_t1(10, 1)),
            pd.DataFrame({"f": x[:, 0]}, index=_daily_t1(10, 1).index.tz_localize("UTC")),
        ),
    }
    return cases[kind]


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("t1 shorter than X", "t1 has 8 label end times but X has 10 rows"),
        ("t1 before its start", "t1 ends before it starts at row 3"),
        ("unsorted index", "not sorted in time"),
        ("missing end", "missing label end time at row 3"),
        ("n_splits > n_obs", "n_splits=11 is more than the 10 rows"),
        ("n_groups > n_obs", "n_groups=11 is more than the 10 rows"),
        ("walk-forward too long", "leave no training rows"),
        ("duration without times", "Timedelta embargo needs datetime"),
        ("X timestamps missing from t1", "no label end time for 10 of X's 10 timestamps"),
        ("no training rows left", "split 0 has no training rows left"),
        ("time zones differ", "differ in time zone"),
    ],
)
def test_bad_inputs_raise_split_error(kind: str, message: str) -> None:
    cv, x = _bad(kind)
    with pytest.raises(SplitError, match=message):
        list(cv.split(x))  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PurgedKFold(5, embargo=-0.1), "fraction of observations in"),
        (lambda: PurgedKFold(5, embargo=1), "fraction of observations in"),
        (lambda: PurgedKFold(5, embargo=-DAY), "non-negative duration"),
        (lambda: PurgedKFold(5, embargo="5D"), "fraction of observations or a pandas"),
        (lambda: PurgedKFold(1), "n_splits must be an integer >= 2"),
        (lambda: PurgedKFold(5, t1=np.arange(5)), "t1 must be a pandas Series"),
        (lambda: CombinatorialPurgedCV(4, 4), "must be smaller than n_groups"),
        (lambda: CombinatorialPurgedCV(40, 20), "splits"),
        (lambda: WalkForward(3, gap=-1), "gap must be an integer >= 0"),
        (lambda: WalkForward(3, train_size=0), "train_size must be an integer >= 1"),
    ],
)
def test_bad_settings_raise_at_construction(build: object, message: str) -> None:
    with pytest.raises(SplitError, match=message) as caught:
        build()  # type: ignore[operator]
    assert isinstance(caught.value, AlphaloopError)
    assert isinstance(caught.value, ValueError)


# ----------------------------------------------------------------------- property tests


@dataclass
class _Case:
    x: object
    t1: pd.Series | None
    start: np.ndarray  # label spans as ns or numbers, for the checks
    end: np.ndarray
    embargo: float | pd.Timedelta


@st.composite
def _cases(draw: st.DrawFn) -> _Case:
    n = draw(st.integers(8, 60))
    kind = draw(st.sampled_from(["rows", "numbers", "dates", "panel dates"]))
    horizons = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    if kind == "rows":
        start = np.arange(n, dtype=float)
        embargo = draw(st.sampled_from([0.0, 0.02, 0.05, 0.1]))
        return _Case(np.zeros((n, 1)), None, start, start, embargo)
    steps = np.array(draw(st.lists(st.integers(0 if kind == "panel dates" else 1, 3), min_size=n)))
    offsets = np.cumsum(steps[:n]) - steps[0]
    if kind == "numbers":
        t1 = pd.Series(offsets + horizons, index=offsets.astype(float), dtype=float)
        embargo = draw(st.sampled_from([0.0, 0.03, 0.1]))
        return _Case(np.zeros((n, 1)), t1, offsets.astype(float), t1.to_numpy(), embargo)
    starts = pd.Timestamp("2024-01-01") + pd.to_timedelta(offsets, unit="D")
    t1 = pd.Series(starts + pd.to_timedelta(horizons, unit="D"), index=starts)
    embargo = draw(st.sampled_from([0.0, 0.05, pd.Timedelta(0), DAY, 4 * DAY]))
    framed = draw(st.booleans())
    x = pd.DataFrame({"f": np.zeros(n)}, index=starts) if framed else np.zeros((n, 1))
    start_ns = starts.as_unit("ns").asi8
    end_ns = pd.DatetimeIndex(t1.array).as_unit("ns").asi8
    return _Case(x, t1, start_ns, end_ns, embargo)


def _runs(test: np.ndarray) -> list[np.ndarray]:
    return np.split(test, np.flatnonzero(np.diff(test) != 1) + 1)


def _embargo_rows(case: _Case) -> int:
    if isinstance(case.embargo, pd.Timedelta) or case.embargo == 0:
        return 0
    return math.ceil(case.embargo * len(case.start) - 1e-9)


def _expected_train_after(case: _Case, test: np.ndarray) -> list[int]:
    """Brute force: rows kept by purge and the after-test embargo (k-fold, CPCV)."""
    start, end, n = case.start, case.end, len(case.start)
    h = _embargo_rows(case)
    keep = []
    for i in sorted(set(range(n)) - set(test.tolist())):
        dropped = False
        for run in _runs(test):
            t0, t1 = start[run[0]], end[run].max()
            after = [j for j in range(n) if start[j] > t1]
            dropped |= start[i] <= t1 and end[i] >= t0
            if isinstance(case.embargo, pd.Timedelta):
                dropped |= t1 < start[i] <= t1 + case.embargo.value
            dropped |= i in after[:h]
        if not dropped:
            keep.append(i)
    return keep


def _check_no_leak(case: _Case, train: np.ndarray, test: np.ndarray) -> None:
    """The issue's property: no training label span meets any test label span."""
    assert not set(train.tolist()) & set(test.tolist())
    assert np.all(np.diff(train) > 0)
    assert np.all(np.diff(test) > 0)
    s_tr, e_tr = case.start[train][:, None], case.end[train][:, None]
    s_te, e_te = case.start[test][None, :], case.end[test][None, :]
    assert not np.any((s_tr <= e_te) & (e_tr >= s_te))


def _check_against_brute_force(cv: object, case: _Case, tests: list[np.ndarray]) -> None:
    splits = cv.split(case.x)  # type: ignore[attr-defined]
    for k, expected_test in enumerate(tests):
        expected_train = _expected_train_after(case, expected_test)
        if not expected_train:
            with pytest.raises(SplitError, match=f"split {k} has no training rows"):
                next(splits)
            return
        train, test = next(splits)
        assert test.tolist() == expected_test.tolist()
        assert train.tolist() == expected_train
        _check_no_leak(case, train, test)


FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(case=_cases(), n_splits=st.integers(2, 6))
def test_purged_kfold_properties(case: _Case, n_splits: int) -> None:
    cv = PurgedKFold(n_splits, t1=case.t1, embargo=case.embargo)
    tests = np.array_split(np.arange(len(case.start)), n_splits)
    _check_against_brute_force(cv, case, tests)
    # every observation is tested exactly once
    assert np.array_equal(np.concatenate(tests), np.arange(len(case.start)))


@FAST
@given(case=_cases(), n_groups=st.integers(2, 6), data=st.data())
def test_cpcv_properties(case: _Case, n_groups: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(1, n_groups - 1))
    cv = CombinatorialPurgedCV(n_groups, k, t1=case.t1, embargo=case.embargo)
    groups = np.array_split(np.arange(len(case.start)), n_groups)
    tests = [np.concatenate([groups[g] for g in combo]) for combo in cv.test_groups()]
    assert len(tests) == cv.get_n_splits() == math.comb(n_groups, k)
    assert cv.n_paths * n_groups == k * cv.get_n_splits()
    _check_against_brute_force(cv, case, tests)
    # each observation is tested in exactly n_paths splits ...
    counts = np.bincount(np.concatenate(tests), minlength=len(case.start))
    assert np.all(counts == cv.n_paths)
    # ... and each path takes every group once, from a split that tests it
    paths = cv.backtest_paths()
    assert paths.shape == (cv.n_paths, n_groups)
    for path in paths:
        assert all(g in cv.test_groups()[s] for g, s in enumerate(path))
    for g in range(n_groups):
        assert sorted(paths[:, g]) == [s for s, c in enumerate(cv.test_groups()) if g in c]


@FAST
@given(
    case=_cases(),
    n_splits=st.integers(1, 5),
    rolling=st.booleans(),
    train_size=st.integers(1, 20),
    test_size=st.none() | st.integers(1, 6),
    gap=st.integers(0, 3),
)
def test_walk_forward_properties(
    case: _Case,
    n_splits: int,
    rolling: bool,
    train_size: int,
    test_size: int | None,
    gap: int,
) -> None:
    n = len(case.start)
    size = test_size or n // (n_splits + 1)
    cv = WalkForward(
        n_splits,
        train_size=train_size if rolling else None,
        test_size=test_size,
        t1=case.t1,
        embargo=case.embargo,
        gap=gap,
    )
    first_test = n - n_splits * size
    if size < 1 or first_test - gap < 1:
        with pytest.raises(SplitError, match="leave no training rows"):
            list(cv.split(case.x))
        return
    h = _embargo_rows(case)
    splits = cv.split(case.x)
    for k in range(n_splits):
        expected_test = np.arange(first_test + k * size, first_test + (k + 1) * size)
        t0 = case.start[expected_test[0]]
        stop = expected_test[0] - gap
        window = range(max(0, stop - train_size) if rolling else 0, stop)
        expected = [i for i in window if case.end[i] < t0]
        if isinstance(case.embargo, pd.Timedelta):
            expected = [i for i in expected if case.end[i] < t0 - case.embargo.value]
        elif h:
            before = [j for j in range(n) if case.start[j] < t0]
            bound = case.start[before[-h]] if len(before) >= h else -np.inf
            expected = [i for i in expected if case.end[i] < bound]
        if not expected:
            with pytest.raises(SplitError, match=f"split {k} has no training rows"):
                next(splits)
            return
        train, test = next(splits)
        assert test.tolist() == expected_test.tolist()
        assert train.tolist() == expected
        _check_no_leak(case, train, test)
        # training only on the past: every training label ends before the test starts
        assert train.max() < test.min()
        assert case.end[train].max() < case.start[test].min()


# ---------------------------------------------------------------- parity with peers


def test_parity_with_purgedcv() -> None:
    import purgedcv

    n, horizon = 64, 3
    t1 = _daily_t1(n, horizon)
    x = np.zeros((n, 1))
    # purgedcv labels are half-open [t0, t1 + 1 bar): the same spans on a daily grid
    times = {
        "prediction_times": pd.Series(t1.index),
        "evaluation_times": pd.Series(t1.to_numpy()) + DAY,
    }
    peers = [
        (PurgedKFold(5, t1=t1), purgedcv.PurgedKFold(5, **times)),
        (CombinatorialPurgedCV(6, 2, t1=t1), purgedcv.CombinatorialPurgedCV(6, 2, **times)),
        (CombinatorialPurgedCV(5, 3, t1=t1), purgedcv.CombinatorialPurgedCV(5, 3, **times)),
        (WalkForward(4, test_size=8, t1=t1), purgedcv.WalkForwardSplit(4, 8, **times)),
        # their duration embargo starts at the exclusive end t1 + 1 bar, ours right after t1
        (
            PurgedKFold(4, t1=t1, embargo=3 * DAY),
            purgedcv.PurgedKFold(4, embargo=2 * DAY, **times),
        ),
    ]
    for ours, theirs in peers:
        assert _pairs(ours, x) == _pairs(theirs, x), repr(ours)

    # without label overlap their positional embargo counts the same rows as ours
    same_day = {"prediction_times": pd.Series(t1.index), "evaluation_times": pd.Series(t1.index)}
    same_day["evaluation_times"] += DAY
    ours = CombinatorialPurgedCV(4, 2, embargo=3 / n)
    theirs = purgedcv.CombinatorialPurgedCV(4, 2, embargo_observations=3, **same_day)
    assert _pairs(ours, x) == _pairs(theirs, x)

    cv = CombinatorialPurgedCV(6, 2, t1=t1)
    rng = np.random.default_rng(0)
    tests = [test for _, test in cv.split(x)]
    predictions = [rng.normal(size=len(test)) for test in tests]
    expected = purgedcv.reconstruct_paths(predictions, tests, 6, 2, n)
    np.testing.assert_array_equal(cv.assemble_paths(predictions), expected)


@pytest.mark.parametrize(("n_groups", "n_test_groups"), [(6, 2), (5, 3), (8, 4)])
def test_parity_with_skfolio_cpcv(n_groups: int, n_test_groups: int) -> None:
    from skfolio.model_selection import CombinatorialPurgedCV as SkfolioCPCV

    n, purge, embargo = 10 * n_groups, 2, 3
    x = np.zeros((n, 1))
    # skfolio purges a fixed count of rows on both sides: our fixed horizon of that length
    ours = CombinatorialPurgedCV(n_groups, n_test_groups, t1=_numeric_t1(n, purge), embargo=3 / n)
    theirs = SkfolioCPCV(n_groups, n_test_groups, purged_size=purge, embargo_size=embargo)
    for (train, test), (their_train, their_tests) in zip(
        ours.split(x), theirs.split(x), strict=True
    ):
        assert train.tolist() == their_train.tolist()
        assert test.tolist() == np.concatenate(their_tests).tolist()
    assert ours.n_paths == theirs.n_test_paths
    np.testing.assert_array_equal(ours.backtest_paths(), theirs.recombined_paths.T)


@pytest.mark.parametrize(("train_size", "test_size", "gap"), [(None, None, 0), (7, 4, 2)])
def test_walk_forward_without_t1_is_time_series_split(
    train_size: int | None, test_size: int | None, gap: int
) -> None:
    x = np.zeros((37, 1))
    ours = WalkForward(4, train_size=train_size, test_size=test_size, gap=gap)
    theirs = TimeSeriesSplit(4, max_train_size=train_size, test_size=test_size, gap=gap)
    assert _pairs(ours, x) == _pairs(theirs, x)


# --------------------------------------------------------------------- sklearn contract


@pytest.mark.parametrize(
    "make",
    [
        lambda t1: PurgedKFold(4, t1=t1, embargo=0.02),
        lambda t1: WalkForward(3, train_size=40, t1=t1, embargo=2 * DAY),
        lambda t1: CombinatorialPurgedCV(5, 2, t1=t1, embargo=0.01),
    ],
)
def test_works_as_cv_in_cross_val_score(make: object) -> None:
    rng = np.random.default_rng(7)
    t1 = _daily_t1(120, horizon_days=5)
    x = pd.DataFrame(rng.normal(size=(120, 3)), index=t1.index)
    y = x.to_numpy() @ np.array([0.5, -0.2, 0.1]) + rng.normal(scale=0.1, size=120)
    cv = make(t1)  # type: ignore[operator]
    scores = cross_val_score(Ridge(alpha=1.0), x, y, cv=cv)
    assert scores.shape == (cv.get_n_splits(),)
    assert np.all(np.isfinite(scores))
