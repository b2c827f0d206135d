"""``alphaloop data combine`` on the bundled data: the result, its JSON and its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli.conftest import cli

SOURCES = ("--from", "sp500-index", "--from", "nasdaq-ohlcv", "--from", "wti")


@pytest.fixture(scope="module")
def bundled_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with the bundled datasets and the product's default holdout (20%)."""
    from alphaloop.app import Workspace

    root = tmp_path_factory.mktemp("combine") / "ws"
    with Workspace(root, holdout_fraction=0.2) as ws:
        ws.data.ensure_bundled()
    return root


@pytest.fixture(autouse=True)
def product_holdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")


def test_combine_prints_the_sources_market_and_seal(
    capsys: pytest.CaptureFixture[str], bundled_ws: Path
) -> None:
    code, out, err = cli(capsys, bundled_ws, "data", "combine", "cross-asset", *SOURCES)
    assert code == 0, err
    assert "combined cross-asset v1: 3 assets" in out
    assert "intersect calendar, 5,031 bars" in out
    assert re.search(r"from wti v1 \[[0-9a-f]{12}\]: WTI; ", out)  # the hash is printed
    assert "mixed, sessions calendar: 252 bars a year" in out
    assert "its holdout starts 2012-05-30" in out  # wti's boundary, the earliest
    code, shown, _ = cli(capsys, bundled_ws, "data", "show", "cross-asset", "--rows", "2")
    assert code == 0
    assert "combined on the intersect calendar of:" in shown
    assert re.search(r"wti v1 \[[0-9a-f]{12}\]: WTI", shown)
    assert "wti: a spot price, not a futures contract that could be held" in shown
    assert "2012-05-30" not in shown.split("caveats:")[1]  # the preview stops before the seal


def test_combine_json_records_provenance(
    capsys: pytest.CaptureFixture[str], bundled_ws: Path
) -> None:
    code, out, err = cli(
        capsys, bundled_ws, "data", "combine", "union-x", *SOURCES, "--calendar", "union", "--json"
    )
    assert code == 0, err
    doc = json.loads(out)
    dataset = doc["dataset"]
    assert dataset["market"]["asset_class"] == "mixed"
    assert dataset["market"]["periods_per_year"] == 252.0
    assert dataset["start"].startswith("1986-01-02")  # wti's first bar
    assert dataset["end"].startswith("2022-12-28")  # sp500-index's last bar
    sources = {s["dataset"]: s for s in doc["combined"]["sources"]}
    assert set(sources) == {"sp500-index", "nasdaq-ohlcv", "wti"}
    assert all(len(s["content_hash"]) == 64 for s in sources.values())
    assert doc["holdout"]["boundary"].startswith("2012-05-30")
    assert {c["dataset"] for c in doc["sealed_copies"]} >= {"wti", "sp500-index"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--from", "sp500-index", "--from", "nope"), "'nope' is not in this workspace"),
        (("--from", "wti", "--from", "wti"), "duplicate asset names"),
        (("--from", "wti", "--from", "fama-french"), "has no close"),
        (("--from", "wti", "--calendar", "outer"), "not a way to combine"),
    ],
)
def test_combine_errors_exit_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str], bundled_ws: Path, args: tuple[str, ...], says: str
) -> None:
    code, out, err = cli(capsys, bundled_ws, "data", "combine", "bad", *args)
    assert code == 2
    assert says in err
    assert "hint:" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, bundled_ws, "data", "combine", "bad", *args, "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert says in error["message"]
    assert error["hint"]
