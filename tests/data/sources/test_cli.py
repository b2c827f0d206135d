"""``alphaloop data fetch`` and ``data update`` through the command line, on local servers."""

from __future__ import annotations

import json

import pytest

from alphaloop.cli import main
from tests.data.sources.fakes import daily_series


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """One workspace for the module; each test uses its own dataset names."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COLUMNS", "200")
        root = tmp_path_factory.mktemp("cli") / "ws"
        assert main(["--workspace", str(root), "init"]) == 0
        yield root


def run(capsys, root, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_fetch_then_update_then_offline(capsys, root, yahoo):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 60, 1, split=(30, 4.0))
    yahoo.series["MSFT"] = daily_series("2024-01-02", 60, 2)
    capsys.readouterr()
    code, out, err = run(
        capsys, root, "data", "fetch", "yahoo", "AAPL,MSFT", "--start", "2024-01-01",
        "--end", "2024-03-01", "--name", "two", "--base-url", yahoo.url,
    )  # fmt: skip
    assert code == 0, err
    assert "fetched two v1: 2 assets" in out
    assert "source: fetch:yahoo:1d:AAPL,MSFT" in out
    assert "1 split/dividend event(s)" in out
    code, out, err = run(capsys, root, "data", "update", "two", "--end", "2024-06-01", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["dataset"]["version"] == 2
    assert doc["new_bars"] > 0
    code, out, _ = run(capsys, root, "data", "update", "two", "--end", "2024-06-01")
    assert code == 0
    assert "two is up to date" in out
    yahoo.close()
    code, out, err = run(
        capsys, root, "data", "fetch", "yahoo", "AAPL,MSFT", "--start", "2024-01-01",
        "--end", "2024-03-01", "--name", "two", "--offline",
    )  # fmt: skip
    assert code == 0, err
    assert "fetched two v3" in out
    assert "offline: cached answer" in err


def test_a_failed_symbol_exits_1_and_offline_without_cache_exits_2(capsys, root, yahoo):
    yahoo.series["AAPL"] = daily_series("2024-01-02", 30, 1)
    capsys.readouterr()
    code, out, err = run(
        capsys, root, "data", "fetch", "yahoo", "AAPL,NOPE", "--start", "2024-01-02",
        "--end", "2024-03-01", "--base-url", yahoo.url,
    )  # fmt: skip
    assert code == 1
    assert "fetched yahoo-AAPL-NOPE-1d v1: 1 assets" in out
    assert "failed: NOPE: yahoo NOPE: Yahoo says: No data found" in err
    code, out, err = run(
        capsys, root, "data", "fetch", "yahoo", "IBM", "--start", "2024-01-01", "--offline"
    )
    assert code == 2
    assert "SourceOfflineError" not in out
    assert "Traceback" not in err
    assert "offline and no cached answer" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch", "A", "--start", "2024-01-01"), "unknown source 'nosuch'"),
        (("yahoo", "A", "--start", "2024-01-01", "--interval", "2h"), "unknown interval"),
        (("yahoo", "A", "--start", "soon"), "'soon' is not a date"),
        (("ccxt:nosuchexchange", "A/B", "--start", "2024-01-01"), "unknown ccxt exchange"),
    ],
)
def test_bad_input_is_one_line(capsys, root, args, message):
    capsys.readouterr()
    code, _, err = run(capsys, root, "data", "fetch", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
