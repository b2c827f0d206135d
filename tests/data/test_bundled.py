"""Bundled real data: every dataset registers offline, loads, and carries its caveats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaloop.app import Workspace
from alphaloop.data.bundled import BUNDLED

EXPECTED = {
    # name: (assets, first date, last date, fields, frequency)
    "sp500-stocks": (20, "1990-01-02", "2022-12-28", ("close",), "daily"),
    "sp500-index": (1, "1990-01-02", "2022-12-28", ("close",), "daily"),
    "factor-etfs": (5, "2014-01-02", "2022-12-28", ("close",), "daily"),
    "sp500-ohlcv": (
        1,
        "1999-01-04",
        "2018-12-31",
        ("open", "high", "low", "close", "adj_close", "volume"),
        "daily",
    ),
    "nasdaq-ohlcv": (
        1,
        "1999-01-04",
        "2018-12-31",
        ("open", "high", "low", "close", "adj_close", "volume"),
        "daily",
    ),
    "vix": (1, "2014-01-03", "2019-01-03", ("close",), "daily"),
    "wti": (1, "1986-01-02", "2019-01-03", ("close",), "daily"),
    "fama-french": (4, "1926-07-31", "2018-11-30", ("return",), "monthly"),
}


def test_all_bundled_datasets_are_registered(shared_workspace: Workspace) -> None:
    infos = {i.name: i for i in shared_workspace.data.list()}
    assert set(EXPECTED) == set(BUNDLED)
    for name, (n_assets, start, end, fields, freq) in EXPECTED.items():
        info = infos[name]
        assert info.assets == n_assets, name
        assert info.start.date().isoformat() == start, name
        assert info.end.date().isoformat() == end, name
        assert info.fields == fields, name
        assert info.frequency == freq, name
        assert info.source.startswith("bundled:")
        assert info.caveats, f"{name} has no caveats"
        assert info.quality["errors"] == 0


def test_sp500_stocks_content(shared_workspace: Workspace) -> None:
    p = shared_workspace.data.load("sp500-stocks")
    assert p.shape == (8313, 20)
    assert p.assets[:3] == ("AAPL", "AMD", "BAC")
    j = p.asset_index("AAPL")
    assert p["close"][0, j] == pytest.approx(0.264)
    assert p["close"][-1, j] == pytest.approx(125.674)
    assert not np.isnan(p["close"]).any()
    info = shared_workspace.data.info("sp500-stocks")
    assert any("survivorship" in c for c in info.caveats)
    assert any("3 decimals" in c for c in info.caveats)


def test_rounding_caveat_is_visible_in_the_data(shared_workspace: Workspace) -> None:
    """Early AAPL and RRC have long runs of zero returns, as the caveat says."""
    p = shared_workspace.data.load("sp500-stocks", end="1995-12-31", assets=["AAPL", "RRC"])
    r = p["close"][1:] / p["close"][:-1] - 1
    assert (r == 0).mean(axis=0).min() > 0.04
    report = shared_workspace.data.check_dataset("sp500-stocks")
    stale = report.issue("stale_prices")
    assert stale is not None
    assert stale.count > 10


def test_fama_french_dates_and_units(shared_workspace: Workspace) -> None:
    p = shared_workspace.data.load("fama-french")
    assert p.assets == ("HML", "MKT_RF", "RF", "SMB")
    # 192607 is July 1926, stamped at its month end; values are decimals, not percent
    assert p.index[0] == pd.Timestamp("1926-07-31", tz="UTC")
    assert p["return"][0, p.asset_index("MKT_RF")] == pytest.approx(0.0296)
    assert p["return"][0, p.asset_index("RF")] == pytest.approx(0.0022)
    assert (p.index.is_month_end).all()


def test_ohlcv_index_data_is_consistent(shared_workspace: Workspace) -> None:
    p = shared_workspace.data.load("sp500-ohlcv")
    assert p["open"][0, 0] == pytest.approx(1229.22998)
    assert p["volume"][-1, 0] == pytest.approx(3442870000)
    np.testing.assert_allclose(p["close"], p["adj_close"])
    assert (p["high"] >= p["low"]).all()


def test_missing_days_in_wti_are_reported_not_dropped(shared_workspace: Workspace) -> None:
    info = shared_workspace.data.info("wti")
    issues = {i["check"]: i for i in info.quality["issues"]}
    assert issues["missing_values"]["count"] > 0
    p = shared_workspace.data.load("wti")
    assert np.isnan(p["close"]).sum() == issues["missing_values"]["count"]
    assert p.membership.sum() == info.rows


def test_bundled_registration_is_idempotent(tmp_path) -> None:
    ws = Workspace(tmp_path / "ws")
    assert len(ws.data.ensure_bundled()) == len(BUNDLED)
    again = Workspace(tmp_path / "ws")
    assert again.data.ensure_bundled() == []
    assert all(i.version == 1 for i in again.data.list())
