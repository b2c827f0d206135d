"""Panel: construction rules, immutability, slicing, selection, round trips, hashing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.data.panel import Panel, infer_frequency
from alphaloop.errors import PanelError


def make_panel(n_times: int = 6, n_assets: int = 3) -> Panel:
    idx = pd.date_range("2024-01-01", periods=n_times, freq="D", tz="UTC")
    close = np.arange(n_times * n_assets, dtype=float).reshape(n_times, n_assets) + 1
    volume = close * 100
    return Panel(idx, [f"A{j}" for j in range(n_assets)], {"close": close, "volume": volume})


def test_shape_and_accessors() -> None:
    p = make_panel()
    assert p.shape == (6, 3)
    assert p.assets == ("A0", "A1", "A2")
    assert p.field_names == ("close", "volume")
    assert p["close"][2, 1] == 8.0
    assert p.start == pd.Timestamp("2024-01-01", tz="UTC")
    assert p.frequency == "daily"
    assert p.membership.all()
    assert "close" in p
    assert "open" not in p


def test_arrays_are_read_only_and_not_shared_with_caller() -> None:
    idx = pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC")
    raw = np.ones((2, 1))
    p = Panel(idx, ["X"], {"close": raw})
    with pytest.raises(ValueError, match="read-only"):
        p["close"][0, 0] = 5.0
    with pytest.raises(ValueError, match="read-only"):
        p.membership[0, 0] = False


def test_naive_index_is_rejected_other_zones_become_utc() -> None:
    with pytest.raises(PanelError, match="tz-aware"):
        Panel(pd.date_range("2024-01-01", periods=2), ["X"], {"close": np.ones((2, 1))})
    ny = pd.date_range("2024-01-01 09:30", periods=2, freq="h", tz="America/New_York")
    p = Panel(ny, ["X"], {"close": np.ones((2, 1))})
    assert str(p.index.tz) == "UTC"
    assert p.index[0] == pd.Timestamp("2024-01-01 14:30", tz="UTC")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fields": {"close": np.ones((3, 2))}}, "shape"),
        ({"assets": ["A", "A"]}, "unique"),
        ({"fields": {}}, "at least one field"),
        ({"membership": np.ones((2, 1), dtype=bool)}, "membership has shape"),
    ],
)
def test_inconsistent_input_is_refused(kwargs: dict, message: str) -> None:
    base = {
        "index": pd.date_range("2024-01-01", periods=2, freq="D", tz="UTC"),
        "assets": ["A", "B"],
        "fields": {"close": np.ones((2, 2))},
    }
    base.update(kwargs)
    with pytest.raises(PanelError, match=message):
        Panel(**base)


def test_unsorted_or_repeated_timestamps_are_refused() -> None:
    idx = pd.DatetimeIndex(["2024-01-02", "2024-01-01"], tz="UTC")
    with pytest.raises(PanelError, match="strictly increasing"):
        Panel(idx, ["A"], {"close": np.ones((2, 1))})
    idx = pd.DatetimeIndex(["2024-01-01", "2024-01-01"], tz="UTC")
    with pytest.raises(PanelError, match="strictly increasing"):
        Panel(idx, ["A"], {"close": np.ones((2, 1))})


def test_slice_is_inclusive_and_a_view() -> None:
    p = make_panel()
    s = p.slice("2024-01-02", "2024-01-04")
    assert s.shape == (3, 3)
    assert s.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert s.index[-1] == pd.Timestamp("2024-01-04", tz="UTC")
    assert np.shares_memory(s["close"], p["close"])
    assert s["close"][0, 0] == p["close"][1, 0]
    assert p.slice("2030-01-01").shape == (0, 3)
    assert p.slice(end="2023-01-01").shape == (0, 3)
    assert p.iloc(slice(1, 3)).shape == (2, 3)


def test_select_assets_and_fields_in_the_order_asked() -> None:
    p = make_panel()
    s = p.select(assets=["A2", "A0"], fields=["volume"])
    assert s.assets == ("A2", "A0")
    assert s.field_names == ("volume",)
    np.testing.assert_array_equal(s["volume"][:, 0], p["volume"][:, 2])
    with pytest.raises(PanelError, match="asset 'ZZ'"):
        p.select(assets=["ZZ"])
    with pytest.raises(PanelError, match="field 'open'"):
        p.select(fields=["open"])


def test_long_round_trip_keeps_membership() -> None:
    idx = pd.date_range("2024-01-01", periods=3, freq="D", tz="UTC")
    close = np.array([[1.0, np.nan], [2.0, 5.0], [3.0, 6.0]])
    mem = np.array([[True, False], [True, True], [True, True]])
    p = Panel(idx, ["A", "B"], {"close": close}, mem)
    long = p.to_long()
    assert len(long) == 5
    assert list(long.columns) == ["timestamp", "asset", "close"]
    assert long.loc[long.asset == "B", "close"].tolist() == [5.0, 6.0]
    assert len(p.to_long(members_only=False)) == 6


def test_frame_and_from_frames_round_trip() -> None:
    p = make_panel()
    frames = {f: p.frame(f) for f in p.field_names}
    q = Panel.from_frames(frames)
    assert q.equals(p)
    assert q.content_hash() == p.content_hash()


def test_content_hash_changes_with_any_value() -> None:
    p = make_panel()
    close = p["close"].copy()
    close[5, 2] += 1e-12
    q = Panel(p.index, p.assets, {"close": close, "volume": p["volume"]})
    assert q.content_hash() != p.content_hash()
    assert not q.equals(p)
    r = Panel(p.index, p.assets, {"close": p["close"], "volume": p["volume"]})
    assert r.content_hash() == p.content_hash()


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("B", "daily"),
        ("D", "daily"),
        ("W", "weekly"),
        ("ME", "monthly"),
        ("QE", "quarterly"),
        ("YE", "annual"),
        ("5min", "5min"),
        ("h", "1h"),
        ("30s", "30s"),
    ],
)
def test_infer_frequency(freq: str, expected: str) -> None:
    idx = pd.date_range("2020-01-01", periods=40, freq=freq, tz="UTC")
    assert infer_frequency(idx) == expected


def test_infer_frequency_short_calendar() -> None:
    assert infer_frequency(pd.DatetimeIndex([], tz="UTC")) == "irregular"
