"""build_dataset and LearningData: labels, normalization, missing values, no lookahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from alphaloop.app import Workspace
from alphaloop.data.panel import Panel
from alphaloop.models import normalization as kernels
from alphaloop.models.dataset import build_dataset
from alphaloop.models.errors import ModelError
from alphaloop.models.labels import LabelSpec
from alphaloop.models.learning_data import LearningData

NAN = np.nan


def make_panel(
    n_times: int = 40, n_assets: int = 5, seed: int = 0, membership: np.ndarray | None = None
) -> Panel:
    """Random-walk closes (and opens) on business days, all members unless told."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_times, n_assets)), axis=0))
    open_ = close * np.exp(rng.normal(0, 0.005, close.shape))
    index = pd.bdate_range("2020-01-01", periods=n_times, tz="UTC")
    assets = [f"A{j}" for j in range(n_assets)]
    return Panel(index, assets, {"close": close, "open": open_}, membership)


def cells(data: LearningData) -> dict[tuple[int, int], int]:
    return {(int(t), int(j)): i for i, (t, j) in enumerate(zip(data.rows, data.cols, strict=True))}


# ------------------------------------------------------------------- labels
@pytest.mark.parametrize(("lag", "horizon"), [(1, 2), (0, 3), (2, 1)])
def test_labels_by_hand(lag: int, horizon: int) -> None:
    panel = make_panel(n_times=12, n_assets=3)
    close = panel.field("close")
    label = LabelSpec(horizon=horizon, entry_lag=lag)
    data = build_dataset(panel, ["$close"], label, normalize=None, winsorize=None)
    span = lag + horizon
    assert len(data) == (12 - span) * 3  # the last `span` bars have no label
    assert data.rows.max() == 12 - span - 1
    for i, (t, j) in enumerate(zip(data.rows, data.cols, strict=True)):
        expected = close[t + span, j] / close[t + lag, j] - 1
        assert data.y[i] == pytest.approx(expected, rel=1e-12)
        assert data.t1.iloc[i] == panel.index[t + span]  # the last bar the label uses
        assert data.times[i] == panel.index[t]
    np.testing.assert_array_equal(data.forward_return, data.y)
    assert data.t1.index.is_monotonic_increasing
    assert (data.t1.index == data.times).all()


def test_label_priced_at_the_next_open() -> None:
    panel = make_panel(n_times=10, n_assets=2)
    op = panel.field("open")
    data = build_dataset(panel, ["$close"], LabelSpec(horizon=3, price="open"), normalize=None)
    t, j = data.rows[0], data.cols[0]
    assert data.y[0] == pytest.approx(op[t + 4, j] / op[t + 1, j] - 1)


def test_classification_net_of_costs() -> None:
    index = pd.bdate_range("2021-03-01", periods=4, tz="UTC")
    # next-bar close to the bar after: +0.3%, +0.1%, -1%, +0.19% for the four assets
    close = np.array([[10.0] * 4, [10.0] * 4, [10.03, 10.01, 9.9, 10.019], [1.0] * 4])
    panel = Panel(index, list("abcd"), {"close": close})
    spec = LabelSpec(horizon=1, kind="classification", cost_bps=10)  # round trip 0.2%
    data = build_dataset(panel, ["$close"], spec, normalize=None, winsorize=None)
    np.testing.assert_allclose(data.forward_return[:4], [0.003, 0.001, -0.01, 0.0019], atol=1e-12)
    np.testing.assert_array_equal(data.y[:4], [1.0, 0.0, 0.0, 0.0])
    free = build_dataset(panel, ["$close"], LabelSpec(horizon=1, kind="classification"))
    np.testing.assert_array_equal(free.y[:4], [1.0, 1.0, 0.0, 1.0])


def test_missing_prices_drop_labels_and_membership_drops_rows() -> None:
    member = np.ones((15, 3), dtype=bool)
    member[4, 1] = False
    panel = make_panel(n_times=15, n_assets=3, membership=member)
    close = np.array(panel.field("close"))
    close[9, 2] = NAN  # the entry bar of decision t=8 and the exit bar of t=6 (lag 1, h 2)
    panel = Panel(panel.index, panel.assets, {"close": close}, member)
    data = build_dataset(panel, ["$close"], LabelSpec(horizon=2), normalize=None)
    present = cells(data)
    assert (4, 1) not in present
    assert (8, 2) not in present
    assert (6, 2) not in present
    assert (7, 2) in present


def test_label_normalized_per_timestamp() -> None:
    panel = make_panel(n_times=30, n_assets=6)
    data = build_dataset(panel, ["$close"], LabelSpec(normalize="zscore"))
    for t in np.unique(data.rows):
        y = data.y[data.rows == t]
        assert y.mean() == pytest.approx(0, abs=1e-6)
        assert y.std() == pytest.approx(1, abs=1e-5)
    ranked = build_dataset(panel, ["$close"], LabelSpec(normalize="rank"))
    t0 = ranked.rows == ranked.rows[0]
    expected = (rankdata(ranked.forward_return[t0]) - 1) / (t0.sum() - 1) - 0.5
    np.testing.assert_allclose(ranked.y[t0], expected)


# ------------------------------------------------------------ normalization
def test_zscore_per_timestamp_with_mean_zero_std_one() -> None:
    panel = make_panel(n_times=30, n_assets=7)
    data = build_dataset(panel, {"c": "$close", "r": "$close/Ref($close, 1)"}, winsorize=None)
    assert data.X.dtype == np.float32
    assert data.X.flags.c_contiguous
    for t in np.unique(data.rows):
        x = data.X[data.rows == t, 0].astype(np.float64)
        assert x.mean() == pytest.approx(0, abs=1e-6)
        assert x.std() == pytest.approx(1, abs=1e-6)
        raw = panel.field("close")[t].astype(np.float32).astype(np.float64)  # evaluated in float32
        np.testing.assert_allclose(x, (raw - raw.mean()) / raw.std(), atol=1e-6)
    first = data.rows == 0  # Ref($close, 1) has no value on the first bar: 0 after normalizing
    np.testing.assert_array_equal(data.X[first, 1], 0.0)


def test_winsorizing_clips_each_timestamp_to_its_quantiles() -> None:
    rng = np.random.default_rng(3)
    close = np.exp(rng.normal(0, 1, (8, 40)))
    close[2, 5] = 1e6  # an outlier at one timestamp only
    index = pd.bdate_range("2022-01-03", periods=8, tz="UTC")
    panel = Panel(index, [f"s{j}" for j in range(40)], {"close": close})
    data = build_dataset(panel, ["$close"], LabelSpec(horizon=1), normalize=None, winsorize=0.05)
    for t in np.unique(data.rows):
        lo, hi = np.quantile(close[t], [0.05, 0.95])
        np.testing.assert_allclose(
            data.X[data.rows == t, 0], np.clip(close[t], lo, hi).astype(np.float32), rtol=1e-6
        )
    z = build_dataset(panel, ["$close"], LabelSpec(horizon=1), winsorize=0.05)
    row = z.X[z.rows == 2, 0]
    clipped = np.clip(close[2], *np.quantile(close[2], [0.05, 0.95]))
    np.testing.assert_allclose(row, (clipped - clipped.mean()) / clipped.std(), atol=1e-5)


def test_rank_is_centered_percentile_with_ties() -> None:
    index = pd.bdate_range("2022-01-03", periods=3, tz="UTC")
    close = np.array([[3.0, 1.0, 2.0, 2.0, -1.0], [5.0, 5.0, 5.0, 5.0, 5.0], [1.0] * 5])
    panel = Panel(index, list("abcde"), {"close": close})
    data = build_dataset(panel, ["$close"], LabelSpec(horizon=1), normalize="rank")
    np.testing.assert_allclose(data.X[data.rows == 0, 0], [0.5, -0.25, 0.125, 0.125, -0.5])
    np.testing.assert_array_equal(data.X[data.rows == 1, 0], 0.0)  # all tied: the mean rank


def test_normalization_uses_only_its_timestamp_and_members() -> None:
    panel = make_panel(n_times=20, n_assets=6)
    base = build_dataset(panel, ["$close"])
    close = np.array(panel.field("close"))
    close[11] *= np.linspace(0.5, 3, 6)  # another date's values change
    changed = build_dataset(Panel(panel.index, panel.assets, {"close": close}), ["$close"])
    keep = base.rows != 11
    np.testing.assert_array_equal(base.X[keep], changed.X[changed.rows != 11])
    # an outsider's extreme value never enters the members' statistics
    member = np.ones(panel.shape, dtype=bool)
    member[:, 0] = False
    close[:, 0] = 1e9
    outside = build_dataset(Panel(panel.index, panel.assets, {"close": close}, member), ["$close"])
    assert 0 not in set(outside.cols)
    without = build_dataset(
        Panel(panel.index, panel.assets[1:], {"close": close[:, 1:]}), ["$close"]
    )
    np.testing.assert_array_equal(outside.X, without.X)


# ----------------------------------------------------------- missing values
def test_missing_features_fill_and_max_missing() -> None:
    panel = make_panel(n_times=30, n_assets=4)
    feats = {"c": "$close", "m10": "Mean($close, 10)", "m20": "Mean($close, 20)"}
    kept = build_dataset(panel, feats, max_missing=1.0)
    assert kept.rows.min() == 0
    np.testing.assert_array_equal(kept.X[kept.rows < 9, 1:], 0.0)  # warm-up -> the mean
    nan = build_dataset(panel, feats, max_missing=1.0, fill="nan")
    assert np.isnan(nan.X[nan.rows < 9, 1:]).all()
    assert not np.isnan(nan.X[:, 0]).any()
    dropped = build_dataset(panel, feats)  # default 0.5: two of three missing -> dropped
    assert dropped.rows.min() == 9
    np.testing.assert_array_equal(dropped.X, kept.X[kept.rows >= 9])
    assert dropped.X.flags.c_contiguous
    assert dropped.X.shape == (len(dropped), 3)
    assert build_dataset(panel, feats, max_missing=0.0).rows.min() == 19


def test_keep_unlabeled_rows_for_prediction() -> None:
    panel = make_panel(n_times=12, n_assets=2)
    data = build_dataset(panel, ["$close"], LabelSpec(horizon=2), keep_unlabeled=True)
    assert len(data) == 24
    assert np.isnan(data.y[-6:]).all()
    assert data.t1.iloc[-6:].isna().all()
    assert not np.isnan(data.y[:-6]).any()


# --------------------------------------------------------------- lookahead
def test_features_at_t_equal_those_on_the_panel_truncated_at_t() -> None:
    panel = make_panel(n_times=70, n_assets=6, seed=4)
    feats = {
        "roc5": "Ref($close, 5)/$close",
        "std10": "Std($close, 10)/$close",
        "qtl": "Quantile($close, 20, 0.8)/$close",
        "cs": "CsRank($close/Ref($close, 3))",
    }
    full = build_dataset(panel, feats, keep_unlabeled=True, max_missing=1.0)
    for t in (25, 40, 69):
        cut = build_dataset(panel.iloc(slice(0, t + 1)), feats, keep_unlabeled=True, max_missing=1)
        np.testing.assert_array_equal(cut.X[cut.rows == t], full.X[full.rows == t])


def test_future_references_are_rejected() -> None:
    with pytest.raises(ModelError, match="future"):
        build_dataset(make_panel(), {"peek": "Ref($close, -1)"})


# -------------------------------------------------------- mapping and subsets
def test_to_panel_round_trip_and_feature_panel() -> None:
    panel = make_panel(n_times=25, n_assets=4)
    data = build_dataset(panel, {"c": "$close", "m": "Mean($close, 5)"})
    grid = data.to_panel(data.y)
    assert grid.shape == panel.shape
    np.testing.assert_array_equal(grid[data.rows, data.cols], data.y)
    assert np.isnan(grid).sum() == grid.size - len(data)
    np.testing.assert_array_equal(data.feature_panel("m"), data.to_panel(data.X[:, 1]))
    with pytest.raises(ModelError, match="one value per row"):
        data.to_panel(data.y[:-1])
    frame = data.to_frame()
    assert list(frame.columns) == ["c", "m", "label"]
    assert len(frame) == len(data)


def test_time_slice_is_a_view_and_select_copies() -> None:
    panel = make_panel(n_times=30, n_assets=3)
    data = build_dataset(panel, ["$close"])
    part = data.time_slice("2020-01-10", panel.index[20])
    assert np.shares_memory(part.X, data.X)
    assert part.X.flags.c_contiguous
    assert part.times.min() >= pd.Timestamp("2020-01-10", tz="UTC")
    assert part.times.max() == panel.index[20]
    picked = data.select(data.cols == 1)
    assert set(picked.cols) == {1}
    assert not np.shares_memory(picked.X, data.X)
    np.testing.assert_array_equal(data.select([5, 2, 2]).rows, data.rows[[2, 5]])
    with pytest.raises(ModelError, match="out of range"):
        data.select([len(data)])
    assert picked.t1.index.is_monotonic_increasing


def test_sequences_hold_the_same_assets_previous_rows() -> None:
    panel = make_panel(n_times=30, n_assets=3)
    data = build_dataset(panel, {"c": "$close", "r": "$close/Ref($close, 1)"}, max_missing=1.0)
    seq, pos = data.sequences(4)
    assert seq.shape == (len(pos), 4, 2)
    assert data.rows[pos].min() == 3  # the first three bars have no full window: dropped
    where = cells(data)
    for s, i in zip(seq, pos, strict=True):
        t, j = data.rows[i], data.cols[i]
        np.testing.assert_array_equal(s[-1], data.X[i])
        for k in range(4):
            np.testing.assert_array_equal(s[3 - k], data.X[where[(t - k, j)]])
    padded, all_pos = data.sequences(4, incomplete="zero")
    assert len(all_pos) == len(data)
    np.testing.assert_array_equal(padded[0, :3], 0.0)
    # a later slice still reads its windows from the rows before it
    late = data.time_slice(panel.index[10])
    late_seq, late_pos = late.sequences(4)
    assert len(late_pos) == len(late)
    np.testing.assert_array_equal(late_seq, seq[pos >= np.flatnonzero(data.rows == 10)[0]])
    with pytest.raises(ModelError, match="window"):
        data.sequences(0)


# ------------------------------------------------- libraries and bad input
def test_library_alpha158_close_on_bundled_stocks(shared_workspace: Workspace) -> None:
    panel = shared_workspace.data.load("sp500-stocks", start="2018-01-01")
    data = build_dataset(panel, "alpha158-close", start="2018-06-01")
    assert data.n_features == 75
    assert data.X.shape == (len(data), 75)
    assert data.times.min() >= pd.Timestamp("2018-06-01", tz="UTC")
    assert np.isfinite(data.X).all()
    assert np.isfinite(data.y).all()
    with pytest.raises(ModelError, match=r"vwap|open|volume"):
        build_dataset(panel, "alpha158")  # needs OHLCV


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": "alpha999"}, "no factor library named 'alpha999'"),
        ({"features": []}, "no features"),
        ({"normalize": "minmax"}, "normalize"),
        ({"winsorize": 0.5}, "winsorize"),
        ({"max_missing": 1.5}, "max_missing"),
        ({"fill": "mean"}, "fill"),
        ({"start": "2030-01-01"}, "no rows"),
        ({"label": LabelSpec(horizon=60)}, "no rows"),
        ({"label": LabelSpec(price="vwap")}, "price field 'vwap'"),
        ({"features": {"bad": "Mean($close"}}, "feature 'bad'"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"dtype": np.int32}, "dtype"),
    ],
)
def test_bad_input_raises_model_error(kwargs: dict, match: str) -> None:
    args = {"features": ["$close"], **kwargs}
    with pytest.raises(ModelError, match=match):
        build_dataset(make_panel(), **args)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 0}, "horizon must be >= 1"),
        ({"horizon": 2.5}, "integer"),
        ({"entry_lag": -1}, "entry_lag"),
        ({"kind": "ranking"}, "kind"),
        ({"cost_bps": -1.0}, "cost_bps"),
        ({"kind": "classification", "normalize": "rank"}, "regression labels only"),
    ],
)
def test_bad_label_spec(kwargs: dict, match: str) -> None:
    with pytest.raises(ModelError, match=match):
        LabelSpec(**kwargs)


# ------------------------------------------------------------ kernel twins
def test_kernel_twins_agree() -> None:
    rng = np.random.default_rng(11)
    values = rng.normal(size=(3, 9, 12)).astype(np.float32)
    values[:, :, 3] = np.round(values[:, :, 3])  # ties
    values[0, 2, :5] = NAN
    values[1, 4, :] = np.inf
    values[2, 5, 7] = -0.0
    members = rng.random((9, 12)) > 0.2
    members.flags.writeable = False
    row_of = np.where(rng.random((9, 12)) > 0.3, 0, -1)
    row_of[row_of == 0] = np.arange((row_of == 0).sum())
    n = int((row_of >= 0).sum())
    for method in (0, 1, 2):
        for winsorize in (0.0, 0.1, 0.3):
            outs = []
            for kernel in (kernels._normalize_block, kernels._normalize_block_jit):
                out = np.empty((n, 3), dtype=np.float32)
                missing = np.zeros(n, dtype=np.int32)
                kernel(values, members, row_of, out, 0, winsorize, method, 0.0, missing, 0, 9)
                outs.append((out, missing))
            np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-6, atol=1e-6)
            np.testing.assert_array_equal(outs[0][1], outs[1][1])


@pytest.mark.parametrize("n", [1, 2, 5, 60, 300])
@pytest.mark.parametrize("q", [0.01, 0.1, 0.25, 0.49])
def test_winsor_bounds_match_numpy(n: int, q: float) -> None:
    rng = np.random.default_rng(n)
    for x in (rng.normal(size=n), np.round(rng.normal(size=n)), np.sort(rng.normal(size=n))[::-1]):
        expected = np.quantile(x, [q, 1 - q])
        np.testing.assert_allclose(kernels._winsor_bounds(x, q, np.empty(n)), expected, atol=1e-12)


def test_float32_order_sorts_like_numpy() -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(size=200) * 10.0 ** rng.integers(-30, 30, 200), [0.0, -0.0]])
    x = x.astype(np.float32).astype(np.float64)
    order = kernels._float32_order(x)
    assert (np.diff(x[order]) >= 0).all()
