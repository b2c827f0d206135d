"""Point-in-time universes: membership files, masks, panels and the survivorship caveat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alphaloop.data import Panel
from alphaloop.data.universe import (
    UniverseStore,
    apply_universe,
    membership_mask,
    parse_memberships,
    universe_caveats,
)
from alphaloop.errors import AssetDataError
from tests.conftest import write_csv

MEMBERS = """
symbol,start,end
AAA,2024-01-01,
BBB,2024-01-01,2024-01-03
BBB,2024-01-06,
CCC,2024-01-04,2024-01-04
DDD,2024-01-02,2024-01-05
"""


def test_membership_mask_by_hand(tmp_path: Path) -> None:
    spans = parse_memberships(write_csv(tmp_path / "m.csv", MEMBERS))
    index = pd.date_range("2024-01-01 21:00", periods=7, freq="D", tz="UTC")
    mask = membership_mask(index, ["AAA", "BBB", "CCC", "EEE"], spans)
    expected = np.array(
        [
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
            [1, 0, 1, 0],
            [1, 0, 0, 0],
            [1, 1, 0, 0],
            [1, 1, 0, 0],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(mask, expected)


def test_applied_universe_restricts_membership_and_lifts_survivorship(tmp_path: Path) -> None:
    spans = parse_memberships(write_csv(tmp_path / "m.csv", MEMBERS))
    index = pd.date_range("2024-01-01", periods=7, freq="D", tz="UTC")
    own = np.ones((7, 3), dtype=bool)
    own[0, 0] = False  # the dataset's own mask still applies
    panel = Panel(index, ["AAA", "BBB", "ZZZ"], {"close": np.ones((7, 3))}, membership=own)
    applied = apply_universe(panel, spans, "idx")
    assert not applied.panel.membership[0, 0]
    assert applied.panel.membership[1, 0]
    assert not applied.panel.membership[3, 1]
    assert not applied.panel.membership[:, 2].any()
    assert applied.never_members == ("ZZZ",)
    assert applied.missing == ("CCC", "DDD")  # members with no prices
    caveats = ["survivorship bias: today's survivors", "prices rounded"]
    assert universe_caveats(caveats, None) == caveats
    partial = universe_caveats(caveats, applied)
    assert "survivorship bias: today's survivors" not in partial
    assert any("survivorship partly removed" in c and "2 of its members" in c for c in partial)
    assert "prices rounded" in partial
    full_panel = Panel(index, ["AAA", "BBB", "CCC", "DDD"], {"close": np.ones((7, 4))})
    full = universe_caveats(caveats, apply_universe(full_panel, spans, "idx"))
    assert not any(c.startswith("survivorship") for c in full)
    assert any("point-in-time universe 'idx' applied" in c for c in full)


def test_bad_membership_files(tmp_path: Path) -> None:
    cases = {
        "overlap": "symbol,start,end\nAAA,2024-01-01,2024-02-01\nAAA,2024-01-15,",
        "ends before it starts": "symbol,start,end\nAAA,2024-02-01,2024-01-01",
        "non-ISO": "symbol,start,end\nAAA,1/2/2024,",
        "lacks column": "symbol,start\nAAA,2024-01-01",
        "unknown column": "symbol,start,end,weight\nAAA,2024-01-01,,1",
    }
    for match, text in cases.items():
        with pytest.raises(AssetDataError, match=match):
            parse_memberships(write_csv(tmp_path / "bad.csv", text))
    # an open span followed by another span of the same symbol overlaps too
    with pytest.raises(AssetDataError, match="lines 2 and 3"):
        parse_memberships(
            write_csv(tmp_path / "o.csv", "symbol,start,end\nAAA,2024-01-01,\nAAA,2025-01-01,")
        )


def test_universes_are_stored(workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = UniverseStore(workspace.db)
    assert store.spans("idx") is None
    stored = store.import_file("idx", write_csv(tmp_path / "m.csv", MEMBERS))
    again = store.spans("idx")
    assert again is not None
    pd.testing.assert_frame_equal(again, stored)
    assert store.names() == ["idx"]
    store.import_file("idx", write_csv(tmp_path / "n.csv", "symbol,start,end\nAAA,2024-01-01,"))
    assert list(store.spans("idx")["symbol"]) == ["AAA"]  # type: ignore[index]
