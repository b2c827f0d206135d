"""``alphaloop data resample`` on imported minute bars: output, JSON, re-runs and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import cli
from tests.data.test_resample_store import minute_frame


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # the tests match whole lines


@pytest.fixture(autouse=True)
def product_holdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")


@pytest.fixture(scope="module")
def minute_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with NYSE minute bars imported through the command line."""
    from alphaloop.cli import main

    tmp = tmp_path_factory.mktemp("resample-cli")
    path = tmp / "minutes.parquet"
    minute_frame().to_parquet(path, index=False)
    root = tmp / "ws"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALPHALOOP_HOLDOUT_FRACTION", "0.2")
        code = main(["--workspace", str(root), "data", "import", str(path), "--name", "nyse-1min"])
    assert code == 0
    return root


def test_resample_prints_the_new_dataset_and_its_seal(
    capsys: pytest.CaptureFixture[str], minute_ws: Path
) -> None:
    code, out, err = cli(capsys, minute_ws, "data", "resample", "nyse-1min", "--to", "1h")
    assert code == 0, err
    assert "resampled nyse-1min v1 (1min) to nyse-1min-1h v1: 3 assets, 95 1h bars" in out
    assert "buckets on the XNYS sessions; source bars stamped at their start" in out
    assert "1 outside the sessions left out" in out
    assert "XNYS" in out.split("market:")[1]
    assert "the seal follows the data: its holdout starts" in out
    code, shown, _ = cli(capsys, minute_ws, "data", "show", "nyse-1min-1h")
    assert code == 0
    assert "resampled from nyse-1min v1" in shown
    assert "(1min -> 1h, XNYS)" in shown
    code, again, err = cli(capsys, minute_ws, "data", "resample", "nyse-1min", "--to", "1h")
    assert code == 0, err
    assert "nyse-1min-1h v1 is up to date" in again
    assert "nothing stored" in again


def test_resample_json_gives_the_dataset_origin_and_holdout(
    capsys: pytest.CaptureFixture[str], minute_ws: Path
) -> None:
    args = ("data", "resample", "nyse-1min", "--to", "daily", "--as", "nyse-days", "--json")
    code, out, err = cli(capsys, minute_ws, *args)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["status"] == "created"
    dataset = doc["dataset"]
    assert dataset["name"] == "nyse-days"
    assert dataset["frequency"] == "daily"
    assert dataset["times"] == 14  # the NYSE sessions 2024-11-11 .. 2024-11-29
    assert dataset["market"]["trading_calendar"] == "XNYS"
    code, src, _ = cli(capsys, minute_ws, "data", "show", "nyse-1min", "--json")
    source = json.loads(src)
    origin = doc["resampled"]
    assert origin["dataset"] == "nyse-1min"
    assert origin["content_hash"] == source["content_hash"]
    assert origin["rule"] == "daily"
    assert dataset["resampled"] == origin
    boundary = doc["holdout"]["boundary"]
    assert boundary == origin["holdout_boundary"]
    assert boundary <= origin["source_holdout_boundary"]
    assert boundary.endswith("T00:00:00+00:00")  # the session of the source's boundary
    assert doc["holdout"]["inherited_from"]["dataset"] == "nyse-1min"
    code, out, _ = cli(capsys, minute_ws, *args)
    assert code == 0
    assert json.loads(out)["status"] == "up-to-date"


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("nope", "--to", "1h"), "'nope' is not in this workspace"),
        (("nyse-1min", "--to", "30s"), "not finer than 30s"),
        (("nyse-1min", "--to", "weekly"), "'weekly' is not a bar size"),
        (("nyse-1min", "--to", "1h", "--version", "4"), "v4 is not in this workspace"),
        (("nyse-1min", "--to", "15min", "--as", "nyse-1min-1h"), "not to 15min"),
        (("nyse-1min-1h", "--to", "daily", "--as", "nyse-1min"), "was not resampled"),
    ],
)
def test_resample_errors_exit_2_without_a_traceback(
    capsys: pytest.CaptureFixture[str], minute_ws: Path, args: tuple[str, ...], says: str
) -> None:
    cli(capsys, minute_ws, "data", "resample", "nyse-1min", "--to", "1h")  # nyse-1min-1h exists
    code, out, err = cli(capsys, minute_ws, "data", "resample", *args)
    assert code == 2, err
    assert says in err
    assert "hint:" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, minute_ws, "data", "resample", *args, "--json")
    assert code == 2
    error = json.loads(out)["error"]
    assert says in error["message"]
    assert error["hint"]
